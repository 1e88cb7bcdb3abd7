//! The rules: evaluate an `OrgState` and report findings (R1 `group-ou-not-imported`, R2
//! `dn-mapped` and the related OU findings) and notices. Pure: no I/O, no clock, no prompts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dn::{Dn, DnMap, DomainKeys, NormalizedDn};
use crate::state::{AppStatus, Directory, OrgState};
use crate::text::truncate_for_message;

/// The kind of a finding, as named in plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// R1: the group's target OU is not one of the directory's import OUs nor below one.
    GroupOuNotImported,
    /// R2: a To-App mapping maps `dn` (`distinguishedName`).
    DnMapped,
    /// The group's target OU is not a parsable DN.
    GroupOuInvalid,
    /// The group's target OU lies outside the directory's domain.
    GroupOuOtherDomain,
    /// The group is assigned to the directory without a target OU.
    GroupOuMissing,
}

impl Rule {
    /// The rule's name as written in plans (`group-ou-not-imported`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Rule::GroupOuNotImported => "group-ou-not-imported",
            Rule::DnMapped => "dn-mapped",
            Rule::GroupOuInvalid => "group-ou-invalid",
            Rule::GroupOuOtherDomain => "group-ou-other-domain",
            Rule::GroupOuMissing => "group-ou-missing",
        }
    }

    /// The prefix of the stable finding id.
    fn id_prefix(self) -> &'static str {
        match self {
            Rule::GroupOuNotImported => "R1",
            Rule::DnMapped => "R2",
            Rule::GroupOuInvalid => "R1-invalid",
            Rule::GroupOuOtherDomain => "R1-other-domain",
            Rule::GroupOuMissing => "R1-missing",
        }
    }

    /// Whether ouguard can plan a fix for findings of this rule.
    #[must_use]
    pub fn is_fixable(self) -> bool {
        matches!(self, Rule::GroupOuNotImported | Rule::DnMapped)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A directory as named in findings and plans.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryRef {
    pub app_id: String,
    pub domain: String,
}

impl DirectoryRef {
    #[must_use]
    pub fn of(directory: &Directory) -> Self {
        DirectoryRef {
            app_id: directory.app_id.clone(),
            domain: directory.domain.clone(),
        }
    }
}

/// A group as named in findings and plans.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// A mapping property as named in R2 findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRef {
    pub id: String,
    pub user_type: String,
    pub key: String,
    pub expression: String,
}

/// One violation (or related problem) found in the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable id: `R1:<domain>:<group id>`, `R2:<domain>:<mapping id>:<key>`,
    /// `R1-invalid:…`, `R1-other-domain:…`, `R1-missing:…`.
    pub id: String,
    pub rule: Rule,
    pub directory: DirectoryRef,
    #[serde(default)]
    pub group: Option<GroupRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingRef>,
    /// The group's target OU exactly as read (group findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ou: Option<String>,
    pub message: String,
    /// Who fails because of it, and whether it is likely false (`plan --evidence` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::FindingEvidence>,
}

/// Something the plan must say that is not a violation: what could not be checked, or why a
/// finding will not be fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id, e.g. `import-ous-undeclared:corp.example.com`.
    pub id: String,
    pub kind: NoticeKind,
    pub directory: DirectoryRef,
    pub message: String,
}

/// The kinds of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// No import OUs declared: R1 was not evaluated for the directory.
    ImportOusUndeclared,
    /// A declared import OU is not a DN of the directory's domain; it is ignored.
    ImportOuInvalid,
    /// The directory is inactive: its findings are reported, no change is planned.
    DirectoryInactive,
    /// Profile mappings could not be read: R2 was not evaluated for the directory.
    MappingsUnavailable,
}

/// The result of evaluating the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub notices: Vec<Notice>,
}

/// The import OUs of one directory, answering "is this DN at or below one of them".
#[derive(Debug, Clone, Default)]
pub struct ImportOuIndex {
    /// The valid import OUs, as declared.
    declared: Vec<String>,
    /// The normalized form of each import OU: a lookup per import-OU depth of every
    /// assignment, linear in the assignment's length however deep its OU is.
    keys: DnMap<()>,
    /// `declared`, parsed, built the first time ranking destinations asks for it.
    parsed: std::sync::OnceLock<Vec<Dn>>,
}

impl ImportOuIndex {
    /// The import OUs, parsed, in declared order.
    #[must_use]
    pub fn ous(&self) -> &[Dn] {
        self.parsed.get_or_init(|| {
            // Every declared OU here already parsed once: nothing is dropped.
            self.declared
                .iter()
                .filter_map(|raw| Dn::parse(raw).ok())
                .collect()
        })
    }

    /// `true` when `dn` equals an import OU or lies below one.
    #[must_use]
    pub fn covers(&self, dn: &Dn) -> bool {
        self.covers_normalized(&NormalizedDn::of(dn))
    }

    /// [`Self::covers`] for a DN kept in normalized form.
    #[must_use]
    pub fn covers_normalized(&self, dn: &NormalizedDn) -> bool {
        self.keys.at_or_above(dn).next().is_some()
    }
}

/// Parses a directory's declared import OUs: the valid ones in the directory's domain, and
/// a notice for each one that is not.
#[must_use]
pub fn import_ou_index(directory: &Directory) -> Option<(ImportOuIndex, Vec<Notice>)> {
    let declared = directory.import_ous.as_ref()?;
    let domain_keys = DomainKeys::new(&directory.domain);
    let mut index = ImportOuIndex::default();
    let mut notices = Vec::new();
    let mut dn = NormalizedDn::default();
    for (position, raw) in declared.ous.iter().enumerate() {
        let problem = match dn.parse_into(raw) {
            Ok(()) if dn.is_in_domain(&domain_keys) => {
                index.keys.insert(&dn, ());
                index.declared.push(raw.clone());
                continue;
            }
            Ok(()) => format!("is not in the domain `{}`", directory.domain),
            Err(error) => format!("is not a valid DN ({error})"),
        };
        notices.push(Notice {
            id: format!("import-ou-invalid:{}:{position}", directory.domain),
            kind: NoticeKind::ImportOuInvalid,
            directory: DirectoryRef::of(directory),
            message: format!(
                "declared import OU `{}` {problem}; it is ignored",
                truncate_for_message(raw)
            ),
        });
    }
    Some((index, notices))
}

/// `true` when a To-App mapping key names the distinguished name.
#[must_use]
pub fn is_dn_key(key: &str) -> bool {
    key == "dn" || key.eq_ignore_ascii_case("distinguishedName")
}

/// Evaluates every rule on every directory.
#[must_use]
///
/// Directories are independent, so a large org is split into contiguous runs of directories
/// evaluated on scoped threads (one per core); the result is the same, in the same order, as
/// evaluating them one after another. Small orgs stay on the caller's thread.
pub fn evaluate(state: &OrgState) -> Evaluation {
    const PARALLEL_FROM_ASSIGNMENTS: usize = 20_000;
    let assignments: usize = state.directories.iter().map(|d| d.assignments.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(state.directories.len());
    if threads <= 1 || assignments < PARALLEL_FROM_ASSIGNMENTS {
        let mut evaluation = Evaluation::default();
        for directory in &state.directories {
            evaluate_directory(directory, &mut evaluation);
        }
        return evaluation;
    }
    // Contiguous runs of about equal assignment counts keep the order and balance the work.
    let share = assignments.div_ceil(threads);
    let mut runs: Vec<&[Directory]> = Vec::with_capacity(threads);
    let mut start = 0;
    let mut weight = 0;
    for (index, directory) in state.directories.iter().enumerate() {
        weight += directory.assignments.len();
        if weight >= share && runs.len() + 1 < threads {
            runs.push(&state.directories[start..=index]);
            start = index + 1;
            weight = 0;
        }
    }
    runs.push(&state.directories[start..]);
    let parts: Vec<Evaluation> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|run| {
                scope.spawn(move || {
                    let mut part = Evaluation::default();
                    for directory in *run {
                        evaluate_directory(directory, &mut part);
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug: re-raise it rather than drop its findings.
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut evaluation = Evaluation::default();
    for part in parts {
        evaluation.findings.extend(part.findings);
        evaluation.notices.extend(part.notices);
    }
    evaluation
}

fn evaluate_directory(directory: &Directory, out: &mut Evaluation) {
    let dir_ref = DirectoryRef::of(directory);
    let domain = &directory.domain;
    if directory.status == AppStatus::Inactive {
        out.notices.push(Notice {
            id: format!("directory-inactive:{domain}"),
            kind: NoticeKind::DirectoryInactive,
            directory: dir_ref.clone(),
            message: format!(
                "directory `{domain}` is inactive: it provisions nobody, so its findings are \
                 reported but no change is planned for it"
            ),
        });
    }
    let index = match import_ou_index(directory) {
        Some((index, notices)) => {
            out.notices.extend(notices);
            Some(index)
        }
        None => {
            out.notices.push(Notice {
                id: format!("import-ous-undeclared:{domain}"),
                kind: NoticeKind::ImportOusUndeclared,
                directory: dir_ref.clone(),
                message: format!(
                    "import OUs of `{domain}` are not declared, so R1 was not evaluated there: \
                     declare them under [directory.\"{domain}\"] in ouguard.toml, or run \
                     `ouguard import-ous --from-csv FILE --directory {domain}` with the \
                     console's export"
                ),
            });
            None
        }
    };

    let domain_keys = DomainKeys::new(domain);
    // One buffer for every assignment: the usual OU is checked without allocating.
    let mut dn = NormalizedDn::default();
    for assignment in &directory.assignments {
        let group_name = &assignment.group_name;
        // Most assignments are fine: the finding's strings are copied only when it is raised.
        let finding = |rule: Rule, message: String| Finding {
            id: format!("{}:{domain}:{}", rule.id_prefix(), assignment.group_id),
            rule,
            directory: dir_ref.clone(),
            group: Some(GroupRef {
                id: assignment.group_id.clone(),
                name: group_name.clone(),
            }),
            mapping: None,
            ou: assignment.organizational_unit.clone(),
            message,
            evidence: None,
        };
        let raw = match assignment.organizational_unit.as_deref() {
            Some(raw) if !raw.trim().is_empty() => raw,
            _ => {
                out.findings.push(finding(
                    Rule::GroupOuMissing,
                    format!(
                        "group `{}` is assigned to `{domain}` without a target OU",
                        group_name
                    ),
                ));
                continue;
            }
        };
        match dn.parse_into(raw) {
            Ok(()) => {}
            Err(error) => {
                out.findings.push(finding(
                    Rule::GroupOuInvalid,
                    format!(
                        "group `{}` targets `{}`, which is not a valid DN ({error})",
                        group_name,
                        truncate_for_message(raw)
                    ),
                ));
                continue;
            }
        };
        if !dn.is_in_domain(&domain_keys) {
            out.findings.push(finding(
                Rule::GroupOuOtherDomain,
                format!(
                    "group `{}` targets `{}`, which is outside the domain `{domain}`",
                    group_name,
                    truncate_for_message(raw)
                ),
            ));
            continue;
        }
        if let Some(index) = &index {
            if !index.covers_normalized(&dn) {
                out.findings.push(finding(
                    Rule::GroupOuNotImported,
                    format!(
                        "group `{}` targets `{}`, which is not an import OU of `{domain}` nor \
                         below one",
                        group_name,
                        truncate_for_message(raw)
                    ),
                ));
            }
        }
    }

    if !directory.mappings_read {
        out.notices.push(Notice {
            id: format!("mappings-unavailable:{domain}"),
            kind: NoticeKind::MappingsUnavailable,
            directory: dir_ref.clone(),
            message: format!(
                "profile mappings are unavailable in this org, so R2 (`dn` mapped) was not \
                 evaluated for `{domain}`"
            ),
        });
    }
    for mapping in &directory.mappings {
        for (key, property) in &mapping.properties {
            let Some(expression) = property.expression.as_deref() else {
                continue;
            };
            if !is_dn_key(key) {
                continue;
            }
            out.findings.push(Finding {
                id: format!("R2:{domain}:{}:{key}", mapping.id),
                rule: Rule::DnMapped,
                directory: dir_ref.clone(),
                group: None,
                mapping: Some(MappingRef {
                    id: mapping.id.clone(),
                    user_type: mapping.source_user_type.name.clone(),
                    key: key.clone(),
                    expression: expression.to_string(),
                }),
                ou: None,
                message: format!(
                    "the `{}` → `{domain}` mapping maps `{key}` (distinguishedName) to `{}`",
                    mapping.source_user_type.name,
                    truncate_for_message(expression)
                ),
                evidence: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};

    const CORP_IMPORTS: &[&str] = &[
        "OU=Staff,DC=corp,DC=example,DC=com",
        "OU=Contractors,DC=corp,DC=example,DC=com",
    ];

    /// Evaluates one group in `corp.example.com` and returns the rules it violates.
    fn rules_for_group_ou(ou: Option<&str>, imports: Option<&[&str]>) -> Vec<Rule> {
        let mut dir = directory("corp.example.com", imports);
        dir.assignments.push(assignment("00g1", "G", ou));
        evaluate(&org(vec![dir]))
            .findings
            .iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn group_ou_rules_table() {
        use Rule::*;
        let cases: &[(Option<&str>, &[Rule])] = &[
            (Some("OU=Staff,DC=corp,DC=example,DC=com"), &[]),
            (Some("ou=staff , dc=CORP,dc=example,dc=com"), &[]),
            (Some("OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"), &[]),
            (
                Some("CN=x,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"),
                &[],
            ),
            (
                Some("OU=Marketing,DC=corp,DC=example,DC=com"),
                &[GroupOuNotImported],
            ),
            (
                Some("OU=Staff2,DC=corp,DC=example,DC=com"),
                &[GroupOuNotImported],
            ),
            (Some("DC=corp,DC=example,DC=com"), &[GroupOuNotImported]),
            (
                Some("OU=Staff,DC=emea,DC=example,DC=com"),
                &[GroupOuOtherDomain],
            ),
            (Some("OU=Staff,DC=example,DC=com"), &[GroupOuOtherDomain]),
            (Some("OU=Staff"), &[GroupOuOtherDomain]),
            (
                Some("OU=Staff,,DC=corp,DC=example,DC=com"),
                &[GroupOuInvalid],
            ),
            (Some("not a dn"), &[GroupOuInvalid]),
            (Some(""), &[GroupOuMissing]),
            (Some("   "), &[GroupOuMissing]),
            (None, &[GroupOuMissing]),
        ];
        for (ou, expected) in cases {
            assert_eq!(
                rules_for_group_ou(*ou, Some(CORP_IMPORTS)),
                expected.to_vec(),
                "OU {ou:?}"
            );
        }
    }

    #[test]
    fn undeclared_import_ous_skip_r1_with_a_notice() {
        assert!(
            rules_for_group_ou(Some("OU=Marketing,DC=corp,DC=example,DC=com"), None).is_empty()
        );
        // The related findings need no import OUs.
        assert_eq!(rules_for_group_ou(None, None), vec![Rule::GroupOuMissing]);
        let mut dir = directory("corp.example.com", None);
        dir.assignments.push(assignment(
            "00g1",
            "G",
            Some("OU=X,DC=corp,DC=example,DC=com"),
        ));
        let evaluation = evaluate(&org(vec![dir]));
        assert_eq!(evaluation.notices.len(), 1);
        assert_eq!(evaluation.notices[0].kind, NoticeKind::ImportOusUndeclared);
        assert_eq!(
            evaluation.notices[0].id,
            "import-ous-undeclared:corp.example.com"
        );
        assert!(evaluation.notices[0].message.contains("ouguard import-ous"));
    }

    #[test]
    fn empty_declared_list_flags_every_group() {
        assert_eq!(
            rules_for_group_ou(Some("OU=Staff,DC=corp,DC=example,DC=com"), Some(&[])),
            vec![Rule::GroupOuNotImported]
        );
    }

    #[test]
    fn bad_declared_import_ous_are_ignored_with_notices() {
        let mut dir = directory(
            "corp.example.com",
            Some(&["OU=Staff,,DC=corp", "OU=Staff,DC=emea,DC=example,DC=com"]),
        );
        dir.assignments.push(assignment(
            "00g1",
            "G",
            Some("OU=Staff,DC=corp,DC=example,DC=com"),
        ));
        let evaluation = evaluate(&org(vec![dir]));
        let kinds: Vec<_> = evaluation.notices.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            vec![NoticeKind::ImportOuInvalid, NoticeKind::ImportOuInvalid]
        );
        assert_eq!(evaluation.findings[0].rule, Rule::GroupOuNotImported);
    }

    #[test]
    #[allow(clippy::type_complexity)] // a literal table reads best inline
    fn dn_mapping_rules_table() {
        type Properties<'a> = &'a [(&'a str, Option<&'a str>)];
        let cases: &[(Properties, usize)] = &[
            (&[("dn", Some("user.dn"))], 1),
            (&[("dn", None)], 0),
            (&[("distinguishedName", Some("x"))], 1),
            (&[("DISTINGUISHEDNAME", Some("x"))], 1),
            (&[("DN", Some("x"))], 0),
            (
                &[
                    ("cn", Some("user.login")),
                    ("dn", Some("x")),
                    ("distinguishedname", Some("y")),
                ],
                2,
            ),
            (&[("sAMAccountName", Some("user.login"))], 0),
            (&[], 0),
        ];
        for (properties, expected) in cases {
            let mut dir = directory("corp.example.com", Some(CORP_IMPORTS));
            let app_id = dir.app_id.clone();
            dir.mappings.push(mapping("prm1", &app_id, properties));
            let evaluation = evaluate(&org(vec![dir]));
            assert_eq!(evaluation.findings.len(), *expected, "{properties:?}");
            assert!(evaluation.findings.iter().all(|f| f.rule == Rule::DnMapped));
        }
    }

    #[test]
    fn finding_ids_are_stable() {
        let mut dir = directory("corp.example.com", Some(CORP_IMPORTS));
        let app_id = dir.app_id.clone();
        dir.assignments.push(assignment(
            "00gA",
            "A",
            Some("OU=M,DC=corp,DC=example,DC=com"),
        ));
        dir.assignments.push(assignment("00gB", "B", Some("bad")));
        dir.assignments
            .push(assignment("00gC", "C", Some("OU=M,DC=other,DC=com")));
        dir.assignments.push(assignment("00gD", "D", None));
        dir.mappings
            .push(mapping("prm1", &app_id, &[("dn", Some("x"))]));
        let ids: Vec<String> = evaluate(&org(vec![dir]))
            .findings
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            ids,
            vec![
                "R1:corp.example.com:00gA",
                "R1-invalid:corp.example.com:00gB",
                "R1-other-domain:corp.example.com:00gC",
                "R1-missing:corp.example.com:00gD",
                "R2:corp.example.com:prm1:dn",
            ]
        );
    }

    #[test]
    fn inactive_and_mapping_less_directories_get_notices() {
        let mut dir = directory("corp.example.com", Some(CORP_IMPORTS));
        dir.status = AppStatus::Inactive;
        dir.mappings_read = false;
        dir.assignments.push(assignment(
            "00gA",
            "A",
            Some("OU=M,DC=corp,DC=example,DC=com"),
        ));
        let evaluation = evaluate(&org(vec![dir]));
        assert_eq!(
            evaluation.findings.len(),
            1,
            "inactive directories still report findings"
        );
        let kinds: Vec<_> = evaluation.notices.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            vec![
                NoticeKind::DirectoryInactive,
                NoticeKind::MappingsUnavailable
            ]
        );
    }

    #[test]
    fn large_orgs_evaluate_in_parallel_with_the_same_result_and_order() {
        let state = crate::sim::large_org(crate::sim::GeneratorParams {
            directories: 7,
            groups: 30_000,
            import_ous: 3,
            user_types: 2,
            skew: 0.5,
            seed: 3,
        });
        let mut sequential = Evaluation::default();
        for directory in &state.directories {
            evaluate_directory(directory, &mut sequential);
        }
        assert!(!sequential.findings.is_empty());
        assert_eq!(evaluate(&state), sequential);
    }

    #[test]
    fn huge_values_are_truncated_in_messages() {
        let huge = format!("OU={},DC=corp,DC=example,DC=com", "x".repeat(100_000));
        let mut dir = directory("corp.example.com", Some(CORP_IMPORTS));
        dir.assignments.push(assignment("00gA", "A", Some(&huge)));
        let evaluation = evaluate(&org(vec![dir]));
        assert_eq!(evaluation.findings[0].rule, Rule::GroupOuNotImported);
        assert!(evaluation.findings[0].message.len() < 1_000);
    }
}
