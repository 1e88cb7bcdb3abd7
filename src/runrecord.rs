//! The run record of an apply: JSON lines under `.ouguard/runs/`, mode 0600, written as the
//! run goes. The run line comes before the first write; each API change's intent (the whole
//! resource as the fresh read found it, and the exact request about to be sent) before its
//! write, and its result after; every line is flushed and `fsync`ed before the write it
//! announces is sent. So a killed, crashed or powered-off apply leaves a record of every
//! write it may have sent, and the record holds what reversing the run needs.
//!
//! Also the reader ([`RunRecord::load`], for records of every format ouguard wrote) and the
//! check that the last record ended ([`last_run`], with a re-read of each write whose
//! outcome the record does not know). Lines are built from plan data, what the fresh reads
//! returned, and outcomes: never a secret, never a raw server body.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::apply::{ChangeOutcome, ChangeResult};
use crate::okta::{OktaClient, RawAssignment};
use crate::plan::{Action, ChangeKind, Execution, Plan, ResourceChange};
use crate::rules::{DirectoryRef, GroupRef};
use crate::state::{MappingProperty, OrgState};

/// Where run records are kept, relative to the working directory.
pub const RUNS_DIR: &str = ".ouguard/runs";

/// The record format this build writes: "2" is written as the run goes, with intents and
/// whole before-states. Records without a `record_format` are "1" (written at the end, one
/// `change` line per change, partial before-states); both are read.
pub const RECORD_FORMAT: &str = "2";

/// The largest record [`RunRecord::load`] reads (a run of 10 000 changes with large
/// profiles stays far below it).
pub const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// Counts of outcomes, for the summary line and the record's last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub applied: usize,
    pub already_applied: usize,
    pub failed: usize,
    pub skipped: usize,
    pub manual_pending: usize,
    pub manual_done: usize,
}

impl Tally {
    #[must_use]
    pub fn of(outcomes: &[ChangeOutcome]) -> Self {
        let mut tally = Tally::default();
        for outcome in outcomes {
            tally.count(&outcome.result);
        }
        tally
    }

    fn count(&mut self, result: &ChangeResult) {
        match result {
            ChangeResult::Applied { .. } => self.applied += 1,
            ChangeResult::AlreadyApplied => self.already_applied += 1,
            ChangeResult::Failed { .. } => self.failed += 1,
            ChangeResult::Skipped { .. } => self.skipped += 1,
            ChangeResult::ManualPending => self.manual_pending += 1,
            ChangeResult::ManualConfirmed => self.manual_done += 1,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// What the run line says besides the plan.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// The org written to.
    pub org_url: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// The config file a confirmed manual step records its OU in.
    pub config_path: PathBuf,
}

/// What a fresh read found just before a write: the before-state a reversal needs.
#[derive(Debug, Clone, Copy)]
pub enum ObservedBefore<'a> {
    /// The whole assignment (priority, full profile, `lastUpdated`).
    Assignment(&'a RawAssignment),
    /// The mapping property about to be deleted, as it was (expression and `pushStatus`).
    MappingProperty {
        key: &'a str,
        property: Option<&'a MappingProperty>,
    },
}

/// A manual step's edit of the config file, recorded before the file is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// The config file, as ouguard was given it.
    pub path: String,
    /// The directory table the OU went into (the domain).
    pub directory: String,
    /// The OU added to `import_ous`.
    pub ou: String,
    /// `false` when the file already declared it (nothing was written); `None` in an
    /// intent, before the edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<bool>,
}

/// How a run ended, for the summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnding {
    /// Every change was tried (some may have failed).
    Completed,
    /// Ctrl-C during the writes: they were finished and recorded, then the run stopped.
    CtrlC,
    /// The plan was refused as stale before any write; the reasons.
    RefusedStale(Vec<String>),
    /// The re-check refused the plan before any write (a change ouguard would not plan from
    /// the org and config as they are): each refused change and why.
    Refused(Vec<String>),
    /// The run stopped on an error after the writes (e.g. the config file could not be
    /// written).
    Error(String),
}

/// The handle `apply` writes its run record through. Cheap to clone into write tasks; every
/// line is durable (written, `fsync`ed) when the call returns. Lines are appended by one
/// writer thread that commits whatever lines are waiting with one `fsync`, so concurrent
/// writes do not queue behind each other's disk flushes.
#[derive(Debug, Clone)]
pub struct RunRecorder {
    shared: Arc<RecorderShared>,
}

#[derive(Debug)]
struct RecorderShared {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for RecorderShared {
    /// The last handle gone (a run that ended without its summary, e.g. on an error): the
    /// writer finishes what it was given and closes the file, releasing the lock.
    fn drop(&mut self) {
        drop(
            self.jobs
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(writer) = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = writer.join();
        }
    }
}

#[derive(Debug)]
struct Job {
    line: String,
    done: Ack,
}

#[derive(Debug)]
enum Ack {
    Async(tokio::sync::oneshot::Sender<Result<(), String>>),
    Blocking(mpsc::SyncSender<Result<(), String>>),
}

impl Ack {
    fn send(self, result: Result<(), String>) {
        match self {
            Ack::Async(sender) => {
                let _ = sender.send(result);
            }
            Ack::Blocking(sender) => {
                let _ = sender.send(result);
            }
        }
    }
}

fn record_error(message: String) -> io::Error {
    io::Error::other(message)
}

impl RunRecorder {
    /// Creates a new record under `base/.ouguard/runs/` (folder mode 0700, file 0600, never
    /// an existing file) and writes its run line, durably: the file and its folder entry are
    /// `fsync`ed. The file stays locked while the run goes, so a concurrent `plan` can tell a
    /// running apply from an interrupted one.
    ///
    /// # Errors
    /// The folder or the file cannot be created or written.
    pub fn start(base: &Path, plan: &Plan, run: &RunStart) -> anyhow::Result<RunRecorder> {
        let dir = base.join(RUNS_DIR);
        create_private_dir(&dir)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ").to_string();
        let short: String = plan
            .checksum
            .trim_start_matches("sha256:")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        let (path, mut file) =
            create_new_record(&dir, &format!("{stamp}-{short}")).map_err(|e| {
                anyhow::anyhow!("failed to create a run record in `{}`: {e}", dir.display())
            })?;
        lock_exclusive(&file);
        let line = run_line(plan, run);
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| {
                anyhow::anyhow!("failed to write the run record `{}`: {e}", path.display())
            })?;
        // The new file's name must survive a power cut too.
        if let Ok(folder) = File::open(&dir) {
            let _ = folder.sync_all();
        }
        let (jobs, receiver) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("ouguard-run-record".into())
            .spawn(move || write_lines(file, &receiver))
            .map_err(|e| anyhow::anyhow!("failed to start the run record writer: {e}"))?;
        Ok(RunRecorder {
            shared: Arc::new(RecorderShared {
                path,
                jobs: Mutex::new(Some(jobs)),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The record's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Records, durably, that the write of change `index` is about to be sent: the change,
    /// what the fresh read found, and the exact request. Call it before the write; when it
    /// fails, do not send the write.
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub async fn intent(
        &self,
        index: usize,
        change: &ResourceChange,
        observed: ObservedBefore<'_>,
    ) -> io::Result<()> {
        self.append(intent_line(index, change, observed)).await
    }

    /// Records a change's outcome (after its write, or without one: already applied, skipped).
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub async fn result(&self, change: &ResourceChange, outcome: &ChangeOutcome) -> io::Result<()> {
        self.append(result_line(change, outcome, None)).await
    }

    /// [`RunRecorder::result`] for callers outside the async runtime (manual steps).
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub fn result_blocking(
        &self,
        change: &ResourceChange,
        outcome: &ChangeOutcome,
        config: Option<&ConfigRecord>,
    ) -> io::Result<()> {
        self.append_blocking(result_line(change, outcome, config))
    }

    /// Records, after the changes, the users whose failed provisioning should be retried
    /// now that a change is in (a `retry` line, read back by `plan --evidence`).
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub fn retry_blocking(&self, list: &crate::evidence::RetryList) -> io::Result<()> {
        self.append_blocking(to_line(&retry_line(list)))
    }

    /// Records, before the config file is edited, that a confirmed manual step is about to
    /// add its OU to it.
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub fn manual_intent_blocking(
        &self,
        index: usize,
        change: &ResourceChange,
        config: &ConfigRecord,
    ) -> io::Result<()> {
        let mut line = change_fields("intent", index, change);
        line.insert("config".into(), json!(config));
        self.append_blocking(to_line(&Value::Object(line)))
    }

    /// Writes the summary line and closes the record (its lock is released).
    ///
    /// # Errors
    /// The line could not be written and `fsync`ed.
    pub fn finish(&self, tally: &Tally, ending: &RunEnding) -> io::Result<()> {
        let result = self.append_blocking(summary_line(tally, ending));
        self.close();
        result
    }

    /// Stops the writer thread, closing the file; later appends fail.
    fn close(&self) {
        drop(
            self.shared
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }

    fn send(&self, line: String, done: Ack) -> io::Result<()> {
        let jobs = self
            .shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(jobs) = jobs.as_ref() else {
            return Err(record_error("the run record is already closed".into()));
        };
        jobs.send(Job { line, done })
            .map_err(|_| record_error("the run record writer stopped".into()))
    }

    async fn append(&self, line: String) -> io::Result<()> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(line, Ack::Async(done))?;
        match answer.await {
            Ok(result) => result.map_err(record_error),
            Err(_) => Err(record_error("the run record writer stopped".into())),
        }
    }

    fn append_blocking(&self, line: String) -> io::Result<()> {
        let (done, answer) = mpsc::sync_channel(1);
        self.send(line, Ack::Blocking(done))?;
        match answer.recv() {
            Ok(result) => result.map_err(record_error),
            Err(_) => Err(record_error("the run record writer stopped".into())),
        }
    }
}

/// The writer thread: appends whatever lines wait, with one `fsync` for all of them, then
/// acknowledges them. After a failed write nothing more is written (the file ends where the
/// failure left it, which the reader tolerates for the last line only).
fn write_lines(mut file: File, jobs: &mpsc::Receiver<Job>) {
    let mut broken: Option<String> = None;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while let Ok(more) = jobs.try_recv() {
            batch.push(more);
        }
        let result = match &broken {
            Some(error) => Err(format!("an earlier write failed: {error}")),
            None => {
                let mut text = String::new();
                for job in &batch {
                    text.push_str(&job.line);
                }
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_data())
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(error) = &result {
            broken.get_or_insert_with(|| error.clone());
        }
        for job in batch {
            job.done.send(result.clone());
        }
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("failed to create the folder `{}`: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Creates `dir/stem.jsonl` (or `stem_002.jsonl`, …): never opens an existing file.
fn create_new_record(dir: &Path, stem: &str) -> io::Result<(PathBuf, File)> {
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.jsonl")
        } else {
            // `_` sorts after `.`: a second record of the same millisecond sorts last.
            format!("{stem}_{n:03}.jsonl")
        };
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// An advisory lock held while the run goes (released when the writer closes the file, or
/// by the kernel when the process dies). Best effort: a file system without locks just
/// makes a running apply look interrupted to a concurrent `plan`.
fn lock_exclusive(file: &File) {
    #[cfg(unix)]
    {
        let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive);
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// `true` when another process holds the record's lock: its apply is still running.
fn locked_by_a_running_apply(file: &File) -> bool {
    #[cfg(unix)]
    {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
                false
            }
            Err(e) => e == rustix::io::Errno::WOULDBLOCK,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

fn to_line(value: &Value) -> String {
    let mut line = value.to_string();
    line.push('\n');
    line
}

fn run_line(plan: &Plan, run: &RunStart) -> String {
    to_line(&json!({
        "type": "run",
        "record_format": RECORD_FORMAT,
        "ouguard_version": env!("CARGO_PKG_VERSION"),
        "plan_checksum": plan.checksum,
        "plan_created_at": plan.created_at,
        "org_url": run.org_url,
        "started_at": run.started_at,
        "config_path": run.config_path.display().to_string(),
        "changes": plan.resource_changes.len(),
    }))
}

/// What every intent and result line says about its change.
fn change_fields(kind: &str, index: usize, change: &ResourceChange) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("type".into(), json!(kind));
    line.insert("index".into(), json!(index));
    line.insert("address".into(), json!(change.address));
    line.insert("kind".into(), json!(change.kind()));
    line.insert("action".into(), json!(change.action()));
    line.insert("execution".into(), json!(change.execution()));
    line.insert("finding".into(), json!(change.finding));
    line.insert("directory".into(), json!(change.directory));
    line.insert("group".into(), json!(change.group()));
    line.insert("mapping_id".into(), json!(change.mapping_id()));
    line.insert(
        "planned".into(),
        json!({"before": change.before_value(), "after": change.after_value()}),
    );
    line
}

/// The whole assignment as read, in Okta's field names.
#[must_use]
pub fn assignment_before_json(raw: &RawAssignment) -> Value {
    json!({
        "priority": raw.priority,
        "profile": raw.profile,
        "lastUpdated": raw.last_updated,
    })
}

fn intent_line(index: usize, change: &ResourceChange, observed: ObservedBefore<'_>) -> String {
    let mut line = change_fields("intent", index, change);
    let (before, write) = match observed {
        ObservedBefore::Assignment(raw) => {
            let body = match &change.details {
                crate::plan::ChangeDetails::GroupTargetOuUpdate(update) => {
                    crate::okta::assignment_put_body(raw, &update.after)
                }
                // An undo's revert writes the recorded priority and whole profile.
                crate::plan::ChangeDetails::GroupTargetOuRevert(revert) => {
                    crate::okta::whole_assignment_body(revert.after.priority, &revert.after.profile)
                }
                _ => crate::okta::assignment_put_body(raw, ""),
            };
            (
                assignment_before_json(raw),
                json!({
                    "method": "PUT",
                    "path": format!("/api/v1/apps/{}/groups/{}", raw.app_id, raw.group_id),
                    "body": body,
                }),
            )
        }
        ObservedBefore::MappingProperty { key, property } => (
            json!({
                "key": key,
                "expression": property.and_then(|p| p.expression.clone()),
                "pushStatus": property.and_then(|p| p.push_status.clone()),
            }),
            json!({
                "method": "POST",
                "path": format!("/api/v1/mappings/{}", change.mapping_id().unwrap_or_default()),
                "body": match &change.details {
                    // An undo's restore puts the property back as it was.
                    crate::plan::ChangeDetails::MappingPropertyRestore(restore) => {
                        crate::okta::mapping_restore_body(key, &restore.expression, &restore.push_status)
                    }
                    _ => crate::okta::mapping_removal_body(key),
                },
            }),
        ),
    };
    line.insert("observed_before".into(), before);
    line.insert("write".into(), write);
    to_line(&Value::Object(line))
}

fn result_line(
    change: &ResourceChange,
    outcome: &ChangeOutcome,
    config: Option<&ConfigRecord>,
) -> String {
    let mut line = change_fields("result", outcome.index, change);
    line.insert("result".into(), json!(outcome.result));
    line.insert("request_ids".into(), json!(outcome.request_ids));
    line.insert("elapsed_ms".into(), json!(outcome.elapsed_ms));
    if let Some(left) = &outcome.left {
        line.insert("left".into(), left.clone());
    }
    if let Some(config) = config {
        line.insert("config".into(), json!(config));
    }
    to_line(&Value::Object(line))
}

fn summary_line(tally: &Tally, ending: &RunEnding) -> String {
    let mut line = json!({
        "type": "summary",
        "finished_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "applied": tally.applied,
        "already_applied": tally.already_applied,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "manual_pending": tally.manual_pending,
        "manual_done": tally.manual_done,
    });
    let (end, extra) = match ending {
        RunEnding::Completed => ("completed", None),
        RunEnding::CtrlC => ("ctrl_c", None),
        RunEnding::RefusedStale(reasons) => ("refused_stale", Some(("stale", json!(reasons)))),
        RunEnding::Refused(reasons) => ("refused", Some(("refused", json!(reasons)))),
        RunEnding::Error(message) => ("error", Some(("error", json!(message)))),
    };
    if let Value::Object(map) = &mut line {
        map.insert("end".into(), json!(end));
        if let Some((key, value)) = extra {
            map.insert(key.into(), value);
        }
    }
    to_line(&line)
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// Why a run record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("failed to read the run record `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the run record `{path}` is larger than {limit} bytes: it is not a run record ouguard wrote")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("the run record `{path}` is not valid: line {line}: {detail}")]
    Invalid {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("`{path}` is not a run record: its first line is not a `run` line")]
    NotARunRecord { path: PathBuf },
    #[error(
        "the run record `{path}` has `record_format` `{format}`, newer than this ouguard reads \
         (`{RECORD_FORMAT}`): use a newer ouguard"
    )]
    UnknownFormat { path: PathBuf, format: String },
}

/// The run line: which plan ran against which org, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLine {
    pub ouguard_version: Option<String>,
    pub plan_checksum: String,
    pub plan_created_at: Option<String>,
    pub org_url: Option<String>,
    pub started_at: Option<String>,
    /// The config file manual steps write to; `None` in records of format "1".
    pub config_path: Option<String>,
    /// How many changes the plan had; `None` in records of format "1".
    pub planned_changes: Option<usize>,
}

/// The whole assignment as read just before a retarget's write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentBefore {
    /// `profile.organizationalUnit`, `None` when it was unset.
    pub organizational_unit: Option<String>,
    pub last_updated: Option<String>,
    /// `priority` and the full `profile`; `None` when the record does not hold them
    /// (format "1": only the OU and `lastUpdated` were kept).
    pub whole: Option<WholeAssignment>,
}

/// An assignment's `priority` and full `profile`, exactly as Okta returned them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeAssignment {
    pub priority: Option<i64>,
    pub profile: Map<String, Value>,
}

/// A mapping property as it was just before a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingPropertyBefore {
    pub key: String,
    pub expression: Option<String>,
    /// `PUSH` / `DONT_PUSH`; `None` when Okta sent none, or when the record does not hold it
    /// (then [`Missing::PushStatus`] is listed).
    pub push_status: Option<String>,
}

/// The state a change found before its write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeState {
    Assignment(AssignmentBefore),
    MappingProperty(MappingPropertyBefore),
}

/// The request a change sent (or was about to send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedWrite {
    pub method: String,
    /// Path of the request, e.g. `/api/v1/apps/0oa1/groups/00g1`.
    pub path: String,
    pub body: Value,
}

/// What a change's record says about how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedOutcome {
    /// An intent without a result: the write may or may not have been sent or taken effect.
    Unknown,
    Known {
        result: ChangeResult,
        request_ids: Vec<String>,
        elapsed_ms: Option<u64>,
    },
}

/// Something a reversal needs that a record does not hold (records of older versions, or a
/// write whose answer carried no `lastUpdated`). Reported, never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Missing {
    /// A retarget's `priority` and full `profile` as read before the write.
    WholeAssignment,
    /// A retarget's `lastUpdated` after the write (the state the run left).
    LastUpdatedAfterWrite,
    /// A deleted mapping property's `pushStatus`.
    PushStatus,
    /// What the fresh read found before the write.
    ObservedBefore,
    /// The config file a confirmed manual step wrote its OU to.
    ConfigRecord,
}

impl Missing {
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Missing::WholeAssignment => {
                "the assignment's `priority` and full `profile` as read before the write"
            }
            Missing::LastUpdatedAfterWrite => "the assignment's `lastUpdated` after the write",
            Missing::PushStatus => "the mapping property's `pushStatus`",
            Missing::ObservedBefore => "what Okta held before the write",
            Missing::ConfigRecord => "the config file the OU was recorded in",
        }
    }
}

/// One change of a run, as its record tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChange {
    /// Position of the change in the plan.
    pub index: usize,
    pub address: String,
    pub kind: ChangeKind,
    pub action: Option<Action>,
    pub execution: Option<Execution>,
    pub finding: Option<String>,
    pub directory: Option<DirectoryRef>,
    pub group: Option<GroupRef>,
    pub mapping_id: Option<String>,
    /// The plan's `before` and `after`.
    pub planned_before: Option<Value>,
    pub planned_after: Option<Value>,
    /// What the fresh read found just before the write.
    pub before: Option<BeforeState>,
    /// The request sent (format "2"; format "1" did not keep it).
    pub write: Option<RecordedWrite>,
    pub outcome: RecordedOutcome,
    /// The state the write left, where known: `{"organizationalUnit", "lastUpdated"}` for a
    /// retarget, `{"key", "expression": null}` for a deleted mapping property.
    pub left: Option<Value>,
    /// A manual step's edit of the config file.
    pub config: Option<ConfigRecord>,
    /// What a reversal of this change would need that the record does not hold.
    pub missing: Vec<Missing>,
}

impl RecordedChange {
    /// `true` when the record shows the change written and confirmed.
    #[must_use]
    pub fn applied(&self) -> bool {
        matches!(
            self.outcome,
            RecordedOutcome::Known {
                result: ChangeResult::Applied { .. },
                ..
            }
        )
    }

    /// The value the change writes: the destination OU, or `None` (a deleted property).
    #[must_use]
    pub fn planned_ou(&self) -> Option<&str> {
        str_at(self.planned_after.as_ref(), "organizationalUnit")
            .or_else(|| str_at(self.planned_after.as_ref(), "ou"))
    }

    fn recompute_missing(&mut self) {
        let mut missing = Vec::new();
        let confirmed_manual = matches!(
            self.outcome,
            RecordedOutcome::Known {
                result: ChangeResult::ManualConfirmed,
                ..
            }
        );
        match self.kind {
            ChangeKind::GroupTargetOu => match &self.before {
                Some(BeforeState::Assignment(before)) if before.whole.is_none() => {
                    missing.push(Missing::WholeAssignment);
                }
                Some(BeforeState::Assignment(_)) => {}
                _ if self.write.is_some() || self.applied() => {
                    missing.push(Missing::ObservedBefore);
                }
                _ => {}
            },
            ChangeKind::MappingProperty => match &self.before {
                Some(BeforeState::MappingProperty(_)) => {}
                _ if self.write.is_some() || self.applied() => {
                    missing.push(Missing::ObservedBefore);
                }
                _ => {}
            },
            ChangeKind::ImportOu => {
                if confirmed_manual && self.config.is_none() {
                    missing.push(Missing::ConfigRecord);
                }
            }
        }
        if self.kind == ChangeKind::GroupTargetOu
            && self.applied()
            && str_at(self.left.as_ref(), "lastUpdated").is_none()
        {
            missing.push(Missing::LastUpdatedAfterWrite);
        }
        // Format "1" kept no pushStatus: the flag is set while reading it.
        if self.missing.contains(&Missing::PushStatus) {
            missing.push(Missing::PushStatus);
        }
        missing.sort();
        missing.dedup();
        self.missing = missing;
    }
}

/// The summary line: how the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub finished_at: Option<String>,
    pub tally: Tally,
    /// `completed`, `ctrl_c`, `refused_stale`, `refused`, `error` (format "2"); `None` in
    /// format "1".
    pub end: Option<String>,
    /// Why a stale plan was refused.
    pub stale: Vec<String>,
    /// Why the re-check refused the plan.
    pub refused: Vec<String>,
    pub error: Option<String>,
}

/// A run record, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub path: PathBuf,
    /// "1" or "2".
    pub format: String,
    pub run: RunLine,
    /// One per change the record mentions, in plan order.
    pub changes: Vec<RecordedChange>,
    /// `None`: the record ends without its summary (the run was killed, crashed or is
    /// still going; see [`last_run`]).
    pub summary: Option<RecordSummary>,
    /// What the reader had to overlook (a last line cut short by a crash).
    pub notes: Vec<String>,
}

impl RunRecord {
    /// Reads a run record of any format ouguard wrote.
    ///
    /// # Errors
    /// The file cannot be read, is too large, is not a run record, or has a line that is
    /// not valid (except a last line cut short, which is noted and ignored).
    pub fn load(path: &Path) -> Result<RunRecord, RecordError> {
        let io_error = |source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let mut text = String::new();
        file.take(MAX_RECORD_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io_error)?;
        if text.len() as u64 > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_RECORD_BYTES,
            });
        }
        RunRecord::parse(&text, path)
    }

    /// Reads a run record from its text; `path` names it in errors.
    ///
    /// # Errors
    /// As [`RunRecord::load`].
    pub fn parse(text: &str, path: &Path) -> Result<RunRecord, RecordError> {
        let invalid = |line: usize, detail: String| RecordError::Invalid {
            path: path.to_path_buf(),
            line,
            detail: crate::text::truncate_for_message(&detail),
        };
        let mut notes = Vec::new();
        let mut lines: Vec<(usize, Value)> = Vec::new();
        let raw_lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, raw) in raw_lines.iter().enumerate() {
            let number = i + 1;
            let content = raw.trim_end_matches(['\n', '\r']);
            if content.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(content) {
                Ok(value) if value.is_object() => lines.push((number, value)),
                Ok(_) => return Err(invalid(number, "not a JSON object".into())),
                // A crash can cut the last line short (it never got its newline): everything
                // before it is whole.
                Err(_) if number == raw_lines.len() && !raw.ends_with('\n') => notes.push(format!(
                    "line {number} was cut short (the run stopped while writing it) and is ignored"
                )),
                Err(e) => return Err(invalid(number, e.to_string())),
            }
        }
        let Some((first_number, first)) = lines.first() else {
            return Err(RecordError::NotARunRecord {
                path: path.to_path_buf(),
            });
        };
        if first.get("type").and_then(Value::as_str) != Some("run") {
            return Err(RecordError::NotARunRecord {
                path: path.to_path_buf(),
            });
        }
        let format = match first.get("record_format") {
            None | Some(Value::Null) => "1".to_string(),
            Some(Value::String(f)) if f == "1" || f == RECORD_FORMAT => f.clone(),
            Some(Value::String(f)) if f.starts_with("2.") => RECORD_FORMAT.to_string(),
            Some(other) => {
                return Err(RecordError::UnknownFormat {
                    path: path.to_path_buf(),
                    format: crate::text::truncate_for_message(
                        &other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_string),
                    ),
                })
            }
        };
        let run = read_run_line(first).map_err(|d| invalid(*first_number, d))?;

        let mut changes: BTreeMap<usize, RecordedChange> = BTreeMap::new();
        let mut summary = None;
        for (number, line) in &lines[1..] {
            let kind = line.get("type").and_then(Value::as_str).unwrap_or_default();
            match kind {
                "change" => {
                    let change = read_legacy_change(line).map_err(|d| invalid(*number, d))?;
                    changes.insert(change.index, change);
                }
                "intent" => {
                    let fields = read_change_fields(line).map_err(|d| invalid(*number, d))?;
                    let change = changes
                        .entry(fields.index)
                        .or_insert_with(|| fields.clone().into_change());
                    fields.update(change);
                    change.outcome = RecordedOutcome::Unknown;
                    read_intent(line, change).map_err(|d| invalid(*number, d))?;
                }
                "result" => {
                    let fields = read_change_fields(line).map_err(|d| invalid(*number, d))?;
                    let change = changes
                        .entry(fields.index)
                        .or_insert_with(|| fields.clone().into_change());
                    fields.update(change);
                    read_result(line, change).map_err(|d| invalid(*number, d))?;
                }
                "summary" => summary = Some(read_summary(line).map_err(|d| invalid(*number, d))?),
                // Line types added later (additive changes of the format) are skipped.
                _ => {}
            }
        }
        let mut changes: Vec<RecordedChange> = changes.into_values().collect();
        for change in &mut changes {
            change.recompute_missing();
        }
        Ok(RunRecord {
            path: path.to_path_buf(),
            format,
            run,
            changes,
            summary,
            notes,
        })
    }

    /// `true` when the record ends without its summary.
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        self.summary.is_none()
    }

    /// The changes whose write may have been sent without the record knowing how it ended.
    pub fn unknown_outcomes(&self) -> impl Iterator<Item = &RecordedChange> {
        self.changes
            .iter()
            .filter(|c| c.outcome == RecordedOutcome::Unknown)
    }

    /// The changes the record shows applied.
    pub fn applied(&self) -> impl Iterator<Item = &RecordedChange> {
        self.changes.iter().filter(|c| c.applied())
    }

    /// Changes of the plan the record says nothing about (a run that stopped early).
    #[must_use]
    pub fn not_reached(&self) -> usize {
        self.run
            .planned_changes
            .map_or(0, |n| n.saturating_sub(self.changes.len()))
    }
}

fn str_at<'a>(value: Option<&'a Value>, key: &str) -> Option<&'a str> {
    value?.get(key)?.as_str()
}

fn opt_string(line: &Value, key: &str) -> Option<String> {
    line.get(key).and_then(Value::as_str).map(str::to_string)
}

fn typed<T: serde::de::DeserializeOwned>(line: &Value, key: &str) -> Result<Option<T>, String> {
    match line.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| format!("`{key}`: {e}")),
    }
}

fn read_run_line(line: &Value) -> Result<RunLine, String> {
    let plan_checksum = opt_string(line, "plan_checksum")
        .ok_or_else(|| "the run line has no `plan_checksum`".to_string())?;
    Ok(RunLine {
        ouguard_version: opt_string(line, "ouguard_version"),
        plan_checksum,
        plan_created_at: opt_string(line, "plan_created_at"),
        org_url: opt_string(line, "org_url"),
        started_at: opt_string(line, "started_at"),
        config_path: opt_string(line, "config_path"),
        planned_changes: line
            .get("changes")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok()),
    })
}

/// The description of a change every intent/result line carries.
#[derive(Debug, Clone)]
struct ChangeFields {
    index: usize,
    address: String,
    kind: ChangeKind,
    action: Option<Action>,
    execution: Option<Execution>,
    finding: Option<String>,
    directory: Option<DirectoryRef>,
    group: Option<GroupRef>,
    mapping_id: Option<String>,
    planned_before: Option<Value>,
    planned_after: Option<Value>,
}

impl ChangeFields {
    fn into_change(self) -> RecordedChange {
        RecordedChange {
            index: self.index,
            address: self.address,
            kind: self.kind,
            action: self.action,
            execution: self.execution,
            finding: self.finding,
            directory: self.directory,
            group: self.group,
            mapping_id: self.mapping_id,
            planned_before: self.planned_before,
            planned_after: self.planned_after,
            before: None,
            write: None,
            outcome: RecordedOutcome::Unknown,
            left: None,
            config: None,
            missing: Vec::new(),
        }
    }

    /// A later line's description of the change wins (they are the same for one run).
    fn update(self, change: &mut RecordedChange) {
        change.address = self.address;
        change.kind = self.kind;
        change.action = self.action;
        change.execution = self.execution;
        change.finding = self.finding;
        change.directory = self.directory;
        change.group = self.group;
        change.mapping_id = self.mapping_id;
        change.planned_before = self.planned_before;
        change.planned_after = self.planned_after;
    }
}

fn read_change_fields(line: &Value) -> Result<ChangeFields, String> {
    let index = line
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| "no `index`".to_string())?;
    let address = opt_string(line, "address").ok_or_else(|| "no `address`".to_string())?;
    let kind = typed::<ChangeKind>(line, "kind")?.ok_or_else(|| "no `kind`".to_string())?;
    let planned = line.get("planned");
    let (planned_before, planned_after) = match planned {
        Some(p) => (
            p.get("before").filter(|v| !v.is_null()).cloned(),
            p.get("after").filter(|v| !v.is_null()).cloned(),
        ),
        None => (
            line.get("before").filter(|v| !v.is_null()).cloned(),
            line.get("after").filter(|v| !v.is_null()).cloned(),
        ),
    };
    Ok(ChangeFields {
        index,
        address,
        kind,
        action: typed(line, "action")?,
        execution: typed(line, "execution")?,
        finding: opt_string(line, "finding"),
        directory: typed(line, "directory")?,
        group: typed(line, "group")?,
        mapping_id: opt_string(line, "mapping_id"),
        planned_before,
        planned_after,
    })
}

fn read_intent(line: &Value, change: &mut RecordedChange) -> Result<(), String> {
    if let Some(observed) = line.get("observed_before").filter(|v| !v.is_null()) {
        change.before = Some(read_before(change.kind, observed, true)?);
    }
    if let Some(write) = line.get("write").filter(|v| !v.is_null()) {
        change.write = Some(RecordedWrite {
            method: opt_string(write, "method").ok_or("`write` has no `method`")?,
            path: opt_string(write, "path").ok_or("`write` has no `path`")?,
            body: write.get("body").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(config) = typed::<ConfigRecord>(line, "config")? {
        change.config = Some(config);
    }
    Ok(())
}

fn read_result(line: &Value, change: &mut RecordedChange) -> Result<(), String> {
    let result = typed::<ChangeResult>(line, "result")?.ok_or("no `result`")?;
    change.outcome = RecordedOutcome::Known {
        result,
        request_ids: typed(line, "request_ids")?.unwrap_or_default(),
        elapsed_ms: line.get("elapsed_ms").and_then(Value::as_u64),
    };
    if let Some(left) = line.get("left").filter(|v| !v.is_null()) {
        change.left = Some(left.clone());
    }
    if let Some(config) = typed::<ConfigRecord>(line, "config")? {
        change.config = Some(config);
    }
    Ok(())
}

/// A before-state. `whole`: format "2" (the assignment's priority and profile are there;
/// a mapping property's `pushStatus` is there, even when null).
fn read_before(kind: ChangeKind, observed: &Value, whole: bool) -> Result<BeforeState, String> {
    match kind {
        ChangeKind::GroupTargetOu => {
            let profile = observed.get("profile").and_then(Value::as_object);
            let organizational_unit = profile
                .map_or_else(
                    || observed.get("organizationalUnit"),
                    |p| p.get("organizationalUnit"),
                )
                .and_then(Value::as_str)
                .map(str::to_string);
            let whole = match (whole, profile) {
                (true, Some(profile)) => Some(WholeAssignment {
                    priority: observed.get("priority").and_then(Value::as_i64),
                    profile: profile.clone(),
                }),
                (true, None) => return Err("`observed_before` has no `profile`".into()),
                (false, _) => None,
            };
            Ok(BeforeState::Assignment(AssignmentBefore {
                organizational_unit,
                last_updated: opt_string(observed, "lastUpdated"),
                whole,
            }))
        }
        ChangeKind::MappingProperty => Ok(BeforeState::MappingProperty(MappingPropertyBefore {
            key: opt_string(observed, "key").unwrap_or_else(|| "dn".to_string()),
            expression: opt_string(observed, "expression"),
            push_status: opt_string(observed, "pushStatus"),
        })),
        ChangeKind::ImportOu => Err("a manual step has no `observed_before`".into()),
    }
}

/// A `change` line of format "1" (written at the end of the run).
fn read_legacy_change(line: &Value) -> Result<RecordedChange, String> {
    let fields = read_change_fields(line)?;
    let mut change = fields.into_change();
    let observed = line
        .get("observed_before")
        .filter(|v| !v.is_null() && change.kind != ChangeKind::ImportOu);
    if let Some(observed) = observed {
        change.before = Some(read_before(change.kind, observed, false)?);
        if change.kind == ChangeKind::MappingProperty {
            change.missing.push(Missing::PushStatus);
        }
    }
    read_result(line, &mut change)?;
    Ok(change)
}

fn read_summary(line: &Value) -> Result<RecordSummary, String> {
    let count = |key: &str| {
        line.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(RecordSummary {
        finished_at: opt_string(line, "finished_at"),
        tally: Tally {
            applied: count("applied"),
            already_applied: count("already_applied"),
            failed: count("failed"),
            skipped: count("skipped"),
            manual_pending: count("manual_pending"),
            manual_done: count("manual_done"),
        },
        end: opt_string(line, "end"),
        stale: typed(line, "stale")?.unwrap_or_default(),
        refused: typed(line, "refused")?.unwrap_or_default(),
        error: opt_string(line, "error"),
    })
}

// ---------------------------------------------------------------------------------------
// The last run, and a re-read of what it left unknown
// ---------------------------------------------------------------------------------------

/// The newest record under `base/.ouguard/runs/` (records are named by their start time,
/// to the millisecond), if any.
#[must_use]
pub fn last_record_path(base: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(base.join(RUNS_DIR)).ok()?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .max_by(|a, b| a.file_name().cmp(&b.file_name()))
}

/// What the last run record says about the last apply.
#[derive(Debug)]
pub enum LastRun {
    /// No record, or the last one ended with its summary.
    Finished,
    /// The last record ends without its summary.
    Interrupted(Box<RunRecord>),
    /// The last record's apply is still running (another process holds its lock).
    Running(PathBuf),
    /// The last record cannot be read.
    Unreadable(RecordError),
}

/// Looks at the newest run record under `base`.
#[must_use]
pub fn last_run(base: &Path) -> LastRun {
    let Some(path) = last_record_path(base) else {
        return LastRun::Finished;
    };
    if let Ok(file) = File::open(&path) {
        if locked_by_a_running_apply(&file) {
            return LastRun::Running(path);
        }
    }
    match RunRecord::load(&path) {
        Ok(record) if record.is_interrupted() => LastRun::Interrupted(Box::new(record)),
        Ok(_) => LastRun::Finished,
        Err(error) => LastRun::Unreadable(error),
    }
}

/// What a re-read of the org shows about a write whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reread {
    /// The org holds what the write would have written.
    Applied,
    /// The org still holds what the fresh read found before the write.
    NotApplied,
    /// The org holds something else now: the description says what.
    Changed(String),
    /// The resource is gone (group unassigned, mapping deleted).
    Gone,
    /// Not re-read, and why.
    NotRead(String),
}

impl Reread {
    fn words(&self) -> String {
        match self {
            Reread::Applied => "applied".into(),
            Reread::NotApplied => "not applied".into(),
            Reread::Changed(what) => format!("changed since ({what})"),
            Reread::Gone => "gone".into(),
            Reread::NotRead(why) => format!("not re-read ({why})"),
        }
    }
}

fn dn_equal(a: &str, b: &str) -> bool {
    match (crate::dn::Dn::parse(a), crate::dn::Dn::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn judge_ou(change: &RecordedChange, now: Option<&str>) -> Reread {
    let now = now.unwrap_or_default();
    let wrote = change.planned_ou().unwrap_or_default();
    if !wrote.is_empty() && dn_equal(now, wrote) {
        return Reread::Applied;
    }
    let was = match &change.before {
        Some(BeforeState::Assignment(before)) => before.organizational_unit.clone(),
        _ => str_at(change.planned_before.as_ref(), "organizationalUnit").map(str::to_string),
    }
    .unwrap_or_default();
    if now == was {
        Reread::NotApplied
    } else {
        Reread::Changed(format!(
            "the target OU is now `{}`",
            crate::text::truncate_for_message(now)
        ))
    }
}

fn judge_property(change: &RecordedChange, now: Option<&str>) -> Reread {
    let was = match &change.before {
        Some(BeforeState::MappingProperty(before)) => before.expression.clone(),
        _ => str_at(change.planned_before.as_ref(), "expression").map(str::to_string),
    };
    match now {
        None => Reread::Applied,
        Some(expression) if Some(expression) == was.as_deref() => Reread::NotApplied,
        Some(expression) => Reread::Changed(format!(
            "now mapped to `{}`",
            crate::text::truncate_for_message(expression)
        )),
    }
}

fn property_key(change: &RecordedChange) -> String {
    match &change.before {
        Some(BeforeState::MappingProperty(before)) => before.key.clone(),
        _ => str_at(change.planned_before.as_ref(), "key")
            .unwrap_or("dn")
            .to_string(),
    }
}

/// Judges an unknown write against a state just read (what `plan` read anyway).
#[must_use]
pub fn reread_in_state(change: &RecordedChange, state: &OrgState) -> Reread {
    let Some(directory) = change
        .directory
        .as_ref()
        .and_then(|d| state.directories.iter().find(|x| x.app_id == d.app_id))
    else {
        return Reread::Gone;
    };
    match change.kind {
        ChangeKind::GroupTargetOu => {
            let Some(group) = &change.group else {
                return Reread::NotRead("the record names no group".into());
            };
            match directory.assignment(&group.id) {
                Some(a) => judge_ou(change, a.organizational_unit.as_deref()),
                None => Reread::Gone,
            }
        }
        ChangeKind::MappingProperty => {
            let Some(mapping_id) = &change.mapping_id else {
                return Reread::NotRead("the record names no mapping".into());
            };
            if !directory.mappings_read {
                return Reread::NotRead("profile mappings are unavailable".into());
            }
            match directory.mappings.iter().find(|m| &m.id == mapping_id) {
                Some(m) => {
                    let key = property_key(change);
                    judge_property(
                        change,
                        m.properties.get(&key).and_then(|p| p.expression.as_deref()),
                    )
                }
                None => Reread::Gone,
            }
        }
        ChangeKind::ImportOu => Reread::NotRead(manual_not_reread()),
    }
}

fn manual_not_reread() -> String {
    "a manual step: see whether `ouguard.toml` declares the OU".into()
}

/// Judges an unknown write by reading its resource afresh (one GET).
pub async fn reread_online(change: &RecordedChange, client: &OktaClient) -> Reread {
    let Some(directory) = &change.directory else {
        return Reread::NotRead("the record names no directory".into());
    };
    match change.kind {
        ChangeKind::GroupTargetOu => {
            let Some(group) = &change.group else {
                return Reread::NotRead("the record names no group".into());
            };
            match client
                .get_group_assignment(&directory.app_id, &group.id)
                .await
            {
                Ok(fetched) => judge_ou(change, fetched.assignment.organizational_unit.as_deref()),
                Err(e) if e.is_not_found() => Reread::Gone,
                Err(e) => Reread::NotRead(format!("the read failed: {e}")),
            }
        }
        ChangeKind::MappingProperty => {
            let Some(mapping_id) = &change.mapping_id else {
                return Reread::NotRead("the record names no mapping".into());
            };
            match client.get_mapping(mapping_id).await {
                Ok((mapping, _)) => {
                    let key = property_key(change);
                    judge_property(
                        change,
                        mapping
                            .properties
                            .get(&key)
                            .and_then(|p| p.expression.as_deref()),
                    )
                }
                Err(e) if e.is_not_found() => Reread::Gone,
                Err(e) => Reread::NotRead(format!("the read failed: {e}")),
            }
        }
        ChangeKind::ImportOu => Reread::NotRead(manual_not_reread()),
    }
}

/// How the caller can re-read the org for [`last_run_notice`].
pub enum Against<'a> {
    /// A state the command read anyway (`plan`, `apply` without FILE).
    State(&'a OrgState, &'a str),
    /// Read each unknown write's resource (`apply FILE`): a GET per unknown write.
    Client(&'a OktaClient, &'a tokio::runtime::Runtime),
    /// No re-read possible (planning from a snapshot): the reason.
    Nothing(&'a str),
}

/// A warning about the last run, when it did not end: `None` when it did. The text has
/// no `warning:` prefix; each further line is indented.
#[must_use]
pub fn last_run_notice(base: &Path, against: &Against<'_>) -> Option<String> {
    match last_run(base) {
        LastRun::Finished => None,
        LastRun::Running(path) => Some(format!(
            "an apply is still running here (`{}` is being written): what it changes is not \
             known yet",
            path.display()
        )),
        LastRun::Unreadable(error) => Some(format!("the last run record cannot be read: {error}")),
        LastRun::Interrupted(record) => {
            let unknown: Vec<&RecordedChange> = record.unknown_outcomes().collect();
            let rereads: Vec<Reread> = match against {
                Against::State(state, org_url) => unknown
                    .iter()
                    .map(|c| {
                        if same_org(record.run.org_url.as_deref(), org_url) {
                            reread_in_state(c, state)
                        } else {
                            other_org(record.run.org_url.as_deref())
                        }
                    })
                    .collect(),
                Against::Client(client, runtime) => {
                    if same_org(record.run.org_url.as_deref(), client.org_url()) {
                        runtime.block_on(async {
                            let mut out = Vec::new();
                            for change in &unknown {
                                out.push(reread_online(change, client).await);
                            }
                            out
                        })
                    } else {
                        unknown
                            .iter()
                            .map(|_| other_org(record.run.org_url.as_deref()))
                            .collect()
                    }
                }
                Against::Nothing(why) => unknown
                    .iter()
                    .map(|_| Reread::NotRead((*why).to_string()))
                    .collect(),
            };
            Some(interruption_text(&record, &unknown, &rereads))
        }
    }
}

fn same_org(recorded: Option<&str>, now: &str) -> bool {
    let normalize = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
    recorded.is_some_and(|r| normalize(r) == normalize(now))
}

fn other_org(recorded: Option<&str>) -> Reread {
    Reread::NotRead(format!(
        "the run wrote to `{}`",
        recorded.unwrap_or("another org")
    ))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "interrupted run `…` (started …): 1 write's outcome unknown, re-read shows it applied",
/// with one line per unknown write when there are several.
#[must_use]
pub fn interruption_text(
    record: &RunRecord,
    unknown: &[&RecordedChange],
    rereads: &[Reread],
) -> String {
    let mut text = format!("interrupted run `{}`", record.path.display());
    if let Some(started) = &record.run.started_at {
        let _ = write!(text, " (started {started})");
    }
    text.push_str(": ");
    match (unknown, rereads) {
        ([], _) => text.push_str("every write it sent has its outcome recorded"),
        ([_], [reread]) => {
            let shows = match reread {
                Reread::Applied => "re-read shows it applied".to_string(),
                Reread::NotApplied => "re-read shows it was not applied".to_string(),
                Reread::Gone => "re-read shows the resource is gone".to_string(),
                Reread::Changed(what) => format!("re-read shows it changed since: {what}"),
                Reread::NotRead(why) => format!("not re-read: {why}"),
            };
            let _ = write!(text, "1 write's outcome unknown, {shows}");
        }
        _ => {
            let applied = rereads.iter().filter(|r| **r == Reread::Applied).count();
            let not_applied = rereads.iter().filter(|r| **r == Reread::NotApplied).count();
            let other = rereads.len() - applied - not_applied;
            let _ = write!(
                text,
                "{} unknown, re-read shows {applied} applied, {not_applied} not applied",
                plural(unknown.len(), "write's outcome", "writes' outcomes")
            );
            if other > 0 {
                let _ = write!(text, ", {other} otherwise");
            }
        }
    }
    let tally = {
        let mut tally = Tally::default();
        for change in &record.changes {
            if let RecordedOutcome::Known { result, .. } = &change.outcome {
                tally.count(result);
            }
        }
        tally
    };
    let mut known = Vec::new();
    if tally.applied > 0 {
        known.push(format!("{} applied", tally.applied));
    }
    if tally.failed > 0 {
        known.push(format!("{} failed", tally.failed));
    }
    if tally.already_applied > 0 {
        known.push(format!("{} already applied", tally.already_applied));
    }
    if !known.is_empty() {
        let _ = write!(text, "; recorded: {}", known.join(", "));
    }
    let not_reached = record.not_reached();
    if not_reached > 0 {
        let _ = write!(
            text,
            "; {} not reached",
            plural(not_reached, "change", "changes")
        );
    }
    if unknown.len() > 1 {
        for (change, reread) in unknown.iter().zip(rereads) {
            let _ = write!(text, "\n  {}: {}", change.address, reread.words());
        }
    }
    text
}

/// The `retry` line of a run record: after an applied change, the users whose failed
/// provisioning should be retried (Dashboard > Tasks; Okta has no API for it). Read back
/// by `plan --evidence` to show whether they provisioned since.
#[must_use]
pub fn retry_line(list: &crate::evidence::RetryList) -> Value {
    let mut line = json!({"type": "retry"});
    if let (Value::Object(line), Ok(Value::Object(fields))) =
        (&mut line, serde_json::to_value(list))
    {
        line.extend(fields);
    }
    line
}

/// A `retry` line read back; `None` for any other line, or one that does not parse.
#[must_use]
pub fn parse_retry_line(line: &str) -> Option<crate::evidence::RetryList> {
    let mut value: Value = serde_json::from_str(line).ok()?;
    let object = value.as_object_mut()?;
    if object.remove("type")? != "retry" {
        return None;
    }
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::planner::{plan, NoChooser, PlanOptions, RetargetPin, Strategy};

    const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";
    const MARKETING: &str = "OU=Marketing,DC=corp,DC=example,DC=com";
    const SALES: &str = "OU=Sales,DC=corp,DC=example,DC=com";

    fn corp() -> OrgState {
        let mut dir = directory("corp.example.com", Some(&[STAFF]));
        dir.assignments
            .push(assignment("00gmarketing", "Marketing", Some(MARKETING)));
        dir.assignments
            .push(assignment("00gsales", "Sales", Some(SALES)));
        let app_id = dir.app_id.clone();
        dir.mappings.push(mapping(
            "prm1corp",
            &app_id,
            &[("dn", Some("user.dn")), ("cn", Some("user.login"))],
        ));
        org(vec![dir])
    }

    /// Retarget Marketing, add Sales' OU (manual), delete the `dn` mapping.
    fn three_change_plan(state: &OrgState) -> Plan {
        let options = PlanOptions {
            strategy: Strategy::AddOu,
            pins: vec![RetargetPin {
                directory: None,
                group: "Marketing".into(),
                to: STAFF.into(),
                origin: "--retarget".into(),
            }],
            org_url: Some("https://acme.okta.com".into()),
            created_at: "2026-11-29T18:00:00Z".into(),
            ..PlanOptions::default()
        };
        let evaluation = crate::rules::evaluate(state);
        let plan = plan(state, evaluation, &options, &mut NoChooser).expect("plans");
        let mut kinds: Vec<ChangeKind> = plan
            .resource_changes
            .iter()
            .map(ResourceChange::kind)
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                ChangeKind::ImportOu,
                ChangeKind::GroupTargetOu,
                ChangeKind::MappingProperty
            ]
        );
        plan
    }

    fn index_of(plan: &Plan, kind: ChangeKind) -> usize {
        plan.resource_changes
            .iter()
            .position(|c| c.kind() == kind)
            .expect("the kind is planned")
    }

    fn raw_marketing() -> RawAssignment {
        let mut profile = Map::new();
        profile.insert("organizationalUnit".into(), json!(MARKETING));
        profile.insert("fullName".into(), json!("Keep Me"));
        profile.insert("memberOf".into(), json!(["CN=a"]));
        RawAssignment {
            app_id: "0oacorpexamplecom".into(),
            group_id: "00gmarketing".into(),
            priority: Some(3),
            profile,
            last_updated: Some(crate::fixtures::LAST_UPDATED.into()),
        }
    }

    fn start(base: &Path, plan: &Plan) -> RunRecorder {
        RunRecorder::start(
            base,
            plan,
            &RunStart {
                org_url: "https://acme.okta.com".into(),
                started_at: "2026-11-29T18:05:00Z".into(),
                config_path: "ouguard.toml".into(),
            },
        )
        .expect("the record starts")
    }

    fn outcome(index: usize, change: &ResourceChange, result: ChangeResult) -> ChangeOutcome {
        ChangeOutcome {
            index,
            address: change.address.clone(),
            kind: change.kind(),
            result,
            request_ids: vec![format!("req-{index}")],
            observed_before: None,
            elapsed_ms: 5,
            left: None,
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn a_whole_run_reads_back_with_everything_a_reversal_needs() {
        let state = corp();
        let plan = three_change_plan(&state);
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = start(dir.path(), &plan);
        let retarget = index_of(&plan, ChangeKind::GroupTargetOu);
        let delete = index_of(&plan, ChangeKind::MappingProperty);
        let manual = index_of(&plan, ChangeKind::ImportOu);
        let raw = raw_marketing();
        let dn = MappingProperty {
            expression: Some("user.dn".into()),
            push_status: Some("DONT_PUSH".into()),
        };
        block_on(async {
            let change = &plan.resource_changes[retarget];
            recorder
                .intent(retarget, change, ObservedBefore::Assignment(&raw))
                .await
                .expect("intent");
            let mut done = outcome(retarget, change, ChangeResult::Applied { note: None });
            done.left = Some(
                json!({"organizationalUnit": STAFF, "lastUpdated": "2026-11-29T18:05:01.000Z"}),
            );
            recorder.result(change, &done).await.expect("result");
            let change = &plan.resource_changes[delete];
            let observed = ObservedBefore::MappingProperty {
                key: "dn",
                property: Some(&dn),
            };
            recorder
                .intent(delete, change, observed)
                .await
                .expect("intent");
            let failed = ChangeResult::Failed {
                error_code: Some("E0000006".into()),
                error_summary: Some("You do not have permission".into()),
                request_id: Some("req-403".into()),
                message: "okta returned 403".into(),
                hint: None,
            };
            recorder
                .result(change, &outcome(delete, change, failed))
                .await
                .expect("result");
        });
        let change = &plan.resource_changes[manual];
        let edit = ConfigRecord {
            path: "ouguard.toml".into(),
            directory: "corp.example.com".into(),
            ou: SALES.into(),
            added: None,
        };
        recorder
            .manual_intent_blocking(manual, change, &edit)
            .expect("intent");
        let added = ConfigRecord {
            added: Some(true),
            ..edit
        };
        recorder
            .result_blocking(
                change,
                &outcome(manual, change, ChangeResult::ManualConfirmed),
                Some(&added),
            )
            .expect("result");
        let tally = Tally {
            applied: 1,
            failed: 1,
            manual_done: 1,
            ..Tally::default()
        };
        recorder
            .finish(&tally, &RunEnding::Completed)
            .expect("summary");
        assert!(
            recorder
                .result_blocking(
                    change,
                    &outcome(manual, change, ChangeResult::ManualPending),
                    None
                )
                .is_err(),
            "a finished record takes no more lines"
        );

        let path = recorder.path().to_path_buf();
        assert!(
            path.starts_with(dir.path().join(RUNS_DIR)),
            "{}",
            path.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let record = RunRecord::load(&path).expect("reads back");
        assert_eq!(record.format, RECORD_FORMAT);
        assert_eq!(record.run.plan_checksum, plan.checksum);
        assert_eq!(record.run.org_url.as_deref(), Some("https://acme.okta.com"));
        assert_eq!(record.run.config_path.as_deref(), Some("ouguard.toml"));
        assert_eq!(record.run.planned_changes, Some(3));
        assert!(!record.is_interrupted());
        let summary = record.summary.as_ref().expect("summary");
        assert_eq!(summary.tally, tally);
        assert_eq!(summary.end.as_deref(), Some("completed"));
        assert_eq!(record.changes.len(), 3);
        assert_eq!(record.unknown_outcomes().count(), 0);

        let moved = &record.changes[retarget];
        assert!(moved.applied());
        assert_eq!(moved.planned_ou(), Some(STAFF));
        assert_eq!(
            moved.before,
            Some(BeforeState::Assignment(AssignmentBefore {
                organizational_unit: Some(MARKETING.into()),
                last_updated: Some(crate::fixtures::LAST_UPDATED.into()),
                whole: Some(WholeAssignment {
                    priority: Some(3),
                    profile: raw.profile.clone(),
                }),
            }))
        );
        let write = moved.write.as_ref().expect("the write");
        assert_eq!(write.method, "PUT");
        assert_eq!(
            write.path,
            "/api/v1/apps/0oacorpexamplecom/groups/00gmarketing"
        );
        assert_eq!(
            write.body,
            json!({"priority": 3, "profile": {"organizationalUnit": STAFF, "fullName": "Keep Me", "memberOf": ["CN=a"]}})
        );
        assert_eq!(
            str_at(moved.left.as_ref(), "lastUpdated"),
            Some("2026-11-29T18:05:01.000Z")
        );
        assert!(moved.missing.is_empty(), "{:?}", moved.missing);

        let deleted = &record.changes[delete];
        assert!(!deleted.applied());
        assert_eq!(
            deleted.before,
            Some(BeforeState::MappingProperty(MappingPropertyBefore {
                key: "dn".into(),
                expression: Some("user.dn".into()),
                push_status: Some("DONT_PUSH".into()),
            }))
        );
        assert_eq!(
            deleted
                .write
                .as_ref()
                .map(|w| (w.method.as_str(), w.body.clone())),
            Some(("POST", json!({"properties": {"dn": null}})))
        );
        let RecordedOutcome::Known {
            result,
            request_ids,
            ..
        } = &deleted.outcome
        else {
            panic!("known");
        };
        assert_eq!(result.label(), "failed");
        assert_eq!(request_ids, &["req-1".replace('1', &delete.to_string())]);

        let step = &record.changes[manual];
        assert_eq!(step.config.as_ref().and_then(|c| c.added), Some(true));
        assert_eq!(step.config.as_ref().map(|c| c.ou.as_str()), Some(SALES));
        assert!(step.missing.is_empty());
        assert_eq!(record.applied().count(), 1);
    }

    #[test]
    fn a_killed_run_leaves_its_intent_and_reads_as_interrupted() {
        let state = corp();
        let plan = three_change_plan(&state);
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = start(dir.path(), &plan);
        let retarget = index_of(&plan, ChangeKind::GroupTargetOu);
        let raw = raw_marketing();
        block_on(recorder.intent(
            retarget,
            &plan.resource_changes[retarget],
            ObservedBefore::Assignment(&raw),
        ))
        .expect("intent");
        let path = recorder.path().to_path_buf();
        // While the recorder is alive its lock says "running", not "interrupted".
        assert!(
            matches!(last_run(dir.path()), LastRun::Running(p) if p == path),
            "a live record is running"
        );
        // Dropping it without a summary is what a killed process leaves on disk.
        drop(recorder);
        let LastRun::Interrupted(record) = last_run(dir.path()) else {
            panic!("interrupted");
        };
        assert_eq!(record.path, path);
        let unknown: Vec<&RecordedChange> = record.unknown_outcomes().collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].address, plan.resource_changes[retarget].address);
        assert_eq!(record.not_reached(), 2);

        // The org shows the write landed.
        let mut after = state.clone();
        after.directories[0].assignments[0].organizational_unit = Some(STAFF.to_lowercase());
        let reread = reread_in_state(unknown[0], &after);
        assert_eq!(reread, Reread::Applied);
        let text = interruption_text(&record, &unknown, &[reread]);
        assert!(
            text.starts_with(&format!("interrupted run `{}` (started 2026-11-29T18:05:00Z): 1 write's outcome unknown, re-read shows it applied", path.display())),
            "{text}"
        );
        assert!(text.ends_with("; 2 changes not reached"), "{text}");
        assert_eq!(reread_in_state(unknown[0], &state), Reread::NotApplied);
        let mut moved_on = state.clone();
        moved_on.directories[0].assignments[0].organizational_unit = Some(SALES.into());
        assert!(
            matches!(reread_in_state(unknown[0], &moved_on), Reread::Changed(w) if w.contains(SALES))
        );
        moved_on.directories[0].assignments.remove(0);
        assert_eq!(reread_in_state(unknown[0], &moved_on), Reread::Gone);

        let notice = last_run_notice(
            dir.path(),
            &Against::State(&after, "https://ACME.okta.com/"),
        )
        .expect("a notice");
        assert!(notice.contains("re-read shows it applied"), "{notice}");
        let elsewhere = last_run_notice(
            dir.path(),
            &Against::State(&after, "https://other.okta.com"),
        )
        .expect("a notice");
        assert!(
            elsewhere.contains("not re-read: the run wrote to `https://acme.okta.com`"),
            "{elsewhere}"
        );
    }

    #[test]
    fn a_mapping_write_is_judged_by_its_property() {
        let state = corp();
        let plan = three_change_plan(&state);
        let delete = index_of(&plan, ChangeKind::MappingProperty);
        let text = format!(
            "{}\n{}",
            run_line(
                &plan,
                &RunStart {
                    org_url: "https://acme.okta.com".into(),
                    started_at: "2026-11-29T18:05:00Z".into(),
                    config_path: "ouguard.toml".into(),
                }
            )
            .trim_end(),
            intent_line(
                delete,
                &plan.resource_changes[delete],
                ObservedBefore::MappingProperty {
                    key: "dn",
                    property: Some(&MappingProperty {
                        expression: Some("user.dn".into()),
                        push_status: Some("PUSH".into()),
                    }),
                },
            )
        );
        let record = RunRecord::parse(&text, Path::new("r.jsonl")).expect("parses");
        let change = &record.changes[0];
        assert_eq!(reread_in_state(change, &state), Reread::NotApplied);
        let mut removed = state.clone();
        removed.directories[0].mappings[0].properties.remove("dn");
        assert_eq!(reread_in_state(change, &removed), Reread::Applied);
        let mut other = state.clone();
        if let Some(p) = other.directories[0].mappings[0].properties.get_mut("dn") {
            p.expression = Some("user.other".into());
        }
        assert!(matches!(
            reread_in_state(change, &other),
            Reread::Changed(_)
        ));
        let unknown: Vec<&RecordedChange> = record.unknown_outcomes().collect();
        let two = [unknown[0], unknown[0]];
        let text = interruption_text(&record, &two, &[Reread::Applied, Reread::NotApplied]);
        assert!(
            text.contains("2 writes' outcomes unknown, re-read shows 1 applied, 1 not applied"),
            "{text}"
        );
        assert!(
            text.contains(&format!("\n  {}: applied", change.address)),
            "{text}"
        );
    }

    /// A record as ouguard 0.1.0 wrote it before format "2" (at the end of the run).
    const FORMAT_1: &str = r#"{"type":"run","ouguard_version":"0.1.0","plan_checksum":"sha256:abc","plan_created_at":"2026-11-29T18:00:00Z","org_url":"https://acme.okta.com","started_at":"2026-11-29T18:05:00Z"}
{"type":"change","index":0,"address":"directory[\"corp.example.com\"].group[\"Marketing\"].target_ou","kind":"group_target_ou","execution":"api","finding":"R1:corp.example.com:00gmarketing","before":{"organizationalUnit":"OU=Marketing,DC=corp,DC=example,DC=com"},"after":{"organizationalUnit":"OU=Staff,DC=corp,DC=example,DC=com"},"observed_before":{"organizationalUnit":"OU=Marketing,DC=corp,DC=example,DC=com","lastUpdated":"2026-11-01T12:00:00.000Z"},"result":{"status":"applied"},"request_ids":["r1","r2"],"elapsed_ms":12}
{"type":"change","index":1,"address":"directory[\"corp.example.com\"].mapping[\"user\"].property[\"dn\"]","kind":"mapping_property","execution":"api","finding":"R2:corp.example.com:prm1:dn","before":{"key":"dn","expression":"user.dn"},"after":null,"observed_before":{"key":"dn","expression":"user.dn"},"result":{"status":"applied"},"request_ids":["r3"],"elapsed_ms":9}
{"type":"change","index":2,"address":"directory[\"corp.example.com\"].import_ou[\"OU=Sales,DC=corp,DC=example,DC=com\"]","kind":"import_ou","execution":"manual","finding":"R1:corp.example.com:00gsales","before":null,"after":{"ou":"OU=Sales,DC=corp,DC=example,DC=com"},"observed_before":null,"result":{"status":"manual_confirmed"},"request_ids":[],"elapsed_ms":0}
{"type":"summary","finished_at":"2026-11-29T18:05:02Z","applied":2,"already_applied":0,"failed":0,"skipped":0,"manual_pending":0,"manual_done":1}
"#;

    #[test]
    fn a_format_1_record_reads_and_says_what_it_lacks() {
        let record = RunRecord::parse(FORMAT_1, Path::new("old.jsonl")).expect("reads");
        assert_eq!(record.format, "1");
        assert!(!record.is_interrupted());
        assert_eq!(record.run.config_path, None);
        assert_eq!(record.summary.as_ref().map(|s| s.tally.applied), Some(2));
        assert_eq!(record.applied().count(), 2);
        let [moved, deleted, manual] = record.changes.as_slice() else {
            panic!("three changes");
        };
        assert_eq!(
            moved.before,
            Some(BeforeState::Assignment(AssignmentBefore {
                organizational_unit: Some(MARKETING.into()),
                last_updated: Some(crate::fixtures::LAST_UPDATED.into()),
                whole: None,
            }))
        );
        assert_eq!(moved.planned_ou(), Some(STAFF));
        assert_eq!(
            moved.missing,
            [Missing::WholeAssignment, Missing::LastUpdatedAfterWrite]
        );
        assert_eq!(deleted.missing, [Missing::PushStatus]);
        assert!(matches!(
            &deleted.before,
            Some(BeforeState::MappingProperty(p)) if p.expression.as_deref() == Some("user.dn") && p.push_status.is_none()
        ));
        assert_eq!(manual.missing, [Missing::ConfigRecord]);
        assert!(Missing::PushStatus.describe().contains("pushStatus"));
    }

    #[test]
    fn a_line_cut_short_at_the_end_is_noted_anything_else_refused() {
        let torn = format!("{}{{\"type\":\"intent\",\"ind", FORMAT_1);
        let record = RunRecord::parse(&torn, Path::new("r.jsonl")).expect("reads");
        assert_eq!(record.notes.len(), 1, "{:?}", record.notes);
        assert!(record.notes[0].contains("line 6 was cut short"));

        let mut lines: Vec<&str> = FORMAT_1.lines().collect();
        lines.insert(2, "{not json");
        let broken = lines.join("\n");
        let error = RunRecord::parse(&broken, Path::new("r.jsonl")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the run record `r.jsonl` is not valid: line 3:"),
            "{error}"
        );

        let error = RunRecord::parse("{\"type\":\"summary\"}\n", Path::new("x.json")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`x.json` is not a run record: its first line is not a `run` line"
        );
        let error = RunRecord::parse("", Path::new("x.json")).unwrap_err();
        assert!(matches!(error, RecordError::NotARunRecord { .. }));
        let newer = r#"{"type":"run","record_format":"3","plan_checksum":"sha256:x"}"#;
        let error = RunRecord::parse(newer, Path::new("n.jsonl")).unwrap_err();
        assert!(error.to_string().contains("`record_format` `3`"), "{error}");
        let no_index = "{\"type\":\"run\",\"record_format\":\"2\",\"plan_checksum\":\"sha256:x\"}\n{\"type\":\"result\",\"address\":\"a\",\"kind\":\"group_target_ou\"}\n";
        let error = RunRecord::parse(no_index, Path::new("n.jsonl")).unwrap_err();
        assert!(error.to_string().contains("line 2: no `index`"), "{error}");
        // Line types added later are skipped, not refused.
        let later = "{\"type\":\"run\",\"record_format\":\"2\",\"plan_checksum\":\"sha256:x\"}\n{\"type\":\"retry_list\",\"users\":[]}\n";
        assert!(RunRecord::parse(later, Path::new("n.jsonl")).is_ok());
    }

    #[test]
    fn a_stale_refusal_is_a_finished_record() {
        let state = corp();
        let plan = three_change_plan(&state);
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = start(dir.path(), &plan);
        recorder
            .finish(
                &Tally::default(),
                &RunEnding::RefusedStale(vec!["x: the target OU is now `y`".into()]),
            )
            .expect("summary");
        let record = RunRecord::load(recorder.path()).expect("reads");
        let summary = record.summary.expect("finished");
        assert_eq!(summary.end.as_deref(), Some("refused_stale"));
        assert_eq!(summary.stale, ["x: the target OU is now `y`"]);
        assert!(record.changes.is_empty());
        assert!(matches!(last_run(dir.path()), LastRun::Finished));
        assert!(last_run_notice(dir.path(), &Against::Nothing("offline")).is_none());
    }

    #[test]
    fn records_get_new_names_and_the_newest_is_last() {
        let state = corp();
        let plan = three_change_plan(&state);
        let dir = tempfile::tempdir().expect("tempdir");
        let first = start(dir.path(), &plan);
        let second = start(dir.path(), &plan);
        assert_ne!(first.path(), second.path());
        assert_eq!(last_record_path(dir.path()).as_deref(), Some(second.path()));
        assert!(last_record_path(&dir.path().join("nowhere")).is_none());
    }
}
