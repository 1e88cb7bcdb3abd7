//! What the guard has accepted, on disk: the journal (one line per accepted event, appended
//! before the delivery is answered) and the checkpoint (how many journal lines are judged,
//! the open findings, the System Log position), written atomically. Together they make a
//! restart lose nothing (accepted but unjudged events are judged again) and repeat nothing
//! (uuids already journaled are duplicates; findings already open are not alerted again).
//!
//! Memory and disk stay bounded: once every line is judged and the journal holds more than
//! `COMPACT_ABOVE` lines, it is rewritten with only the uuids of the last `KEEP_AFTER_COMPACT`
//! events (the dedupe window).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::event::GuardEvent;
use crate::rules::Finding;

/// Journal lines above which a fully judged journal is compacted.
pub const COMPACT_ABOVE: u64 = 50_000;
/// Uuids kept by a compaction: the dedupe window.
pub const KEEP_AFTER_COMPACT: usize = 25_000;
/// Format of the checkpoint file.
pub const CHECKPOINT_VERSION: &str = "1";

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct JournalLine {
    uuid: String,
    /// `None` on lines a compaction rewrote: judged long ago, kept for dedupe only.
    #[serde(default)]
    event: Option<GuardEvent>,
}

/// The checkpoint file (`checkpoint.json` in the state folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format_version: String,
    pub org_url: String,
    /// Journal lines judged so far (in journal order).
    pub processed: u64,
    /// Findings alerted and not yet fixed, by id.
    pub open_findings: BTreeMap<String, Finding>,
    /// `--from-logs`: the System Log `next` link to poll from.
    #[serde(default)]
    pub log_next: Option<String>,
    /// Uuids of the provisioning failures already reported (the last 1,000), so a restart
    /// that judges their batch again does not report them twice.
    #[serde(default)]
    pub reported_impacts: Vec<String>,
}

impl Checkpoint {
    /// Reads the checkpoint of `dir`, if there is one.
    ///
    /// # Errors
    /// A file that cannot be read or is not a checkpoint.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Checkpoint>> {
        let path = dir.join("checkpoint.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read `{}`", path.display()))
            }
        };
        let checkpoint: Checkpoint = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a guard checkpoint; move it away to start afresh",
                path.display()
            )
        })?;
        if checkpoint.format_version != CHECKPOINT_VERSION {
            anyhow::bail!(
                "`{}` has format version `{}`, this ouguard reads `{CHECKPOINT_VERSION}`",
                path.display(),
                crate::text::truncate_for_message(&checkpoint.format_version)
            );
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint atomically (temp file + rename), mode 0600.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).context("failed to encode the checkpoint")?;
        crate::files::write_atomically(&dir.join("checkpoint.json"), text.as_bytes(), true)
    }
}

/// The append-only journal of accepted events and the set of uuids it holds.
pub struct Journal {
    path: PathBuf,
    file: File,
    lines: u64,
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) `dir/journal.jsonl`; returns it and the events of lines at or after
    /// `processed`, with their line numbers. A last line cut short by a crash is dropped:
    /// its delivery was never answered, so Okta sent it again.
    ///
    /// # Errors
    /// The folder or file cannot be used, or a line other than the last is damaged.
    pub fn open(dir: &Path, processed: u64) -> anyhow::Result<(Journal, Vec<(u64, GuardEvent)>)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create the folder `{}`", dir.display()))?;
        let path = dir.join("journal.jsonl");
        let mut file = open_private(&path)?;
        let mut seen = HashSet::new();
        let mut order = VecDeque::new();
        let mut pending = Vec::new();
        let mut lines = 0u64;
        let mut good_len = 0u64;
        {
            let mut reader = BufReader::new(&file);
            let mut buffer = String::new();
            loop {
                buffer.clear();
                let read = reader
                    .read_line(&mut buffer)
                    .with_context(|| format!("failed to read `{}`", path.display()))?;
                if read == 0 {
                    break;
                }
                if !buffer.ends_with('\n') {
                    // Cut short by a crash: drop it (below).
                    break;
                }
                let line: JournalLine = serde_json::from_str(buffer.trim_end()).with_context(|| {
                    format!(
                        "the guard's journal `{}` is damaged at line {}; move the state folder away to start afresh",
                        path.display(),
                        lines + 1
                    )
                })?;
                good_len += read as u64;
                if seen.insert(line.uuid.clone()) {
                    order.push_back(line.uuid);
                }
                if lines >= processed {
                    if let Some(event) = line.event {
                        pending.push((lines, event));
                    }
                }
                lines += 1;
            }
        }
        file.set_len(good_len)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(|_| ()))
            .with_context(|| format!("failed to repair `{}`", path.display()))?;
        Ok((
            Journal {
                path,
                file,
                lines,
                seen,
                order,
            },
            pending,
        ))
    }

    /// Lines in the journal.
    #[must_use]
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Whether `uuid` was accepted before.
    #[must_use]
    pub fn contains(&self, uuid: &str) -> bool {
        self.seen.contains(uuid)
    }

    /// Appends `events` in one write; returns the line number of the first.
    ///
    /// # Errors
    /// The write failed (nothing is counted as accepted then).
    pub fn append(&mut self, events: &[GuardEvent]) -> anyhow::Result<u64> {
        let mut text = String::new();
        for event in events {
            let line = serde_json::to_string(&JournalLine {
                uuid: event.uuid.clone(),
                event: Some(event.clone()),
            })
            .context("failed to encode an event")?;
            text.push_str(&line);
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .with_context(|| format!("failed to append to `{}`", self.path.display()))?;
        let first = self.lines;
        self.lines += events.len() as u64;
        for event in events {
            if self.seen.insert(event.uuid.clone()) {
                self.order.push_back(event.uuid.clone());
            }
        }
        Ok(first)
    }

    /// Rewrites the journal with only the last `keep` uuids, all judged. Returns the new
    /// line count (every line judged).
    ///
    /// # Errors
    /// The new journal cannot be written (the old one stays).
    pub fn compact(&mut self, keep: usize) -> anyhow::Result<u64> {
        while self.order.len() > keep {
            if let Some(uuid) = self.order.pop_front() {
                self.seen.remove(&uuid);
            }
        }
        let mut text = String::new();
        for uuid in &self.order {
            let line = serde_json::to_string(&JournalLine {
                uuid: uuid.clone(),
                event: None,
            })
            .context("failed to encode the journal")?;
            text.push_str(&line);
            text.push('\n');
        }
        crate::files::write_atomically(&self.path, text.as_bytes(), true)?;
        self.file = open_private(&self.path)?;
        self.file
            .seek(SeekFrom::End(0))
            .with_context(|| format!("failed to open `{}`", self.path.display()))?;
        self.lines = self.order.len() as u64;
        Ok(self.lines)
    }
}

fn open_private(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("failed to open `{}`", path.display()))
}

/// Accepted events on their way to the judge, with their journal line numbers.
pub type Batch = Vec<(u64, GuardEvent)>;

/// Counters of what the guard received and did (printed when it stops, and by `-v`).
#[derive(Debug, Default)]
pub struct Stats {
    pub deliveries: AtomicU64,
    pub unauthorized: AtomicU64,
    pub too_large: AtomicU64,
    pub bad_body: AtomicU64,
    pub overloaded: AtomicU64,
    pub events_received: AtomicU64,
    pub duplicates: AtomicU64,
    pub accepted: AtomicU64,
    pub judged: AtomicU64,
    pub alerts: AtomicU64,
    pub fixed: AtomicU64,
    pub impacts: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One line for stderr.
    #[must_use]
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} deliveries ({} unauthorized, {} too large, {} malformed, {} refused while full), \
             {} events received, {} duplicates dropped, {} accepted, {} judged; \
             {} alerts, {} fixed, {} provisioning failures",
            g(&self.deliveries),
            g(&self.unauthorized),
            g(&self.too_large),
            g(&self.bad_body),
            g(&self.overloaded),
            g(&self.events_received),
            g(&self.duplicates),
            g(&self.accepted),
            g(&self.judged),
            g(&self.alerts),
            g(&self.fixed),
            g(&self.impacts),
        )
    }
}

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The judge's queue is full: answer 503 so Okta retries once.
    #[error("the guard's queue is full")]
    Full,
    /// The guard is stopping.
    #[error("the guard is stopping")]
    Closed,
    #[error(transparent)]
    Journal(#[from] anyhow::Error),
}

/// What one batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accepted {
    pub new: usize,
    pub duplicates: usize,
}

struct IntakeInner {
    journal: Journal,
    queue: Option<mpsc::Sender<Batch>>,
    log_next: Option<String>,
}

/// The one door into the guard: dedupe on `uuid`, journal, queue. Shared by the HTTP
/// receiver and the System Log poller.
pub struct Intake {
    inner: Mutex<IntakeInner>,
    pub stats: Stats,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

impl Intake {
    #[must_use]
    pub fn new(journal: Journal, queue: mpsc::Sender<Batch>, log_next: Option<String>) -> Intake {
        Intake {
            inner: Mutex::new(IntakeInner {
                journal,
                queue: Some(queue),
                log_next,
            }),
            stats: Stats::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, IntakeInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts the events not seen before: journaled, then queued, in one step; all or
    /// nothing. `log_next`: the System Log position these events came from, recorded with
    /// them.
    ///
    /// # Errors
    /// `Full` (nothing accepted), `Closed`, or a journal write failure.
    pub fn accept(
        &self,
        events: Vec<GuardEvent>,
        log_next: Option<String>,
    ) -> Result<Accepted, IntakeError> {
        let received = events.len();
        let mut inner = self.lock();
        let mut batch_seen = HashSet::new();
        let new: Vec<GuardEvent> = events
            .into_iter()
            .filter(|e| !inner.journal.contains(&e.uuid) && batch_seen.insert(e.uuid.clone()))
            .collect();
        let accepted = Accepted {
            new: new.len(),
            duplicates: received - new.len(),
        };
        if !new.is_empty() {
            let queue = inner.queue.as_ref().ok_or(IntakeError::Closed)?;
            let permit = queue.clone().try_reserve_owned().map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IntakeError::Full,
                mpsc::error::TrySendError::Closed(_) => IntakeError::Closed,
            })?;
            let first = inner.journal.append(&new)?;
            permit.send(
                new.into_iter()
                    .enumerate()
                    .map(|(i, e)| (first + i as u64, e))
                    .collect(),
            );
        }
        if log_next.is_some() {
            inner.log_next = log_next;
        }
        Stats::add(&self.stats.events_received, received as u64);
        Stats::add(&self.stats.duplicates, accepted.duplicates as u64);
        Stats::add(&self.stats.accepted, accepted.new as u64);
        Ok(accepted)
    }

    /// The last System Log position accepted.
    #[must_use]
    pub fn log_next(&self) -> Option<String> {
        self.lock().log_next.clone()
    }

    /// Stops accepting; the judge drains what is queued.
    pub fn close(&self) {
        self.lock().queue = None;
    }

    /// Journal lines so far.
    #[must_use]
    pub fn journal_lines(&self) -> u64 {
        self.lock().journal.lines()
    }

    /// Compacts the journal if every line is judged (`processed`) and it is long, and runs
    /// `save(new_processed)` while no event can be accepted, so the checkpoint never counts
    /// lines that are not there. Returns the new processed count.
    ///
    /// # Errors
    /// The journal or the checkpoint cannot be written.
    pub fn compact_if_due(
        &self,
        processed: u64,
        save: impl FnOnce(u64) -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<u64>> {
        let mut inner = self.lock();
        if inner.journal.lines() != processed || processed <= COMPACT_ABOVE {
            return Ok(None);
        }
        let lines = inner.journal.compact(KEEP_AFTER_COMPACT)?;
        save(lines)?;
        Ok(Some(lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: &str) -> GuardEvent {
        GuardEvent {
            uuid: uuid.into(),
            published: "2026-01-01T00:00:00.000Z".into(),
            event_type: "group.application_assignment.add".into(),
            actor: None,
            targets: Vec::new(),
            outcome: None,
            reason: None,
        }
    }

    #[tokio::test]
    async fn dedupes_journals_and_replays_what_was_not_judged() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, pending) = Journal::open(dir.path(), 0).unwrap();
        assert!(pending.is_empty());
        let (tx, mut rx) = mpsc::channel(8);
        let intake = Intake::new(journal, tx, None);
        let a = intake
            .accept(vec![event("a"), event("b"), event("a")], None)
            .unwrap();
        assert_eq!(
            a,
            Accepted {
                new: 2,
                duplicates: 1
            }
        );
        let a = intake.accept(vec![event("b"), event("c")], None).unwrap();
        assert_eq!(
            a,
            Accepted {
                new: 1,
                duplicates: 1
            }
        );
        let first = rx.recv().await.unwrap();
        assert_eq!(first.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [0, 1]);
        let second = rx.recv().await.unwrap();
        assert_eq!(second[0].0, 2);
        drop(intake);
        // A restart after judging one line: the other two come back, and all three are known.
        let (journal, pending) = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(
            pending
                .iter()
                .map(|(_, e)| e.uuid.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(journal.contains("a") && journal.contains("c"));
    }

    #[test]
    fn a_line_cut_short_is_dropped_and_others_must_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            "{\"uuid\":\"a\",\"event\":null}\n{\"uuid\":\"b\",\"ev",
        )
        .unwrap();
        let (mut journal, _) = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(journal.lines(), 1);
        journal.append(&[event("c")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        std::fs::write(&path, "garbage\n{\"uuid\":\"a\"}\n").unwrap();
        let error = Journal::open(dir.path(), 0).unwrap_err();
        assert!(format!("{error:#}").contains("damaged at line 1"));
    }

    #[test]
    fn full_queue_accepts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path(), 0).unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let intake = Intake::new(journal, tx, None);
        intake.accept(vec![event("a")], None).unwrap();
        assert!(matches!(
            intake.accept(vec![event("b")], None),
            Err(IntakeError::Full)
        ));
        // `b` was not journaled: Okta's retry is accepted later.
        assert_eq!(intake.journal_lines(), 1);
    }

    #[test]
    fn compaction_keeps_the_dedupe_window() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), 0).unwrap();
        let events: Vec<_> = (0..10).map(|i| event(&format!("u{i}"))).collect();
        journal.append(&events).unwrap();
        assert_eq!(journal.compact(4).unwrap(), 4);
        assert!(!journal.contains("u5") && journal.contains("u6") && journal.contains("u9"));
        let (journal, pending) = Journal::open(dir.path(), 4).unwrap();
        assert_eq!(journal.lines(), 4);
        assert!(pending.is_empty());
    }

    #[test]
    fn checkpoints_round_trip_and_refuse_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), None);
        let c = Checkpoint {
            format_version: CHECKPOINT_VERSION.into(),
            org_url: "https://acme.okta.com".into(),
            processed: 3,
            open_findings: BTreeMap::new(),
            log_next: Some("https://acme.okta.com/api/v1/logs?after=x".into()),
            reported_impacts: vec!["u1".into()],
        };
        c.save(dir.path()).unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), Some(c));
        std::fs::write(dir.path().join("checkpoint.json"), "{").unwrap();
        assert!(Checkpoint::load(dir.path()).is_err());
    }
}
