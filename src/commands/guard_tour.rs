//! The demo's guard tour, shared by `demo` (no command imports another): the guard runs
//! in-process against the simulated org, registered as its Event Hook, and catches a bad
//! assignment made through `/sim/`. Writes only into a temporary folder.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;

use super::{plan_options, session};
use crate::cli::PlanningArgs;
use crate::config::Config;
use crate::guard::alerts::AlertSink;
use crate::guard::event::hook_event_types;
use crate::guard::{self, GuardOptions, Mode};
use crate::okta::{EventHookLifecycle, EventHookSpec, Secret};

/// A `Write` that hands each complete line to a channel (the demo shows the guard's
/// human alert lines in its own output).
struct LineSender {
    tx: std::sync::mpsc::Sender<String>,
    buffer: Vec<u8>,
}

impl Write for LineSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let _ = self
                .tx
                .send(String::from_utf8_lossy(&line).trim_end().to_string());
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The demo's guard tour: the guard runs in-process against the simulated org, is
/// registered as its Event Hook, and catches a bad assignment an admin makes through
/// `/sim/`. Writes only into a temporary folder.
pub(crate) fn demo_tour(
    session: &session::Session,
    sim_url: &str,
    config: &Config,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("failed to create a temporary folder")?;
    let secret = Secret::new(format!("demo-{:032x}", rand::random::<u128>()));
    let plan_options = plan_options(&PlanningArgs::default(), config, false)?;
    let options = GuardOptions {
        mode: Mode::Hook {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: secret.clone(),
            max_body_bytes: guard::server::MAX_BODY_BYTES,
        },
        state_dir: scratch.path().join("state"),
        plan_dir: Some(scratch.path().join("plans")),
        poll_every: std::time::Duration::from_secs(3600),
        plan_options,
    };
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let sink = AlertSink::new(
        Box::new(std::io::sink()),
        Box::new(LineSender {
            tx: lines_tx,
            buffer: Vec::new(),
        }),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let client = session.client.clone();
    let config = config.clone();
    let task = session.runtime.spawn(guard::run(
        client,
        config,
        options,
        sink,
        stop_rx,
        move |started| {
            let _ = addr_tx.send(started.listening);
        },
    ));
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .ok()
        .flatten()
        .context("the demo's guard did not start")?;
    writeln!(
        out,
        "\n$ ouguard guard            # prevention: judge every assignment change as it happens\n\
         guard: listening on http://{addr}"
    )?;
    let url = format!("http://{addr}/okta");
    let spec = EventHookSpec {
        name: "ouguard guard (demo)".into(),
        uri: url.clone(),
        events: hook_event_types().into_iter().map(str::to_string).collect(),
        secret,
    };
    let hook = session.runtime.block_on(async {
        let hook = session.client.create_event_hook(&spec).await?;
        session
            .client
            .event_hook_lifecycle(&hook.id, EventHookLifecycle::Verify)
            .await
    })?;
    writeln!(
        out,
        "$ ouguard guard register --url {url}\n\
         Created the Event Hook `{}`: {}, {}.",
        hook.name, hook.status, hook.verification_status
    )?;
    let ou = "OU=Interns,DC=corp,DC=example,DC=com";
    writeln!(
        out,
        "\nAn admin assigns the new group `Interns` to corp.example.com with target OU\n\
         `{ou}` (through the simulator's console, /sim/):"
    )?;
    let assigned = session.runtime.block_on(async {
        reqwest::Client::new()
            .post(format!(
                "{sim_url}/sim/directories/corp.example.com/assignments"
            ))
            .json(&serde_json::json!({"group": "Interns", "ou": ou}))
            .send()
            .await
            .map(|r| r.status().is_success())
    });
    if !matches!(assigned, Ok(true)) {
        anyhow::bail!("the simulated org refused the demo's assignment");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let alert = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) if line.starts_with("guard: new finding") => break Some(line),
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    let _ = stop_tx.send(true);
    let _ = session.runtime.block_on(task);
    match alert {
        Some(line) => {
            // The plan lives in a temporary folder that is gone after the demo.
            let line = line
                .split("; plan saved to")
                .next()
                .unwrap_or(&line)
                .to_string();
            writeln!(
                out,
                "{line}\n\
                 (with `--plan-dir DIR` the plan for it is saved there, ready for `ouguard apply`; with\n\
                 `--notify-url URL` the alert goes to Slack or Teams too)"
            )?;
        }
        None => writeln!(out, "(the guard raised no alert within 30 s)")?,
    }
    Ok(())
}
