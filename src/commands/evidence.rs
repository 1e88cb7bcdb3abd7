//! Evidence for commands: the `--since` window, reading the evidence through the session's
//! client, the retry lists of earlier runs (`.ouguard/runs/`), and sealing it all into a
//! plan (findings' `evidence`, warnings, `evidence` summary). Judging is `crate::evidence`.

use std::path::Path;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::session::Session;
use crate::evidence::{self, OrgEvidence, PlanEvidence, RetryList};
use crate::okta::EvidenceRequest;
use crate::plan::{Plan, Warning};
use crate::state::OrgState;

/// Okta keeps the System Log for 90 days.
pub const MAX_SINCE_DAYS: i64 = 90;

/// Parses `--since`: `7d`, `36h`, `90m`; at most 90 days.
pub fn parse_since(text: &str) -> anyhow::Result<ChronoDuration> {
    let bad = || {
        crate::exit::Hinted::new(
            format!("`{text}` is not a duration for `--since`"),
            "write a number and a unit: `7d`, `36h` or `90m` (at most `90d`, what Okta keeps)",
        )
    };
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "d" => ChronoDuration::try_days(n),
        "h" => ChronoDuration::try_hours(n),
        "m" => ChronoDuration::try_minutes(n),
        _ => None,
    }
    .filter(|d| *d > ChronoDuration::zero())
    .ok_or_else(bad)?;
    if duration > ChronoDuration::days(MAX_SINCE_DAYS) {
        return Err(crate::exit::Hinted::new(
            format!(
                "`--since {text}` reaches further back than the {MAX_SINCE_DAYS} days Okta keeps"
            ),
            "pass `--since 90d` or less",
        ));
    }
    Ok(duration)
}

/// Reads the evidence for `state`: every directory's app users and System Log window, and
/// the members of the groups in `groups`. Prints what it could not read on stderr.
pub fn read(
    session: &Session,
    state: &OrgState,
    groups: Vec<String>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> OrgEvidence {
    let request = EvidenceRequest {
        directories: state
            .directories
            .iter()
            .map(|d| (d.app_id.clone(), d.domain.clone()))
            .collect(),
        groups,
        window,
    };
    session
        .runtime
        .block_on(crate::okta::read_evidence(&session.client, &request))
}

/// Failing members of finding groups looked up at most (one request each).
pub const USERS_PLACED_AT_MOST: usize = 1000;

/// Reads the groups of the failing members of finding groups, so each is attributed to
/// the group that provisions them; above [`USERS_PLACED_AT_MOST`] users it is skipped with
/// a warning and the finding groups alone decide.
pub fn place_users(session: &Session, plan: &mut Plan, evidence: &mut OrgEvidence) {
    match evidence::users_to_place(&plan.findings, evidence, USERS_PLACED_AT_MOST) {
        Some(users) if !users.is_empty() => session.runtime.block_on(
            crate::okta::read_user_groups(&session.client, &users, evidence),
        ),
        Some(_) => {}
        None => plan.warnings.push(Warning {
            id: "evidence-users-not-placed".into(),
            message: format!(
                "more than {USERS_PLACED_AT_MOST} failing users are members of finding groups: their other groups were not read, so a user in several AD groups is attributed to the finding group with the highest priority"
            ),
        }),
    }
}

/// The warning for a source that could not be read.
fn unavailable_warning(u: &evidence::Unavailable) -> Warning {
    let message = if u.scope.is_empty() {
        format!(
            "evidence from {} could not be read ({}); the plan is made without it",
            u.source.describe(),
            u.detail
        )
    } else {
        format!(
            "evidence from {} could not be read: the token lacks the scope `{}` (or the read-only admin role); the plan is made without it",
            u.source.describe(),
            u.scope
        )
    };
    Warning {
        id: format!("evidence-unavailable:{}", u.source.scope()),
        message,
    }
}

/// Every retry list written by earlier applies (`.ouguard/runs/*.jsonl`, lines of type
/// `retry`), oldest run first. Unreadable files and lines are skipped: a run record is a
/// log, not an input that can fail a plan.
#[must_use]
pub fn retry_lists(base: &Path) -> Vec<RetryList> {
    let dir = base.join(crate::runrecord::RUNS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut lists = Vec::new();
    for file in files {
        // Run records are small; a huge file is not one of ours.
        if std::fs::metadata(&file).map_or(true, |m| m.len() > 64 * 1024 * 1024) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            if let Some(list) = crate::runrecord::parse_retry_line(line) {
                lists.push(list);
            }
        }
    }
    // A later run's list for the same finding replaces an earlier one.
    let mut latest: Vec<RetryList> = Vec::new();
    for list in lists {
        latest.retain(|l| l.finding != list.finding);
        latest.push(list);
    }
    latest
}

/// Seals `evidence` into `plan`: each finding's evidence, the warnings it calls for, the
/// users of findings fixed earlier, and the cost; then the checksum again.
pub fn seal(plan: &mut Plan, state: &OrgState, evidence: &OrgEvidence, lists: &[RetryList]) {
    let warnings = evidence::attach(&mut plan.findings, state, evidence);
    for u in &evidence.unavailable {
        plan.warnings.push(unavailable_warning(u));
    }
    for (id, message) in warnings {
        plan.warnings.push(Warning { id, message });
    }
    for f in &plan.findings {
        if let Some(message) = f.evidence.as_ref().and_then(|e| e.likely_false.as_ref()) {
            plan.warnings.push(Warning {
                id: format!("evidence-likely-false:{}", f.id),
                message: format!("{}: {message}", f.id),
            });
        }
    }
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    plan.evidence = Some(PlanEvidence {
        since: evidence.since.map(stamp),
        until: evidence.until.map(stamp),
        requests: evidence.requests,
        unavailable: evidence.unavailable.clone(),
        after_fix: evidence::after_fix(lists, &plan.findings, evidence),
    });
    plan.checksum = plan.compute_checksum();
}

/// The group ids whose members evidence needs: those of group findings.
#[must_use]
pub fn finding_groups(plan: &Plan) -> Vec<String> {
    let mut groups: Vec<String> = plan
        .findings
        .iter()
        .filter_map(|f| f.group.as_ref().map(|g| g.id.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// `--evidence` or `[plan] evidence = true`, with the window `--since` asks for.
pub fn window(
    planning: &crate::cli::PlanningArgs,
    config: &crate::config::Config,
) -> anyhow::Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    if !(planning.evidence || config.evidence) {
        if planning.since.is_some() {
            return Err(crate::exit::Hinted::new(
                "`--since` sets the window of `--evidence`, which is off",
                "add `--evidence` (or `evidence = true` under `[plan]` in ouguard.toml)",
            ));
        }
        return Ok(None);
    }
    let since = match &planning.since {
        Some(text) => parse_since(text)?,
        None => ChronoDuration::days(7),
    };
    let until = Utc::now();
    Ok(Some((until - since, until)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_days_hours_minutes_up_to_ninety_days() {
        assert_eq!(parse_since("7d").unwrap(), ChronoDuration::days(7));
        assert_eq!(parse_since("36h").unwrap(), ChronoDuration::hours(36));
        assert_eq!(parse_since("90m").unwrap(), ChronoDuration::minutes(90));
        for bad in ["", "d", "7", "7w", "-1d", "0d", "91d", "99999999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
