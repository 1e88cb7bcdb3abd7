//! The planner: findings + strategy + pinned destinations + a person's choices → `Plan`.
//! Pure: no I/O, no clock (the caller passes `created_at`), and choices come through the
//! `Chooser` seam so that only the terminal implementation knows `dialoguer`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde_json::json;

use crate::dn::Dn;
use crate::plan::{Action, ChangeKind, Execution, Plan, ResourceChange, Warning};
use crate::rules::{self, Evaluation, Finding, GroupRef, ImportOuIndex, Notice, NoticeKind, Rule};
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

/// Quotes a value inside a plan address.
fn quoted(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

/// Builds the plan. `evaluation` must come from `rules::evaluate(state)`.
pub fn plan(
    state: &OrgState,
    evaluation: &Evaluation,
    options: &PlanOptions,
    chooser: &mut dyn Chooser,
) -> Result<Plan, PlanError> {
    let in_scope = |finding: &Finding| {
        (options.targets.is_empty() || options.targets.iter().any(|s| s.matches(finding)))
            && !options.excludes.iter().any(|s| s.matches(finding))
    };
    let findings: Vec<Finding> = evaluation
        .findings
        .iter()
        .filter(|f| in_scope(f))
        .cloned()
        .collect();
    let left_out = evaluation.findings.len() - findings.len();

    let mut warnings: Vec<Warning> = evaluation.notices.iter().map(Warning::from).collect();
    if left_out > 0 {
        warnings.push(Warning {
            id: "findings-left-out".to_string(),
            message: format!(
                "{left_out} finding(s) left out by --target/--exclude: this plan does not fix them"
            ),
        });
    }

    let mut changes: Vec<(usize, ResourceChange)> = Vec::new();
    let mut problems = Vec::new();
    let mut retargeted_domains: BTreeMap<usize, Vec<String>> = BTreeMap::new();

    for (dir_position, directory) in state.directories.iter().enumerate() {
        if directory.status == AppStatus::Inactive {
            continue;
        }
        let dir_findings: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.directory.app_id == directory.app_id && f.rule.is_fixable())
            .collect();
        if dir_findings.is_empty() {
            continue;
        }
        let index = rules::import_ou_index(directory).map(|(index, _)| index);
        let mut additions: Vec<(Dn, String, Vec<String>)> = Vec::new();
        for finding in dir_findings {
            match finding.rule {
                Rule::GroupOuNotImported => {
                    let Some(index) = &index else { continue };
                    let decision = decide_r1(finding, directory, index, options, chooser)?;
                    match decision {
                        Ok(Decision::AddOu(dn, raw)) => {
                            add_ou_once(&mut additions, dn, raw, finding.id.clone());
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
                _ => {}
            }
        }
        for (_, raw, fixes) in drop_covered_additions(additions) {
            let mut fixes = fixes.into_iter();
            let Some(first) = fixes.next() else { continue };
            changes.push((
                dir_position,
                ResourceChange {
                    address: format!(
                        "directory[{}].import_ou[{}]",
                        quoted(&directory.domain),
                        quoted(&raw)
                    ),
                    kind: ChangeKind::ImportOu,
                    action: Action::Add,
                    execution: Execution::Manual,
                    finding: first,
                    also_fixes: fixes.collect(),
                    directory: rules::DirectoryRef::of(directory),
                    group: None,
                    mapping_id: None,
                    before: None,
                    after: Some(json!({ "ou": raw })),
                    precondition: None,
                },
            ));
        }
    }
    if !problems.is_empty() {
        return Err(PlanError::Destinations(problems));
    }

    for (dir_position, groups) in retargeted_domains {
        let domain = &state.directories[dir_position].domain;
        warnings.push(Warning {
            id: format!("retarget-moves-users:{domain}"),
            message: format!(
                "retargeting {} in `{domain}` moves the groups' existing members to the new OU \
                 in AD when \"Update OU when the group that provisions a user changes\" is on \
                 for that directory",
                groups.join(", ")
            ),
        });
    }

    changes.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.kind.cmp(&b.1.kind))
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
    AddOu(Dn, String),
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
    let Ok(current) = Dn::parse(&raw) else {
        // R1 is only raised for parsable DNs; nothing to do otherwise.
        return Ok(Ok(Decision::Skip));
    };
    let problem = |reason: String| DestinationProblem {
        finding: finding.id.clone(),
        group: finding
            .group
            .as_ref()
            .map_or_else(String::new, |g| g.name.clone()),
        domain: directory.domain.clone(),
        reason,
    };
    let pins: Vec<&RetargetPin> = options.pins.iter().filter(|p| p.matches(finding)).collect();
    if let Some(pin) = pins.iter().find(|p| {
        Dn::parse(&p.to).is_ok_and(|dn| dn.is_in_domain(&directory.domain)) || pins.len() == 1
    }) {
        return Ok(check_destination(&pin.to, &pin.origin, directory, index)
            .map(Decision::Retarget)
            .map_err(problem));
    }
    match options.strategy {
        Strategy::AddOu => Ok(Ok(Decision::AddOu(current, raw))),
        Strategy::Retarget => {
            let candidates = rank_candidates(index, &current);
            Ok(Err(problem(no_destination_reason(&candidates))))
        }
        Strategy::Ask => {
            let candidates = rank_candidates(index, &current);
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
            rules::truncate_for_message(to)
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

/// Adds an OU to the directory's additions, merging equal OUs (one change fixes them all).
fn add_ou_once(
    additions: &mut Vec<(Dn, String, Vec<String>)>,
    dn: Dn,
    raw: String,
    finding: String,
) {
    if let Some(existing) = additions.iter_mut().find(|(d, _, _)| *d == dn) {
        existing.2.push(finding);
    } else {
        additions.push((dn, raw, vec![finding]));
    }
}

/// Drops additions that lie below another addition: adding the ancestor covers them, so
/// their findings move to the ancestor's change.
fn drop_covered_additions(
    additions: Vec<(Dn, String, Vec<String>)>,
) -> Vec<(Dn, String, Vec<String>)> {
    let keys: HashSet<String> = additions.iter().map(|(dn, _, _)| dn.normalized()).collect();
    let mut kept: Vec<(Dn, String, Vec<String>)> = Vec::new();
    let mut moved: HashMap<String, Vec<String>> = HashMap::new();
    for (dn, raw, fixes) in additions {
        let own = dn.normalized();
        let ancestor = dn
            .suffix_keys()
            .skip(1)
            .filter(|key| keys.contains(*key))
            .last()
            .map(str::to_string);
        match ancestor {
            Some(ancestor) if ancestor != own => moved.entry(ancestor).or_default().extend(fixes),
            _ => kept.push((dn, raw, fixes)),
        }
    }
    for (dn, _, fixes) in &mut kept {
        if let Some(extra) = moved.remove(&dn.normalized()) {
            fixes.extend(extra);
        }
    }
    kept
}

fn retarget_change(directory: &Directory, finding: &Finding, to: &str) -> ResourceChange {
    let group = finding.group.clone().unwrap_or_else(|| GroupRef {
        id: String::new(),
        name: String::new(),
    });
    let assignment = directory.assignment(&group.id);
    let current = finding.ou.clone().unwrap_or_default();
    let last_updated = assignment.map_or_else(String::new, |a| a.last_updated.clone());
    ResourceChange {
        address: format!(
            "directory[{}].group[{}].target_ou",
            quoted(&directory.domain),
            quoted(&group_address_name(directory, &group))
        ),
        kind: ChangeKind::GroupTargetOu,
        action: Action::Update,
        execution: Execution::Api,
        finding: finding.id.clone(),
        also_fixes: Vec::new(),
        directory: rules::DirectoryRef::of(directory),
        group: Some(group),
        mapping_id: None,
        before: Some(json!({ "organizationalUnit": current })),
        after: Some(json!({ "organizationalUnit": to })),
        precondition: Some(json!({
            "lastUpdated": last_updated,
            "organizationalUnit": current,
        })),
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
        address: format!(
            "directory[{}].mapping[{}].property[{}]",
            quoted(&directory.domain),
            quoted(&user_type),
            quoted(&key)
        ),
        kind: ChangeKind::MappingProperty,
        action: Action::Delete,
        execution: Execution::Api,
        finding: finding.id.clone(),
        also_fixes: Vec::new(),
        directory: rules::DirectoryRef::of(directory),
        group: None,
        mapping_id: Some(mapping_id),
        before: Some(json!({ "key": key, "expression": expression })),
        after: None,
        precondition: Some(json!({ "key": key, "expression": expression })),
    }
}

/// Applies one planned change to an in-memory state, as Okta (or the person, for manual
/// steps) would. Used to predict the state after apply and by the property tests.
pub fn apply_change_in_memory(state: &mut OrgState, change: &ResourceChange) {
    let Some(directory) = state.directory_mut(&change.directory.app_id) else {
        return;
    };
    let value_of = |side: &Option<serde_json::Value>, key: &str| {
        side.as_ref()
            .and_then(|v| v.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    match change.kind {
        ChangeKind::ImportOu => {
            if let Some(ou) = value_of(&change.after, "ou") {
                let declared =
                    directory
                        .import_ous
                        .get_or_insert_with(|| crate::state::ImportOus {
                            source: crate::state::ImportOuSource::Snapshot,
                            ous: Vec::new(),
                        });
                declared.ous.push(ou);
            }
        }
        ChangeKind::GroupTargetOu => {
            let Some(group) = &change.group else { return };
            let to = value_of(&change.after, "organizationalUnit");
            if let Some(assignment) = directory
                .assignments
                .iter_mut()
                .find(|a| a.group_id == group.id)
            {
                assignment.organizational_unit = to;
            }
        }
        ChangeKind::MappingProperty => {
            let key = value_of(&change.before, "key");
            if let (Some(mapping_id), Some(key)) = (&change.mapping_id, key) {
                if let Some(mapping) = directory.mappings.iter_mut().find(|m| &m.id == mapping_id) {
                    mapping.properties.remove(&key);
                }
            }
        }
    }
}

/// Notices of one kind, for callers that branch on them.
#[must_use]
pub fn notices_of(evaluation: &Evaluation, kind: NoticeKind) -> Vec<&Notice> {
    evaluation
        .notices
        .iter()
        .filter(|n| n.kind == kind)
        .collect()
}
