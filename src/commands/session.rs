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
    ConnectionSettings, OktaClient, Progress, ScopeSet, Secret,
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
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
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

/// Connects: a runtime and a client, warnings printed. `scopes`: what the command does
/// (a service app asks for the `.manage` scopes only to apply).
pub fn connect(
    global: &Global,
    settings: &ConnectionSettings,
    concurrency: usize,
    scopes: ScopeSet,
) -> anyhow::Result<Session> {
    init_logging(global.verbose);
    if !global.quiet {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    let options = ClientOptions {
        max_concurrency: concurrency.max(1),
        scopes,
        ..ClientOptions::default()
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
            bar
        });
        bar.set_position((index + 1) as u64);
        bar.set_message(domain.to_string());
    }
}
