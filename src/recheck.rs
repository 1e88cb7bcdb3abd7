//! The re-check `apply` makes before any precondition check or write: every change of a plan
//! must be one ouguard would plan itself now, from the org as freshly read and the current
//! `ouguard.toml`. A plan file's checksum only guards against accidental edits (anyone can
//! recompute it); this is the guard against deliberate ones. Pure: no I/O, no clock.

use std::collections::{HashMap, HashSet};

use crate::dn::Dn;
use crate::plan::{ChangeDetails, Plan, ResourceChange};
use crate::rules::{self, Evaluation, Finding, Rule};
use crate::state::{AppStatus, Directory, OrgState};
use crate::undo::{RecordedRun, RunOutcome, RunWrite};

/// One change the re-check refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Position of the change in the plan.
    pub index: usize,
    pub address: String,
    pub kind: RefusalKind,
    pub reason: String,
}

/// Whether the org moved under the plan, or the change was never one ouguard makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The org changed since the plan was made: what the change fixes is gone or moved.
    Stale,
    /// ouguard would not plan this change from the org and config as they are (an edited
    /// plan, or a config that no longer declares what the plan relied on).
    NotPlannable,
}

/// Re-checks every change of `plan` against `state`, whose directories must carry the import
/// OUs declared in the current `ouguard.toml` (`Config::declare_import_ous`). Returns one
/// refusal per offending change, in plan order; empty when every change is one ouguard would
/// plan now.
#[must_use]
pub fn recheck(state: &OrgState, plan: &Plan) -> Vec<Refusal> {
    let evaluation = rules::evaluate(state);
    recheck_with(state, &evaluation, plan)
}

/// [`recheck`] with the evaluation of `state` already made.
#[must_use]
pub fn recheck_with(state: &OrgState, evaluation: &Evaluation, plan: &Plan) -> Vec<Refusal> {
    if plan.undo_of.is_some() {
        return refuse_all(
            plan,
            "the plan undoes a run, and the re-check of an undo needs that run's record",
        );
    }
    let findings: HashMap<&str, &Finding> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.id.as_str(), finding))
        .collect();
    let mut seen = HashSet::new();
    let mut refusals = Vec::new();
    for (index, change) in plan.resource_changes.iter().enumerate() {
        let refused = if seen.insert(change.address.as_str()) {
            check_change(state, &findings, plan, change).err()
        } else {
            Some((
                RefusalKind::NotPlannable,
                "the plan names this resource twice".to_string(),
            ))
        };
        if let Some((kind, reason)) = refused {
            refusals.push(Refusal {
                index,
                address: change.address.clone(),
                kind,
                reason,
            });
        }
    }
    refusals
}

/// Re-checks an undo plan (`undo_of`) against `state` and the record of the run it undoes:
/// every change must be the reversal of a change that run wrote, back to exactly what the
/// record says it found (a destination that is not an import OU is accepted only so), and a
/// `dn` delete (the undo of an undo) must also be one ouguard would plan now. Any other change,
/// a record of another plan, or a plan without `undo_of` is refused.
#[must_use]
pub fn recheck_undo(state: &OrgState, plan: &Plan, run: &RecordedRun) -> Vec<Refusal> {
    let Some(undo_of) = &plan.undo_of else {
        return refuse_all(plan, "the plan does not undo a run (it has no `undo_of`)");
    };
    if undo_of.plan_checksum != run.plan_checksum {
        return refuse_all(
            plan,
            &format!(
                "the plan undoes the run of plan `{}`, but `{}` records a run of plan `{}`",
                undo_of.plan_checksum, run.record, run.plan_checksum
            ),
        );
    }
    let evaluation = rules::evaluate(state);
    let findings: HashMap<&str, &Finding> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.id.as_str(), finding))
        .collect();
    let mut seen = HashSet::new();
    let mut refusals = Vec::new();
    for (index, change) in plan.resource_changes.iter().enumerate() {
        let refused = if seen.insert(change.address.as_str()) {
            check_reversal(state, &findings, plan, run, change).err()
        } else {
            Some(not_plannable(
                "the plan names this resource twice".to_string(),
            ))
        };
        if let Some((kind, reason)) = refused {
            refusals.push(Refusal {
                index,
                address: change.address.clone(),
                kind,
                reason,
            });
        }
    }
    refusals
}

fn refuse_all(plan: &Plan, reason: &str) -> Vec<Refusal> {
    plan.resource_changes
        .iter()
        .enumerate()
        .map(|(index, change)| Refusal {
            index,
            address: change.address.clone(),
            kind: RefusalKind::NotPlannable,
            reason: reason.to_string(),
        })
        .collect()
}

/// Why one change of an undo plan is not a reversal of its run.
fn check_reversal(
    state: &OrgState,
    findings: &HashMap<&str, &Finding>,
    plan: &Plan,
    run: &RecordedRun,
    change: &ResourceChange,
) -> Result<(), Refused> {
    let directory = directory_of(state, change).map_err(not_plannable)?;
    if !change.also_fixes.is_empty() {
        return Err(not_plannable(
            "a reversal undoes one change, not several".to_string(),
        ));
    }
    let written = |ok: &dyn Fn(&RunWrite) -> bool| {
        run.changes.iter().find(|recorded| {
            recorded
                .directory
                .as_ref()
                .is_some_and(|d| d.app_id == directory.app_id)
                && !matches!(recorded.outcome, RunOutcome::NotApplied(_))
                && ok(&recorded.write)
        })
    };
    let not_in_run = |what: String| {
        not_plannable(format!(
            "{what}: the run recorded in `{}` did not write it, and an undo only reverses what \
             its run wrote",
            run.record
        ))
    };
    match &change.details {
        ChangeDetails::GroupTargetOuRevert(revert) => {
            let Some(recorded) = written(
                &|write| matches!(write, RunWrite::Assignment { group, .. } if group.id == revert.group.id),
            ) else {
                return Err(not_in_run(format!(
                    "group `{}` of `{}`",
                    revert.group.name, directory.domain
                )));
            };
            let RunWrite::Assignment {
                written_ou, before, ..
            } = &recorded.write
            else {
                return Err(not_in_run("the assignment".to_string()));
            };
            let Some(before) = before else {
                return Err(not_plannable(format!(
                    "the run record `{}` does not hold the assignment of group `{}` as it was, \
                     so no reversal of it can be checked",
                    run.record, revert.group.name
                )));
            };
            let mut expected = before.profile.clone();
            match &before.organizational_unit {
                Some(ou) => {
                    expected.insert(
                        "organizationalUnit".into(),
                        serde_json::Value::String(ou.clone()),
                    );
                }
                None => {
                    if let Some(slot) = expected.get_mut("organizationalUnit") {
                        *slot = serde_json::Value::Null;
                    }
                }
            }
            if revert.after.organizational_unit != before.organizational_unit {
                return Err(not_plannable(format!(
                    "it puts group `{}` on {}, but the run record says the group had {} before \
                     the run: an undo only goes back to what the record holds",
                    revert.group.name,
                    describe(revert.after.organizational_unit.as_deref()),
                    describe(before.organizational_unit.as_deref())
                )));
            }
            if revert.after.priority != before.priority || revert.after.profile != expected {
                return Err(not_plannable(format!(
                    "the `priority` or `profile` it writes for group `{}` is not the assignment \
                     the run record holds from before the run",
                    revert.group.name
                )));
            }
            if !same_text(
                revert.precondition.organizational_unit.as_deref(),
                written_ou.as_deref(),
            ) {
                return Err(not_plannable(format!(
                    "its precondition expects group `{}` on {}, but the run left it on {}",
                    revert.group.name,
                    describe(revert.precondition.organizational_unit.as_deref()),
                    describe(written_ou.as_deref())
                )));
            }
            if directory.assignment(&revert.group.id).is_none() {
                return Err((
                    RefusalKind::Stale,
                    format!(
                        "group `{}` is no longer assigned to `{}`",
                        revert.group.name, directory.domain
                    ),
                ));
            }
            Ok(())
        }
        ChangeDetails::MappingPropertyRestore(restore) => {
            if !rules::is_dn_key(&restore.key) {
                return Err(not_plannable(format!(
                    "`{}` is not `dn` nor a `dn`-equivalent key: ouguard never touches another \
                     mapping property",
                    restore.key
                )));
            }
            let Some(recorded) = written(&|write| {
                matches!(write, RunWrite::PropertyDeleted { mapping_id, key, .. }
                    if *mapping_id == restore.mapping_id && *key == restore.key)
            }) else {
                return Err(not_in_run(format!(
                    "`{}` of mapping `{}`",
                    restore.key, restore.mapping_id
                )));
            };
            let RunWrite::PropertyDeleted { before, .. } = &recorded.write else {
                return Err(not_in_run("the property".to_string()));
            };
            let as_it_was = before.as_ref().is_some_and(|b| {
                b.expression.as_deref() == Some(restore.expression.as_str())
                    && b.push_status.as_deref() == Some(restore.push_status.as_str())
            });
            if !as_it_was {
                return Err(not_plannable(format!(
                    "it maps `{}` to `{}` (`{}`), but the run record says it was {} before the \
                     run: an undo only goes back to what the record holds",
                    restore.key,
                    crate::text::truncate_for_message(&restore.expression),
                    restore.push_status,
                    before.as_ref().map_or_else(
                        || "not recorded".to_string(),
                        |b| format!(
                            "`{}` (`{}`)",
                            crate::text::truncate_for_message(
                                b.expression.as_deref().unwrap_or("null")
                            ),
                            b.push_status.as_deref().unwrap_or("no pushStatus")
                        )
                    )
                )));
            }
            let Some(mapping) = directory
                .mappings
                .iter()
                .find(|mapping| mapping.id == restore.mapping_id)
            else {
                return Err((
                    RefusalKind::Stale,
                    format!(
                        "`{}` is no longer a To-App mapping of `{}`",
                        restore.mapping_id, directory.domain
                    ),
                ));
            };
            if mapping.source_user_type.name != restore.user_type {
                return Err(not_plannable(format!(
                    "the mapping `{}` maps from user type `{}`, not `{}`",
                    restore.mapping_id, mapping.source_user_type.name, restore.user_type
                )));
            }
            Ok(())
        }
        ChangeDetails::MappingPropertyDelete(delete) => {
            let restored = written(&|write| {
                matches!(write, RunWrite::PropertyRestored { mapping_id, key, expression }
                    if *mapping_id == delete.mapping_id && *key == delete.key
                        && *expression == delete.expression)
            });
            if restored.is_none() {
                return Err(not_in_run(format!(
                    "the delete of `{}` of mapping `{}`",
                    delete.key, delete.mapping_id
                )));
            }
            // Deleting a `dn` mapping is a fix: it must also be one ouguard would plan now.
            check_change(state, findings, plan, change)
        }
        ChangeDetails::GroupTargetOuUpdate(_) | ChangeDetails::ImportOuAdd(_) => {
            Err(not_plannable(
                "an undo plan only reverses the changes of its run; this is not a reversal"
                    .to_string(),
            ))
        }
    }
}

type Refused = (RefusalKind, String);

fn not_plannable(reason: String) -> Refused {
    (RefusalKind::NotPlannable, reason)
}

/// Why one change is not one ouguard would plan now. A change the org already matches (a
/// second apply of the same plan) passes when it is otherwise one ouguard would make.
fn check_change(
    state: &OrgState,
    findings: &HashMap<&str, &Finding>,
    plan: &Plan,
    change: &ResourceChange,
) -> Result<(), Refused> {
    let directory = directory_of(state, change).map_err(not_plannable)?;
    let finding_in_directory = |id: &str| -> Result<Option<&Finding>, Refused> {
        match findings.get(id).copied() {
            None => Ok(None),
            Some(finding) if finding.directory.app_id == directory.app_id => Ok(Some(finding)),
            Some(finding) => Err(not_plannable(format!(
                "the finding `{id}` is about `{}`, not `{}`",
                finding.directory.domain, directory.domain
            ))),
        }
    };
    match &change.details {
        ChangeDetails::ImportOuAdd(add) => {
            let ou = Dn::parse(&add.ou).map_err(|error| {
                not_plannable(format!(
                    "`{}` is not a valid DN ({error})",
                    crate::text::truncate_for_message(&add.ou)
                ))
            })?;
            if !ou.is_in_domain(&directory.domain) {
                return Err(not_plannable(format!(
                    "`{}` is outside the domain `{}`",
                    add.ou, directory.domain
                )));
            }
            let covered_now =
                rules::import_ou_index(directory).is_some_and(|(index, _)| index.covers(&ou));
            if covered_now {
                // Ticked and declared since: nothing left to do, nothing wrong.
                return Ok(());
            }
            let mut targeted = false;
            for id in change.fixed_findings() {
                let Some(finding) = finding_in_directory(id)? else {
                    return Err(gone_group_finding(directory, plan, id));
                };
                if finding.rule != Rule::GroupOuNotImported {
                    return Err(not_plannable(format!(
                        "the finding `{id}` is `{}`: adding an import OU does not fix it",
                        finding.rule
                    )));
                }
                let group_ou = finding.ou.as_deref().and_then(|text| Dn::parse(text).ok());
                match group_ou {
                    Some(group_ou) if group_ou.is_at_or_below(&ou) => {
                        targeted |= group_ou == ou;
                    }
                    _ => {
                        return Err(not_plannable(format!(
                            "the group of finding `{id}` does not target `{}` nor below it now",
                            add.ou
                        )))
                    }
                }
            }
            if targeted {
                Ok(())
            } else {
                Err(not_plannable(format!(
                    "no group of `{}` targets `{}` now",
                    directory.domain, add.ou
                )))
            }
        }
        ChangeDetails::GroupTargetOuUpdate(update) => {
            if !change.also_fixes.is_empty() {
                return Err(not_plannable(
                    "a retarget fixes one group's finding, not several".to_string(),
                ));
            }
            let to = Dn::parse(&update.after).map_err(|error| {
                not_plannable(format!(
                    "the destination `{}` is not a valid DN ({error})",
                    crate::text::truncate_for_message(&update.after)
                ))
            })?;
            if !to.is_in_domain(&directory.domain) {
                return Err(not_plannable(format!(
                    "the destination `{}` is outside the domain `{}`",
                    update.after, directory.domain
                )));
            }
            let Some((index, _)) = rules::import_ou_index(directory) else {
                return Err(not_plannable(format!(
                    "the import OUs of `{}` are not declared in `ouguard.toml`, so no \
                     destination can be checked",
                    directory.domain
                )));
            };
            if !index.covers(&to) {
                return Err(not_plannable(format!(
                    "the destination `{}` is not an import OU of `{}` nor below one: \
                     provisioning there fails with \"Target OU is not an import OU\"",
                    update.after, directory.domain
                )));
            }
            let assignment = directory.assignment(&update.group.id);
            let current = assignment.and_then(|a| a.organizational_unit.as_deref());
            if current
                .and_then(|ou| Dn::parse(ou).ok())
                .is_some_and(|ou| ou == to)
            {
                // Already applied: the write is skipped on the fresh read.
                return Ok(());
            }
            let Some(finding) = finding_in_directory(&change.finding)? else {
                return Err(match assignment {
                    None => (
                        RefusalKind::Stale,
                        format!(
                            "group `{}` is no longer assigned to `{}`",
                            update.group.name, directory.domain
                        ),
                    ),
                    Some(_) if !same_text(current, update.precondition.organizational_unit.as_deref()) => (
                        RefusalKind::Stale,
                        format!(
                            "group `{}` now targets {}, the plan expected {}",
                            update.group.name,
                            describe(current),
                            describe(update.precondition.organizational_unit.as_deref())
                        ),
                    ),
                    Some(_) => not_plannable(format!(
                        "the org has no finding `{}` now: group `{}` targets {}, which needs no fix",
                        change.finding,
                        update.group.name,
                        describe(current)
                    )),
                });
            };
            let fixable_by_retarget = matches!(
                finding.rule,
                Rule::GroupOuNotImported
                    | Rule::GroupOuInvalid
                    | Rule::GroupOuOtherDomain
                    | Rule::GroupOuMissing
            );
            if !fixable_by_retarget {
                return Err(not_plannable(format!(
                    "the finding `{}` is `{}`: a retarget does not fix it",
                    finding.id, finding.rule
                )));
            }
            if finding.group.as_ref().map(|g| g.id.as_str()) != Some(update.group.id.as_str()) {
                return Err(not_plannable(format!(
                    "the finding `{}` is not about group `{}`",
                    finding.id, update.group.id
                )));
            }
            Ok(())
        }
        ChangeDetails::GroupTargetOuRevert(_) | ChangeDetails::MappingPropertyRestore(_) => {
            Err(not_plannable(
                "only a plan that undoes a run reverts or restores, checked against its run \
                 record"
                    .to_string(),
            ))
        }
        ChangeDetails::MappingPropertyDelete(delete) => {
            if !change.also_fixes.is_empty() {
                return Err(not_plannable(
                    "a mapping property delete fixes one finding, not several".to_string(),
                ));
            }
            let Some(mapping) = directory
                .mappings
                .iter()
                .find(|mapping| mapping.id == delete.mapping_id)
            else {
                return Err(not_plannable(format!(
                    "`{}` is not a To-App mapping of `{}` in this org",
                    delete.mapping_id, directory.domain
                )));
            };
            if !rules::is_dn_key(&delete.key) {
                return Err(not_plannable(format!(
                    "`{}` is not `dn` nor a `dn`-equivalent key: ouguard never deletes another \
                     mapping property",
                    delete.key
                )));
            }
            if mapping.source_user_type.name != delete.user_type {
                return Err(not_plannable(format!(
                    "the mapping `{}` maps from user type `{}`, not `{}`",
                    delete.mapping_id, mapping.source_user_type.name, delete.user_type
                )));
            }
            let mapped_now = mapping
                .properties
                .get(&delete.key)
                .is_some_and(|p| p.expression.is_some());
            if !mapped_now {
                // Already applied: the write is skipped on the fresh read.
                return Ok(());
            }
            let finding = finding_in_directory(&change.finding)?;
            let names_this_property = finding.is_some_and(|finding| {
                finding.rule == Rule::DnMapped
                    && finding
                        .mapping
                        .as_ref()
                        .is_some_and(|m| m.id == delete.mapping_id && m.key == delete.key)
            });
            if names_this_property {
                Ok(())
            } else {
                Err(not_plannable(format!(
                    "the finding `{}` is not about `{}` of the mapping `{}`",
                    change.finding, delete.key, delete.mapping_id
                )))
            }
        }
    }
}

/// An import-OU change's finding is gone: stale when its group moved or left, otherwise
/// not one ouguard would plan.
fn gone_group_finding(directory: &Directory, plan: &Plan, id: &str) -> Refused {
    let planned = plan.findings.iter().find(|f| f.id == id);
    let group = planned.and_then(|f| f.group.as_ref());
    let Some(group) = group else {
        return not_plannable(format!("the org has no finding `{id}` now: nothing to fix"));
    };
    let planned_ou = planned.and_then(|f| f.ou.as_deref());
    match directory.assignment(&group.id) {
        None => (
            RefusalKind::Stale,
            format!(
                "group `{}` is no longer assigned to `{}`",
                group.name, directory.domain
            ),
        ),
        Some(assignment) if !same_text(assignment.organizational_unit.as_deref(), planned_ou) => (
            RefusalKind::Stale,
            format!(
                "group `{}` now targets {}, the plan expected {}",
                group.name,
                describe(assignment.organizational_unit.as_deref()),
                describe(planned_ou)
            ),
        ),
        Some(_) => not_plannable(format!("the org has no finding `{id}` now: nothing to fix")),
    }
}

/// Two OUs as read are the same: equal DNs, or equal text when either does not parse.
fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => match (Dn::parse(a), Dn::parse(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
        (a, b) => {
            a.unwrap_or_default().trim().is_empty() && b.unwrap_or_default().trim().is_empty()
        }
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

/// The change's directory in this org: an Active Directory, active, of the stated domain.
fn directory_of<'a>(state: &'a OrgState, change: &ResourceChange) -> Result<&'a Directory, String> {
    let Some(directory) = state
        .directories
        .iter()
        .find(|directory| directory.app_id == change.directory.app_id)
    else {
        return Err(format!(
            "`{}` is not an Active Directory of this org",
            change.directory.app_id
        ));
    };
    if !directory
        .domain
        .eq_ignore_ascii_case(&change.directory.domain)
    {
        return Err(format!(
            "the directory `{}` is `{}`, not `{}`",
            directory.app_id, directory.domain, change.directory.domain
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::plan::GroupTargetOuUpdate;
    use crate::planner::{plan, NoChooser, PlanOptions, RetargetPin, Strategy};

    const MARKETING: &str = "OU=Marketing,DC=corp,DC=example,DC=com";
    const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";

    /// corp: `Marketing` (R1), `Staff` (fine), `Finance` (invalid OU), a `dn` mapping.
    fn state() -> OrgState {
        let mut corp = directory("corp.example.com", Some(&[STAFF]));
        corp.assignments = vec![
            assignment("00g1", "Marketing", Some(MARKETING)),
            assignment("00g2", "Staff", Some(STAFF)),
            assignment(
                "00g3",
                "Finance",
                Some("OU=Finance,,DC=corp,DC=example,DC=com"),
            ),
        ];
        let app_id = corp.app_id.clone();
        corp.mappings.push(mapping(
            "prm1",
            &app_id,
            &[
                ("dn", Some("user.dn")),
                ("firstName", Some("user.firstName")),
            ],
        ));
        org(vec![corp])
    }

    fn planned(state: &OrgState, strategy: Strategy, pins: &[(&str, &str)]) -> Plan {
        let options = PlanOptions {
            strategy,
            pins: pins
                .iter()
                .map(|(group, to)| RetargetPin {
                    directory: None,
                    group: (*group).to_string(),
                    to: (*to).to_string(),
                    origin: "--retarget".to_string(),
                })
                .collect(),
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        plan(state, rules::evaluate(state), &options, &mut NoChooser).expect("plans")
    }

    fn retarget_of<'a>(plan: &'a mut Plan, group: &str) -> &'a mut GroupTargetOuUpdate {
        plan.resource_changes
            .iter_mut()
            .find_map(|c| match &mut c.details {
                ChangeDetails::GroupTargetOuUpdate(u) if u.group.name == group => Some(u),
                _ => None,
            })
            .expect("a retarget")
    }

    fn reasons(state: &OrgState, plan: &Plan) -> Vec<String> {
        recheck(state, plan).into_iter().map(|r| r.reason).collect()
    }

    #[test]
    fn every_plan_ouguard_makes_passes() {
        let state = state();
        for (strategy, pins) in [
            (Strategy::AddOu, vec![]),
            (Strategy::Retarget, vec![("Marketing", STAFF)]),
            (
                Strategy::AddOu,
                vec![("Finance", "OU=Finance,OU=Staff,DC=corp,DC=example,DC=com")],
            ),
        ] {
            let plan = planned(&state, strategy, &pins);
            assert!(plan.has_changes());
            assert_eq!(reasons(&state, &plan), Vec::<String>::new(), "{pins:?}");
        }
    }

    #[test]
    fn a_retarget_ouguard_would_not_plan_is_refused() {
        let state = state();
        let base = planned(&state, Strategy::Retarget, &[("Marketing", STAFF)]);
        type Edit = fn(&mut GroupTargetOuUpdate);
        let cases: &[(Edit, &str)] = &[
            (
                |u| u.after = "OU=Evil,DC=corp,DC=example,DC=com".into(),
                "is not an import OU",
            ),
            (
                |u| u.after = "OU=Staff,DC=emea,DC=example,DC=com".into(),
                "outside the domain",
            ),
            (|u| u.after = "not a DN".into(), "is not a valid DN"),
            (
                |u| {
                    u.group.id = "00g2".into();
                    u.after = "OU=Team,OU=Staff,DC=corp,DC=example,DC=com".into();
                },
                "is not about group `00g2`",
            ),
        ];
        for (edit, expected) in cases {
            let mut plan = base.clone();
            edit(retarget_of(&mut plan, "Marketing"));
            let reasons = reasons(&state, &plan);
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert!(reasons[0].contains(expected), "{reasons:?}");
        }
        // A group without a finding: its change names a finding the org does not have.
        let mut plan = base.clone();
        plan.resource_changes[0].finding = "R1:corp.example.com:00g2".into();
        let update = retarget_of(&mut plan, "Marketing");
        update.group.id = "00g2".into();
        update.after = "OU=Team,OU=Staff,DC=corp,DC=example,DC=com".into();
        assert!(
            reasons(&state, &plan)[0].contains("now targets"),
            "{:?}",
            reasons(&state, &plan)
        );
        // The OU is not covered once the config no longer declares the destination.
        let mut undeclared = state.clone();
        undeclared.directories[0].import_ous = None;
        assert!(!reasons(&undeclared, &base).is_empty());
        // An inactive directory.
        let mut inactive = state.clone();
        inactive.directories[0].status = AppStatus::Inactive;
        assert!(reasons(&inactive, &base)[0].contains("inactive"));
    }

    #[test]
    fn a_mapping_delete_of_another_key_or_mapping_is_refused() {
        let state = state();
        let base = planned(&state, Strategy::AddOu, &[]);
        let position = base
            .resource_changes
            .iter()
            .position(|c| matches!(c.details, ChangeDetails::MappingPropertyDelete(_)))
            .expect("a delete");
        let edit = |f: fn(&mut crate::plan::MappingPropertyDelete)| {
            let mut plan = base.clone();
            if let ChangeDetails::MappingPropertyDelete(d) =
                &mut plan.resource_changes[position].details
            {
                f(d);
            }
            reasons(&state, &plan)
        };
        assert!(edit(|d| d.key = "firstName".into())[0].contains("never deletes another"));
        assert!(edit(|d| d.mapping_id = "prmToOkta".into())[0].contains("is not a To-App mapping"));
        assert!(edit(|d| d.user_type = "contractor".into())[0].contains("maps from user type"));
        // A key no longer mapped is already deleted: nothing to write, nothing refused.
        assert!(edit(|d| d.key = "distinguishedName".into()).is_empty());
        let mut plan = base.clone();
        plan.resource_changes[position].finding = "R1:corp.example.com:00g1".into();
        assert!(reasons(&state, &plan)[0].contains("is not about `dn`"));
    }

    #[test]
    fn an_import_ou_no_group_targets_is_refused() {
        let state = state();
        let mut plan = planned(&state, Strategy::AddOu, &[]);
        let add = plan
            .resource_changes
            .iter_mut()
            .find_map(|c| match &mut c.details {
                ChangeDetails::ImportOuAdd(add) => Some(add),
                _ => None,
            })
            .expect("an add");
        add.ou = "OU=Sales,DC=corp,DC=example,DC=com".into();
        let reasons = reasons(&state, &plan);
        assert!(reasons[0].contains("does not target"), "{reasons:?}");
    }

    #[test]
    fn a_change_named_twice_is_refused() {
        let state = state();
        let mut plan = planned(&state, Strategy::AddOu, &[]);
        let first = plan.resource_changes[0].clone();
        plan.resource_changes.push(first);
        let refusals = recheck(&state, &plan);
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].index, plan.resource_changes.len() - 1);
    }
}
