//! Connecting to an org for a command: resolve settings, build the client on a runtime,
//! set up `-v` logging and the progress bar, and read the state. Commands call this; the
//! Okta client itself knows nothing about terminals.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use crate::cli::ConnectionArgs;
use crate::config::Config;
use crate::okta::{
    read_org_state, resolve_connection_settings, ClientOptions, ConnectionFlags,
    ConnectionSettings, OktaClient, Progress, ScopeSet, Secret, WaitNotice, WaitReporter,
    DEFAULT_MAX_API_SHARE,
};
use crate::state::OrgState;

/// A runtime and a client for one org.
pub struct Session {
    pub runtime: tokio::runtime::Runtime,
    pub client: OktaClient,
}

/// Builds the async runtime the commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// Turns on `-v` (debug) / `-vv` (trace) logs of ouguard's own code on stderr. Other crates'
/// logs stay off: they could print request headers.
pub fn init_logging(verbose: u8) {
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => return,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let filter = tracing_subscriber::filter::Targets::new().with_target("ouguard", level);
    // Through the redaction layer: a log line quoting a server's words never shows a secret.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| crate::redact::RedactingWriter::new(std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}

/// Resolves the connection settings from flags, environment, okta.yaml and the config.
pub fn settings(
    global: &Global,
    connection: &ConnectionArgs,
    config: &Config,
) -> anyhow::Result<ConnectionSettings> {
    let flags = ConnectionFlags {
        org_url: global.org_url.clone(),
        token: connection.token.clone().map(Secret::new),
        ..ConnectionFlags::default()
    };
    let env = |key: &str| std::env::var(key).ok();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let settings =
        resolve_connection_settings(&flags, &env, home.as_deref(), config.org_url.as_deref())?;
    Ok(settings)
}

/// How hard a command may use the org: requests in flight (`--concurrency`) and its share of
/// each rate-limit window (`--max-api-share`, else `[okta] max_api_share`, else 50%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    pub concurrency: usize,
    pub max_api_share: u8,
}

impl Tuning {
    /// The flags, then the config file, then the defaults.
    #[must_use]
    pub fn new(connection: &ConnectionArgs, config: &Config) -> Self {
        Tuning {
            concurrency: connection.concurrency,
            max_api_share: connection
                .max_api_share
                .or(config.max_api_share)
                .unwrap_or(DEFAULT_MAX_API_SHARE),
        }
    }
}

impl From<usize> for Tuning {
    fn from(concurrency: usize) -> Self {
        Tuning {
            concurrency,
            max_api_share: DEFAULT_MAX_API_SHARE,
        }
    }
}

/// `OKTA_CLIENT_REQUESTTIMEOUT` (seconds, as Okta's SDKs name it): how long one request may
/// go without an answer; 30 s by default.
fn request_timeout_from_env() -> anyhow::Result<Option<Duration>> {
    let Ok(text) = std::env::var("OKTA_CLIENT_REQUESTTIMEOUT") else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(secs) if (1..=3600).contains(&secs) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(crate::exit::Hinted::new(
            format!(
                "`OKTA_CLIENT_REQUESTTIMEOUT` is `{}`, not a number of seconds from 1 to 3600",
                crate::redact::truncate(&text, 40)
            ),
            "set it to the seconds one request may wait for an answer, e.g. `30`, or unset it",
        )),
    }
}

/// The progress bar on screen, if any: wait notices are shown on it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Announces a wait on stderr (above the progress bar, and on it, when there is one).
fn announce_wait(notice: &WaitNotice) {
    let bar = ACTIVE_BAR.lock().map(|bar| bar.clone()).unwrap_or_default();
    match bar {
        Some(bar) => {
            bar.set_message(crate::redact::truncate(&notice.message, 80));
            bar.suspend(|| eprintln!("{notice}"));
        }
        None => eprintln!("{notice}"),
    }
}

/// Connects: a runtime and a client, warnings printed. `scopes`: what the command does
/// (a service app asks for the `.manage` scopes only to apply).
pub fn connect(
    global: &Global,
    settings: &ConnectionSettings,
    tuning: impl Into<Tuning>,
    scopes: ScopeSet,
) -> anyhow::Result<Session> {
    init_logging(global.verbose);
    if !global.quiet {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    let tuning = tuning.into();
    let defaults = ClientOptions::default();
    let options = ClientOptions {
        max_concurrency: tuning.concurrency.max(1),
        max_api_share: tuning.max_api_share,
        request_timeout: request_timeout_from_env()?.unwrap_or(defaults.request_timeout),
        on_wait: if global.quiet {
            WaitReporter::default()
        } else {
            WaitReporter::new(announce_wait)
        },
        scopes,
        ..defaults
    };
    let client = OktaClient::new(settings, options)?;
    let runtime = runtime()?;
    if crate::prompt::is_interactive() {
        crate::prompt::restore_terminal_on_interrupt(&runtime);
    }
    Ok(Session { runtime, client })
}

impl Session {
    /// Reads the org's state, with a progress bar on a terminal when it takes a while.
    pub fn read_state(&self, global: &Global) -> anyhow::Result<OrgState> {
        let progress = BarProgress::new(!global.quiet && std::io::stderr().is_terminal());
        let outcome = self
            .runtime
            .block_on(read_org_state(&self.client, &progress))
            .with_context(|| format!("failed to read the org `{}`", self.client.org_url()))?;
        progress.finish();
        if !global.quiet {
            for warning in &outcome.warnings {
                eprintln!("warning: {warning}");
            }
        }
        let mut state = outcome.state;
        state.org_url = Some(self.client.org_url().to_string());
        Ok(state)
    }
}

/// An indicatif bar on stderr that appears only once reading has taken about a second.
struct BarProgress {
    enabled: bool,
    started: Instant,
    total: Mutex<usize>,
    bar: Mutex<Option<ProgressBar>>,
}

impl BarProgress {
    fn new(enabled: bool) -> Self {
        BarProgress {
            enabled,
            started: Instant::now(),
            total: Mutex::new(0),
            bar: Mutex::new(None),
        }
    }

    fn finish(&self) {
        if let Ok(mut bar) = self.bar.lock() {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
        }
        if let Ok(mut active) = ACTIVE_BAR.lock() {
            *active = None;
        }
    }
}

impl Progress for BarProgress {
    fn start(&self, total_dirs: usize) {
        if let Ok(mut total) = self.total.lock() {
            *total = total_dirs;
        }
    }

    fn directory_done(&self, index: usize, domain: &str) {
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let total = self.total.lock().map_or(0, |t| *t);
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        let bar = slot.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            let style =
                ProgressStyle::with_template("reading directories {bar:30} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            if let Ok(mut active) = ACTIVE_BAR.lock() {
                *active = Some(bar.clone());
            }
            bar
        });
        bar.set_position((index + 1) as u64);
        bar.set_message(domain.to_string());
    }
}
