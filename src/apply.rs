//! Applying a plan through the Okta client: fresh reads and precondition checks before any
//! write, the writes themselves (bounded concurrency, lost responses resolved by re-reading),
//! and a result for every change. Knows nothing about terminals, prompts or files: the
//! command asks and confirms manual steps; each write is announced to the run record (a
//! `RunRecorder`) before it is sent, and its outcome after.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::okta::{OktaClient, OktaError, RawAssignment};
use crate::plan::{
    ChangeDetails, ChangeKind, Execution, GroupTargetOuRevert, MappingPropertyRestore, Plan,
    ResourceChange,
};
use crate::runrecord::{ObservedBefore, RunRecorder};
use crate::state::MappingProperty;

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangeResult {
    /// Written and confirmed.
    Applied {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Okta already matched the plan's `after`: nothing was written.
    AlreadyApplied,
    /// The write failed; Okta's error when there was one.
    Failed {
        error_code: Option<String>,
        error_summary: Option<String>,
        request_id: Option<String>,
        message: String,
        /// What the admin can do about it (e.g. the scope a 403 needs), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    /// Not attempted, and why.
    Skipped { reason: String },
    /// A manual step still to be done in the admin console.
    ManualPending,
    /// A manual step the person confirmed as done.
    ManualConfirmed,
}

impl ChangeResult {
    /// The word used in reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ChangeResult::Applied { .. } => "applied",
            ChangeResult::AlreadyApplied => "already applied",
            ChangeResult::Failed { .. } => "failed",
            ChangeResult::Skipped { .. } => "skipped",
            ChangeResult::ManualPending => "manual step pending",
            ChangeResult::ManualConfirmed => "manual step done",
        }
    }
}

/// One change's outcome, with what is needed for the report and the run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeOutcome {
    /// Position of the change in the plan.
    pub index: usize,
    pub address: String,
    pub kind: ChangeKind,
    pub result: ChangeResult,
    /// `X-Okta-Request-Id` of every request made for the change: reads and writes.
    pub request_ids: Vec<String>,
    /// What Okta held just before the write (from the fresh read): the whole assignment
    /// (`priority`, `profile`, `lastUpdated`), or the mapping property as it was.
    pub observed_before: Option<Value>,
    pub elapsed_ms: u64,
    /// The state the write left, where known (see `runrecord::RecordedChange::left`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<Value>,
}

/// What the fresh read found for one API change.
#[derive(Debug, Clone)]
pub enum Fresh {
    /// The precondition holds: ready to write.
    Ready(Ready),
    /// Okta already matches the change's `after`.
    AlreadyApplied { request_id: Option<String> },
    /// The org changed since the plan: the description says how.
    Stale(String),
}

/// The fresh state a write starts from.
#[derive(Debug, Clone)]
pub enum Ready {
    Assignment {
        raw: RawAssignment,
        request_id: Option<String>,
    },
    Mapping {
        request_id: Option<String>,
        /// The property about to be deleted, as the fresh read found it.
        property: MappingProperty,
    },
}

fn dn_equal(a: &str, b: &str) -> bool {
    match (crate::dn::Dn::parse(a), crate::dn::Dn::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads every API change's resource afresh and checks its precondition. Reads run
/// concurrently within the client's bounds. An `Err` (other than not-found, which makes
/// the change stale) stops everything before any write.
pub async fn check_preconditions(
    client: &OktaClient,
    plan: &Plan,
) -> Result<Vec<(usize, Fresh)>, OktaError> {
    let mut reads = JoinSet::new();
    for (index, change) in plan.resource_changes.iter().enumerate() {
        if change.execution() != Execution::Api {
            continue;
        }
        let client = client.clone();
        let change = change.clone();
        reads.spawn(async move { (index, fresh_read(&client, &change).await) });
    }
    let mut fresh = Vec::new();
    while let Some(joined) = reads.join_next().await {
        let (index, result) = joined.map_err(|e| OktaError::Config {
            message: format!("a read task failed: {e}"),
            hint: None,
        })?;
        fresh.push((index, result?));
    }
    fresh.sort_by_key(|(index, _)| *index);
    Ok(fresh)
}

/// A manual step writes nothing through the API, but it rests on what the plan read: the
/// groups whose findings an import-OU step fixes must still target the OUs the plan saw, or
/// the step (which imports every user of that OU) may no longer be wanted. Returns what
/// changed, one line per group, in plan order; empty when every manual step still holds.
pub async fn stale_manual_steps(
    client: &OktaClient,
    plan: &Plan,
) -> Result<Vec<String>, OktaError> {
    let mut reads = JoinSet::new();
    let manual = plan
        .resource_changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.execution() == Execution::Manual);
    for (index, change) in manual {
        for finding_id in change.fixed_findings() {
            let Some(finding) = plan.findings.iter().find(|f| f.id == finding_id) else {
                continue;
            };
            let (Some(group), Some(planned_ou)) = (finding.group.clone(), finding.ou.clone())
            else {
                continue;
            };
            let client = client.clone();
            let address = change.address.clone();
            let directory = finding.directory.clone();
            reads.spawn(async move {
                let stale = match client
                    .get_group_assignment(&directory.app_id, &group.id)
                    .await
                {
                    Ok(fetched) => {
                        let now = fetched
                            .assignment
                            .organizational_unit
                            .unwrap_or_default();
                        (!dn_equal(&now, &planned_ou)).then(|| {
                            format!(
                                "{address}: group `{}` now targets `{now}`, the plan expected `{planned_ou}`",
                                group.name
                            )
                        })
                    }
                    Err(e) if e.is_not_found() => Some(format!(
                        "{address}: group `{}` is no longer assigned to `{}`",
                        group.name, directory.domain
                    )),
                    Err(e) => return Err(e),
                };
                Ok((index, stale))
            });
        }
    }
    let mut stale = Vec::new();
    while let Some(joined) = reads.join_next().await {
        let (index, result) = joined.map_err(|e| OktaError::Config {
            message: format!("a read task failed: {e}"),
            hint: None,
        })??;
        stale.extend(result.map(|reason| (index, reason)));
    }
    stale.sort();
    Ok(stale.into_iter().map(|(_, reason)| reason).collect())
}

/// Two target OUs are the same when both are absent (or blank), or both parse to equal DNs, or
/// they are the same text.
fn same_ou(a: Option<&str>, b: Option<&str>) -> bool {
    fn present(ou: Option<&str>) -> Option<&str> {
        ou.filter(|text| !text.trim().is_empty())
    }
    match (present(a), present(b)) {
        (None, None) => true,
        (Some(a), Some(b)) => dn_equal(a, b),
        _ => false,
    }
}

fn describe_ou(ou: Option<&str>) -> String {
    match ou {
        Some(text) if !text.trim().is_empty() => format!("`{text}`"),
        _ => "no OU".to_string(),
    }
}

async fn fresh_read(client: &OktaClient, change: &ResourceChange) -> Result<Fresh, OktaError> {
    match &change.details {
        ChangeDetails::GroupTargetOuUpdate(update) => {
            let group = &update.group;
            let fetched = match client
                .get_group_assignment(&change.directory.app_id, &group.id)
                .await
            {
                Ok(fetched) => fetched,
                Err(e) if e.is_not_found() => {
                    return Ok(Fresh::Stale(format!(
                        "{}: group `{}` is no longer assigned to `{}`",
                        change.address, group.name, change.directory.domain
                    )))
                }
                Err(e) => return Err(e),
            };
            let current = fetched.assignment.organizational_unit.as_deref();
            let wanted = &update.precondition;
            if same_ou(current, Some(&update.after)) {
                return Ok(Fresh::AlreadyApplied {
                    request_id: fetched.request_id,
                });
            }
            if !same_ou(current, wanted.organizational_unit.as_deref()) {
                return Ok(Fresh::Stale(format!(
                    "{}: the target OU is now {}, the plan expected {}",
                    change.address,
                    describe_ou(current),
                    describe_ou(wanted.organizational_unit.as_deref())
                )));
            }
            if fetched.assignment.last_updated != wanted.last_updated {
                return Ok(Fresh::Stale(format!(
                    "{}: the assignment was updated at `{}` after the plan was made (`{}`)",
                    change.address, fetched.assignment.last_updated, wanted.last_updated
                )));
            }
            Ok(Fresh::Ready(Ready::Assignment {
                raw: fetched.raw,
                request_id: fetched.request_id,
            }))
        }
        ChangeDetails::MappingPropertyDelete(delete) => {
            let mapping_id = &delete.mapping_id;
            let key = &delete.key;
            let (mapping, request_id) = match client.get_mapping(mapping_id).await {
                Ok(read) => read,
                Err(e) if e.is_not_found() => {
                    return Ok(Fresh::Stale(format!(
                        "{}: the mapping `{mapping_id}` no longer exists",
                        change.address
                    )))
                }
                Err(e) => return Err(e),
            };
            let property = mapping.properties.get(key.as_str());
            let current = property.and_then(|p| p.expression.as_deref());
            match current {
                None => Ok(Fresh::AlreadyApplied { request_id }),
                Some(expression) if expression == delete.expression => {
                    Ok(Fresh::Ready(Ready::Mapping {
                        request_id,
                        property: property.cloned().unwrap_or(MappingProperty {
                            expression: None,
                            push_status: None,
                        }),
                    }))
                }
                Some(expression) => Ok(Fresh::Stale(format!(
                    "{}: `{key}` is now mapped to `{expression}`, the plan expected `{}`",
                    change.address, delete.expression
                ))),
            }
        }
        ChangeDetails::GroupTargetOuRevert(revert) => {
            fresh_read_revert(client, change, revert).await
        }
        ChangeDetails::MappingPropertyRestore(restore) => {
            fresh_read_restore(client, change, restore).await
        }
        ChangeDetails::ImportOuAdd(_) => Ok(Fresh::Stale(format!(
            "{}: a manual step has no API precondition",
            change.address
        ))),
    }
}

/// An undo's revert: the group must still be on the OU the run left, unchanged since.
async fn fresh_read_revert(
    client: &OktaClient,
    change: &ResourceChange,
    revert: &GroupTargetOuRevert,
) -> Result<Fresh, OktaError> {
    let group = &revert.group;
    let fetched = match client
        .get_group_assignment(&change.directory.app_id, &group.id)
        .await
    {
        Ok(fetched) => fetched,
        Err(e) if e.is_not_found() => {
            return Ok(Fresh::Stale(format!(
                "{}: group `{}` is no longer assigned to `{}`",
                change.address, group.name, change.directory.domain
            )))
        }
        Err(e) => return Err(e),
    };
    let current = fetched.assignment.organizational_unit.as_deref();
    let wanted = &revert.precondition;
    let restored = same_ou(current, revert.after.organizational_unit.as_deref())
        && fetched.raw.priority == revert.after.priority
        && profile_equal(&fetched.raw.profile, &revert.after.profile);
    if restored {
        return Ok(Fresh::AlreadyApplied {
            request_id: fetched.request_id,
        });
    }
    if !same_ou(current, wanted.organizational_unit.as_deref()) {
        return Ok(Fresh::Stale(format!(
            "{}: the target OU is now {}, the undo expected {} (what the run left)",
            change.address,
            describe_ou(current),
            describe_ou(wanted.organizational_unit.as_deref())
        )));
    }
    if fetched.assignment.last_updated != wanted.last_updated {
        return Ok(Fresh::Stale(format!(
            "{}: the assignment was updated at `{}` after the undo was planned (`{}`)",
            change.address, fetched.assignment.last_updated, wanted.last_updated
        )));
    }
    Ok(Fresh::Ready(Ready::Assignment {
        raw: fetched.raw,
        request_id: fetched.request_id,
    }))
}

/// Two profiles hold the same values (an unset key and a null one are the same).
fn profile_equal(a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>) -> bool {
    let covers = |x: &serde_json::Map<String, Value>, y: &serde_json::Map<String, Value>| {
        x.iter()
            .all(|(key, value)| y.get(key).unwrap_or(&Value::Null) == value)
    };
    covers(a, b) && covers(b, a)
}

/// An undo's restore: the property must still be unmapped, as the run left it.
async fn fresh_read_restore(
    client: &OktaClient,
    change: &ResourceChange,
    restore: &MappingPropertyRestore,
) -> Result<Fresh, OktaError> {
    let mapping_id = &restore.mapping_id;
    let key = &restore.key;
    let (mapping, request_id) = match client.get_mapping(mapping_id).await {
        Ok(read) => read,
        Err(e) if e.is_not_found() => {
            return Ok(Fresh::Stale(format!(
                "{}: the mapping `{mapping_id}` no longer exists",
                change.address
            )))
        }
        Err(e) => return Err(e),
    };
    let current = mapping.properties.get(key.as_str());
    match current.and_then(|p| p.expression.as_deref()) {
        None => Ok(Fresh::Ready(Ready::Mapping {
            request_id,
            property: current.cloned().unwrap_or(MappingProperty {
                expression: None,
                push_status: None,
            }),
        })),
        Some(expression)
            if expression == restore.expression
                && current.and_then(|p| p.push_status.as_deref())
                    == Some(restore.push_status.as_str()) =>
        {
            Ok(Fresh::AlreadyApplied { request_id })
        }
        Some(expression) => Ok(Fresh::Stale(format!(
            "{}: `{key}` is now mapped to `{expression}`, the undo expected it unmapped (as the \
             run left it)",
            change.address
        ))),
    }
}

/// Writes every ready change, concurrently within the client's bounds, and returns one
/// outcome per API change (in plan order). A failure does not stop the others. Each write's
/// intent is in `recorder` (durably) before it is sent, and each outcome after; a change
/// whose intent cannot be recorded is not sent.
pub async fn execute(
    client: &OktaClient,
    plan: &Plan,
    fresh: Vec<(usize, Fresh)>,
    recorder: &RunRecorder,
) -> Vec<ChangeOutcome> {
    let mut writes = JoinSet::new();
    for (index, state) in fresh {
        let Some(change) = plan.resource_changes.get(index).cloned() else {
            continue;
        };
        let client = client.clone();
        let recorder = recorder.clone();
        writes.spawn(async move {
            let outcome = execute_one(&client, index, &change, state, &recorder).await;
            if let Err(error) = recorder.result(&change, &outcome).await {
                tracing::warn!(
                    "the outcome of {} could not be recorded in `{}`: {error}",
                    change.address,
                    recorder.path().display()
                );
            }
            outcome
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = writes.join_next().await {
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    outcomes.sort_by_key(|o| o.index);
    outcomes
}

fn failed(error: &OktaError) -> ChangeResult {
    match error {
        OktaError::Api(api) => ChangeResult::Failed {
            error_code: api.error_code.clone(),
            error_summary: api.error_summary.clone(),
            request_id: api.request_id.clone(),
            message: error.to_string(),
            hint: error.hint(),
        },
        other => ChangeResult::Failed {
            error_code: None,
            error_summary: None,
            request_id: other.request_id().map(str::to_string),
            message: other.to_string(),
            hint: other.hint(),
        },
    }
}

/// `true` when a failed write may nevertheless have happened (no clear answer from Okta).
fn outcome_unknown(error: &OktaError) -> bool {
    match error {
        OktaError::Api(api) => api.status >= 500,
        OktaError::Transport { .. } | OktaError::Timeout { .. } | OktaError::Decode { .. } => true,
        _ => false,
    }
}

/// A write that was not sent because its intent could not be recorded.
fn not_recorded(recorder: &RunRecorder, error: &std::io::Error) -> ChangeResult {
    ChangeResult::Failed {
        error_code: None,
        error_summary: None,
        request_id: None,
        message: format!(
            "not sent: the run record `{}` could not be written: {error}",
            recorder.path().display()
        ),
        hint: Some("free disk space or fix the folder's permissions, then apply again".into()),
    }
}

async fn execute_one(
    client: &OktaClient,
    index: usize,
    change: &ResourceChange,
    fresh: Fresh,
    recorder: &RunRecorder,
) -> ChangeOutcome {
    let started = Instant::now();
    let mut request_ids = Vec::new();
    let mut observed_before = None;
    let mut left = None;
    let result = match fresh {
        Fresh::Stale(reason) => ChangeResult::Skipped { reason },
        Fresh::AlreadyApplied { request_id } => {
            request_ids.extend(request_id);
            ChangeResult::AlreadyApplied
        }
        Fresh::Ready(Ready::Assignment { raw, request_id }) => {
            request_ids.extend(request_id);
            observed_before = Some(crate::runrecord::assignment_before_json(&raw));
            match recorder
                .intent(index, change, ObservedBefore::Assignment(&raw))
                .await
            {
                Ok(()) => match &change.details {
                    ChangeDetails::GroupTargetOuRevert(revert) => {
                        revert_assignment(client, change, revert, &mut request_ids, &mut left).await
                    }
                    _ => retarget(client, change, &raw, &mut request_ids, &mut left).await,
                },
                Err(error) => not_recorded(recorder, &error),
            }
        }
        Fresh::Ready(Ready::Mapping {
            request_id,
            property,
        }) => {
            request_ids.extend(request_id);
            let key = match &change.details {
                ChangeDetails::MappingPropertyDelete(delete) => delete.key.as_str(),
                ChangeDetails::MappingPropertyRestore(restore) => restore.key.as_str(),
                _ => "dn",
            };
            observed_before = Some(serde_json::json!({
                "key": key,
                "expression": property.expression,
                "pushStatus": property.push_status,
            }));
            let observed = ObservedBefore::MappingProperty {
                key,
                property: Some(&property),
            };
            match recorder.intent(index, change, observed).await {
                Ok(()) => match &change.details {
                    ChangeDetails::MappingPropertyRestore(restore) => {
                        restore_mapping_property(client, restore, &mut request_ids, &mut left).await
                    }
                    _ => delete_mapping_property(client, change, &mut request_ids, &mut left).await,
                },
                Err(error) => not_recorded(recorder, &error),
            }
        }
    };
    ChangeOutcome {
        index,
        address: change.address.clone(),
        kind: change.kind(),
        result,
        request_ids,
        observed_before,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        left,
    }
}

async fn retarget(
    client: &OktaClient,
    change: &ResourceChange,
    raw: &RawAssignment,
    request_ids: &mut Vec<String>,
    left: &mut Option<Value>,
) -> ChangeResult {
    let ChangeDetails::GroupTargetOuUpdate(update) = &change.details else {
        return ChangeResult::Skipped {
            reason: "the change is not a retarget".to_string(),
        };
    };
    let after = update.after.as_str();
    let before = update.precondition.organizational_unit.as_deref();
    let app_id = &change.directory.app_id;
    let group_id = &raw.group_id;
    // At most one resend, and only when a re-read proves the first write did not happen.
    for attempt in 0..2 {
        match client
            .put_group_assignment_ou(app_id, group_id, raw, after)
            .await
        {
            Ok(written) => {
                request_ids.extend(written.request_id);
                *left = Some(serde_json::json!({
                    "organizationalUnit": after,
                    "lastUpdated": written.last_updated,
                }));
                return ChangeResult::Applied { note: None };
            }
            Err(error) if outcome_unknown(&error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                match client.get_group_assignment(app_id, group_id).await {
                    Ok(reread) => {
                        request_ids.extend(reread.request_id.clone());
                        let now = reread.assignment.organizational_unit;
                        if same_ou(now.as_deref(), Some(after)) {
                            *left = Some(serde_json::json!({
                                "organizationalUnit": now,
                                "lastUpdated": reread.assignment.last_updated,
                            }));
                            return ChangeResult::Applied {
                                note: Some(format!(
                                    "the response was lost ({error}); a re-read confirmed the write"
                                )),
                            };
                        }
                        if !same_ou(now.as_deref(), before) || attempt == 1 {
                            return failed(&error);
                        }
                        tracing::debug!(
                            "write of {} did not happen; resending once",
                            change.address
                        );
                    }
                    Err(_) => return failed(&error),
                }
            }
            Err(error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                return failed(&error);
            }
        }
    }
    ChangeResult::Failed {
        error_code: None,
        error_summary: None,
        request_id: None,
        message: "the write did not take effect".to_string(),
        hint: None,
    }
}

async fn delete_mapping_property(
    client: &OktaClient,
    change: &ResourceChange,
    request_ids: &mut Vec<String>,
    left: &mut Option<Value>,
) -> ChangeResult {
    let ChangeDetails::MappingPropertyDelete(delete) = &change.details else {
        return ChangeResult::Skipped {
            reason: "the change is not a mapping property delete".to_string(),
        };
    };
    let mapping_id = &delete.mapping_id;
    let key = delete.key.as_str();
    for attempt in 0..2 {
        let write_error = match client.remove_mapping_property(mapping_id, key).await {
            Ok(written) => {
                request_ids.extend(written.request_id);
                None
            }
            Err(error) if outcome_unknown(&error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                Some(error)
            }
            Err(error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                return failed(&error);
            }
        };
        // Re-read to confirm the key is gone (and to resolve a lost response).
        match client.get_mapping(mapping_id).await {
            Ok((mapping, request_id)) => {
                request_ids.extend(request_id);
                let gone = mapping
                    .properties
                    .get(key)
                    .is_none_or(|p| p.expression.is_none());
                if gone {
                    *left = Some(serde_json::json!({"key": key, "expression": null}));
                    return ChangeResult::Applied {
                        note: write_error.map(|e| {
                            format!("the response was lost ({e}); a re-read confirmed the write")
                        }),
                    };
                }
                if let (1, Some(error)) = (attempt, &write_error) {
                    // Both attempts failed and the key is still there: Okta's own error.
                    return failed(error);
                }
                if write_error.is_none() {
                    return ChangeResult::Failed {
                        error_code: None,
                        error_summary: None,
                        request_id: None,
                        message: format!(
                            "okta accepted the update, but `{key}` is still mapped on a re-read"
                        ),
                        hint: None,
                    };
                }
            }
            Err(error) => return failed(write_error.as_ref().unwrap_or(&error)),
        }
    }
    ChangeResult::Failed {
        error_code: None,
        error_summary: None,
        request_id: None,
        message: "the write did not take effect".to_string(),
        hint: None,
    }
}

/// An undo's revert: `PUT`s the recorded priority and whole profile. A lost answer is
/// resolved by re-reading; one resend only when the re-read shows the write did not happen.
async fn revert_assignment(
    client: &OktaClient,
    change: &ResourceChange,
    revert: &GroupTargetOuRevert,
    request_ids: &mut Vec<String>,
    left: &mut Option<Value>,
) -> ChangeResult {
    let app_id = &change.directory.app_id;
    let group_id = &revert.group.id;
    let after = revert.after.organizational_unit.as_deref();
    let before = revert.precondition.organizational_unit.as_deref();
    for attempt in 0..2 {
        match client
            .put_group_assignment_whole(
                app_id,
                group_id,
                revert.after.priority,
                &revert.after.profile,
            )
            .await
        {
            Ok(written) => {
                request_ids.extend(written.request_id);
                *left = Some(serde_json::json!({
                    "organizationalUnit": after,
                    "lastUpdated": written.last_updated,
                }));
                return ChangeResult::Applied { note: None };
            }
            Err(error) if outcome_unknown(&error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                match client.get_group_assignment(app_id, group_id).await {
                    Ok(reread) => {
                        request_ids.extend(reread.request_id.clone());
                        let now = reread.assignment.organizational_unit;
                        if same_ou(now.as_deref(), after)
                            && profile_equal(&reread.raw.profile, &revert.after.profile)
                        {
                            *left = Some(serde_json::json!({
                                "organizationalUnit": now,
                                "lastUpdated": reread.assignment.last_updated,
                            }));
                            return ChangeResult::Applied {
                                note: Some(format!(
                                    "the response was lost ({error}); a re-read confirmed the write"
                                )),
                            };
                        }
                        if !same_ou(now.as_deref(), before) || attempt == 1 {
                            return failed(&error);
                        }
                    }
                    Err(_) => return failed(&error),
                }
            }
            Err(error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                return failed(&error);
            }
        }
    }
    ChangeResult::Failed {
        error_code: None,
        error_summary: None,
        request_id: None,
        message: "the write did not take effect".to_string(),
        hint: None,
    }
}

/// An undo's restore: `POST`s the property back and re-reads to confirm it (and to resolve a
/// lost answer; one resend only when the re-read shows it did not happen).
async fn restore_mapping_property(
    client: &OktaClient,
    restore: &MappingPropertyRestore,
    request_ids: &mut Vec<String>,
    left: &mut Option<Value>,
) -> ChangeResult {
    let mapping_id = &restore.mapping_id;
    let key = restore.key.as_str();
    for attempt in 0..2 {
        let write_error = match client
            .restore_mapping_property(mapping_id, key, &restore.expression, &restore.push_status)
            .await
        {
            Ok(written) => {
                request_ids.extend(written.request_id);
                None
            }
            Err(error) if outcome_unknown(&error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                Some(error)
            }
            Err(error) => {
                request_ids.extend(error.request_id().map(str::to_string));
                return failed(&error);
            }
        };
        match client.get_mapping(mapping_id).await {
            Ok((mapping, request_id)) => {
                request_ids.extend(request_id);
                let property = mapping.properties.get(key);
                let back = property.is_some_and(|p| {
                    p.expression.as_deref() == Some(restore.expression.as_str())
                        && p.push_status.as_deref() == Some(restore.push_status.as_str())
                });
                if back {
                    *left = Some(serde_json::json!({
                        "key": key,
                        "expression": restore.expression,
                        "pushStatus": restore.push_status,
                    }));
                    return ChangeResult::Applied {
                        note: write_error.map(|e| {
                            format!("the response was lost ({e}); a re-read confirmed the write")
                        }),
                    };
                }
                let untouched = property.is_none_or(|p| p.expression.is_none());
                match (&write_error, attempt) {
                    (Some(error), 1) => return failed(error),
                    (Some(error), _) if !untouched => return failed(error),
                    (Some(_), _) => {}
                    (None, _) => {
                        return ChangeResult::Failed {
                            error_code: None,
                            error_summary: None,
                            request_id: None,
                            message: format!(
                                "okta accepted the update, but `{key}` is not back as it was on a \
                                 re-read"
                            ),
                            hint: None,
                        }
                    }
                }
            }
            Err(error) => return failed(write_error.as_ref().unwrap_or(&error)),
        }
    }
    ChangeResult::Failed {
        error_code: None,
        error_summary: None,
        request_id: None,
        message: "the write did not take effect".to_string(),
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::ApiError;

    #[test]
    fn a_forbidden_write_names_the_scope_it_needs() {
        let error = OktaError::Api(Box::new(ApiError {
            status: 403,
            error_code: Some("E0000006".into()),
            error_summary: Some(
                "You do not have permission to perform the requested action".into(),
            ),
            error_id: None,
            error_causes: Vec::new(),
            request_id: Some("req-403".into()),
            method: "PUT".into(),
            url: "https://acme.okta.com/api/v1/apps/0oa1/groups/00g1".into(),
            oauth: false,
            challenge_error: None,
        }));
        assert!(
            !outcome_unknown(&error),
            "a 403 is a clear no: never resent"
        );
        let ChangeResult::Failed {
            error_code,
            request_id,
            hint,
            ..
        } = failed(&error)
        else {
            panic!("a failure");
        };
        assert_eq!(error_code.as_deref(), Some("E0000006"));
        assert_eq!(request_id.as_deref(), Some("req-403"));
        assert!(hint.unwrap_or_default().contains("okta.apps.manage"));
    }
}
