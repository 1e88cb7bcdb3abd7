//! The Okta state ouguard reads, as plain serde data: directories, their declared import OUs,
//! group assignments and To-App mappings. The same types are the snapshot format of
//! `ouguard export` / `plan --from-snapshot`. No I/O and no Okta wire types live here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the snapshot document written by `ouguard export`.
pub const SNAPSHOT_FORMAT_VERSION: &str = "1";

/// Everything ouguard knows about one Okta org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgState {
    /// Snapshot format version; `"1"`.
    #[serde(default = "default_format_version")]
    pub format_version: String,
    /// The org's base URL, e.g. `https://acme.okta.com`.
    #[serde(default)]
    pub org_url: Option<String>,
    /// Okta user types (`GET /api/v1/meta/types/user`).
    #[serde(default)]
    pub user_types: Vec<UserType>,
    /// Every AD directory integration (app instances named `active_directory`).
    #[serde(default)]
    pub directories: Vec<Directory>,
}

impl Default for OrgState {
    fn default() -> Self {
        OrgState {
            format_version: default_format_version(),
            org_url: None,
            user_types: Vec::new(),
            directories: Vec::new(),
        }
    }
}

fn default_format_version() -> String {
    SNAPSHOT_FORMAT_VERSION.to_string()
}

impl OrgState {
    /// Finds a directory by its app id or its domain (`namingContext`, case-insensitive).
    #[must_use]
    pub fn directory(&self, id_or_domain: &str) -> Option<&Directory> {
        self.directories.iter().find(|d| d.matches(id_or_domain))
    }

    /// Mutable variant of [`OrgState::directory`].
    pub fn directory_mut(&mut self, id_or_domain: &str) -> Option<&mut Directory> {
        self.directories
            .iter_mut()
            .find(|d| d.matches(id_or_domain))
    }
}

/// An Okta user type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub default: bool,
}

/// Lifecycle status of a directory integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppStatus {
    Active,
    Inactive,
}

/// One Active Directory integration (an Okta app instance named `active_directory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// The app instance id (`0oa…`).
    pub app_id: String,
    /// The AD domain as an FQDN: `settings.app.namingContext`, e.g. `corp.example.com`.
    pub domain: String,
    /// The app's label as shown in the console.
    pub label: String,
    pub status: AppStatus,
    /// The directory's import OUs ("User OUs connected to Okta"), when declared.
    /// `None`: nobody has declared them, so R1 is not evaluated for this directory.
    #[serde(default)]
    pub import_ous: Option<ImportOus>,
    /// Group assignments of the app, in the order Okta listed them.
    #[serde(default)]
    pub assignments: Vec<GroupAssignment>,
    /// Okta user → AD ("To App") profile mappings, one per source user type.
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    /// `false` when the org answered 401 on `/api/v1/mappings` (feature unavailable):
    /// R2 is skipped for this directory with a warning.
    #[serde(default = "yes")]
    pub mappings_read: bool,
}

fn yes() -> bool {
    true
}

impl Directory {
    fn matches(&self, id_or_domain: &str) -> bool {
        self.app_id == id_or_domain || self.domain.eq_ignore_ascii_case(id_or_domain)
    }

    /// The assignment of `group_id`, if the group is assigned.
    #[must_use]
    pub fn assignment(&self, group_id: &str) -> Option<&GroupAssignment> {
        self.assignments.iter().find(|a| a.group_id == group_id)
    }
}

/// Import OUs declared for a directory, and where the declaration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOus {
    pub source: ImportOuSource,
    /// The OU DNs, exactly as declared.
    pub ous: Vec<String>,
}

/// Where a directory's import OUs were declared. Okta's API does not expose them, so they
/// always come from outside the org's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImportOuSource {
    /// A `[directory."…"]` table of `ouguard.toml`.
    Config { path: String },
    /// Carried inside a snapshot file.
    Snapshot,
    /// The simulated org's own state (tests and demo only).
    Simulator,
}

/// A group's assignment to a directory app: its provisioning target OU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupAssignment {
    pub group_id: String,
    pub group_name: String,
    #[serde(default)]
    pub priority: Option<i64>,
    /// `profile.organizationalUnit` exactly as read; `None` when absent or null.
    #[serde(default)]
    pub organizational_unit: Option<String>,
    /// The assignment's `lastUpdated`, exactly as Okta returned it.
    pub last_updated: String,
    /// Other keys of the assignment's `profile`, kept so a snapshot can seed a faithful copy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_profile: BTreeMap<String, serde_json::Value>,
}

/// An Okta user → AD profile mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The mapping id (`prm…`).
    pub id: String,
    /// The source Okta user type.
    pub source_user_type: MappingEnd,
    /// The target (the AD app user schema).
    pub target: MappingEnd,
    /// Mapped properties by target variable name.
    pub properties: BTreeMap<String, MappingProperty>,
}

/// One end of a profile mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEnd {
    pub id: String,
    pub name: String,
}

/// One mapped property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingProperty {
    pub expression: Option<String>,
    #[serde(default)]
    pub push_status: Option<String>,
}

/// Why a snapshot file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("it is not a valid snapshot (line {line}, column {column}): {detail}")]
    Invalid {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error(
        "its `format_version` is `{0}`, but this ouguard reads version \
         `{SNAPSHOT_FORMAT_VERSION}`: export it again with this version"
    )]
    UnknownVersion(String),
    #[error("it lists the directory with app id `{0}` twice: each AD app appears once")]
    DuplicateDirectory(String),
    #[error("it is not a snapshot: {0}")]
    NotASnapshot(String),
}

/// A snapshot document as written: unlike [`OrgState`]'s own (lenient) form, used for the
/// simulator's seeds, every key `export` writes must be there, so `{}` or a stray JSON file
/// is not planned as an empty, clean org.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotDocument {
    format_version: Option<String>,
    /// `None`: the key is missing; `Some(None)`: `null` (a snapshot of a seed without url).
    #[serde(default, deserialize_with = "present")]
    org_url: Option<Option<String>>,
    #[serde(default)]
    user_types: Vec<UserType>,
    directories: Option<Vec<Directory>>,
}

/// Marks a key as present, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl OrgState {
    /// Reads a snapshot document (`ouguard export`), refusing unknown versions.
    ///
    /// # Errors
    /// Not JSON, not a JSON object, a missing `format_version`, `org_url` or `directories`
    /// (the directory list, `apps` in Okta's words), an unknown version, or a repeated
    /// directory.
    pub fn from_json(text: &str) -> Result<OrgState, SnapshotError> {
        if !text.trim_start().starts_with('{') {
            return Err(SnapshotError::NotASnapshot(
                "a snapshot is a JSON object written by `ouguard export`".to_string(),
            ));
        }
        let document: SnapshotDocument =
            serde_json::from_str(text).map_err(|error| SnapshotError::Invalid {
                line: error.line(),
                column: error.column(),
                detail: crate::text::truncate_for_message(&error.to_string()),
            })?;
        let missing = |key: &str| {
            SnapshotError::NotASnapshot(format!(
                "it has no `{key}`; make one with `ouguard export --out FILE`"
            ))
        };
        let format_version = document
            .format_version
            .ok_or_else(|| missing("format_version"))?;
        let org_url = document.org_url.ok_or_else(|| missing("org_url"))?;
        let directories = document.directories.ok_or_else(|| missing("directories"))?;
        let state = OrgState {
            format_version,
            org_url,
            user_types: document.user_types,
            directories,
        };
        if state.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnknownVersion(state.format_version));
        }
        // Findings and the planner find a directory by its app id, as Okta does: a snapshot
        // (hand-edited, say) that repeats one is refused rather than planned ambiguously.
        let mut app_ids = std::collections::HashSet::new();
        for directory in &state.directories {
            if !app_ids.insert(directory.app_id.as_str()) {
                return Err(SnapshotError::DuplicateDirectory(directory.app_id.clone()));
            }
        }
        Ok(state)
    }

    /// The snapshot document, pretty JSON ending with a newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_repeating_a_directory_is_refused() {
        let state = crate::sim::seed::demo();
        let mut doubled = state.clone();
        let mut copy = doubled.directories[0].clone();
        copy.domain = "other.example.com".to_string();
        doubled.directories.push(copy);
        assert_eq!(OrgState::from_json(&state.to_json()), Ok(state.clone()));
        let error = OrgState::from_json(&doubled.to_json()).unwrap_err();
        assert_eq!(
            error,
            SnapshotError::DuplicateDirectory(state.directories[0].app_id.clone())
        );
        assert!(error.to_string().contains("twice"), "{error}");
    }

    #[test]
    fn only_a_whole_snapshot_is_a_snapshot() {
        let whole =
            crate::fixtures::org(vec![crate::fixtures::directory("corp.example.com", None)])
                .to_json();
        assert!(OrgState::from_json(&whole).is_ok());
        let cases = [
            ("{}", "no `format_version`"),
            ("[]", "a JSON object"),
            ("  [\"1\", null, [], []]", "a JSON object"),
            (
                "{\"format_version\": \"1\", \"directories\": []}",
                "no `org_url`",
            ),
            (
                "{\"format_version\": \"1\", \"org_url\": null}",
                "no `directories`",
            ),
            (
                "{\"org_url\": \"https://a.okta.com\", \"directories\": []}",
                "no `format_version`",
            ),
        ];
        for (text, want) in cases {
            let error = OrgState::from_json(text).expect_err(text);
            assert!(error.to_string().contains(want), "{text}: {error}");
        }
        // A seed of the simulator without a url still reads (its `org_url` is `null`).
        let seed = crate::sim::seed::demo().to_json();
        assert!(OrgState::from_json(&seed).is_ok());
    }
}
