//! The planner: findings + strategy + pinned destinations + a person's choices → `Plan`.
//! Pure: no I/O, no clock (the caller passes `created_at`), and choices come through the
//! `Chooser` seam so that only the terminal implementation knows `dialoguer`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::dn::{Dn, DnMap, NormalizedDn};
use crate::plan::{
    AssignmentPrecondition, ChangeDetails, GroupTargetOuUpdate, ImportOuAdd, MappingPropertyDelete,
    Plan, ResourceChange, Warning,
};
use crate::rules::{self, Evaluation, Finding, GroupRef, ImportOuIndex, Rule};
use crate::state::{AppStatus, Directory, OrgState};

/// How to fix an R1 finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Ask a person for each finding (a `Chooser`).
    Ask,
    /// Add the group's OU to the directory's import OUs (manual step).
    #[default]
    AddOu,
    /// Retarget the group to a pinned destination.
    Retarget,
}

impl Strategy {
    /// Parses `ask`, `add-ou` or `retarget`.
    pub fn parse(text: &str) -> Result<Strategy, String> {
        match text {
            "ask" => Ok(Strategy::Ask),
            "add-ou" => Ok(Strategy::AddOu),
            "retarget" => Ok(Strategy::Retarget),
            other => Err(format!(
                "`{other}` is not a strategy: use `ask`, `add-ou` or `retarget`"
            )),
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ask => "ask",
            Strategy::AddOu => "add-ou",
            Strategy::Retarget => "retarget",
        }
    }
}

/// A destination named in advance for a group (`--retarget GROUP=DN` or `[[retarget]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetargetPin {
    /// Directory domain or app id; `None` matches any directory.
    pub directory: Option<String>,
    /// Group name or id.
    pub group: String,
    /// The destination OU.
    pub to: String,
    /// Where the pin was written, for messages (`--retarget`, `ouguard.toml line 12`).
    pub origin: String,
}

impl RetargetPin {
    /// Parses `GROUP=DN`, split at the first `=`.
    pub fn parse_flag(text: &str) -> Result<RetargetPin, String> {
        match text.split_once('=') {
            Some((group, to)) if !group.trim().is_empty() && !to.trim().is_empty() => {
                Ok(RetargetPin {
                    directory: None,
                    group: group.trim().to_string(),
                    to: to.trim().to_string(),
                    origin: "--retarget".to_string(),
                })
            }
            _ => Err(format!(
                "`{text}` is not `GROUP=DN`: write e.g. `--retarget Marketing=OU=Staff,DC=corp,DC=example,DC=com`"
            )),
        }
    }

    fn matches(&self, finding: &Finding) -> bool {
        let group_matches = finding
            .group
            .as_ref()
            .is_some_and(|g| g.id == self.group || g.name == self.group);
        let directory_matches = self.directory.as_ref().is_none_or(|d| {
            finding.directory.app_id == *d || finding.directory.domain.eq_ignore_ascii_case(d)
        });
        group_matches && directory_matches
    }
}

/// A `--target` / `--exclude` selector: a directory domain or app id, `group:NAME` (name or
/// id), or a finding id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(pub String);

impl Selector {
    #[must_use]
    pub fn matches(&self, finding: &Finding) -> bool {
        let text = self.0.as_str();
        if let Some(group) = text.strip_prefix("group:") {
            return finding
                .group
                .as_ref()
                .is_some_and(|g| g.name == group || g.id == group);
        }
        finding.id == text
            || finding.directory.app_id == text
            || finding.directory.domain.eq_ignore_ascii_case(text)
    }
}

/// Everything the planner needs besides the state.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub strategy: Strategy,
    pub pins: Vec<RetargetPin>,
    pub targets: Vec<Selector>,
    pub excludes: Vec<Selector>,
    pub org_url: Option<String>,
    /// RFC 3339 timestamp written into the plan; the caller reads the clock.
    pub created_at: String,
}

/// An import OU a finding's group could be retargeted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The import OU as declared.
    pub ou: String,
    /// How many trailing RDNs it shares with the group's current target.
    pub shared_suffix: usize,
}

/// A person's answer for one R1 finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    AddOu,
    Retarget(String),
    Skip,
}

/// The seam through which a person chooses the fix for an R1 finding.
pub trait Chooser {
    /// Chooses for `finding`; `candidates` are ranked best first. An `Err` cancels planning.
    fn choose(&mut self, finding: &Finding, candidates: &[Candidate]) -> Result<Choice, String>;
}

/// A chooser for non-interactive runs: it refuses, since `ask` needs a person.
pub struct NoChooser;

impl Chooser for NoChooser {
    fn choose(&mut self, _finding: &Finding, _candidates: &[Candidate]) -> Result<Choice, String> {
        Err(
            "strategy `ask` needs a terminal: use `--strategy add-ou` or `--strategy retarget` \
             with `--retarget GROUP=DN`"
                .to_string(),
        )
    }
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{}", describe_destination_problems(.0))]
    Destinations(Vec<DestinationProblem>),
    #[error("planning was cancelled: {0}")]
    Cancelled(String),
}

/// One finding whose destination cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationProblem {
    pub finding: String,
    pub group: String,
    pub domain: String,
    pub reason: String,
}

fn describe_destination_problems(problems: &[DestinationProblem]) -> String {
    let mut text = if problems.len() == 1 {
        "1 finding has no usable retarget destination".to_string()
    } else {
        format!(
            "{} findings have no usable retarget destination",
            problems.len()
        )
    };
    for problem in problems {
        text.push_str(&format!(
            "\n  group `{}` in `{}` ({}): {}",
            problem.group, problem.domain, problem.finding, problem.reason
        ));
    }
    text
}

impl fmt::Display for DestinationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group `{}` in `{}`: {}",
            self.group, self.domain, self.reason
        )
    }
}

/// Ranks a directory's import OUs as destinations for a group now targeting `current`:
/// longest shared DN suffix first, then shallower OUs, then by name.
#[must_use]
pub fn rank_candidates(index: &ImportOuIndex, current: &Dn) -> Vec<Candidate> {
    let mut candidates: Vec<(usize, usize, Candidate)> = index
        .ous()
        .iter()
        .map(|ou| {
            let shared = ou.shared_suffix_len(current);
            (
                shared,
                ou.rdns().len(),
                Candidate {
                    ou: ou.to_string(),
                    shared_suffix: shared,
                },
            )
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.2.ou.cmp(&b.2.ou))
    });
    candidates.into_iter().map(|(_, _, c)| c).collect()
}

/// The id of the warning that findings were left out by `--target`/`--exclude`.
pub const FINDINGS_LEFT_OUT: &str = "findings-left-out";

/// Builds the plan. `evaluation` must come from `rules::evaluate(state)`.
pub fn plan(
    state: &OrgState,
    evaluation: Evaluation,
    options: &PlanOptions,
    chooser: &mut dyn Chooser,
) -> Result<Plan, PlanError> {
    let in_scope = |finding: &Finding| {
        (options.targets.is_empty() || options.targets.iter().any(|s| s.matches(finding)))
            && !options.excludes.iter().any(|s| s.matches(finding))
    };
    let total = evaluation.findings.len();
    let findings: Vec<Finding> = evaluation
        .findings
        .into_iter()
        .filter(|f| in_scope(f))
        .collect();
    let left_out = total - findings.len();

    let mut warnings: Vec<Warning> = evaluation.notices.iter().map(Warning::from).collect();
    if left_out > 0 {
        warnings.push(Warning {
            id: FINDINGS_LEFT_OUT.to_string(),
            message: format!(
                "{left_out} finding(s) left out by --target/--exclude: this plan does not fix them"
            ),
        });
    }

    let mut changes: Vec<(usize, ResourceChange)> = Vec::new();
    let mut problems = Vec::new();
    let mut retargeted_domains: BTreeMap<usize, Vec<String>> = BTreeMap::new();

    // The fixable findings of each directory, in the evaluation's order.
    let mut by_directory: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for finding in findings
        .iter()
        .filter(|f| f.rule.is_fixable() || fixed_only_by_a_pin(f.rule))
    {
        by_directory
            .entry(finding.directory.app_id.as_str())
            .or_default()
            .push(finding);
    }
    for (dir_position, directory) in state.directories.iter().enumerate() {
        if directory.status == AppStatus::Inactive {
            continue;
        }
        let Some(dir_findings) = by_directory.remove(directory.app_id.as_str()) else {
            continue;
        };
        let index = rules::import_ou_index(directory).map(|(index, _)| index);
        let mut additions = Additions::default();
        for finding in dir_findings {
            match finding.rule {
                Rule::GroupOuNotImported => {
                    let Some(index) = &index else { continue };
                    let decision = decide_r1(finding, directory, index, options, chooser)?;
                    match decision {
                        Ok(Decision::AddOu(dn, raw)) => {
                            additions.add(dn, raw, finding.id.clone());
                        }
                        Ok(Decision::Retarget(to)) => {
                            changes.push((dir_position, retarget_change(directory, finding, &to)));
                            retargeted_domains
                                .entry(dir_position)
                                .or_default()
                                .push(group_label(finding));
                        }
                        Ok(Decision::Skip) => {}
                        Err(problem) => problems.push(problem),
                    }
                }
                Rule::DnMapped => changes.push((dir_position, mapping_change(directory, finding))),
                Rule::GroupOuInvalid | Rule::GroupOuOtherDomain | Rule::GroupOuMissing => {
                    // Only a destination a person named fixes these: never `add-ou`, never a
                    // guess, never an `ask` question.
                    let Some(pin) = pin_for(finding, directory, options) else {
                        continue;
                    };
                    let checked = match &index {
                        Some(index) => check_destination(&pin.to, &pin.origin, directory, index),
                        None => Err(format!(
                            "destination `{}` ({}) cannot be checked: the import OUs of `{}` \
                             are not declared",
                            crate::text::truncate_for_message(&pin.to),
                            pin.origin,
                            directory.domain
                        )),
                    };
                    match checked {
                        Ok(to) => {
                            changes.push((dir_position, retarget_change(directory, finding, &to)));
                            retargeted_domains
                                .entry(dir_position)
                                .or_default()
                                .push(group_label(finding));
                        }
                        Err(reason) => {
                            problems.push(destination_problem(finding, directory, reason))
                        }
                    }
                }
            }
        }
        for (raw, fixes) in additions.without_covered() {
            let mut fixes = fixes.into_iter();
            let Some(first) = fixes.next() else { continue };
            changes.push((
                dir_position,
                ResourceChange {
                    address: ResourceChange::import_ou_address(&directory.domain, &raw),
                    finding: first,
                    also_fixes: fixes.collect(),
                    directory: rules::DirectoryRef::of(directory),
                    details: ChangeDetails::ImportOuAdd(ImportOuAdd { ou: raw }),
                },
            ));
        }
    }
    if !problems.is_empty() {
        return Err(PlanError::Destinations(problems));
    }

    for (dir_position, groups) in retargeted_domains {
        let domain = &state.directories[dir_position].domain;
        let whose = if groups.len() == 1 {
            "the group's"
        } else {
            "the groups'"
        };
        warnings.push(Warning {
            id: format!("retarget-moves-users:{domain}"),
            message: format!(
                "retargeting {} in `{domain}` moves {whose} existing members to the new OU in AD \
                 when \"Update OU when the group that provisions a user changes\" is on for \
                 that directory",
                groups.join(", ")
            ),
        });
    }

    changes.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.kind().cmp(&b.1.kind()))
            .then_with(|| a.1.address.cmp(&b.1.address))
    });
    let changes = changes.into_iter().map(|(_, change)| change).collect();
    Ok(Plan::new(
        options.org_url.clone(),
        options.created_at.clone(),
        findings,
        warnings,
        changes,
    ))
}

fn group_label(finding: &Finding) -> String {
    finding
        .group
        .as_ref()
        .map_or_else(|| finding.id.clone(), |g| format!("`{}`", g.name))
}

enum Decision {
    AddOu(NormalizedDn, String),
    Retarget(String),
    Skip,
}

/// Decides how to fix one R1 finding. The outer `Err` cancels planning; the inner one is a
/// destination problem reported together with the others.
fn decide_r1(
    finding: &Finding,
    directory: &Directory,
    index: &ImportOuIndex,
    options: &PlanOptions,
    chooser: &mut dyn Chooser,
) -> Result<Result<Decision, DestinationProblem>, PlanError> {
    let raw = finding.ou.clone().unwrap_or_default();
    // R1 is only raised for parsable DNs; nothing to do otherwise. Ranking destinations needs
    // the parsed DN; adding the OU needs only its normalized form.
    let Ok(current) = NormalizedDn::parse(&raw) else {
        return Ok(Ok(Decision::Skip));
    };
    let ranked = || Dn::parse(&raw).map_or_else(|_| Vec::new(), |dn| rank_candidates(index, &dn));
    let problem = |reason: String| destination_problem(finding, directory, reason);
    if let Some(pin) = pin_for(finding, directory, options) {
        return Ok(check_destination(&pin.to, &pin.origin, directory, index)
            .map(Decision::Retarget)
            .map_err(problem));
    }
    match options.strategy {
        Strategy::AddOu => Ok(Ok(Decision::AddOu(current, raw))),
        Strategy::Retarget => Ok(Err(problem(no_destination_reason(&ranked())))),
        Strategy::Ask => {
            let candidates = ranked();
            match chooser.choose(finding, &candidates) {
                Ok(Choice::AddOu) => Ok(Ok(Decision::AddOu(current, raw))),
                Ok(Choice::Skip) => Ok(Ok(Decision::Skip)),
                Ok(Choice::Retarget(to)) => {
                    Ok(check_destination(&to, "your choice", directory, index)
                        .map(Decision::Retarget)
                        .map_err(problem))
                }
                Err(reason) => Err(PlanError::Cancelled(reason)),
            }
        }
    }
}

/// Whether findings of `rule` are fixed only by a pinned destination (`--retarget` or
/// `[[retarget]]`): the group's OU is broken, so neither adding it nor ranking from it works.
fn fixed_only_by_a_pin(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::GroupOuInvalid | Rule::GroupOuOtherDomain | Rule::GroupOuMissing
    )
}

/// The pin naming the finding's group: the one in the directory's domain when several match.
fn pin_for<'a>(
    finding: &Finding,
    directory: &Directory,
    options: &'a PlanOptions,
) -> Option<&'a RetargetPin> {
    let pins: Vec<&RetargetPin> = options.pins.iter().filter(|p| p.matches(finding)).collect();
    pins.iter()
        .find(|p| {
            Dn::parse(&p.to).is_ok_and(|dn| dn.is_in_domain(&directory.domain)) || pins.len() == 1
        })
        .copied()
}

fn destination_problem(
    finding: &Finding,
    directory: &Directory,
    reason: String,
) -> DestinationProblem {
    DestinationProblem {
        finding: finding.id.clone(),
        group: finding
            .group
            .as_ref()
            .map_or_else(String::new, |g| g.name.clone()),
        domain: directory.domain.clone(),
        reason,
    }
}

fn no_destination_reason(candidates: &[Candidate]) -> String {
    if candidates.is_empty() {
        return "strategy `retarget` needs a destination, and the directory has no import OU \
                to retarget to"
            .to_string();
    }
    let listed: Vec<String> = candidates
        .iter()
        .take(5)
        .map(|c| format!("`{}`", c.ou))
        .collect();
    let more = candidates.len().saturating_sub(5);
    format!(
        "strategy `retarget` needs a destination: pass `--retarget GROUP=DN` or add a \
         [[retarget]] entry; candidates, best first: {}{}",
        listed.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// Checks that a destination is a DN of the directory's domain covered by an import OU.
fn check_destination(
    to: &str,
    origin: &str,
    directory: &Directory,
    index: &ImportOuIndex,
) -> Result<String, String> {
    let dn = Dn::parse(to).map_err(|error| {
        format!(
            "destination `{}` ({origin}) is not a valid DN ({error})",
            crate::text::truncate_for_message(to)
        )
    })?;
    if !dn.is_in_domain(&directory.domain) {
        return Err(format!(
            "destination `{to}` ({origin}) is outside the domain `{}`",
            directory.domain
        ));
    }
    if !index.covers(&dn) {
        return Err(format!(
            "destination `{to}` ({origin}) is not an import OU of `{}` nor below one: \
             retargeting there would fail the same way",
            directory.domain
        ));
    }
    Ok(to.to_string())
}

/// The OUs a directory's plan adds: each with its text as first read and the findings it
/// fixes, in the order first met.
#[derive(Default)]
struct Additions {
    list: Vec<(NormalizedDn, String, Vec<String>)>,
    /// Position in `list` by normalized DN.
    by_key: DnMap<usize>,
}

impl Additions {
    /// Adds an OU, merging equal OUs (one change fixes them all).
    fn add(&mut self, dn: NormalizedDn, raw: String, finding: String) {
        if let Some(&position) = self.by_key.get(&dn) {
            self.list[position].2.push(finding);
        } else {
            self.by_key.insert(&dn, self.list.len());
            self.list.push((dn, raw, vec![finding]));
        }
    }

    /// Drops additions that lie below another addition: adding the ancestor covers them, so
    /// their findings move to the ancestor's change. Returns `(OU as read, findings)`.
    fn without_covered(self) -> Vec<(String, Vec<String>)> {
        let Additions { list, by_key } = self;
        let mut moved: HashMap<usize, Vec<String>> = HashMap::new();
        let mut kept: Vec<Option<(String, Vec<String>)>> = Vec::with_capacity(list.len());
        for (dn, raw, fixes) in list {
            // The topmost planned ancestor: it is itself below no other planned OU, so it is
            // kept.
            let depth = dn.depth();
            let ancestor = by_key.at_or_above(&dn).filter(|(d, _)| *d < depth).last();
            match ancestor {
                Some((_, &position)) => {
                    moved.entry(position).or_default().extend(fixes);
                    kept.push(None);
                }
                None => kept.push(Some((raw, fixes))),
            }
        }
        for (position, extra) in moved {
            if let Some(Some((_, fixes))) = kept.get_mut(position) {
                fixes.extend(extra);
            }
        }
        kept.into_iter().flatten().collect()
    }
}

fn retarget_change(directory: &Directory, finding: &Finding, to: &str) -> ResourceChange {
    let group = finding.group.clone().unwrap_or_else(|| GroupRef {
        id: String::new(),
        name: String::new(),
    });
    let assignment = directory.assignment(&group.id);
    let current = finding.ou.clone();
    let last_updated = assignment.map_or_else(String::new, |a| a.last_updated.clone());
    ResourceChange {
        address: ResourceChange::target_ou_address(
            &directory.domain,
            &group_address_name(directory, &group),
        ),
        finding: finding.id.clone(),
        also_fixes: Vec::new(),
        directory: rules::DirectoryRef::of(directory),
        details: ChangeDetails::GroupTargetOuUpdate(GroupTargetOuUpdate {
            group,
            before: current.clone(),
            after: to.to_string(),
            precondition: AssignmentPrecondition {
                last_updated,
                organizational_unit: current,
            },
        }),
    }
}

/// The group's name in addresses; its id is added when two assigned groups share the name.
fn group_address_name(directory: &Directory, group: &GroupRef) -> String {
    let same_name = directory
        .assignments
        .iter()
        .filter(|a| a.group_name == group.name)
        .take(2)
        .count();
    if same_name > 1 || group.name.is_empty() {
        format!("{} ({})", group.name, group.id)
    } else {
        group.name.clone()
    }
}

fn mapping_change(directory: &Directory, finding: &Finding) -> ResourceChange {
    let (mapping_id, user_type, key, expression) =
        finding.mapping.as_ref().map_or_else(Default::default, |m| {
            (
                m.id.clone(),
                m.user_type.clone(),
                m.key.clone(),
                m.expression.clone(),
            )
        });
    ResourceChange {
        address: ResourceChange::mapping_property_address(&directory.domain, &user_type, &key),
        finding: finding.id.clone(),
        also_fixes: Vec::new(),
        directory: rules::DirectoryRef::of(directory),
        details: ChangeDetails::MappingPropertyDelete(MappingPropertyDelete {
            mapping_id,
            user_type,
            key,
            expression,
        }),
    }
}

/// Applies one planned change to an in-memory state, as Okta (or the person, for manual
/// steps) would. Used to predict the state after apply and by the property tests.
pub fn apply_change_in_memory(state: &mut OrgState, change: &ResourceChange) {
    let Some(directory) = state.directory_mut(&change.directory.app_id) else {
        return;
    };
    match &change.details {
        ChangeDetails::ImportOuAdd(add) => {
            let declared = directory
                .import_ous
                .get_or_insert_with(|| crate::state::ImportOus {
                    source: crate::state::ImportOuSource::Snapshot,
                    ous: Vec::new(),
                });
            declared.ous.push(add.ou.clone());
        }
        ChangeDetails::GroupTargetOuUpdate(update) => {
            if let Some(assignment) = directory
                .assignments
                .iter_mut()
                .find(|a| a.group_id == update.group.id)
            {
                assignment.organizational_unit = Some(update.after.clone());
            }
        }
        ChangeDetails::MappingPropertyDelete(delete) => {
            if let Some(mapping) = directory
                .mappings
                .iter_mut()
                .find(|m| m.id == delete.mapping_id)
            {
                mapping.properties.remove(&delete.key);
            }
        }
        ChangeDetails::GroupTargetOuRevert(revert) => {
            if let Some(assignment) = directory
                .assignments
                .iter_mut()
                .find(|a| a.group_id == revert.group.id)
            {
                assignment.organizational_unit = revert.after.organizational_unit.clone();
                assignment.priority = revert.after.priority;
                assignment.other_profile = revert
                    .after
                    .profile
                    .iter()
                    .filter(|(key, _)| key.as_str() != "organizationalUnit")
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
            }
        }
        ChangeDetails::MappingPropertyRestore(restore) => {
            if let Some(mapping) = directory
                .mappings
                .iter_mut()
                .find(|m| m.id == restore.mapping_id)
            {
                mapping.properties.insert(
                    restore.key.clone(),
                    crate::state::MappingProperty {
                        expression: Some(restore.expression.clone()),
                        push_status: Some(restore.push_status.clone()),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::plan::{Action, ChangeKind, Execution};
    use crate::rules::evaluate;
    use serde_json::json;

    const IMPORTS: &[&str] = &[
        "OU=Staff,DC=corp,DC=example,DC=com",
        "OU=Sales,OU=Regions,DC=corp,DC=example,DC=com",
        "OU=Contractors,DC=corp,DC=example,DC=com",
    ];

    fn corp(groups: &[(&str, &str, Option<&str>)]) -> OrgState {
        let mut dir = directory("corp.example.com", Some(IMPORTS));
        for (id, name, ou) in groups {
            dir.assignments.push(assignment(id, name, *ou));
        }
        org(vec![dir])
    }

    fn options(strategy: Strategy) -> PlanOptions {
        PlanOptions {
            strategy,
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        }
    }

    fn pin(group: &str, to: &str) -> RetargetPin {
        RetargetPin {
            directory: None,
            group: group.to_string(),
            to: to.to_string(),
            origin: "--retarget".to_string(),
        }
    }

    fn run(state: &OrgState, options: &PlanOptions) -> Result<Plan, PlanError> {
        plan(state, evaluate(state), options, &mut NoChooser)
    }

    /// A chooser that answers from a script and records what it was offered.
    struct Scripted {
        answers: Vec<Choice>,
        offered: Vec<Vec<Candidate>>,
    }

    impl Chooser for Scripted {
        fn choose(&mut self, _: &Finding, candidates: &[Candidate]) -> Result<Choice, String> {
            self.offered.push(candidates.to_vec());
            if self.answers.is_empty() {
                Err("interrupted".to_string())
            } else {
                Ok(self.answers.remove(0))
            }
        }
    }

    const MARKETING: &str = "OU=Marketing,DC=corp,DC=example,DC=com";

    #[test]
    fn add_ou_plans_a_manual_import_ou() {
        let state = corp(&[("00g1", "Marketing", Some(MARKETING))]);
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        assert_eq!(plan.resource_changes.len(), 1);
        let change = &plan.resource_changes[0];
        assert_eq!(change.kind(), ChangeKind::ImportOu);
        assert_eq!(change.action(), Action::Add);
        assert_eq!(change.execution(), Execution::Manual);
        assert_eq!(change.after_value(), json!({ "ou": MARKETING }));
        assert_eq!(change.finding, "R1:corp.example.com:00g1");
        assert_eq!(plan.summary.manual, 1);
    }

    #[test]
    fn add_ou_merges_equal_and_nested_ous() {
        let state = corp(&[
            ("00g1", "A", Some(MARKETING)),
            ("00g2", "B", Some("ou=marketing, dc=corp,dc=example,dc=com")),
            (
                "00g3",
                "C",
                Some("OU=Web,OU=Marketing,DC=corp,DC=example,DC=com"),
            ),
            ("00g4", "D", Some("OU=Legal,DC=corp,DC=example,DC=com")),
        ]);
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        assert_eq!(plan.resource_changes.len(), 2);
        let marketing = &plan.resource_changes[1];
        assert_eq!(marketing.after_value(), json!({ "ou": MARKETING }));
        let fixed: Vec<&str> = marketing.fixed_findings().collect();
        assert_eq!(
            fixed,
            vec![
                "R1:corp.example.com:00g1",
                "R1:corp.example.com:00g2",
                "R1:corp.example.com:00g3"
            ]
        );
    }

    #[test]
    fn retarget_uses_pins_by_name_or_id() {
        let state = corp(&[
            ("00g1", "Marketing", Some(MARKETING)),
            ("00g2", "Web", Some(MARKETING)),
        ]);
        let mut opts = options(Strategy::Retarget);
        opts.pins = vec![
            pin("Marketing", "OU=Staff,DC=corp,DC=example,DC=com"),
            pin("00g2", "OU=Team,OU=Staff,DC=corp,DC=example,DC=com"),
        ];
        let plan = run(&state, &opts).unwrap();
        assert_eq!(plan.resource_changes.len(), 2);
        for change in &plan.resource_changes {
            assert_eq!(change.kind(), ChangeKind::GroupTargetOu);
            assert_eq!(
                change.before_value(),
                json!({ "organizationalUnit": MARKETING })
            );
            let ChangeDetails::GroupTargetOuUpdate(update) = &change.details else {
                panic!("a retarget");
            };
            assert_eq!(
                update.precondition,
                AssignmentPrecondition {
                    last_updated: crate::fixtures::LAST_UPDATED.to_string(),
                    organizational_unit: Some(MARKETING.to_string()),
                }
            );
        }
        assert_eq!(
            plan.resource_changes[1].after_value(),
            json!({ "organizationalUnit": "OU=Team,OU=Staff,DC=corp,DC=example,DC=com" })
        );
        let moves = plan
            .warnings
            .iter()
            .find(|w| w.id == "retarget-moves-users:corp.example.com")
            .expect("the warning about moving members");
        assert!(
            moves
                .message
                .starts_with("retargeting `Marketing`, `Web` in `corp.example.com` moves the groups' existing members"),
            "{}",
            moves.message
        );
    }

    #[test]
    fn a_pin_wins_over_the_strategy() {
        let state = corp(&[("00g1", "Marketing", Some(MARKETING))]);
        let mut opts = options(Strategy::AddOu);
        opts.pins = vec![pin("Marketing", "OU=Staff,DC=corp,DC=example,DC=com")];
        let plan = run(&state, &opts).unwrap();
        assert_eq!(plan.resource_changes[0].kind(), ChangeKind::GroupTargetOu);
    }

    #[test]
    fn retarget_without_destination_lists_ranked_candidates() {
        let state = corp(&[(
            "00g1",
            "Marketing",
            Some("OU=Web,OU=Regions,DC=corp,DC=example,DC=com"),
        )]);
        let error = run(&state, &options(Strategy::Retarget)).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("1 finding has no usable retarget destination"),
            "{text}"
        );
        let sales = text.find("OU=Sales,OU=Regions").unwrap();
        let staff = text.find("OU=Staff,DC=corp").unwrap();
        assert!(
            sales < staff,
            "the candidate sharing OU=Regions ranks first: {text}"
        );
    }

    #[test]
    fn destinations_not_covered_or_in_another_domain_are_refused() {
        let state = corp(&[("00g1", "Marketing", Some(MARKETING))]);
        for (to, expected) in [
            ("OU=Legal,DC=corp,DC=example,DC=com", "not an import OU"),
            ("OU=Staff,DC=emea,DC=example,DC=com", "outside the domain"),
            ("OU=Staff,,DC=corp", "not a valid DN"),
        ] {
            let mut opts = options(Strategy::Retarget);
            opts.pins = vec![pin("Marketing", to)];
            let text = run(&state, &opts).unwrap_err().to_string();
            assert!(text.contains(expected), "{to}: {text}");
        }
    }

    #[test]
    fn ask_offers_ranked_candidates_and_follows_answers() {
        let state = corp(&[
            (
                "00g1",
                "A",
                Some("OU=Web,OU=Regions,DC=corp,DC=example,DC=com"),
            ),
            ("00g2", "B", Some(MARKETING)),
            ("00g3", "C", Some("OU=Legal,DC=corp,DC=example,DC=com")),
        ]);
        let mut chooser = Scripted {
            answers: vec![
                Choice::Retarget("OU=Sales,OU=Regions,DC=corp,DC=example,DC=com".into()),
                Choice::AddOu,
                Choice::Skip,
            ],
            offered: vec![],
        };
        let plan = plan(
            &state,
            evaluate(&state),
            &options(Strategy::Ask),
            &mut chooser,
        )
        .unwrap();
        assert_eq!(chooser.offered.len(), 3);
        assert_eq!(
            chooser.offered[0][0].ou,
            "OU=Sales,OU=Regions,DC=corp,DC=example,DC=com"
        );
        assert_eq!(chooser.offered[0][0].shared_suffix, 4);
        let kinds: Vec<_> = plan
            .resource_changes
            .iter()
            .map(ResourceChange::kind)
            .collect();
        assert_eq!(kinds, vec![ChangeKind::ImportOu, ChangeKind::GroupTargetOu]);
        assert_eq!(plan.findings.len(), 3, "skipped findings stay in the plan");
    }

    #[test]
    fn ask_refuses_an_uncovered_choice_and_cancels_on_interrupt() {
        let state = corp(&[("00g1", "A", Some(MARKETING))]);
        let mut chooser = Scripted {
            answers: vec![Choice::Retarget(
                "OU=Legal,DC=corp,DC=example,DC=com".into(),
            )],
            offered: vec![],
        };
        let error = plan(
            &state,
            evaluate(&state),
            &options(Strategy::Ask),
            &mut chooser,
        )
        .unwrap_err();
        assert!(matches!(error, PlanError::Destinations(_)));
        let mut chooser = Scripted {
            answers: vec![],
            offered: vec![],
        };
        let error = plan(
            &state,
            evaluate(&state),
            &options(Strategy::Ask),
            &mut chooser,
        )
        .unwrap_err();
        assert_eq!(error, PlanError::Cancelled("interrupted".into()));
        assert!(
            run(&state, &options(Strategy::Ask)).is_err(),
            "ask without a person is refused"
        );
    }

    #[test]
    fn dn_mappings_are_deleted() {
        let mut state = corp(&[]);
        let app_id = state.directories[0].app_id.clone();
        state.directories[0].mappings.push(mapping(
            "prm1",
            &app_id,
            &[("dn", Some("user.dn")), ("cn", Some("user.login"))],
        ));
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        assert_eq!(plan.resource_changes.len(), 1);
        let change = &plan.resource_changes[0];
        assert_eq!(change.kind(), ChangeKind::MappingProperty);
        assert_eq!(change.action(), Action::Delete);
        let ChangeDetails::MappingPropertyDelete(delete) = &change.details else {
            panic!("a mapping delete");
        };
        assert_eq!(delete.mapping_id, "prm1");
        assert_eq!(
            change.before_value(),
            json!({ "key": "dn", "expression": "user.dn" })
        );
        assert_eq!(change.after_value(), serde_json::Value::Null);
        assert_eq!(
            change.address,
            r#"directory["corp.example.com"].mapping["user"].property["dn"]"#
        );
    }

    #[test]
    fn inactive_directories_and_related_findings_get_no_change() {
        let mut state = corp(&[
            ("00g1", "A", Some(MARKETING)),
            ("00g2", "B", None),
            ("00g3", "C", Some("garbage")),
        ]);
        let plan_active = run(&state, &options(Strategy::AddOu)).unwrap();
        assert_eq!(plan_active.resource_changes.len(), 1);
        state.directories[0].status = AppStatus::Inactive;
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        assert!(plan.resource_changes.is_empty());
        assert_eq!(plan.findings.len(), 3);
    }

    #[test]
    fn selectors_narrow_the_plan() {
        let mut state = corp(&[
            ("00g1", "A", Some(MARKETING)),
            ("00g2", "B", Some(MARKETING)),
        ]);
        let mut emea = directory("emea.example.com", Some(&[]));
        emea.assignments.push(assignment(
            "00g9",
            "Z",
            Some("OU=X,DC=emea,DC=example,DC=com"),
        ));
        state.directories.push(emea);
        let count = |targets: &[&str], excludes: &[&str]| {
            let mut opts = options(Strategy::AddOu);
            opts.targets = targets.iter().map(|s| Selector((*s).to_string())).collect();
            opts.excludes = excludes
                .iter()
                .map(|s| Selector((*s).to_string()))
                .collect();
            run(&state, &opts).unwrap().findings.len()
        };
        assert_eq!(count(&[], &[]), 3);
        assert_eq!(count(&["emea.example.com"], &[]), 1);
        assert_eq!(count(&["group:A"], &[]), 1);
        assert_eq!(count(&["R1:corp.example.com:00g2"], &[]), 1);
        assert_eq!(count(&[], &["corp.example.com"]), 1);
        assert_eq!(count(&["corp.example.com"], &["group:00g1"]), 1);
    }

    #[test]
    fn nothing_to_do_is_an_empty_plan() {
        let state = corp(&[("00g1", "A", Some("OU=Staff,DC=corp,DC=example,DC=com"))]);
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        assert!(!plan.has_changes());
        assert!(plan.findings.is_empty());
    }

    #[test]
    fn flag_pins_parse_at_the_first_equals() {
        let pin = RetargetPin::parse_flag("Marketing=OU=Staff,DC=corp").unwrap();
        assert_eq!(pin.group, "Marketing");
        assert_eq!(pin.to, "OU=Staff,DC=corp");
        assert!(RetargetPin::parse_flag("Marketing").is_err());
        assert!(RetargetPin::parse_flag("=OU=x").is_err());
    }

    #[test]
    fn applying_a_plan_in_memory_clears_its_findings() {
        let mut state = corp(&[
            ("00g1", "A", Some(MARKETING)),
            (
                "00g2",
                "B",
                Some("OU=Web,OU=Marketing,DC=corp,DC=example,DC=com"),
            ),
        ]);
        let app_id = state.directories[0].app_id.clone();
        state.directories[0]
            .mappings
            .push(mapping("prm1", &app_id, &[("dn", Some("x"))]));
        let plan = run(&state, &options(Strategy::AddOu)).unwrap();
        for change in &plan.resource_changes {
            apply_change_in_memory(&mut state, change);
        }
        assert!(evaluate(&state).findings.is_empty());
        assert!(!run(&state, &options(Strategy::AddOu))
            .unwrap()
            .has_changes());
    }

    /// Item 8: a pin fixes a group whose OU is invalid, in another domain or missing; nothing
    /// else does (not `add-ou`, not `retarget` without a pin, not an `ask` question).
    #[test]
    fn pins_fix_invalid_other_domain_and_missing_ous_and_nothing_else_does() {
        let state = corp(&[
            (
                "00g1",
                "Broken",
                Some("OU=Sales,,DC=corp,DC=example,DC=com"),
            ),
            ("00g2", "Emea", Some("OU=Staff,DC=emea,DC=example,DC=com")),
            ("00g3", "NoOu", None),
        ]);
        for strategy in [Strategy::AddOu, Strategy::Retarget] {
            let plan = run(&state, &options(strategy)).unwrap();
            assert!(!plan.has_changes(), "{strategy:?}");
        }
        let mut asked = Scripted {
            answers: vec![],
            offered: vec![],
        };
        let plan = plan(
            &state,
            evaluate(&state),
            &options(Strategy::Ask),
            &mut asked,
        )
        .unwrap();
        assert!(!plan.has_changes());
        assert!(asked.offered.is_empty(), "never asked about a broken OU");

        let mut opts = options(Strategy::AddOu);
        opts.pins = vec![
            pin("Broken", "OU=Sales,OU=Regions,DC=corp,DC=example,DC=com"),
            pin("Emea", "OU=Staff,DC=corp,DC=example,DC=com"),
            pin("NoOu", "OU=Contractors,DC=corp,DC=example,DC=com"),
        ];
        let plan = run(&state, &opts).unwrap();
        let fixed: Vec<&str> = plan
            .resource_changes
            .iter()
            .map(|c| c.finding.as_str())
            .collect();
        assert_eq!(
            fixed,
            vec![
                "R1-invalid:corp.example.com:00g1",
                "R1-other-domain:corp.example.com:00g2",
                "R1-missing:corp.example.com:00g3"
            ]
        );
        let ChangeDetails::GroupTargetOuUpdate(missing) = &plan.resource_changes[2].details else {
            panic!("a retarget");
        };
        assert_eq!(missing.before, None);
        assert_eq!(missing.precondition.organizational_unit, None);
        // The document loads back (a null OU is the missing one).
        assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);

        // A pin to an OU no import OU covers is a destination problem, as for R1.
        opts.pins = vec![pin("NoOu", "OU=Nowhere,DC=corp,DC=example,DC=com")];
        assert!(matches!(run(&state, &opts), Err(PlanError::Destinations(p)) if p.len() == 1));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::{any, prop_assert, proptest, ProptestConfig, Strategy as _};
    use proptest::strategy::BoxedStrategy;

    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::rules::evaluate;

    const DOMAINS: &[&str] = &["corp.example.com", "emea.example.com", "example.org"];
    const OU_PATHS: &[&str] = &[
        "OU=Staff",
        "OU=Sales,OU=Staff",
        "OU=Marketing",
        "OU=Web,OU=Marketing",
        "ou=marketing ",
        "OU=Contractors",
        "OU=A\\,B",
        "OU=Zürich,OU=Regions",
        "OU=Regions",
        "CN=Users",
    ];

    fn domain_dn(domain: &str) -> String {
        domain
            .split('.')
            .map(|p| format!("DC={p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A group's OU: in the directory's domain, in another one, invalid, or missing.
    fn group_ou() -> BoxedStrategy<(usize, u8, usize)> {
        (0..OU_PATHS.len(), 0u8..10, 0..DOMAINS.len()).boxed()
    }

    fn org_state() -> BoxedStrategy<OrgState> {
        let directory_strategy = (
            0..DOMAINS.len(),
            proptest::option::weighted(0.85, proptest::collection::vec(0..OU_PATHS.len(), 0..4)),
            proptest::collection::vec(group_ou(), 0..12),
            proptest::collection::vec((0u8..4, proptest::option::of("[a-z.]{1,8}")), 0..4),
            any::<bool>(),
        );
        proptest::collection::vec(directory_strategy, 1..4)
            .prop_map(|dirs| {
                let mut seen = std::collections::HashSet::new();
                let mut directories = Vec::new();
                for (d, imports, groups, props, inactive) in dirs {
                    let domain = DOMAINS[d];
                    if !seen.insert(domain) {
                        continue;
                    }
                    let base = domain_dn(domain);
                    let import_ous: Option<Vec<String>> = imports.map(|ous| {
                        ous.iter()
                            .map(|i| format!("{},{base}", OU_PATHS[*i]))
                            .collect()
                    });
                    let refs: Option<Vec<&str>> = import_ous
                        .as_ref()
                        .map(|v| v.iter().map(String::as_str).collect());
                    let mut dir = directory(domain, refs.as_deref());
                    if inactive {
                        dir.status = AppStatus::Inactive;
                    }
                    for (n, (ou, kind, other)) in groups.into_iter().enumerate() {
                        let value = match kind {
                            0 => None,
                            1 => Some(format!("{},,{base}", OU_PATHS[ou])),
                            2 => Some(format!("{},{}", OU_PATHS[ou], domain_dn(DOMAINS[other]))),
                            _ => Some(format!("{},{base}", OU_PATHS[ou])),
                        };
                        dir.assignments.push(assignment(
                            &format!("00g{d}x{n}"),
                            &format!("G{n}"),
                            value.as_deref(),
                        ));
                    }
                    let keys = ["dn", "distinguishedName", "cn", "DN"];
                    let properties: Vec<(&str, Option<&str>)> = props
                        .iter()
                        .map(|(k, e)| (keys[*k as usize], e.as_deref()))
                        .collect();
                    let app_id = dir.app_id.clone();
                    let mut unique = properties.clone();
                    unique.sort_by_key(|p| p.0);
                    unique.dedup_by_key(|p| p.0);
                    dir.mappings
                        .push(mapping(&format!("prm{d}"), &app_id, &unique));
                    directories.push(dir);
                }
                org(directories)
            })
            .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn an_applied_add_ou_plan_leaves_no_r1_or_r2_finding(mut state in org_state()) {
            let options = PlanOptions {
                strategy: Strategy::AddOu,
                created_at: "2026-11-29T18:00:00Z".to_string(),
                ..PlanOptions::default()
            };
            let first = plan(&state, evaluate(&state), &options, &mut NoChooser).unwrap();
            for change in &first.resource_changes {
                apply_change_in_memory(&mut state, change);
            }
            let after = evaluate(&state);
            let active = |f: &&Finding| {
                state.directory(&f.directory.app_id).is_some_and(|d| d.status == AppStatus::Active)
            };
            let left: Vec<&Finding> = after
                .findings
                .iter()
                .filter(|f| f.rule.is_fixable())
                .filter(active)
                .collect();
            prop_assert!(left.is_empty(), "left: {:?}", left);
            let second = plan(&state, after, &options, &mut NoChooser).unwrap();
            prop_assert!(!second.has_changes(), "second plan: {:?}", second.resource_changes);
        }
    }
}
