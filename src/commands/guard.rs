//! `ouguard guard` and `ouguard guard register`: flags → `guard::GuardOptions` (or an Event
//! Hook spec) → the operation. The shared secret comes only from `OUGUARD_GUARD_SECRET`.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;

use super::{plan_options, session, Global};
use crate::cli::{
    ConnectionArgs, GuardAction, GuardArgs, GuardRegisterArgs, GuardRunArgs, PlanningArgs,
};
use crate::config::Config;
use crate::exit::Outcome;
use crate::guard::alerts::{notify_url, AlertSink};
use crate::guard::event::hook_event_types;
use crate::guard::{self, GuardOptions, Mode};
use crate::okta::{ClientOptions, EventHookLifecycle, EventHookSpec, OktaClient, ScopeSet, Secret};
use crate::planner::Strategy;

/// The environment variable holding the hook's `Authorization` value.
pub const SECRET_ENV: &str = "OUGUARD_GUARD_SECRET";

pub fn run(global: &Global, args: GuardArgs) -> anyhow::Result<Outcome> {
    match args.action {
        Some(GuardAction::Register(register_args)) => register(global, &register_args),
        None => run_guard(global, args.run),
    }
}

/// The shared secret, checked: long enough to resist guessing, and sendable as a header.
fn secret() -> anyhow::Result<Secret> {
    let hint = format!(
        "set `{SECRET_ENV}` to a long random value, e.g. `export {SECRET_ENV}=$(openssl rand -hex 32)`, \
         the same for `guard` and `guard register`"
    );
    let Some(value) = std::env::var_os(SECRET_ENV) else {
        return Err(crate::exit::Hinted::new(
            format!("`{SECRET_ENV}` is not set: deliveries could not be authenticated"),
            hint,
        ));
    };
    let Some(value) = value.to_str().map(str::to_string) else {
        return Err(crate::exit::Hinted::new(
            format!("`{SECRET_ENV}` is not valid text"),
            hint,
        ));
    };
    if value.chars().count() < 16
        || !value
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) || b == b' ')
    {
        return Err(crate::exit::Hinted::new(
            format!(
                "`{SECRET_ENV}` must be at least 16 printable ASCII characters (it is sent as a header value)"
            ),
            hint,
        ));
    }
    Ok(Secret::new(value))
}

/// A client for `connection`, with `-v` logging but without the Ctrl-C handler of the
/// planning commands (the guard drains on SIGTERM/SIGINT itself).
fn client(
    global: &Global,
    connection: &ConnectionArgs,
    config: &Config,
    scopes: ScopeSet,
) -> anyhow::Result<(tokio::runtime::Runtime, OktaClient)> {
    let settings = session::settings(global, connection, config)?;
    session::init_logging(global.verbose);
    if !global.quiet {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    let options = ClientOptions {
        max_concurrency: connection.concurrency.max(1),
        scopes,
        ..ClientOptions::default()
    };
    let client = OktaClient::new(&settings, options)?;
    Ok((session::runtime()?, client))
}

fn run_guard(global: &Global, args: GuardRunArgs) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    let poll_every = guard::parse_duration(&args.poll_mappings)
        .map_err(|e| anyhow::anyhow!("`--poll-mappings`: {e}"))?;
    let mode = if args.from_logs {
        let interval = guard::parse_duration(&args.log_interval)
            .map_err(|e| anyhow::anyhow!("`--log-interval`: {e}"))?;
        Mode::Logs { interval }
    } else {
        let listen: SocketAddr = args.listen.parse().map_err(|_| {
            anyhow::anyhow!(
                "`--listen` `{}` is not an address: use `HOST:PORT`, e.g. `127.0.0.1:8090`",
                crate::text::truncate_for_message(&args.listen)
            )
        })?;
        if !guard::server::listen_allowed(&listen, args.allow_remote) {
            return Err(crate::exit::Hinted::new(
                format!("refusing to listen on the non-loopback address `{listen}`"),
                "the guard speaks plain HTTP: put a TLS reverse proxy in front (README) and pass \
                 `--allow-remote` if it runs on another host",
            ));
        }
        Mode::Hook {
            listen,
            secret: secret()?,
            max_body_bytes: guard::server::MAX_BODY_BYTES,
        }
    };
    let notify = args
        .notify_url
        .as_deref()
        .map(notify_url)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut plan_options = plan_options(&PlanningArgs::default(), &config, false)?;
    if plan_options.strategy == Strategy::Ask {
        eprintln!(
            "warning: strategy `ask` needs a person at a terminal: the guard's plans add the OU \
             (`add-ou`); choose at `ouguard apply` time instead"
        );
        plan_options.strategy = Strategy::AddOu;
    }
    let scopes = if args.from_logs {
        ScopeSet::GuardFromLogs
    } else {
        ScopeSet::Guard
    };
    let (runtime, client) = client(global, &args.connection, &config, scopes)?;
    let options = GuardOptions {
        mode,
        state_dir: args.state_dir.clone(),
        plan_dir: args.plan_dir.clone(),
        poll_every,
        plan_options,
    };
    let org_url = client.org_url().to_string();
    let from_logs = args.from_logs;
    let quiet = global.quiet;
    let stats = runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        spawn_signal_handler(stop_tx);
        let mut sink = AlertSink::new(Box::new(std::io::stdout()), Box::new(std::io::stderr()));
        if let Some(url) = notify {
            sink = sink.with_notify(url);
        }
        guard::run(client, config, options, sink, stop_rx, move |started| {
            if quiet {
                return;
            }
            match started.listening {
                Some(addr) => eprintln!(
                    "guard: listening on http://{addr} for Okta Event Hook deliveries from `{org_url}`; \
                     `ouguard guard register --url https://…` points Okta at it"
                ),
                None if from_logs => eprintln!(
                    "guard: polling the System Log of `{org_url}` for assignment changes"
                ),
                None => {}
            }
        })
        .await
    })?;
    if !global.quiet {
        eprintln!("guard: stopped: {}", stats.summary());
    }
    Ok(Outcome::Success)
}

/// SIGTERM (systemd) and SIGINT (Ctrl-C) both ask for a drain; a second one is ignored.
fn spawn_signal_handler(stop: tokio::sync::watch::Sender<bool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        let _ = stop.send(true);
        // Keep the sender alive: dropping it would read as another stop.
        std::future::pending::<()>().await;
    });
}

/// Checks the hook URL: HTTPS, or `http://` on loopback (for tests and the simulator).
fn hook_url(raw: &str) -> anyhow::Result<url::Url> {
    let url = url::Url::parse(raw).map_err(|e| {
        anyhow::anyhow!(
            "`--url` `{}` is not a url: {e}",
            crate::text::truncate_for_message(raw)
        )
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" => Ok(url),
        "http" if crate::okta::is_loopback(&host) => Ok(url),
        _ => Err(crate::exit::Hinted::new(
            format!(
                "refusing the hook url `{}`: Okta calls only `https://` URLs",
                crate::text::truncate_for_message(raw)
            ),
            "put a TLS reverse proxy in front of the guard (README: nginx, Caddy) and register its https URL",
        )),
    }
}

fn register(global: &Global, args: &GuardRegisterArgs) -> anyhow::Result<Outcome> {
    let url = hook_url(&args.url)?;
    let secret = secret()?;
    let config = global.config()?;
    let (runtime, client) = client(global, &args.connection, &config, ScopeSet::EventHooks)?;
    let spec = EventHookSpec {
        name: args.name.clone(),
        uri: url.to_string(),
        events: hook_event_types().into_iter().map(str::to_string).collect(),
        secret,
    };
    let hook = runtime.block_on(async {
        let hooks = client
            .list_event_hooks()
            .await
            .context("failed to list the org's Event Hooks")?;
        let existing = hooks
            .iter()
            .find(|h| h.name == spec.name)
            .or_else(|| hooks.iter().find(|h| h.uri == spec.uri));
        let mut hook = match existing {
            Some(existing) => client
                .replace_event_hook(&existing.id, &spec)
                .await
                .with_context(|| format!("failed to update the Event Hook `{}`", existing.id))?,
            None => client
                .create_event_hook(&spec)
                .await
                .context("failed to create the Event Hook")?,
        };
        if hook.status != "ACTIVE" {
            hook = client
                .event_hook_lifecycle(&hook.id, EventHookLifecycle::Activate)
                .await
                .with_context(|| format!("failed to activate the Event Hook `{}`", hook.id))?;
        }
        let verified = client
            .event_hook_lifecycle(&hook.id, EventHookLifecycle::Verify)
            .await
            .map_err(|e| {
                crate::exit::Hinted::new(
                    format!(
                        "okta could not verify the Event Hook at `{}`: {e}",
                        spec.uri
                    ),
                    format!(
                        "start `ouguard guard` first, reachable at `{}` through its reverse proxy, \
                         then run `guard register` again",
                        spec.uri
                    ),
                )
            })?;
        anyhow::Ok((verified, existing.is_some()))
    })?;
    let (hook, updated) = hook;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} the Event Hook `{}` (`{}`) → {}: {}, {}.\nOkta sends it: {}.",
        if updated { "Updated" } else { "Created" },
        hook.name,
        hook.id,
        hook.uri,
        hook.status,
        hook.verification_status,
        hook.events.join(", ")
    )?;
    Ok(Outcome::Success)
}
