//! The run record of an apply: JSON lines under `.ouguard/runs/`, mode 0600, with the plan
//! checksum, the org, each change with before/after, its result, Okta request ids and
//! timings. Never holds a secret: only plan data and outcomes go in.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::apply::{ChangeOutcome, ChangeResult};
use crate::plan::Plan;

/// Where run records are kept, relative to the working directory.
pub const RUNS_DIR: &str = ".ouguard/runs";

/// Counts of outcomes, for the summary line and the record's last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
            match outcome.result {
                ChangeResult::Applied { .. } => tally.applied += 1,
                ChangeResult::AlreadyApplied => tally.already_applied += 1,
                ChangeResult::Failed { .. } => tally.failed += 1,
                ChangeResult::Skipped { .. } => tally.skipped += 1,
                ChangeResult::ManualPending => tally.manual_pending += 1,
                ChangeResult::ManualConfirmed => tally.manual_done += 1,
            }
        }
        tally
    }
}

/// The lines of a run record.
#[must_use]
pub fn record_lines(
    plan: &Plan,
    org_url: &str,
    started_at: &str,
    finished_at: &str,
    outcomes: &[ChangeOutcome],
) -> Vec<Value> {
    let mut lines = vec![json!({
        "type": "run",
        "ouguard_version": env!("CARGO_PKG_VERSION"),
        "plan_checksum": plan.checksum,
        "plan_created_at": plan.created_at,
        "org_url": org_url,
        "started_at": started_at,
    })];
    for outcome in outcomes {
        let change = plan.resource_changes.get(outcome.index);
        lines.push(json!({
            "type": "change",
            "index": outcome.index,
            "address": outcome.address,
            "kind": outcome.kind,
            "execution": change.map(|c| c.execution),
            "finding": change.map(|c| c.finding.clone()),
            "before": change.and_then(|c| c.before.clone()),
            "after": change.and_then(|c| c.after.clone()),
            "observed_before": outcome.observed_before,
            "result": outcome.result,
            "request_ids": outcome.request_ids,
            "elapsed_ms": outcome.elapsed_ms,
        }));
    }
    let tally = Tally::of(outcomes);
    lines.push(json!({
        "type": "summary",
        "finished_at": finished_at,
        "applied": tally.applied,
        "already_applied": tally.already_applied,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "manual_pending": tally.manual_pending,
        "manual_done": tally.manual_done,
    }));
    lines
}

/// A new, unused path for a run record under `base/.ouguard/runs/` (the folder is created,
/// mode 0700).
pub fn new_record_path(base: &Path, plan: &Plan, stamp: &str) -> anyhow::Result<PathBuf> {
    let short: String = plan
        .checksum
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    let safe_stamp: String = stamp.chars().filter(char::is_ascii_alphanumeric).collect();
    let dir = base.join(RUNS_DIR);
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let mut path = dir.join(format!("{safe_stamp}-{short}.jsonl"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{safe_stamp}-{short}-{n}.jsonl"));
    }
    Ok(path)
}

/// Writes (or rewrites) the record at `path`, atomically, mode 0600.
pub fn write_record_at(path: &Path, lines: &[Value]) -> anyhow::Result<()> {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    crate::files::write_atomically(path, text.as_bytes(), true)?;
    Ok(())
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
