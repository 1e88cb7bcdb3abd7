//! Small builders of `OrgState` values for tests, benchmarks and examples. Plain data only;
//! not used by any command.

use std::collections::BTreeMap;

use crate::state::{
    AppStatus, Directory, GroupAssignment, ImportOuSource, ImportOus, Mapping, MappingEnd,
    MappingProperty, OrgState, UserType,
};

/// A fixed timestamp for fixtures.
pub const LAST_UPDATED: &str = "2026-11-01T12:00:00.000Z";

/// An org with the given directories and one default user type.
#[must_use]
pub fn org(directories: Vec<Directory>) -> OrgState {
    OrgState {
        org_url: Some("https://acme.okta.com".to_string()),
        user_types: vec![UserType {
            id: "oty1default0000000001".to_string(),
            name: "user".to_string(),
            display_name: Some("User".to_string()),
            default: true,
        }],
        directories,
        ..OrgState::default()
    }
}

/// An active directory for `domain` with app id `0oa<domain-ish>`; `import_ous: None` leaves
/// them undeclared.
#[must_use]
pub fn directory(domain: &str, import_ous: Option<&[&str]>) -> Directory {
    let id: String = domain
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(17)
        .collect();
    Directory {
        app_id: format!("0oa{id}"),
        domain: domain.to_string(),
        label: domain.to_string(),
        status: AppStatus::Active,
        import_ous: import_ous.map(|ous| ImportOus {
            source: ImportOuSource::Snapshot,
            ous: ous.iter().map(|s| (*s).to_string()).collect(),
        }),
        assignments: Vec::new(),
        mappings: Vec::new(),
        mappings_read: true,
    }
}

/// A group assignment targeting `ou` (`None`: no OU).
#[must_use]
pub fn assignment(group_id: &str, name: &str, ou: Option<&str>) -> GroupAssignment {
    GroupAssignment {
        group_id: group_id.to_string(),
        group_name: name.to_string(),
        priority: Some(0),
        organizational_unit: ou.map(str::to_string),
        last_updated: LAST_UPDATED.to_string(),
        other_profile: BTreeMap::new(),
    }
}

/// A To-App mapping of the default user type with the given `(key, expression)` properties.
#[must_use]
pub fn mapping(id: &str, app_id: &str, properties: &[(&str, Option<&str>)]) -> Mapping {
    Mapping {
        id: id.to_string(),
        source_user_type: MappingEnd {
            id: "oty1default0000000001".to_string(),
            name: "user".to_string(),
        },
        target: MappingEnd {
            id: app_id.to_string(),
            name: "active_directory".to_string(),
        },
        properties: properties
            .iter()
            .map(|(key, expression)| {
                (
                    (*key).to_string(),
                    MappingProperty {
                        expression: expression.map(str::to_string),
                        push_status: Some("PUSH".to_string()),
                    },
                )
            })
            .collect(),
    }
}
