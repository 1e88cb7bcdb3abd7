//! Undo (product.md §12): from what a run's record says it wrote and the org as read now, the
//! plan that puts back what the run applied. Pure: a [`RecordedRun`] (made from the run record
//! by the command) and an `OrgState` in, an ordinary [`Plan`] with `undo_of` out. No I/O, no
//! clock. Undo never removes an import OU, never unassigns a group, and never writes what the
//! record does not hold: a reversal it cannot prove is left out and listed.

use crate::dn::Dn;
use crate::plan::{
    AssignmentPrecondition, ChangeDetails, GroupTargetOuRevert, MappingPropertyDelete,
    MappingPropertyRestore, Plan, ResourceChange, RestoredAssignment, UndoOf, Warning,
    PUSH_STATUSES,
};
use crate::rules::{self, DirectoryRef, GroupRef};
use crate::state::{AppStatus, Directory, GroupAssignment, OrgState};
use serde_json::{Map, Value};

/// What a run did, as its record tells it: the view of a run record that undo needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRun {
    /// The record's path, as the person named it (written to `undo_of.run_record`).
    pub record: String,
    /// The checksum of the plan the run applied.
    pub plan_checksum: String,
    /// The org the run wrote to.
    pub org_url: Option<String>,
    /// The record ends without its summary: the run was killed, crashed or lost power.
    pub interrupted: bool,
    /// Every change the record mentions, in plan order.
    pub changes: Vec<RunChange>,
}

/// One change of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunChange {
    pub index: usize,
    pub address: String,
    /// The finding the change fixed (or, for an undo's change, re-created).
    pub finding: Option<String>,
    /// `None` when the record does not name it (records of earlier versions).
    pub directory: Option<DirectoryRef>,
    pub outcome: RunOutcome,
    pub write: RunWrite,
}

/// How a change of the run ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Written and confirmed (for a manual step: confirmed by the person).
    Applied,
    /// An intent without a result: the write may have been sent; the org as read now tells.
    Unknown,
    /// Not written: failed, skipped, already applied, or a manual step left pending.
    NotApplied(String),
}

/// What a change of the run wrote, with what reversing it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunWrite {
    /// A retarget, or an undo's revert: the group's assignment.
    Assignment {
        group: GroupRef,
        /// The target OU the write set (`None`: it left none).
        written_ou: Option<String>,
        /// The whole profile the write set, when recorded (a revert writes a whole profile).
        written_profile: Option<Map<String, Value>>,
        /// The assignment's `lastUpdated` after the write, when recorded.
        left_last_updated: Option<String>,
        /// The assignment as read just before the write; `None` when the record lacks it.
        before: Option<Box<AssignmentBefore>>,
    },
    /// A `dn` property the run deleted.
    PropertyDeleted {
        mapping_id: String,
        key: String,
        /// The property as it was; `None` when the record lacks it.
        before: Option<PropertyBefore>,
    },
    /// A property an undo run put back.
    PropertyRestored {
        mapping_id: String,
        key: String,
        expression: String,
    },
    /// A manual step: an import OU ticked in the console and recorded in `ouguard.toml`.
    ImportOu {
        ou: String,
        /// The config file the OU was recorded in, when recorded.
        config_path: Option<String>,
    },
}

/// A group assignment as read just before the run's write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentBefore {
    pub organizational_unit: Option<String>,
    pub priority: Option<i64>,
    /// The whole profile, `organizationalUnit` included when it was set.
    pub profile: Map<String, Value>,
    pub last_updated: Option<String>,
}

/// A mapping property as it was just before the run deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyBefore {
    pub expression: Option<String>,
    /// `None` when the record does not hold it (records of earlier versions).
    pub push_status: Option<String>,
}

/// How to plan the undo, besides the run and the org.
#[derive(Debug, Clone)]
pub struct UndoOptions {
    /// The org as connected to now.
    pub org_url: Option<String>,
    /// RFC 3339 UTC, from the caller.
    pub created_at: String,
    /// Refuse the whole undo when any applied change has drifted.
    pub strict: bool,
}

/// Why a change of the run is not in the undo plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutReason {
    /// The org moved on since the run: reversing would overwrite someone else's change.
    Drifted,
    /// The run did not apply it: nothing to undo.
    NotApplied,
    /// The org already holds what the run found: nothing to undo.
    AlreadyReversed,
    /// The record lacks what the reversal needs (records of earlier versions): not guessed.
    NotRecorded,
    /// A manual step: undo never removes an import OU.
    ManualStep,
}

impl LeftOutReason {
    fn id(self) -> &'static str {
        match self {
            LeftOutReason::Drifted => "undo-drifted",
            LeftOutReason::NotApplied => "undo-not-applied",
            LeftOutReason::AlreadyReversed => "undo-already-reversed",
            LeftOutReason::NotRecorded => "undo-not-recorded",
            LeftOutReason::ManualStep => "undo-manual-step",
        }
    }
}

/// A change of the run the undo leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub address: String,
    pub reason: LeftOutReason,
    pub detail: String,
}

/// The undo plan, and what it leaves out (also listed in its warnings).
#[derive(Debug, Clone)]
pub struct UndoPlan {
    pub plan: Plan,
    pub left_out: Vec<LeftOut>,
}

impl UndoPlan {
    /// The changes left out because the org moved on since the run.
    pub fn drifted(&self) -> impl Iterator<Item = &LeftOut> {
        self.left_out
            .iter()
            .filter(|l| l.reason == LeftOutReason::Drifted)
    }
}

/// Why no undo plan was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    #[error("the run recorded in `{record}` wrote to `{recorded}`, not to `{connected}`")]
    OtherOrg {
        record: String,
        recorded: String,
        connected: String,
    },
    #[error(
        "`--strict`: {} of the run's changes drifted since the run, so nothing is undone\n{}",
        .0.len(),
        .0.iter().map(|l| format!("  {}: {}", l.address, l.detail)).collect::<Vec<_>>().join("\n")
    )]
    Drifted(Vec<LeftOut>),
}

/// Id of the warning that says the undo re-creates the misconfiguration.
pub const RECREATES_WARNING_ID: &str = "undo-recreates-misconfiguration";

/// Plans the reversal of every change the run applied, each with the state the run left as
/// its precondition. A change whose resource moved on since is left out as drifted (or, with
/// `strict`, the whole undo is refused).
///
/// # Errors
/// The run wrote to another org; or `strict` and a change drifted.
pub fn plan_undo(
    run: &RecordedRun,
    state: &OrgState,
    options: &UndoOptions,
) -> Result<UndoPlan, UndoError> {
    if let (Some(recorded), Some(connected)) = (&run.org_url, &options.org_url) {
        let normalize = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
        if normalize(recorded) != normalize(connected) {
            return Err(UndoError::OtherOrg {
                record: run.record.clone(),
                recorded: recorded.clone(),
                connected: connected.clone(),
            });
        }
    }
    let mut changes = Vec::new();
    let mut left_out = Vec::new();
    let mut notes = Vec::new();
    for change in &run.changes {
        match reverse(change, state) {
            Ok(reversal) => changes.push(reversal),
            Err(Left::Out(reason, detail)) => left_out.push(LeftOut {
                address: change.address.clone(),
                reason,
                detail,
            }),
            Err(Left::Note(note)) => {
                notes.push(note);
                left_out.push(LeftOut {
                    address: change.address.clone(),
                    reason: LeftOutReason::ManualStep,
                    detail: "a manual step: undo never removes an import OU".to_string(),
                });
            }
        }
    }
    let drifted: Vec<LeftOut> = left_out
        .iter()
        .filter(|l| l.reason == LeftOutReason::Drifted)
        .cloned()
        .collect();
    if options.strict && !drifted.is_empty() {
        return Err(UndoError::Drifted(drifted));
    }
    let warnings = undo_warnings(run, state, &changes, &left_out, notes);
    let plan = Plan::new_undo(
        options.org_url.clone().or_else(|| run.org_url.clone()),
        options.created_at.clone(),
        UndoOf {
            run_record: run.record.clone(),
            plan_checksum: run.plan_checksum.clone(),
        },
        warnings,
        changes,
    );
    Ok(UndoPlan { plan, left_out })
}

enum Left {
    Out(LeftOutReason, String),
    /// A manual step: what the person should know, as a note.
    Note(String),
}

fn out(reason: LeftOutReason, detail: impl Into<String>) -> Left {
    Left::Out(reason, detail.into())
}

fn reverse(change: &RunChange, state: &OrgState) -> Result<ResourceChange, Left> {
    if let RunOutcome::NotApplied(label) = &change.outcome {
        return Err(out(
            LeftOutReason::NotApplied,
            format!("the run did not apply it ({label}): nothing to undo"),
        ));
    }
    let Some(recorded_directory) = &change.directory else {
        return Err(out(
            LeftOutReason::NotRecorded,
            "the record does not name the change's directory (app id): not guessed",
        ));
    };
    if let RunWrite::ImportOu { ou, config_path } = &change.write {
        let recorded = config_path
            .as_deref()
            .map_or_else(String::new, |path| format!(" and recorded it in `{path}`"));
        return Err(Left::Note(format!(
            "the run's manual step ticked the import OU `{ou}` of `{}`{recorded}. Undo never \
             removes an import OU: unticking it in the console makes Okta deactivate the users \
             imported from it on the next import. It stays ticked and declared; nothing is \
             planned for it",
            recorded_directory.domain
        )));
    }
    let directory =
        live_directory(state, recorded_directory).map_err(|d| out(LeftOutReason::Drifted, d))?;
    let finding = change
        .finding
        .clone()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            out(
                LeftOutReason::NotRecorded,
                "the record does not name its finding",
            )
        })?;
    let names_its_resource = match &change.write {
        RunWrite::Assignment { group, .. } => !group.id.is_empty(),
        RunWrite::PropertyDeleted { mapping_id, .. }
        | RunWrite::PropertyRestored { mapping_id, .. } => !mapping_id.is_empty(),
        RunWrite::ImportOu { .. } => true,
    };
    if !names_its_resource {
        return Err(out(
            LeftOutReason::NotRecorded,
            "the record does not name the group or mapping it wrote: not guessed",
        ));
    }
    match &change.write {
        RunWrite::Assignment {
            group,
            written_ou,
            written_profile,
            left_last_updated,
            before,
        } => {
            let Some(now) = directory.assignment(&group.id) else {
                return Err(out(
                    LeftOutReason::Drifted,
                    format!(
                        "group `{}` is no longer assigned to `{}`",
                        group.name, directory.domain
                    ),
                ));
            };
            let now_ou = now.organizational_unit.as_deref();
            let matches_before = before.as_ref().is_some_and(|b| holds(now, b));
            if !same_ou(now_ou, written_ou.as_deref()) {
                if matches_before {
                    return Err(out(
                        if change.outcome == RunOutcome::Unknown {
                            LeftOutReason::NotApplied
                        } else {
                            LeftOutReason::AlreadyReversed
                        },
                        if change.outcome == RunOutcome::Unknown {
                            "the record does not know if the write happened, and the org shows it \
                             did not: nothing to undo"
                                .to_string()
                        } else {
                            "the group is already back as it was: nothing to undo".to_string()
                        },
                    ));
                }
                return Err(out(
                    LeftOutReason::Drifted,
                    format!(
                        "group `{}` now targets {}; the run left {}",
                        group.name,
                        describe(now_ou),
                        describe(written_ou.as_deref())
                    ),
                ));
            }
            if let Some(left) = left_last_updated {
                if *left != now.last_updated {
                    return Err(out(
                        LeftOutReason::Drifted,
                        format!(
                            "the assignment of group `{}` was updated at `{}`, after the run \
                             left it at `{left}`",
                            group.name, now.last_updated
                        ),
                    ));
                }
            } else if let Some(profile) = written_profile {
                if !profile_matches(now, profile) {
                    return Err(out(
                        LeftOutReason::Drifted,
                        format!(
                            "the assignment of group `{}` changed since the run wrote it",
                            group.name
                        ),
                    ));
                }
            }
            let Some(before) = before else {
                return Err(out(
                    LeftOutReason::NotRecorded,
                    "the record does not hold the assignment as it was before the write \
                     (`priority` and the whole `profile`; records of earlier ouguard versions \
                     keep only the OU): not guessed",
                ));
            };
            if left_last_updated.is_none()
                && written_profile.is_none()
                && !same_besides_ou(now, before)
            {
                return Err(out(
                    LeftOutReason::Drifted,
                    format!(
                        "the assignment of group `{}` differs from what the run found in more \
                         than its OU, and the record does not say what the run left",
                        group.name
                    ),
                ));
            }
            let mut profile = before.profile.clone();
            match &before.organizational_unit {
                Some(ou) => {
                    profile.insert("organizationalUnit".into(), Value::String(ou.clone()));
                }
                None => {
                    if let Some(slot) = profile.get_mut("organizationalUnit") {
                        if !slot.is_null() {
                            *slot = Value::Null;
                        }
                    }
                }
            }
            Ok(ResourceChange {
                address: change.address.clone(),
                finding,
                also_fixes: Vec::new(),
                directory: DirectoryRef {
                    app_id: directory.app_id.clone(),
                    domain: directory.domain.clone(),
                },
                details: ChangeDetails::GroupTargetOuRevert(GroupTargetOuRevert {
                    group: group.clone(),
                    before: now.organizational_unit.clone(),
                    after: RestoredAssignment {
                        organizational_unit: before.organizational_unit.clone(),
                        priority: before.priority,
                        profile,
                    },
                    precondition: AssignmentPrecondition {
                        last_updated: now.last_updated.clone(),
                        organizational_unit: now.organizational_unit.clone(),
                    },
                }),
            })
        }
        RunWrite::PropertyDeleted {
            mapping_id,
            key,
            before,
        } => {
            let now = mapped_now(directory, mapping_id, key)?;
            let before_expression = before.as_ref().and_then(|b| b.expression.as_deref());
            if let Some(expression) = now {
                return Err(if Some(expression) == before_expression {
                    if change.outcome == RunOutcome::Unknown {
                        out(
                            LeftOutReason::NotApplied,
                            "the record does not know if the delete happened, and the org \
                             shows it did not: nothing to undo",
                        )
                    } else {
                        out(
                            LeftOutReason::AlreadyReversed,
                            format!("`{key}` is mapped again as it was: nothing to undo"),
                        )
                    }
                } else {
                    out(
                        LeftOutReason::Drifted,
                        format!(
                            "`{key}` of mapping `{mapping_id}` is now mapped to `{}`; the run \
                             left it unmapped",
                            crate::text::truncate_for_message(expression)
                        ),
                    )
                });
            }
            let (Some(expression), Some(push_status)) = (
                before_expression,
                before.as_ref().and_then(|b| b.push_status.as_deref()),
            ) else {
                return Err(out(
                    LeftOutReason::NotRecorded,
                    "the record does not hold the property as it was (its expression and \
                     `pushStatus`; records of earlier ouguard versions keep no `pushStatus`): \
                     not guessed",
                ));
            };
            if !PUSH_STATUSES.contains(&push_status) {
                return Err(out(
                    LeftOutReason::NotRecorded,
                    format!(
                        "the recorded `pushStatus` `{}` is neither `PUSH` nor `DONT_PUSH`",
                        crate::text::truncate_for_message(push_status)
                    ),
                ));
            }
            let user_type = user_type_of(change, directory, mapping_id, key)?;
            Ok(ResourceChange {
                address: change.address.clone(),
                finding,
                also_fixes: Vec::new(),
                directory: dir_ref(directory),
                details: ChangeDetails::MappingPropertyRestore(MappingPropertyRestore {
                    mapping_id: mapping_id.clone(),
                    user_type,
                    key: key.clone(),
                    expression: expression.to_string(),
                    push_status: push_status.to_string(),
                }),
            })
        }
        RunWrite::PropertyRestored {
            mapping_id,
            key,
            expression,
        } => {
            let now = mapped_now(directory, mapping_id, key)?;
            match now {
                None if change.outcome == RunOutcome::Unknown => Err(out(
                    LeftOutReason::NotApplied,
                    "the record does not know if the restore happened, and the org shows it did \
                     not: nothing to undo",
                )),
                None => Err(out(
                    LeftOutReason::AlreadyReversed,
                    format!("`{key}` is unmapped again: nothing to undo"),
                )),
                Some(now) if now != expression => Err(out(
                    LeftOutReason::Drifted,
                    format!(
                        "`{key}` of mapping `{mapping_id}` is now mapped to `{}`; the run left \
                         `{}`",
                        crate::text::truncate_for_message(now),
                        crate::text::truncate_for_message(expression)
                    ),
                )),
                Some(_) => {
                    let user_type = user_type_of(change, directory, mapping_id, key)?;
                    Ok(ResourceChange {
                        address: change.address.clone(),
                        finding,
                        also_fixes: Vec::new(),
                        directory: dir_ref(directory),
                        details: ChangeDetails::MappingPropertyDelete(MappingPropertyDelete {
                            mapping_id: mapping_id.clone(),
                            user_type,
                            key: key.clone(),
                            expression: expression.clone(),
                        }),
                    })
                }
            }
        }
        RunWrite::ImportOu { .. } => Err(out(
            LeftOutReason::ManualStep,
            "a manual step: undo never removes an import OU",
        )),
    }
}

fn dir_ref(directory: &Directory) -> DirectoryRef {
    DirectoryRef {
        app_id: directory.app_id.clone(),
        domain: directory.domain.clone(),
    }
}

/// The change's directory in the org now: same app, same domain, active.
fn live_directory<'a>(state: &'a OrgState, wanted: &DirectoryRef) -> Result<&'a Directory, String> {
    let Some(directory) = state.directories.iter().find(|d| d.app_id == wanted.app_id) else {
        return Err(format!(
            "the directory `{}` (`{}`) is no longer an Active Directory of this org",
            wanted.domain, wanted.app_id
        ));
    };
    if !directory.domain.eq_ignore_ascii_case(&wanted.domain) {
        return Err(format!(
            "the directory `{}` is now `{}`, not `{}`",
            directory.app_id, directory.domain, wanted.domain
        ));
    }
    if directory.status != AppStatus::Active {
        return Err(format!(
            "the directory `{}` is inactive: ouguard plans no change for it",
            directory.domain
        ));
    }
    Ok(directory)
}

/// The expression `key` of the mapping is mapped to now (`None`: unmapped).
fn mapped_now<'a>(
    directory: &'a Directory,
    mapping_id: &str,
    key: &str,
) -> Result<Option<&'a str>, Left> {
    if !directory.mappings_read {
        return Err(out(
            LeftOutReason::Drifted,
            format!(
                "the mappings of `{}` could not be read, so the state the run left cannot be \
                 checked",
                directory.domain
            ),
        ));
    }
    let Some(mapping) = directory.mappings.iter().find(|m| m.id == mapping_id) else {
        return Err(out(
            LeftOutReason::Drifted,
            format!(
                "the mapping `{mapping_id}` is no longer a To-App mapping of `{}`",
                directory.domain
            ),
        ));
    };
    Ok(mapping
        .properties
        .get(key)
        .and_then(|p| p.expression.as_deref()))
}

/// The user type of the mapping, as the address names it (and the org agrees).
fn user_type_of(
    change: &RunChange,
    directory: &Directory,
    mapping_id: &str,
    key: &str,
) -> Result<String, Left> {
    let from_address = crate::plan::mapping_user_type(&change.address, &directory.domain, key);
    let now = directory
        .mappings
        .iter()
        .find(|m| m.id == mapping_id)
        .map(|m| m.source_user_type.name.clone());
    match (from_address, now) {
        (Some(named), Some(now)) if named == now => Ok(named),
        (Some(named), Some(now)) => Err(out(
            LeftOutReason::Drifted,
            format!("the mapping `{mapping_id}` now maps from user type `{now}`, not `{named}`"),
        )),
        _ => Err(out(
            LeftOutReason::NotRecorded,
            "the recorded address does not name the mapping's user type",
        )),
    }
}

/// The assignment holds exactly what was read before the run's write.
fn holds(now: &GroupAssignment, before: &AssignmentBefore) -> bool {
    same_ou(
        now.organizational_unit.as_deref(),
        before.organizational_unit.as_deref(),
    ) && same_besides_ou(now, before)
}

/// Priority and every profile field but the OU are as read before the run's write.
fn same_besides_ou(now: &GroupAssignment, before: &AssignmentBefore) -> bool {
    now.priority == before.priority && profile_matches_besides_ou(now, &before.profile)
}

/// The whole profile is `profile` (the OU compared as DNs).
fn profile_matches(now: &GroupAssignment, profile: &Map<String, Value>) -> bool {
    let ou = profile.get("organizationalUnit").and_then(Value::as_str);
    same_ou(now.organizational_unit.as_deref(), ou) && profile_matches_besides_ou(now, profile)
}

fn profile_matches_besides_ou(now: &GroupAssignment, profile: &Map<String, Value>) -> bool {
    let others = profile
        .iter()
        .filter(|(key, _)| key.as_str() != "organizationalUnit");
    others.clone().count() == now.other_profile.len()
        && others
            .into_iter()
            .all(|(key, value)| now.other_profile.get(key) == Some(value))
}

/// Two target OUs are the same: both unset (or blank), equal DNs, or equal text.
pub(crate) fn same_ou(a: Option<&str>, b: Option<&str>) -> bool {
    fn present(ou: Option<&str>) -> Option<&str> {
        ou.filter(|text| !text.trim().is_empty())
    }
    match (present(a), present(b)) {
        (None, None) => true,
        (Some(a), Some(b)) => match (Dn::parse(a), Dn::parse(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
        _ => false,
    }
}

fn describe(ou: Option<&str>) -> String {
    match ou {
        Some(text) if !text.trim().is_empty() => {
            format!("`{}`", crate::text::truncate_for_message(text))
        }
        _ => "no OU".to_string(),
    }
}

/// `true` when writing the change makes provisioning fail again: a revert to an OU that is
/// not covered by a declared import OU, or a `dn` mapping put back.
#[must_use]
pub fn recreates_misconfiguration(state: &OrgState, change: &ResourceChange) -> bool {
    match &change.details {
        ChangeDetails::GroupTargetOuRevert(revert) => {
            let Some(directory) = state
                .directories
                .iter()
                .find(|d| d.app_id == change.directory.app_id)
            else {
                return true;
            };
            let covered = revert
                .after
                .organizational_unit
                .as_deref()
                .and_then(|ou| Dn::parse(ou).ok())
                .filter(|ou| ou.is_in_domain(&directory.domain))
                .is_some_and(|ou| {
                    rules::import_ou_index(directory).is_some_and(|(index, _)| index.covers(&ou))
                });
            !covered
        }
        ChangeDetails::MappingPropertyRestore(_) => true,
        _ => false,
    }
}

fn undo_warnings(
    run: &RecordedRun,
    state: &OrgState,
    changes: &[ResourceChange],
    left_out: &[LeftOut],
    notes: Vec<String>,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let recreating: Vec<&ResourceChange> = changes
        .iter()
        .filter(|c| recreates_misconfiguration(state, c))
        .collect();
    if !recreating.is_empty() {
        let groups = recreating
            .iter()
            .filter(|c| matches!(c.details, ChangeDetails::GroupTargetOuRevert(_)))
            .count();
        let mappings = recreating.len() - groups;
        let mut parts = Vec::new();
        if groups > 0 {
            parts.push(format!(
                "users in the {groups} group(s) it puts back on an OU that is not an import OU \
                 will fail provisioning again with \"Target OU is not an import OU\", and with \
                 \"Update OU when the group that provisions a user changes\" on, AD moves their \
                 accounts back to that OU"
            ));
        }
        if mappings > 0 {
            parts.push(format!(
                "the {mappings} `dn` mapping(s) it puts back make provisioning of their user \
                 type fail again"
            ));
        }
        warnings.push(Warning {
            id: RECREATES_WARNING_ID.to_string(),
            message: format!(
                "UNDOING RE-CREATES THE MISCONFIGURATION. This plan puts back what the run \
                 recorded in `{}` fixed: {}.",
                run.record,
                parts.join("; ")
            ),
        });
    }
    let moves = changes
        .iter()
        .filter(|c| matches!(c.details, ChangeDetails::GroupTargetOuRevert(_)))
        .count()
        - recreating
            .iter()
            .filter(|c| matches!(c.details, ChangeDetails::GroupTargetOuRevert(_)))
            .count();
    if moves > 0 {
        warnings.push(Warning {
            id: "undo-moves-users".to_string(),
            message: format!(
                "{moves} group(s) go back to an import OU: with \"Update OU when the group that \
                 provisions a user changes\" on, AD moves their users' accounts there."
            ),
        });
    }
    if run.interrupted {
        let unknown = run
            .changes
            .iter()
            .filter(|c| c.outcome == RunOutcome::Unknown)
            .count();
        warnings.push(Warning {
            id: "undo-interrupted-run".to_string(),
            message: format!(
                "the run record `{}` ends without its summary: the run was interrupted. {unknown} \
                 write(s) of unknown outcome were judged by reading the org now; changes the \
                 run never reached have nothing to undo.",
                run.record
            ),
        });
    }
    for note in notes {
        warnings.push(Warning {
            id: LeftOutReason::ManualStep.id().to_string(),
            message: note,
        });
    }
    for left in left_out
        .iter()
        .filter(|l| l.reason != LeftOutReason::ManualStep)
    {
        let label = match left.reason {
            LeftOutReason::Drifted => "left out, drifted since the run",
            LeftOutReason::NotApplied => "left out",
            LeftOutReason::AlreadyReversed => "left out",
            LeftOutReason::NotRecorded => "left out, the record lacks what undoing it needs",
            LeftOutReason::ManualStep => "left out",
        };
        warnings.push(Warning {
            id: left.reason.id().to_string(),
            message: format!("{} ({label}): {}", left.address, left.detail),
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use serde_json::json;

    const MARKETING: &str = "OU=Marketing,DC=corp,DC=example,DC=com";
    const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";

    /// The org after a run retargeted Marketing to Staff and deleted `dn`.
    fn after_run() -> OrgState {
        let mut corp = directory("corp.example.com", Some(&[STAFF]));
        let mut marketing = assignment("00g1", "Marketing", Some(STAFF));
        marketing.priority = Some(2);
        marketing.last_updated = "2026-11-30T10:00:00.000Z".into();
        marketing
            .other_profile
            .insert("samAccountName".into(), json!("mkt"));
        corp.assignments = vec![marketing];
        let app_id = corp.app_id.clone();
        corp.mappings.push(mapping(
            "prm1",
            &app_id,
            &[("firstName", Some("user.firstName"))],
        ));
        org(vec![corp])
    }

    fn corp(state: &OrgState) -> DirectoryRef {
        dir_ref(&state.directories[0])
    }

    fn run(state: &OrgState) -> RecordedRun {
        let mut profile = Map::new();
        profile.insert("organizationalUnit".into(), json!(MARKETING));
        profile.insert("samAccountName".into(), json!("mkt"));
        RecordedRun {
            record: ".ouguard/runs/r.jsonl".into(),
            plan_checksum: "sha256:abc".into(),
            org_url: Some("https://acme.okta.com".into()),
            interrupted: false,
            changes: vec![
                RunChange {
                    index: 0,
                    address: ResourceChange::target_ou_address("corp.example.com", "Marketing"),
                    finding: Some("R1:corp.example.com:00g1".into()),
                    directory: Some(corp(state)),
                    outcome: RunOutcome::Applied,
                    write: RunWrite::Assignment {
                        group: GroupRef {
                            id: "00g1".into(),
                            name: "Marketing".into(),
                        },
                        written_ou: Some(STAFF.into()),
                        written_profile: None,
                        left_last_updated: Some("2026-11-30T10:00:00.000Z".into()),
                        before: Some(Box::new(AssignmentBefore {
                            organizational_unit: Some(MARKETING.into()),
                            priority: Some(2),
                            profile,
                            last_updated: Some("2026-11-01T00:00:00.000Z".into()),
                        })),
                    },
                },
                RunChange {
                    index: 1,
                    address: ResourceChange::mapping_property_address(
                        "corp.example.com",
                        "user",
                        "dn",
                    ),
                    finding: Some("R2:corp.example.com:prm1:dn".into()),
                    directory: Some(corp(state)),
                    outcome: RunOutcome::Applied,
                    write: RunWrite::PropertyDeleted {
                        mapping_id: "prm1".into(),
                        key: "dn".into(),
                        before: Some(PropertyBefore {
                            expression: Some("user.dn".into()),
                            push_status: Some("DONT_PUSH".into()),
                        }),
                    },
                },
            ],
        }
    }

    fn options(strict: bool) -> UndoOptions {
        UndoOptions {
            org_url: Some("https://acme.okta.com".into()),
            created_at: "2026-11-30T11:00:00Z".into(),
            strict,
        }
    }

    #[test]
    fn reverses_a_retarget_and_a_delete_with_the_state_the_run_left_as_precondition() {
        let state = after_run();
        let undo = plan_undo(&run(&state), &state, &options(false)).expect("plans");
        let plan = &undo.plan;
        assert_eq!(plan.format_version, "1.1");
        assert_eq!(
            plan.undo_of,
            Some(UndoOf {
                run_record: ".ouguard/runs/r.jsonl".into(),
                plan_checksum: "sha256:abc".into()
            })
        );
        assert!(undo.left_out.is_empty(), "{:?}", undo.left_out);
        let ChangeDetails::GroupTargetOuRevert(revert) = &plan.resource_changes[0].details else {
            panic!("a revert")
        };
        assert_eq!(revert.before.as_deref(), Some(STAFF));
        assert_eq!(revert.after.organizational_unit.as_deref(), Some(MARKETING));
        assert_eq!(revert.after.priority, Some(2));
        assert_eq!(
            Value::Object(revert.after.profile.clone()),
            json!({"organizationalUnit": MARKETING, "samAccountName": "mkt"})
        );
        assert_eq!(revert.precondition.last_updated, "2026-11-30T10:00:00.000Z");
        assert_eq!(
            revert.precondition.organizational_unit.as_deref(),
            Some(STAFF)
        );
        let ChangeDetails::MappingPropertyRestore(restore) = &plan.resource_changes[1].details
        else {
            panic!("a restore")
        };
        assert_eq!(
            (restore.expression.as_str(), restore.push_status.as_str()),
            ("user.dn", "DONT_PUSH")
        );
        assert_eq!(plan.summary.add, 1);
        assert_eq!(plan.summary.change, 1);
        assert_eq!(plan.warnings[0].id, RECREATES_WARNING_ID);
        // The saved document loads back as the same plan.
        assert_eq!(Plan::from_json(&plan.to_json()).expect("loads"), *plan);
    }

    #[test]
    fn a_drifted_change_is_left_out_or_refuses_the_whole_undo_with_strict() {
        let mut state = after_run();
        state.directories[0].assignments[0].organizational_unit =
            Some("OU=Elsewhere,DC=corp,DC=example,DC=com".into());
        let undo = plan_undo(&run(&state), &state, &options(false)).expect("plans");
        assert_eq!(undo.plan.resource_changes.len(), 1, "only the restore");
        let drifted: Vec<_> = undo.drifted().collect();
        assert_eq!(drifted.len(), 1);
        assert!(drifted[0].detail.contains("now targets"), "{drifted:?}");
        assert!(undo
            .plan
            .warnings
            .iter()
            .any(|w| w.id == "undo-drifted" && w.message.contains("Marketing")));
        let refused = plan_undo(&run(&state), &state, &options(true)).expect_err("strict");
        assert!(matches!(refused, UndoError::Drifted(ref l) if l.len() == 1));
        assert!(refused.to_string().contains("--strict"), "{refused}");
        // A later edit of the assignment (same OU, newer lastUpdated) is drift too.
        let mut state = after_run();
        state.directories[0].assignments[0].last_updated = "2026-11-30T12:00:00.000Z".into();
        let undo = plan_undo(&run(&state), &state, &options(false)).expect("plans");
        assert_eq!(undo.drifted().count(), 1);
        // A dn mapped to something else since.
        let mut state = after_run();
        state.directories[0].mappings[0].properties.insert(
            "dn".into(),
            crate::state::MappingProperty {
                expression: Some("user.other".into()),
                push_status: Some("PUSH".into()),
            },
        );
        let undo = plan_undo(&run(&state), &state, &options(false)).expect("plans");
        assert_eq!(undo.drifted().count(), 1);
    }

    #[test]
    fn only_applied_changes_are_reversed_and_unknown_ones_are_judged_by_the_org() {
        let state = after_run();
        let mut failed = run(&state);
        failed.changes[1].outcome = RunOutcome::NotApplied("failed".into());
        let undo = plan_undo(&failed, &state, &options(true)).expect("plans");
        assert_eq!(undo.plan.resource_changes.len(), 1);
        assert_eq!(undo.left_out[0].reason, LeftOutReason::NotApplied);

        // An interrupted run: the retarget's outcome is unknown but the org shows it happened.
        let mut interrupted = run(&state);
        interrupted.interrupted = true;
        interrupted.changes[0].outcome = RunOutcome::Unknown;
        if let RunWrite::Assignment {
            left_last_updated, ..
        } = &mut interrupted.changes[0].write
        {
            *left_last_updated = None;
        }
        interrupted.changes.truncate(1);
        let undo = plan_undo(&interrupted, &state, &options(true)).expect("plans");
        assert_eq!(undo.plan.resource_changes.len(), 1);
        assert!(undo
            .plan
            .warnings
            .iter()
            .any(|w| w.id == "undo-interrupted-run"));
        // ... and when the org shows it did not happen, there is nothing to undo.
        let mut untouched = state.clone();
        untouched.directories[0].assignments[0].organizational_unit = Some(MARKETING.into());
        let undo = plan_undo(&interrupted, &untouched, &options(true)).expect("not drift");
        assert!(undo.plan.resource_changes.is_empty());
        assert_eq!(undo.left_out[0].reason, LeftOutReason::NotApplied);
    }

    #[test]
    fn what_the_record_lacks_is_reported_not_guessed() {
        let state = after_run();
        let mut old = run(&state);
        if let RunWrite::Assignment { before, .. } = &mut old.changes[0].write {
            *before = None;
        }
        if let RunWrite::PropertyDeleted { before, .. } = &mut old.changes[1].write {
            *before = Some(PropertyBefore {
                expression: Some("user.dn".into()),
                push_status: None,
            });
        }
        let undo = plan_undo(&old, &state, &options(false)).expect("plans");
        assert!(undo.plan.resource_changes.is_empty());
        assert!(undo
            .left_out
            .iter()
            .all(|l| l.reason == LeftOutReason::NotRecorded));
        assert!(undo.left_out[1].detail.contains("pushStatus"));
    }

    #[test]
    fn a_manual_step_is_a_note_never_a_change() {
        let state = after_run();
        let mut with_manual = run(&state);
        with_manual.changes.push(RunChange {
            index: 2,
            address: ResourceChange::import_ou_address("corp.example.com", MARKETING),
            finding: Some("R1:corp.example.com:00g9".into()),
            directory: Some(corp(&state)),
            outcome: RunOutcome::Applied,
            write: RunWrite::ImportOu {
                ou: MARKETING.into(),
                config_path: Some("ouguard.toml".into()),
            },
        });
        let undo = plan_undo(&with_manual, &state, &options(true)).expect("plans");
        assert_eq!(undo.plan.resource_changes.len(), 2);
        assert!(undo
            .plan
            .resource_changes
            .iter()
            .all(|c| !matches!(c.details, ChangeDetails::ImportOuAdd(_))));
        let note = undo
            .plan
            .warnings
            .iter()
            .find(|w| w.id == "undo-manual-step")
            .expect("a note");
        assert!(
            note.message.contains("never removes an import OU"),
            "{note:?}"
        );
    }

    #[test]
    fn the_recheck_accepts_exactly_the_reversals_the_record_shows() {
        use crate::recheck::{recheck, recheck_undo};
        let state = after_run();
        let recorded = run(&state);
        let undo = plan_undo(&recorded, &state, &options(false)).expect("plans");
        assert_eq!(recheck_undo(&state, &undo.plan, &recorded), vec![]);
        // Without its record, an undo plan is refused whole.
        assert_eq!(recheck(&state, &undo.plan).len(), 2);

        type Edit = fn(&mut ResourceChange);
        let cases: &[(Edit, &str)] = &[
            (
                |c| {
                    if let ChangeDetails::GroupTargetOuRevert(r) = &mut c.details {
                        let evil = "OU=Evil,DC=corp,DC=example,DC=com";
                        r.after.organizational_unit = Some(evil.into());
                        r.after
                            .profile
                            .insert("organizationalUnit".into(), json!(evil));
                    }
                },
                "an undo only goes back to what the record holds",
            ),
            (
                |c| {
                    if let ChangeDetails::GroupTargetOuRevert(r) = &mut c.details {
                        r.after.priority = Some(9);
                    }
                },
                "`priority` or `profile`",
            ),
            (
                |c| {
                    if let ChangeDetails::GroupTargetOuRevert(r) = &mut c.details {
                        r.after.profile.insert("extra".into(), json!("x"));
                    }
                },
                "`priority` or `profile`",
            ),
            (
                |c| {
                    if let ChangeDetails::GroupTargetOuRevert(r) = &mut c.details {
                        r.group.id = "00g7".into();
                    }
                },
                "did not write it",
            ),
            (
                |c| {
                    if let ChangeDetails::MappingPropertyRestore(r) = &mut c.details {
                        r.expression = "user.other".into();
                    }
                },
                "an undo only goes back to what the record holds",
            ),
            (
                |c| {
                    if let ChangeDetails::MappingPropertyRestore(r) = &mut c.details {
                        r.push_status = "PUSH".into();
                    }
                },
                "an undo only goes back to what the record holds",
            ),
            (
                |c| {
                    if let ChangeDetails::MappingPropertyRestore(r) = &mut c.details {
                        r.key = "firstName".into();
                    }
                },
                "never touches another mapping property",
            ),
        ];
        for (edit, expected) in cases {
            let mut edited = undo.plan.clone();
            for change in &mut edited.resource_changes {
                edit(change);
            }
            let refusals = recheck_undo(&state, &edited, &recorded);
            assert_eq!(refusals.len(), 1, "{expected}: {refusals:?}");
            assert!(refusals[0].reason.contains(expected), "{refusals:?}");
        }
        // A forward retarget slipped into an undo plan.
        let mut edited = undo.plan.clone();
        let mut forward = edited.resource_changes[0].clone();
        forward.details = ChangeDetails::GroupTargetOuUpdate(crate::plan::GroupTargetOuUpdate {
            group: GroupRef {
                id: "00g1".into(),
                name: "Marketing".into(),
            },
            before: Some(STAFF.into()),
            after: "OU=Evil,DC=corp,DC=example,DC=com".into(),
            precondition: AssignmentPrecondition {
                last_updated: "x".into(),
                organizational_unit: Some(STAFF.into()),
            },
        });
        edited.resource_changes[0] = forward;
        assert!(recheck_undo(&state, &edited, &recorded)[0]
            .reason
            .contains("not a reversal"));
        // The record of another plan's run.
        let mut other = recorded.clone();
        other.plan_checksum = "sha256:other".into();
        assert_eq!(recheck_undo(&state, &undo.plan, &other).len(), 2);
    }

    #[test]
    fn an_undo_of_an_undo_restores_the_fix() {
        use crate::planner::apply_change_in_memory;
        use crate::recheck::recheck_undo;
        let fixed = after_run();
        let first = run(&fixed);
        let undo = plan_undo(&first, &fixed, &options(false)).expect("plans");
        let mut undone = fixed.clone();
        for change in &undo.plan.resource_changes {
            apply_change_in_memory(&mut undone, change);
        }
        undone.directories[0].assignments[0].last_updated = "2026-11-30T12:00:00.000Z".into();
        assert_eq!(
            rules::evaluate(&undone).findings.len(),
            2,
            "the undo brings both findings back"
        );
        // The record of the undo's run, as apply writes it.
        let mut profile = Map::new();
        profile.insert("organizationalUnit".into(), json!(STAFF));
        profile.insert("samAccountName".into(), json!("mkt"));
        let ChangeDetails::GroupTargetOuRevert(revert) = &undo.plan.resource_changes[0].details
        else {
            panic!("a revert")
        };
        let second = RecordedRun {
            record: ".ouguard/runs/undo.jsonl".into(),
            plan_checksum: undo.plan.checksum.clone(),
            org_url: first.org_url.clone(),
            interrupted: false,
            changes: vec![
                RunChange {
                    write: RunWrite::Assignment {
                        group: revert.group.clone(),
                        written_ou: revert.after.organizational_unit.clone(),
                        written_profile: Some(revert.after.profile.clone()),
                        left_last_updated: Some("2026-11-30T12:00:00.000Z".into()),
                        before: Some(Box::new(AssignmentBefore {
                            organizational_unit: Some(STAFF.into()),
                            priority: Some(2),
                            profile,
                            last_updated: Some("2026-11-30T10:00:00.000Z".into()),
                        })),
                    },
                    ..first.changes[0].clone()
                },
                RunChange {
                    write: RunWrite::PropertyRestored {
                        mapping_id: "prm1".into(),
                        key: "dn".into(),
                        expression: "user.dn".into(),
                    },
                    ..first.changes[1].clone()
                },
            ],
        };
        let again = plan_undo(&second, &undone, &options(true)).expect("plans");
        assert_eq!(again.plan.resource_changes.len(), 2, "{:?}", again.left_out);
        assert!(matches!(
            again.plan.resource_changes[1].details,
            ChangeDetails::MappingPropertyDelete(_)
        ));
        assert!(
            !again
                .plan
                .warnings
                .iter()
                .any(|w| w.id == RECREATES_WARNING_ID),
            "putting the fix back re-creates nothing"
        );
        assert_eq!(recheck_undo(&undone, &again.plan, &second), vec![]);
        let mut refixed = undone.clone();
        for change in &again.plan.resource_changes {
            apply_change_in_memory(&mut refixed, change);
        }
        assert!(rules::evaluate(&refixed).findings.is_empty());
        assert_eq!(
            refixed.directories[0].assignments,
            fixed.directories[0]
                .assignments
                .iter()
                .map(|a| GroupAssignment {
                    last_updated: "2026-11-30T12:00:00.000Z".into(),
                    ..a.clone()
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_text_of_an_undo_plan_says_loudly_what_undoing_does() {
        let state = after_run();
        let mut recorded = run(&state);
        recorded.changes.push(RunChange {
            index: 2,
            address: ResourceChange::target_ou_address("corp.example.com", "Sales"),
            finding: Some("R1:corp.example.com:00g5".into()),
            directory: Some(corp(&state)),
            outcome: RunOutcome::NotApplied("failed".into()),
            write: RunWrite::Assignment {
                group: GroupRef {
                    id: "00g5".into(),
                    name: "Sales".into(),
                },
                written_ou: Some(STAFF.into()),
                written_profile: None,
                left_last_updated: None,
                before: None,
            },
        });
        let undo = plan_undo(&recorded, &state, &options(false)).expect("plans");
        let mut text = Vec::new();
        crate::render::render_plan(&undo.plan, &mut text, false).expect("renders");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(
            text.contains("UNDOING RE-CREATES THE MISCONFIGURATION"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_undo_plan_matches_the_schema_and_its_markdown_says_it_loudly() {
        let state = after_run();
        let undo = plan_undo(&run(&state), &state, &options(false)).expect("plans");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/plan.schema.json");
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
        let validator = jsonschema::draft202012::new(&schema).expect("a schema");
        let document: Value = serde_json::from_str(&undo.plan.to_json()).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{e} at `{}`", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let markdown =
            crate::render::markdown::render_markdown_to_string(&undo.plan, Some("plans/undo.json"));
        assert!(markdown.contains("[!CAUTION]"), "{markdown}");
        insta::assert_snapshot!(markdown);
    }

    #[test]
    fn another_org_is_refused() {
        let state = after_run();
        let mut opts = options(false);
        opts.org_url = Some("https://other.okta.com".into());
        assert!(matches!(
            plan_undo(&run(&state), &state, &opts),
            Err(UndoError::OtherOrg { .. })
        ));
    }
}

/// Property: for any org and any plan ouguard makes, applying the plan, then the undo planned
/// from its (simulated) record, puts the org back as it was, `lastUpdated` aside; the undo
/// passes its own re-check; and the undo of that undo puts the fix back.
#[cfg(test)]
mod prop {
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest, ProptestConfig};
    use serde_json::json;

    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::planner::{
        apply_change_in_memory, plan, NoChooser, PlanOptions, RetargetPin, Strategy,
    };

    const BASE: &str = "DC=corp,DC=example,DC=com";
    const OUS: &[&str] = &[
        "OU=Staff",
        "OU=Marketing",
        "OU=Sales,OU=Staff",
        "ou=web",
        "OU=A\\,B",
    ];

    fn state_from(groups: &[(u8, usize, Option<i64>, bool)], dn: Option<(bool, bool)>) -> OrgState {
        let staff = format!("OU=Staff,{BASE}");
        let mut corp = directory("corp.example.com", Some(&[staff.as_str()]));
        for (n, (kind, ou, priority, extra)) in groups.iter().enumerate() {
            let value = match kind {
                0 => None,
                1 => Some(format!("{},,{BASE}", OUS[*ou])),
                2 => Some(format!("{},DC=emea,DC=example,DC=com", OUS[*ou])),
                _ => Some(format!("{},{BASE}", OUS[*ou])),
            };
            let mut a = assignment(&format!("00g{n}"), &format!("G{n}"), value.as_deref());
            a.priority = *priority;
            if *extra {
                a.other_profile
                    .insert("samAccountName".into(), json!(format!("g{n}")));
                a.other_profile
                    .insert("description".into(), serde_json::Value::Null);
            }
            corp.assignments.push(a);
        }
        let app_id = corp.app_id.clone();
        if let Some((mapped, dont_push)) = dn {
            let mut m = mapping(
                "prm1",
                &app_id,
                &[
                    ("dn", mapped.then_some("user.dn")),
                    ("cn", Some("user.login")),
                ],
            );
            if let Some(p) = m.properties.get_mut("dn") {
                p.push_status = Some(if dont_push { "DONT_PUSH" } else { "PUSH" }.into());
            }
            corp.mappings.push(m);
        }
        org(vec![corp])
    }

    /// Applies `plan` to `state` in memory as apply would, and records it as the run record
    /// would: each change's whole before-state, what it wrote, what it left.
    fn run(state: &mut OrgState, plan: &Plan, stamp: &str, record: &str) -> RecordedRun {
        let mut changes = Vec::new();
        for (index, change) in plan.resource_changes.iter().enumerate() {
            let directory = &state.directories[0];
            let write = match &change.details {
                ChangeDetails::GroupTargetOuUpdate(_) | ChangeDetails::GroupTargetOuRevert(_) => {
                    let group = change.group().cloned().expect("a group");
                    let now = directory.assignment(&group.id).expect("assigned").clone();
                    let mut profile: Map<String, Value> = now
                        .other_profile
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if let Some(ou) = &now.organizational_unit {
                        profile.insert("organizationalUnit".into(), json!(ou));
                    }
                    let written = match &change.details {
                        ChangeDetails::GroupTargetOuUpdate(u) => {
                            let mut p = profile.clone();
                            p.insert("organizationalUnit".into(), json!(u.after));
                            p
                        }
                        ChangeDetails::GroupTargetOuRevert(r) => r.after.profile.clone(),
                        _ => unreachable!(),
                    };
                    RunWrite::Assignment {
                        group,
                        written_ou: written
                            .get("organizationalUnit")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        written_profile: Some(written),
                        left_last_updated: Some(stamp.to_string()),
                        before: Some(Box::new(AssignmentBefore {
                            organizational_unit: now.organizational_unit.clone(),
                            priority: now.priority,
                            profile,
                            last_updated: Some(now.last_updated.clone()),
                        })),
                    }
                }
                ChangeDetails::MappingPropertyDelete(d) => {
                    let p = directory.mappings[0].properties.get(&d.key).cloned();
                    RunWrite::PropertyDeleted {
                        mapping_id: d.mapping_id.clone(),
                        key: d.key.clone(),
                        before: p.map(|p| PropertyBefore {
                            expression: p.expression,
                            push_status: p.push_status,
                        }),
                    }
                }
                ChangeDetails::MappingPropertyRestore(r) => RunWrite::PropertyRestored {
                    mapping_id: r.mapping_id.clone(),
                    key: r.key.clone(),
                    expression: r.expression.clone(),
                },
                ChangeDetails::ImportOuAdd(a) => RunWrite::ImportOu {
                    ou: a.ou.clone(),
                    config_path: None,
                },
            };
            let manual = matches!(change.details, ChangeDetails::ImportOuAdd(_));
            if !manual {
                apply_change_in_memory(state, change);
                if let Some(group) = change.group() {
                    if let Some(a) = state.directories[0]
                        .assignments
                        .iter_mut()
                        .find(|a| a.group_id == group.id)
                    {
                        a.last_updated = stamp.to_string();
                    }
                }
            }
            changes.push(RunChange {
                index,
                address: change.address.clone(),
                finding: Some(change.finding.clone()),
                directory: Some(change.directory.clone()),
                outcome: if manual {
                    RunOutcome::NotApplied("manual step pending".into())
                } else {
                    RunOutcome::Applied
                },
                write,
            });
        }
        RecordedRun {
            record: record.to_string(),
            plan_checksum: plan.checksum.clone(),
            org_url: None,
            interrupted: false,
            changes,
        }
    }

    fn options() -> UndoOptions {
        UndoOptions {
            org_url: None,
            created_at: "2026-11-30T00:00:00Z".into(),
            strict: true,
        }
    }

    fn without_stamps(state: &OrgState) -> OrgState {
        let mut state = state.clone();
        for a in &mut state.directories[0].assignments {
            a.last_updated = String::new();
        }
        state
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn undo_puts_the_org_back_and_undo_of_undo_puts_the_fix_back(
            groups in proptest::collection::vec((0u8..5, 0..OUS.len(), proptest::option::of(0i64..5), any::<bool>()), 0..8),
            dn in proptest::option::of((any::<bool>(), any::<bool>())),
        ) {
            let original = state_from(&groups, dn);
            let findings = rules::evaluate(&original);
            // Pin every group with a group-OU finding to Staff: a retarget for each.
            let pins = findings
                .findings
                .iter()
                .filter_map(|f| f.group.as_ref())
                .map(|g| RetargetPin {
                    directory: None,
                    group: g.id.clone(),
                    to: format!("OU=Team,OU=Staff,{BASE}"),
                    origin: "--retarget".into(),
                })
                .collect();
            let options_fix = PlanOptions {
                strategy: Strategy::Retarget,
                pins,
                created_at: "2026-11-29T00:00:00Z".into(),
                ..PlanOptions::default()
            };
            let fix = plan(&original, findings, &options_fix, &mut NoChooser).expect("plans");
            let mut state = original.clone();
            let first = run(&mut state, &fix, "2026-11-29T01:00:00.000Z", "r1.jsonl");
            let fixed = state.clone();
            prop_assert!(rules::evaluate(&fixed).findings.is_empty());

            let undo = plan_undo(&first, &state, &options()).expect("no drift");
            prop_assert_eq!(undo.left_out.len(), 0);
            prop_assert_eq!(crate::recheck::recheck_undo(&state, &undo.plan, &first), vec![]);
            let loaded = Plan::from_json(&undo.plan.to_json()).expect("the saved undo loads");
            prop_assert_eq!(&loaded, &undo.plan);
            let second = run(&mut state, &undo.plan, "2026-11-29T02:00:00.000Z", "r2.jsonl");
            prop_assert_eq!(without_stamps(&state), without_stamps(&original));

            let redo = plan_undo(&second, &state, &options()).expect("no drift");
            prop_assert_eq!(crate::recheck::recheck_undo(&state, &redo.plan, &second), vec![]);
            let _ = run(&mut state, &redo.plan, "2026-11-29T03:00:00.000Z", "r3.jsonl");
            prop_assert_eq!(without_stamps(&state), without_stamps(&fixed));
        }
    }
}
