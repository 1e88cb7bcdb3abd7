//! Reading a run record for `undo` and for the re-check of undo plans: the record of an apply
//! as `runrecord` reads it ([`RunRecord`], every format ouguard wrote) turned into the
//! [`RecordedRun`] the undo planner and `recheck_undo` take. What the record does not hold
//! stays `None` here, so the planner reports it instead of guessing.

use std::path::Path;

use serde_json::{Map, Value};

use crate::apply::ChangeResult;
use crate::plan::{Action, ChangeKind};
use crate::runrecord::{BeforeState, RecordedChange, RecordedOutcome, RunRecord};
use crate::undo::{AssignmentBefore, PropertyBefore, RecordedRun, RunChange, RunOutcome, RunWrite};

/// Reads the run record at `path`; `path` as given is what the undo plan's `undo_of` names.
///
/// # Errors
/// The record cannot be read, is too large, or is not a run record.
pub fn load(path: &Path) -> anyhow::Result<RecordedRun> {
    let record = RunRecord::load(path)?;
    Ok(recorded_run(&record, &path.display().to_string()))
}

/// The undo view of a run record read by `runrecord`.
#[must_use]
pub fn recorded_run(record: &RunRecord, shown_path: &str) -> RecordedRun {
    RecordedRun {
        record: shown_path.to_string(),
        plan_checksum: record.run.plan_checksum.clone(),
        org_url: record.run.org_url.clone(),
        interrupted: record.is_interrupted(),
        changes: record.changes.iter().map(run_change).collect(),
    }
}

fn run_change(change: &RecordedChange) -> RunChange {
    let outcome = match &change.outcome {
        RecordedOutcome::Unknown => RunOutcome::Unknown,
        RecordedOutcome::Known { result, .. } => match result {
            ChangeResult::Applied { .. } | ChangeResult::ManualConfirmed => RunOutcome::Applied,
            other => RunOutcome::NotApplied(other.label().to_string()),
        },
    };
    RunChange {
        index: change.index,
        address: change.address.clone(),
        finding: change.finding.clone(),
        directory: change.directory.clone(),
        outcome,
        write: run_write(change),
    }
}

fn str_at<'a>(value: Option<&'a Value>, key: &str) -> Option<&'a str> {
    value?.get(key)?.as_str()
}

fn run_write(change: &RecordedChange) -> RunWrite {
    let body = change.write.as_ref().map(|w| &w.body);
    match change.kind {
        ChangeKind::GroupTargetOu => {
            let written_profile: Option<Map<String, Value>> = body
                .and_then(|b| b.get("profile"))
                .and_then(Value::as_object)
                .cloned();
            // What the write set: the request's profile when recorded, else the plan's
            // destination (a revert may set none).
            let written_ou = match &written_profile {
                Some(profile) => profile
                    .get("organizationalUnit")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                None => change.planned_ou().map(str::to_string),
            };
            let before = match &change.before {
                Some(BeforeState::Assignment(before)) => before.whole.as_ref().map(|whole| {
                    Box::new(AssignmentBefore {
                        organizational_unit: before.organizational_unit.clone(),
                        priority: whole.priority,
                        profile: whole.profile.clone(),
                        last_updated: before.last_updated.clone(),
                    })
                }),
                _ => None,
            };
            RunWrite::Assignment {
                group: change
                    .group
                    .clone()
                    .unwrap_or_else(|| crate::rules::GroupRef {
                        id: String::new(),
                        name: change.address.clone(),
                    }),
                written_ou,
                written_profile,
                left_last_updated: str_at(change.left.as_ref(), "lastUpdated").map(str::to_string),
                before,
            }
        }
        ChangeKind::MappingProperty => {
            let mapping_id = change.mapping_id.clone().unwrap_or_default();
            let before_key = match &change.before {
                Some(BeforeState::MappingProperty(before)) => Some(before.key.clone()),
                _ => None,
            };
            let key = before_key
                .or_else(|| str_at(change.planned_after.as_ref(), "key").map(str::to_string))
                .or_else(|| str_at(change.planned_before.as_ref(), "key").map(str::to_string))
                .unwrap_or_else(|| "dn".to_string());
            if change.action == Some(Action::Restore) {
                let expression = body
                    .and_then(|b| b.get("properties"))
                    .and_then(|p| p.get(&key))
                    .and_then(|p| p.get("expression"))
                    .and_then(Value::as_str)
                    .or_else(|| str_at(change.planned_after.as_ref(), "expression"))
                    .unwrap_or_default()
                    .to_string();
                return RunWrite::PropertyRestored {
                    mapping_id,
                    key,
                    expression,
                };
            }
            let before = match &change.before {
                Some(BeforeState::MappingProperty(before)) => Some(PropertyBefore {
                    expression: before.expression.clone(),
                    push_status: if change
                        .missing
                        .contains(&crate::runrecord::Missing::PushStatus)
                    {
                        None
                    } else {
                        before.push_status.clone()
                    },
                }),
                _ => None,
            };
            RunWrite::PropertyDeleted {
                mapping_id,
                key,
                before,
            }
        }
        ChangeKind::ImportOu => RunWrite::ImportOu {
            ou: change
                .config
                .as_ref()
                .map(|c| c.ou.clone())
                .or_else(|| str_at(change.planned_after.as_ref(), "ou").map(str::to_string))
                .unwrap_or_default(),
            config_path: change.config.as_ref().map(|c| c.path.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::undo::{plan_undo, LeftOutReason, UndoOptions};

    /// A record of format "1" (written at the end of the run, before ouguard kept whole
    /// before-states): read, and every change reported as lacking what undo needs.
    #[test]
    fn a_record_of_an_earlier_version_is_reported_not_guessed() {
        let text = [
            r#"{"type":"run","ouguard_version":"0.1.0","plan_checksum":"sha256:abc","plan_created_at":"2026-11-29T18:00:00Z","org_url":"https://acme.okta.com","started_at":"2026-11-29T18:01:00Z"}"#,
            r#"{"type":"change","index":0,"address":"directory[\"corp.example.com\"].group[\"Marketing\"].target_ou","kind":"group_target_ou","execution":"api","finding":"R1:corp.example.com:00g1","before":{"organizationalUnit":"OU=Marketing,DC=corp,DC=example,DC=com"},"after":{"organizationalUnit":"OU=Staff,DC=corp,DC=example,DC=com"},"observed_before":{"organizationalUnit":"OU=Marketing,DC=corp,DC=example,DC=com","lastUpdated":"2026-11-01T09:00:00.000Z"},"result":{"status":"applied"},"request_ids":["r1","r2"],"elapsed_ms":3}"#,
            r#"{"type":"change","index":1,"address":"directory[\"corp.example.com\"].mapping[\"user\"].property[\"dn\"]","kind":"mapping_property","execution":"api","finding":"R2:corp.example.com:prm1:dn","before":{"key":"dn","expression":"user.dn"},"after":null,"observed_before":{"key":"dn","expression":"user.dn"},"result":{"status":"applied"},"request_ids":["r3"],"elapsed_ms":3}"#,
            r#"{"type":"summary","finished_at":"2026-11-29T18:01:01Z","applied":2,"already_applied":0,"failed":0,"skipped":0,"manual_pending":0,"manual_done":0}"#,
        ]
        .join("\n");
        let record = RunRecord::parse(&text, Path::new("old.jsonl")).expect("reads");
        let run = recorded_run(&record, "old.jsonl");
        assert_eq!(run.plan_checksum, "sha256:abc");
        assert!(!run.interrupted);
        assert_eq!(run.changes.len(), 2);
        assert!(run.changes.iter().all(|c| c.outcome == RunOutcome::Applied));
        let state = crate::fixtures::org(vec![crate::fixtures::directory(
            "corp.example.com",
            Some(&["OU=Staff,DC=corp,DC=example,DC=com"]),
        )]);
        let undo = plan_undo(
            &run,
            &state,
            &UndoOptions {
                org_url: Some("https://acme.okta.com".into()),
                created_at: "2026-11-30T00:00:00Z".into(),
                strict: true,
            },
        )
        .expect("not drift: what is missing is reported");
        assert!(undo.plan.resource_changes.is_empty());
        assert_eq!(undo.left_out.len(), 2);
        assert!(undo
            .left_out
            .iter()
            .all(|l| l.reason == LeftOutReason::NotRecorded));
    }
}
