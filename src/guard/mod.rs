//! `ouguard guard`: prevention. An Okta Event Hook receiver (or, with `--from-logs`, a System
//! Log poller) that judges every group-assignment change as it happens with the same rules
//! as `ouguard plan`, and alerts — once per finding, with a ready plan — before anyone is
//! provisioned into the wrong OU.
//!
//! Codemap: `event` (the events, as plain data), `server` (verification, authenticated
//! deliveries, 204 before any work), `journal` (dedupe on `uuid`, the journal, the
//! checkpoint, the intake queue), `judge` (fresh reads, rules, planner, reconciliation with
//! the open findings, polls), `alerts` (stdout JSON, stderr text, `--notify-url`), `logs`
//! (`--from-logs`). Only `okta/` knows Okta's JSON; nothing here prints a secret.

pub mod alerts;
pub mod event;
pub mod journal;
pub mod judge;
pub mod logs;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use self::alerts::{AlertSink, Source};
use self::journal::{Checkpoint, Intake, Journal, Stats};
use self::judge::Judge;
use crate::config::Config;
use crate::okta::{OktaClient, Secret};
use crate::planner::PlanOptions;
use crate::rules;

/// Deliveries the judge's queue holds before the receiver answers 503.
pub const QUEUE_DELIVERIES: usize = 4096;

/// Where events come from.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Okta calls us: the Event Hook receiver on `listen`.
    Hook {
        listen: SocketAddr,
        secret: Secret,
        max_body_bytes: usize,
    },
    /// We poll the System Log every `interval` when it has nothing new.
    Logs { interval: Duration },
}

/// Everything `guard` runs with, as plain data.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    pub mode: Mode,
    /// Journal and checkpoint.
    pub state_dir: PathBuf,
    pub plan_dir: Option<PathBuf>,
    /// How often the whole org (and so the `dn` mappings) is read again.
    pub poll_every: Duration,
    /// The planner options `ouguard plan` would use without a terminal.
    pub plan_options: PlanOptions,
}

/// A running guard's address, for the caller.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The receiver's bound address (`None` with `--from-logs`).
    pub listening: Option<SocketAddr>,
}

/// Runs the guard until `shutdown` flips to `true`, then finishes the deliveries in hand,
/// saves the checkpoint and returns the counters. `started` is told once it is ready.
///
/// # Errors
/// How far before the guard's first read of the org its first System Log poll starts.
const LOG_START_MARGIN_SECONDS: i64 = 5;

/// The first read of the org, the state folder, the listener.
pub async fn run(
    client: OktaClient,
    config: Config,
    options: GuardOptions,
    sink: AlertSink,
    mut shutdown: watch::Receiver<bool>,
    started: impl FnOnce(Started),
) -> anyhow::Result<Arc<Stats>> {
    let checkpoint = Checkpoint::load(&options.state_dir)?;
    if let Some(c) = &checkpoint {
        if c.org_url != client.org_url() {
            anyhow::bail!(
                "the guard's state in `{}` belongs to the org `{}`, not `{}`; use another `--state-dir`",
                options.state_dir.display(),
                crate::text::truncate_for_message(&c.org_url),
                client.org_url()
            );
        }
    }
    let processed = checkpoint.as_ref().map_or(0, |c| c.processed);
    let (journal, pending) = Journal::open(&options.state_dir, processed)?;
    let processed = processed.min(journal.lines());

    // A first poll of the System Log starts from before the org is read (a few seconds
    // before, for clocks that differ): a change made while the guard starts is in the log
    // after this instant, so it is judged even when it landed after the read. Seen twice,
    // it is judged twice against a fresh read: no second alert.
    let log_since = chrono::Utc::now() - chrono::Duration::seconds(LOG_START_MARGIN_SECONDS);
    let state = Judge::read_state(&client, &config).await?;
    let (queue_tx, mut queue_rx) = mpsc::channel(QUEUE_DELIVERIES);
    let log_next = checkpoint.as_ref().and_then(|c| c.log_next.clone());
    let intake = Arc::new(Intake::new(journal, queue_tx, log_next));
    let stats = Arc::new(Stats::default());
    let mut judge = Judge {
        client: client.clone(),
        config,
        plan_options: options.plan_options.clone(),
        plan_dir: options.plan_dir.clone(),
        state_dir: options.state_dir.clone(),
        sink: sink.clone(),
        state,
        open: checkpoint
            .as_ref()
            .map(|c| c.open_findings.clone())
            .unwrap_or_default(),
        processed,
        dirty: true,
        last_save: Instant::now(),
        intake: Some(Arc::clone(&intake)),
        stats: Arc::clone(&stats),
        reported_impacts: checkpoint
            .as_ref()
            .map(|c| c.reported_impacts.iter().cloned().collect())
            .unwrap_or_default(),
    };
    let undeclared: Vec<String> = judge
        .state
        .directories
        .iter()
        .filter(|d| d.import_ous.is_none())
        .map(|d| format!("`{}`", d.domain))
        .collect();
    if !undeclared.is_empty() {
        sink.note(&format!(
            "warning: no import OUs declared for {}: R1 is not judged there; declare them in \
             `ouguard.toml` (or `ouguard import-ous --from-csv FILE`)",
            undeclared.join(", ")
        ));
    }
    if checkpoint.is_none() {
        // First start: what is wrong today is the baseline, not news.
        let findings = rules::evaluate(&judge.state).findings;
        sink.note(&format!(
            "guard: first start: {} finding(s) already open in the org are the baseline (not \
             alerted; `ouguard plan` shows them); from now on every new one is alerted",
            findings.len()
        ));
        judge.open = findings.into_iter().map(|f| (f.id.clone(), f)).collect();
    }
    if !pending.is_empty() {
        sink.note(&format!(
            "guard: judging {} event(s) accepted before the last stop",
            pending.len()
        ));
        judge.judge_batch(pending).await;
    }
    // Whatever changed while the guard was down.
    let findings = rules::evaluate(&judge.state).findings;
    judge.reconcile(findings, Source::Startup, None, |_| true);
    judge.dirty = true;
    judge.save_now();

    // The source of events.
    let (stopped_tx, stopped_rx) = watch::channel(false);
    let source_task = match &options.mode {
        Mode::Hook {
            listen,
            secret,
            max_body_bytes,
        } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("failed to listen on `{listen}`"))?;
            let addr = listener
                .local_addr()
                .context("failed to read the bound address")?;
            let receiver = Arc::new(server::Receiver {
                secret: secret.clone(),
                intake: Arc::clone(&intake),
                max_body_bytes: *max_body_bytes,
            });
            let mut stop = stopped_rx.clone();
            let task = tokio::spawn(async move {
                server::serve(listener, receiver, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
            });
            started(Started {
                listening: Some(addr),
            });
            tokio::spawn(async move { task.await.map_err(std::io::Error::other)? })
        }
        Mode::Logs { interval } => {
            let poller = logs::LogPoller {
                client: client.clone(),
                intake: Arc::clone(&intake),
                interval: *interval,
                sink: sink.clone(),
                since: log_since,
            };
            let stop = stopped_rx.clone();
            started(Started { listening: None });
            tokio::spawn(async move {
                poller.run(stop).await;
                Ok(())
            })
        }
    };

    let mut poll = tokio::time::interval_at(
        tokio::time::Instant::now() + options.poll_every,
        options.poll_every,
    );
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            batch = queue_rx.recv() => match batch {
                Some(batch) => judge.judge_batch(with_queued(batch, &mut queue_rx)).await,
                None => break,
            },
            _ = poll.tick() => judge.poll(Source::Poll).await,
            _ = tick.tick() => {
                // `--from-logs` moves its position without events: keep it saved.
                if judge.checkpoint().log_next != intake_log_next(&intake) {
                    judge.dirty = true;
                }
                judge.save_if_due();
            }
            () = stop_requested(&mut shutdown) => {
                sink.note("guard: stopping: finishing the deliveries in hand");
                let _ = stopped_tx.send(true);
                let source = source_task.await;
                intake.close();
                if let Ok(Err(e)) = source {
                    sink.note(&format!("warning: the receiver stopped with an error: {e}"));
                }
                // The judge drains what is queued, then `recv` ends the loop.
                break_after_drain(&mut judge, &mut queue_rx).await;
                break;
            }
        }
    }
    judge.dirty = true;
    judge.save_now();
    merge_stats(&stats, &intake.stats);
    Ok(stats)
}

/// Completes once `shutdown` is `true` (or its sender is gone).
async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

fn intake_log_next(intake: &Intake) -> Option<String> {
    intake.log_next()
}

async fn break_after_drain(judge: &mut Judge, queue: &mut mpsc::Receiver<journal::Batch>) {
    while let Some(batch) = queue.recv().await {
        judge.judge_batch(with_queued(batch, queue)).await;
    }
}

/// Events judged together at most: a backlog is judged with one fresh read per changed
/// assignment instead of one per event.
const MERGE_EVENTS: usize = 5000;

/// `batch` and the deliveries queued behind it (in journal order), up to `MERGE_EVENTS`.
fn with_queued(
    mut batch: journal::Batch,
    queue: &mut mpsc::Receiver<journal::Batch>,
) -> journal::Batch {
    while batch.len() < MERGE_EVENTS {
        match queue.try_recv() {
            Ok(more) => batch.extend(more),
            Err(_) => break,
        }
    }
    batch
}

/// Adds the receiver's counters to the judge's.
fn merge_stats(into: &Stats, from: &Stats) {
    use std::sync::atomic::Ordering::Relaxed;
    for (a, b) in [
        (&into.deliveries, &from.deliveries),
        (&into.unauthorized, &from.unauthorized),
        (&into.too_large, &from.too_large),
        (&into.bad_body, &from.bad_body),
        (&into.overloaded, &from.overloaded),
        (&into.events_received, &from.events_received),
        (&into.duplicates, &from.duplicates),
        (&into.accepted, &from.accepted),
    ] {
        a.fetch_add(b.load(Relaxed), Relaxed);
    }
}

/// Parses `5m`, `30s`, `250ms`, `1h`, `1h30m`.
///
/// # Errors
/// A message naming the value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: use e.g. `5m`, `30s`, `250ms`, `1h`");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(part);
    }
    if total.is_zero() {
        return Err(format!("`{text}` is zero: the interval must be longer"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("").is_err());
    }
}
