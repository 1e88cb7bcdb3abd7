//! The rules: evaluate an `OrgState` and report findings (R1 `group-ou-not-imported`, R2
//! `dn-mapped` and the related OU findings) and notices. Pure: no I/O, no clock, no prompts.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dn::Dn;
use crate::state::{AppStatus, Directory, OrgState};

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
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// A mapping property as named in R2 findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MappingRef {
    pub id: String,
    pub user_type: String,
    pub key: String,
    pub expression: String,
}

/// One violation (or related problem) found in the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The import OUs of one directory, parsed, answering "which import OU covers this DN".
#[derive(Debug, Clone, Default)]
pub struct ImportOuIndex {
    ous: Vec<Dn>,
    keys: HashSet<String>,
}

impl ImportOuIndex {
    /// Builds the index from DNs already known to be valid and in the directory's domain.
    #[must_use]
    pub fn new(ous: Vec<Dn>) -> Self {
        let keys = ous.iter().map(Dn::normalized).collect();
        ImportOuIndex { ous, keys }
    }

    /// The import OUs, as declared.
    #[must_use]
    pub fn ous(&self) -> &[Dn] {
        &self.ous
    }

    /// `true` when `dn` equals an import OU or lies below one.
    #[must_use]
    pub fn covers(&self, dn: &Dn) -> bool {
        dn.suffix_keys().any(|key| self.keys.contains(key))
    }
}

/// Parses a directory's declared import OUs: the valid ones in the directory's domain, and
/// a notice for each one that is not.
#[must_use]
pub fn import_ou_index(directory: &Directory) -> Option<(ImportOuIndex, Vec<Notice>)> {
    let declared = directory.import_ous.as_ref()?;
    let mut valid = Vec::with_capacity(declared.ous.len());
    let mut notices = Vec::new();
    for (position, raw) in declared.ous.iter().enumerate() {
        let problem = match Dn::parse(raw) {
            Ok(dn) if dn.is_in_domain(&directory.domain) => {
                valid.push(dn);
                continue;
            }
            Ok(_) => format!("is not in the domain `{}`", directory.domain),
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
    Some((ImportOuIndex::new(valid), notices))
}

/// `true` when a To-App mapping key names the distinguished name.
#[must_use]
pub fn is_dn_key(key: &str) -> bool {
    key == "dn" || key.eq_ignore_ascii_case("distinguishedName")
}

/// Evaluates every rule on every directory.
#[must_use]
pub fn evaluate(state: &OrgState) -> Evaluation {
    let mut evaluation = Evaluation::default();
    for directory in &state.directories {
        evaluate_directory(directory, &mut evaluation);
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

    for assignment in &directory.assignments {
        let group = GroupRef {
            id: assignment.group_id.clone(),
            name: assignment.group_name.clone(),
        };
        let finding = |rule: Rule, message: String| Finding {
            id: format!("{}:{domain}:{}", rule.id_prefix(), assignment.group_id),
            rule,
            directory: dir_ref.clone(),
            group: Some(group.clone()),
            mapping: None,
            ou: assignment.organizational_unit.clone(),
            message,
        };
        let raw = match assignment.organizational_unit.as_deref() {
            Some(raw) if !raw.trim().is_empty() => raw,
            _ => {
                out.findings.push(finding(
                    Rule::GroupOuMissing,
                    format!(
                        "group `{}` is assigned to `{domain}` without a target OU",
                        group.name
                    ),
                ));
                continue;
            }
        };
        let dn = match Dn::parse(raw) {
            Ok(dn) => dn,
            Err(error) => {
                out.findings.push(finding(
                    Rule::GroupOuInvalid,
                    format!(
                        "group `{}` targets `{}`, which is not a valid DN ({error})",
                        group.name,
                        truncate_for_message(raw)
                    ),
                ));
                continue;
            }
        };
        if !dn.is_in_domain(domain) {
            out.findings.push(finding(
                Rule::GroupOuOtherDomain,
                format!(
                    "group `{}` targets `{}`, which is outside the domain `{domain}`",
                    group.name,
                    truncate_for_message(raw)
                ),
            ));
            continue;
        }
        if let Some(index) = &index {
            if !index.covers(&dn) {
                out.findings.push(finding(
                    Rule::GroupOuNotImported,
                    format!(
                        "group `{}` targets `{}`, which is not an import OU of `{domain}` nor \
                         below one",
                        group.name,
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
            });
        }
    }
}

/// Shortens a value quoted in a message so a hostile 100 KB input cannot flood the output.
#[must_use]
pub fn truncate_for_message(value: &str) -> String {
    const LIMIT: usize = 200;
    if value.chars().count() <= LIMIT {
        value.to_string()
    } else {
        let kept: String = value.chars().take(LIMIT).collect();
        format!("{kept}… ({} characters)", value.chars().count())
    }
}
