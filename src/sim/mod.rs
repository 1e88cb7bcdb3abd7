//! A simulated Okta org for tests, demos and rehearsals: a stateful HTTP server with Okta's
//! paths, JSON, pagination, rate limits, errors and auth, plus hidden import OUs and a
//! `/sim/` admin surface. It is a separate room: it shares no wire types with ouguard's Okta
//! client, and nothing outside tests, `ouguard sim` and `ouguard demo` may depend on it.
//!
//! Codemap: `server` (hyper accept loop; request ids, request log, concurrency limit,
//! faults, auth, rate-limit headers around every Okta request), `api` (Okta routes),
//! `wire` (the simulator's own Okta JSON types), `errors` (Okta error bodies), `store`
//! (state, seeded from an `OrgState`), `auth` (`Principal`/`Scope`), `ratelimit`, `faults`,
//! `request_log`, `admin` (`/sim/` routes), `provisioning` (ground truth for "Target OU is
//! not an import OU"), `seed` (demo org), `generator` (large orgs), `serve` (`ouguard sim`),
//! `event_hooks` (the Event Hooks API, verification and deliveries, loopback only).
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use ouguard::sim::{SimConfig, SimOrg};
//! let sim = SimOrg::start(SimConfig::default()).await?; // the demo org
//! println!("{} {}", sim.url(), sim.token());
//! # Ok(()) }
//! ```

mod admin;
mod api;
pub mod auth;
mod errors;
mod event_hooks;
pub mod faults;
pub mod generator;
mod ids;
pub mod oauth;
pub mod provisioning;
pub mod ratelimit;
mod request_log;
pub mod seed;
mod serve;
mod server;
mod store;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

pub use event_hooks::DeliveryAttempt;
pub use faults::{Fault, FaultKind, RequestMatcher, Trigger};
pub use generator::{large_org, GeneratorParams};
pub use oauth::OAuthClient;
pub use provisioning::{AssignmentCheck, ProvisioningOutcome, ProvisioningReport};
pub use ratelimit::EndpointFamily;
pub use request_log::RecordedRequest;
pub use serve::{load_oauth_clients, load_seed, serve, SimServeOptions};
pub use store::SeedError;

use crate::state::OrgState;
use server::{lock, Shared};

/// How to run a simulated org.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The org's content. Default: [`seed::demo`].
    pub seed: OrgState,
    /// Where to listen. Default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// The SSWS API token to accept; `None`: a random one.
    pub token: Option<String>,
    /// Latency added to every Okta API request.
    pub latency: Duration,
    /// Random extra latency, uniform in `0..=latency_jitter`.
    pub latency_jitter: Duration,
    /// Requests allowed per endpoint family per `rate_limit_window`.
    pub rate_limit_per_minute: u32,
    /// Per-family limits that replace `rate_limit_per_minute`.
    pub rate_limit_overrides: BTreeMap<EndpointFamily, u32>,
    /// The rate-limit window; Okta's is a minute. Tests use a short one.
    pub rate_limit_window: Duration,
    /// Concurrent requests allowed before answering 429; `None`: unlimited.
    pub concurrency_limit: Option<usize>,
    /// Make `/api/v1/mappings…` answer 401 `E0000011` (org without the feature).
    pub mappings_unavailable: bool,
    /// Faults active from the start.
    pub faults: Vec<Fault>,
    /// Seed of the RNG behind fault rates and latency jitter.
    pub fault_seed: u64,
    /// OAuth service apps that may get access tokens (`private_key_jwt`, optionally DPoP).
    pub oauth_clients: Vec<OAuthClient>,
    /// How long an access token is valid. Default an hour, like Okta's.
    pub oauth_token_lifetime: Duration,
    /// The `expires_in` the token endpoint announces; `None`: the real lifetime. Announce
    /// more than `oauth_token_lifetime` to have tokens die before the client expects
    /// (revocation, clock drift).
    pub oauth_announced_expires_in: Option<u64>,
    /// Seconds the authorization server's clock is ahead of this machine's (negative:
    /// behind), to test assertions and proofs signed on a machine with a wrong clock.
    pub oauth_clock_offset_seconds: i64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: seed::demo(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            token: None,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            rate_limit_per_minute: 600,
            rate_limit_overrides: BTreeMap::new(),
            rate_limit_window: Duration::from_secs(60),
            concurrency_limit: None,
            mappings_unavailable: false,
            faults: Vec::new(),
            fault_seed: 0,
            oauth_clients: Vec::new(),
            oauth_token_lifetime: Duration::from_secs(3600),
            oauth_announced_expires_in: None,
            oauth_clock_offset_seconds: 0,
        }
    }
}

/// Synchronous control of a running simulated org: read and change its state, faults and
/// request log. Shared by [`SimOrg`] and [`BlockingSimOrg`] (both deref to it).
#[derive(Debug, Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl SimControl {
    /// The org URL, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SSWS API token the org accepts.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Every OAuth access token issued so far (tests search output for them).
    #[must_use]
    pub fn oauth_access_tokens(&self) -> Vec<String> {
        self.shared.oauth.issued_tokens()
    }

    /// The Okta API requests so far (not `/sim/` ones), oldest first; the last 10,000.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The whole state, as an `OrgState` seed (import OUs included).
    #[must_use]
    pub fn state(&self) -> OrgState {
        lock(&self.shared.store).to_seed()
    }

    /// Replaces the whole state (the System Log is emptied).
    pub fn set_state(&self, seed: &OrgState) -> Result<(), SeedError> {
        let store = store::Store::from_seed(seed)?;
        *lock(&self.shared.store) = store;
        Ok(())
    }

    /// Ticks `ou` as an import OU of a directory (by app id or domain), as an admin does in
    /// the console. `Ok(false)` when it was already ticked.
    pub fn tick_import_ou(&self, directory: &str, ou: &str) -> Result<bool, SeedError> {
        lock(&self.shared.store).tick_import_ou(directory, ou)
    }

    /// Would provisioning a new member of each assigned group succeed?
    #[must_use]
    pub fn provisioning_check(&self) -> ProvisioningReport {
        provisioning::check(&lock(&self.shared.store))
    }

    /// Adds a fault rule.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).inject(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Assigns `group` (a name or id; an unknown name creates the group) to a directory (app
    /// id or domain) with target OU `ou`, as an admin does in the console: the change is
    /// recorded in the System Log and delivered to the Event Hooks. Returns the group id.
    pub fn console_assign(
        &self,
        directory: &str,
        group: &str,
        ou: Option<&str>,
    ) -> Result<String, String> {
        event_hooks::console_assign(&self.shared, directory, group, ou)
    }

    /// Every Event Hook delivery attempt so far (the last 10,000).
    #[must_use]
    pub fn event_hook_deliveries(&self) -> Vec<DeliveryAttempt> {
        self.shared.hooks.attempts()
    }

    /// `(id, name, status, verificationStatus, uri)` of each Event Hook.
    #[must_use]
    pub fn event_hooks(&self) -> Vec<(String, String, String, String, String)> {
        self.shared.hooks.summary()
    }

    /// Sends every `every`-th Event Hook delivery twice (at least once, like Okta); 0: never.
    /// Default 3.
    pub fn set_event_hook_duplicates(&self, every: u32) {
        self.shared.hooks.set_duplicate_every(every);
    }

    /// Lets the org call Event Hooks on non-loopback hosts (off by default: tests never call
    /// outside).
    pub fn allow_remote_event_hooks(&self, allow: bool) {
        self.shared.hooks.set_allow_remote(allow);
    }

    /// Turns the "profile mappings unavailable" (401 on `/api/v1/mappings`) behaviour on/off.
    pub fn set_mappings_unavailable(&self, unavailable: bool) {
        self.shared
            .mappings_unavailable
            .store(unavailable, Ordering::SeqCst);
    }
}

/// A simulated org running on the caller's tokio runtime. Dropping it stops the server.
#[derive(Debug)]
pub struct SimOrg {
    control: SimControl,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Deref for SimOrg {
    type Target = SimControl;
    fn deref(&self) -> &SimControl {
        &self.control
    }
}

fn is_allowed_address(addr: &SocketAddr, allow_remote: bool) -> bool {
    allow_remote || addr.ip().is_loopback()
}

impl SimOrg {
    /// Binds `cfg.listen` and starts serving. Takes milliseconds.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<SimOrg> {
        if !is_allowed_address(&cfg.listen, cfg.allow_remote) {
            anyhow::bail!(
                "refusing to listen on non-loopback address `{}`: the simulated org has a printed token and no TLS; pass `allow_remote` to override",
                cfg.listen
            );
        }
        let store = store::Store::from_seed(&cfg.seed).context("invalid seed")?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("failed to listen on `{}`", cfg.listen))?;
        let addr = listener
            .local_addr()
            .context("failed to read the bound address")?;
        let token = cfg
            .token
            .clone()
            .unwrap_or_else(|| format!("00{}", ids::random_base62(&mut rand::thread_rng(), 40)));
        let mut faults = faults::FaultPlan::new(cfg.faults.clone(), cfg.fault_seed);
        if !cfg.latency.is_zero() || !cfg.latency_jitter.is_zero() {
            faults.inject(Fault::latency(cfg.latency, cfg.latency_jitter));
        }
        let oauth = Arc::new(oauth::AuthorizationServer::new(
            cfg.oauth_clients.clone(),
            cfg.oauth_token_lifetime,
            cfg.oauth_announced_expires_in,
            cfg.oauth_clock_offset_seconds,
        ));
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Mutex::new(faults),
            rate: Mutex::new(ratelimit::RateLimiter::new(
                cfg.rate_limit_per_minute,
                cfg.rate_limit_overrides.clone(),
                cfg.rate_limit_window,
            )),
            requests: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            auth: auth::Authenticator::new(token.clone()).with_oauth(Arc::clone(&oauth)),
            oauth,
            token,
            mappings_unavailable: AtomicBool::new(cfg.mappings_unavailable),
            concurrency: cfg.concurrency_limit.map(|n| Arc::new(Semaphore::new(n))),
            local_addr: addr,
            hooks: event_hooks::Hooks::default(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        tokio::spawn(event_hooks::deliver_loop(
            Arc::clone(&shared),
            shutdown_rx.clone(),
        ));
        let task = tokio::spawn(server::accept_loop(
            listener,
            Arc::clone(&shared),
            api::router(Arc::clone(&shared)),
            admin::router(Arc::clone(&shared)),
            shutdown_rx,
        ));
        Ok(SimOrg {
            control: SimControl { shared, addr },
            shutdown,
            task: Some(task),
        })
    }

    /// Starts an org on its own thread and runtime, for synchronous tests (e.g. `assert_cmd`
    /// running the real binary against it).
    pub fn start_blocking(cfg: SimConfig) -> anyhow::Result<BlockingSimOrg> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ouguard-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match SimOrg::start(cfg).await {
                        Ok(sim) => {
                            let _ = ready_tx.send(Ok(sim.control.clone()));
                            let _ = stop_rx.await;
                            sim.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .context("failed to spawn the simulator thread")?;
        let control = ready_rx
            .recv()
            .context("the simulator thread stopped before starting")??;
        Ok(BlockingSimOrg {
            control,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops accepting connections and closes the open ones.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimOrg {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A simulated org on its own thread; see [`SimOrg::start_blocking`]. Dropping it stops it.
#[derive(Debug)]
pub struct BlockingSimOrg {
    control: SimControl,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Deref for BlockingSimOrg {
    type Target = SimControl;
    fn deref(&self) -> &SimControl {
        &self.control
    }
}

impl BlockingSimOrg {
    /// Stops the org and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BlockingSimOrg {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
