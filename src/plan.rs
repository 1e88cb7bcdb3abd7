//! The plan as data, and its JSON document (`format_version` "1", product.md §6): building
//! the checksum, saving, and loading a plan file with every refusal a reviewer needs.
//! Pure data and serialization: no HTTP, no prompts.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::rules::{DirectoryRef, Finding, GroupRef, Notice};

/// The plan document version this build writes and reads.
pub const FORMAT_VERSION: &str = "1";

/// A complete plan: what was found, what will change, and a checksum over all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: String,
    pub ouguard_version: String,
    /// The org the plan was made for; `None` for a plan made from a snapshot without one.
    pub org_url: Option<String>,
    /// RFC 3339 UTC timestamp.
    pub created_at: String,
    pub findings: Vec<Finding>,
    /// Notices: what was not evaluated, why findings are not fixed, what a change implies.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    pub resource_changes: Vec<ResourceChange>,
    pub summary: Summary,
    /// What `plan --evidence` read: its window, its cost, what it could not read, and the
    /// users of findings fixed by earlier applies (additive; absent without `--evidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::PlanEvidence>,
    /// `sha256:<hex>` over the canonical JSON of every other field.
    pub checksum: String,
}

/// A warning printed before the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    pub id: String,
    pub message: String,
}

impl From<&Notice> for Warning {
    fn from(notice: &Notice) -> Self {
        Warning {
            id: notice.id.clone(),
            message: notice.message.clone(),
        }
    }
}

/// What kind of resource a change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    ImportOu,
    GroupTargetOu,
    MappingProperty,
}

impl ChangeKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::ImportOu => "import_ou",
            ChangeKind::GroupTargetOu => "group_target_ou",
            ChangeKind::MappingProperty => "mapping_property",
        }
    }
}

/// What a change does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Update,
    Delete,
}

impl Action {
    /// Terraform's symbol for the action.
    #[must_use]
    pub fn symbol(self) -> char {
        match self {
            Action::Add => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// Who carries a change out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// ouguard, through Okta's API.
    Api,
    /// A person, in the admin console (Okta has no API for it).
    Manual,
}

/// One change of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    pub address: String,
    pub kind: ChangeKind,
    pub action: Action,
    pub execution: Execution,
    /// The finding this change fixes.
    pub finding: String,
    /// Further findings the same change fixes (several groups targeting one OU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_fixes: Vec<String>,
    pub directory: DirectoryRef,
    pub group: Option<GroupRef>,
    pub mapping_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// What must still hold on a fresh read before the change is written.
    pub precondition: Option<Value>,
}

impl ResourceChange {
    /// Every finding id this change fixes.
    pub fn fixed_findings(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.finding.as_str()).chain(self.also_fixes.iter().map(String::as_str))
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub delete: usize,
    pub manual: usize,
}

impl Summary {
    /// Counts the changes.
    #[must_use]
    pub fn of(changes: &[ResourceChange]) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            match change.action {
                Action::Add => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Delete => summary.delete += 1,
            }
            if change.execution == Execution::Manual {
                summary.manual += 1;
            }
        }
        summary
    }

    /// `true` when the plan changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.add + self.change + self.delete == 0
    }
}

impl Plan {
    /// Assembles a plan and seals it with its checksum.
    #[must_use]
    pub fn new(
        org_url: Option<String>,
        created_at: String,
        findings: Vec<Finding>,
        warnings: Vec<Warning>,
        resource_changes: Vec<ResourceChange>,
    ) -> Self {
        let summary = Summary::of(&resource_changes);
        let mut plan = Plan {
            format_version: FORMAT_VERSION.to_string(),
            ouguard_version: env!("CARGO_PKG_VERSION").to_string(),
            org_url,
            created_at,
            findings,
            warnings,
            resource_changes,
            summary,
            evidence: None,
            checksum: String::new(),
        };
        plan.checksum = plan.compute_checksum();
        plan
    }

    /// `true` when the plan changes nothing.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        !self.resource_changes.is_empty()
    }

    /// The checksum the plan's current content deserves: `sha256:<hex>` over the compact
    /// JSON of every field but `checksum`, in the document's field order. Streams into the
    /// hash; nothing is copied.
    #[must_use]
    pub fn compute_checksum(&self) -> String {
        let body = PlanBody {
            format_version: &self.format_version,
            ouguard_version: &self.ouguard_version,
            org_url: self.org_url.as_deref(),
            created_at: &self.created_at,
            findings: &self.findings,
            warnings: &self.warnings,
            resource_changes: &self.resource_changes,
            summary: &self.summary,
            evidence: self.evidence.as_ref(),
        };
        let mut hasher = HashWriter(Sha256::new());
        if let Err(error) = serde_json::to_writer(&mut hasher, &body) {
            // Plain data with string keys always serializes; never panic on it anyway.
            return format!("sha256:unserializable:{error}");
        }
        let digest = hasher.0.finalize();
        let mut hex = String::with_capacity(71);
        hex.push_str("sha256:");
        for byte in digest {
            use fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }

    /// The plan as pretty JSON, ending with a newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        text.push('\n');
        text
    }

    /// Loads a plan document, refusing bad JSON, an unknown format version and a checksum
    /// that does not match the content.
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let value: Value = serde_json::from_str(text).map_err(|error| PlanFileError::Json {
            line: error.line(),
            column: error.column(),
            detail: error.to_string(),
        })?;
        let Value::Object(object) = &value else {
            return Err(PlanFileError::NotAPlan(
                "the document is not a JSON object".into(),
            ));
        };
        match object.get("format_version") {
            Some(Value::String(version)) if version == FORMAT_VERSION => {}
            Some(Value::String(version)) => {
                return Err(PlanFileError::UnknownVersion(version.clone()));
            }
            Some(_) => {
                return Err(PlanFileError::NotAPlan(
                    "`format_version` is not a string".into(),
                ))
            }
            None => return Err(PlanFileError::NotAPlan("it has no `format_version`".into())),
        }
        if !matches!(object.get("checksum"), Some(Value::String(_))) {
            return Err(PlanFileError::NotAPlan("it has no `checksum`".into()));
        }
        let plan: Plan = serde_json::from_value(value)
            .map_err(|error| PlanFileError::NotAPlan(error.to_string()))?;
        let actual = plan.compute_checksum();
        if plan.checksum != actual {
            return Err(PlanFileError::ChecksumMismatch {
                stated: plan.checksum,
                actual,
            });
        }
        if plan.summary != Summary::of(&plan.resource_changes) {
            return Err(PlanFileError::NotAPlan(
                "its `summary` does not count its `resource_changes`".into(),
            ));
        }
        Ok(plan)
    }
}

/// Why a plan file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("it is not valid JSON (line {line}, column {column}): {detail}")]
    Json {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error(
        "its `format_version` is `{0}`, but this ouguard reads version `{FORMAT_VERSION}`: \
         make the plan again with this version"
    )]
    UnknownVersion(String),
    #[error("it is not an ouguard plan: {0}")]
    NotAPlan(String),
    #[error(
        "its checksum does not match its content (stated `{stated}`, actual `{actual}`): the \
         file was edited after it was made; make the plan again"
    )]
    ChecksumMismatch { stated: String, actual: String },
}

/// Every field of a plan but its checksum, borrowed: what the checksum covers.
#[derive(Serialize)]
struct PlanBody<'a> {
    format_version: &'a str,
    ouguard_version: &'a str,
    org_url: Option<&'a str>,
    created_at: &'a str,
    findings: &'a [Finding],
    warnings: &'a [Warning],
    resource_changes: &'a [ResourceChange],
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a crate::evidence::PlanEvidence>,
}

/// Feeds written bytes to the hash.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan::new(
            Some("https://acme.okta.com".into()),
            "2026-11-29T18:00:00Z".into(),
            vec![],
            vec![],
            vec![],
        )
    }

    #[test]
    fn round_trips_and_verifies() {
        let plan = sample();
        let loaded = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(loaded, plan);
        assert!(plan.checksum.starts_with("sha256:"));
    }

    #[test]
    fn checksum_ignores_whitespace_and_refuses_unknown_fields() {
        let plan = sample();
        let compact = serde_json::to_string(&plan).unwrap();
        assert!(Plan::from_json(&compact).is_ok());
        let mut value = serde_json::to_value(&plan).unwrap();
        value["surprise"] = true.into();
        let text = serde_json::to_string(&value).unwrap();
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::NotAPlan(_))
        ));
    }

    #[test]
    fn refuses_tampering() {
        let text = sample().to_json().replace("acme.okta.com", "evil.okta.com");
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn refuses_bad_json_and_versions() {
        let text = sample().to_json();
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            Plan::from_json(truncated),
            Err(PlanFileError::Json { .. })
        ));
        let v2 = text.replace("\"format_version\": \"1\"", "\"format_version\": \"2\"");
        assert_eq!(
            Plan::from_json(&v2),
            Err(PlanFileError::UnknownVersion("2".into()))
        );
        assert!(matches!(
            Plan::from_json("[]"),
            Err(PlanFileError::NotAPlan(_))
        ));
        assert!(matches!(
            Plan::from_json("{}"),
            Err(PlanFileError::NotAPlan(_))
        ));
    }

    #[test]
    fn refuses_a_resealed_plan_whose_summary_lies() {
        let mut lying = sample();
        lying.summary.add = 3;
        lying.checksum = lying.compute_checksum();
        let text = lying.to_json();
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::NotAPlan(_))
        ));
    }
}
