//! Built-in seeds: the demo org of the Okta support article behind "Target OU is not an
//! import OU". Deterministic data only: no I/O, no randomness, no clock.

use std::collections::BTreeMap;

use super::ids::derived_id;
use super::store::AD_APP_NAME;
use crate::state::{
    AppStatus, Directory, GroupAssignment, ImportOuSource, ImportOus, Mapping, MappingEnd,
    MappingProperty, OrgState, UserType,
};

/// Number of generated "Team NNN" groups in `corp.example.com` (several pages at limit 200).
pub const DEMO_TEAM_GROUPS: usize = 450;

/// The config an admin of the demo org would have written: import OUs of the two active
/// directories (the inactive `lab.example.com` is left undeclared), and one pinned
/// destination so the plan shows a retarget next to the manual step.
pub const DEMO_CONFIG: &str = r#"# ouguard.toml of the demo org
[directory."corp.example.com"]
import_ous = [
  "OU=Staff,DC=corp,DC=example,DC=com",
  "OU=Contractors,DC=corp,DC=example,DC=com",
]

[directory."emea.example.com"]
import_ous = ["OU=Users,DC=emea,DC=example,DC=com"]

[[retarget]]
directory = "emea.example.com"
group = "EMEA Marketing"
to = "OU=Marketing,OU=Users,DC=emea,DC=example,DC=com"
"#;

const DEMO_STAMP: &str = "2026-11-01T09:00:00.000Z";

/// An assignment of `name` (group id derived from the name) targeting `ou`.
#[must_use]
pub fn assignment(name: &str, ou: Option<&str>, priority: i64) -> GroupAssignment {
    GroupAssignment {
        group_id: derived_id("00g", name),
        group_name: name.to_string(),
        priority: Some(priority),
        organizational_unit: ou.map(str::to_string),
        last_updated: DEMO_STAMP.to_string(),
        other_profile: BTreeMap::new(),
    }
}

fn property(expression: &str) -> MappingProperty {
    MappingProperty {
        expression: Some(expression.to_string()),
        push_status: Some("PUSH".to_string()),
    }
}

/// A To-App mapping from `user_type` to the AD app `app_id`.
#[must_use]
pub fn to_app_mapping(user_type: &UserType, app_id: &str, extra: &[(&str, &str)]) -> Mapping {
    let mut properties = BTreeMap::new();
    for (k, v) in [
        ("firstName", "user.firstName"),
        ("lastName", "user.lastName"),
        ("email", "user.email"),
        ("samAccountName", "substringBefore(user.login, \"@\")"),
    ]
    .iter()
    .chain(extra)
    {
        properties.insert((*k).to_string(), property(v));
    }
    Mapping {
        id: derived_id("prm", &format!("{}->{app_id}", user_type.id)),
        source_user_type: MappingEnd {
            id: user_type.id.clone(),
            name: user_type.name.clone(),
        },
        target: MappingEnd {
            id: app_id.to_string(),
            name: AD_APP_NAME.to_string(),
        },
        properties,
    }
}

/// The default `user` type and a `contractor` type.
#[must_use]
pub fn demo_user_types() -> Vec<UserType> {
    vec![
        UserType {
            id: derived_id("oty", "user"),
            name: "user".into(),
            display_name: Some("User".into()),
            default: true,
        },
        UserType {
            id: derived_id("oty", "contractor"),
            name: "contractor".into(),
            display_name: Some("Contractor".into()),
            default: false,
        },
    ]
}

/// A directory with import OUs held by the simulator.
#[must_use]
pub fn directory(domain: &str, status: AppStatus, import_ous: &[&str]) -> Directory {
    Directory {
        app_id: derived_id("0oa", domain),
        domain: domain.to_string(),
        label: domain.to_string(),
        status,
        import_ous: Some(ImportOus {
            source: ImportOuSource::Simulator,
            ous: import_ous.iter().map(|s| (*s).to_string()).collect(),
        }),
        assignments: Vec::new(),
        mappings: Vec::new(),
        mappings_read: true,
    }
}

/// The demo org (product.md §10), reproducing the support article:
///
/// `corp.example.com` (ACTIVE; import OUs `OU=Staff,…` and `OU=Contractors,…`):
/// - `Staff` → `OU=Staff,…` (imported: fine)
/// - `Engineering` → `OU=Engineering,OU=Staff,…` (below an import OU: fine)
/// - `Contractors` → `ou=contractors, dc=Corp,dc=example, dc=com` (other case and spacing: fine)
/// - `Marketing` → `OU=Marketing,…` (**not imported**: R1 finding, provisioning fails)
/// - `EMEA Sales` → `OU=Sales,DC=emea,…` (**other domain**)
/// - `Finance` → `OU=Finance,,DC=corp,…` (**not a DN**)
/// - `All Staff (no OU)` → no OU (**missing**)
/// - `Team 001` … `Team 450` → `OU=Team NNN,OU=Staff,…` (fine; listing takes 3 pages at 200)
///
/// `emea.example.com` (ACTIVE; import OU `OU=Users,…`), with a **`dn` mapping** on the
/// default user type (R2: every provisioning fails there):
/// - `EMEA Staff` → `OU=Users,…`, `EMEA Finance` → `OU=Finance,OU=Users,…`
/// - `EMEA Marketing` → `OU=Marketing,DC=emea,…` (**not imported**)
///
/// `lab.example.com` (**INACTIVE**; import OU `OU=Lab,…`):
/// - `Lab Users` → `OU=Old,DC=lab,…` (not imported; reported, never fixed)
#[must_use]
pub fn demo() -> OrgState {
    let user_types = demo_user_types();
    let corp_dn = "DC=corp,DC=example,DC=com";
    let mut corp = directory(
        "corp.example.com",
        AppStatus::Active,
        &[
            &format!("OU=Staff,{corp_dn}"),
            &format!("OU=Contractors,{corp_dn}"),
        ],
    );
    let staff = format!("OU=Staff,{corp_dn}");
    let engineering = format!("OU=Engineering,OU=Staff,{corp_dn}");
    let marketing = format!("OU=Marketing,{corp_dn}");
    corp.assignments = vec![
        assignment("Staff", Some(&staff), 0),
        assignment("Engineering", Some(&engineering), 1),
        assignment(
            "Contractors",
            Some("ou=contractors, dc=Corp,dc=example, dc=com"),
            2,
        ),
        assignment("Marketing", Some(&marketing), 3),
        assignment("EMEA Sales", Some("OU=Sales,DC=emea,DC=example,DC=com"), 4),
        assignment("Finance", Some("OU=Finance,,DC=corp,DC=example,DC=com"), 5),
        assignment("All Staff (no OU)", None, 6),
    ];
    for i in 1..=DEMO_TEAM_GROUPS {
        let name = format!("Team {i:03}");
        let ou = format!("OU={name},OU=Staff,{corp_dn}");
        corp.assignments.push(assignment(
            &name,
            Some(&ou),
            i64::try_from(6 + i).unwrap_or(i64::MAX),
        ));
    }
    corp.mappings = user_types
        .iter()
        .map(|t| to_app_mapping(t, &corp.app_id, &[]))
        .collect();

    let mut emea = directory(
        "emea.example.com",
        AppStatus::Active,
        &["OU=Users,DC=emea,DC=example,DC=com"],
    );
    emea.assignments = vec![
        assignment("EMEA Staff", Some("OU=Users,DC=emea,DC=example,DC=com"), 0),
        assignment(
            "EMEA Finance",
            Some("OU=Finance,OU=Users,DC=emea,DC=example,DC=com"),
            1,
        ),
        assignment(
            "EMEA Marketing",
            Some("OU=Marketing,DC=emea,DC=example,DC=com"),
            2,
        ),
    ];
    emea.mappings = vec![
        to_app_mapping(
            &user_types[0],
            &emea.app_id,
            &[(
                "dn",
                "\"CN=\" + user.displayName + \",OU=Users,DC=emea,DC=example,DC=com\"",
            )],
        ),
        to_app_mapping(&user_types[1], &emea.app_id, &[]),
    ];

    let mut lab = directory(
        "lab.example.com",
        AppStatus::Inactive,
        &["OU=Lab,DC=lab,DC=example,DC=com"],
    );
    lab.assignments = vec![assignment(
        "Lab Users",
        Some("OU=Old,DC=lab,DC=example,DC=com"),
        0,
    )];
    lab.mappings = vec![to_app_mapping(&user_types[0], &lab.app_id, &[])];

    OrgState {
        format_version: crate::state::SNAPSHOT_FORMAT_VERSION.to_string(),
        org_url: None,
        user_types,
        directories: vec![corp, emea, lab],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_round_trips_through_json() {
        let demo = demo();
        let json = serde_json::to_string_pretty(&demo).unwrap();
        let back: OrgState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, demo);
    }

    #[test]
    fn demo_is_deterministic_and_round_trips_through_the_store() {
        assert_eq!(demo(), demo());
        let store = super::super::store::Store::from_seed(&demo()).unwrap();
        assert_eq!(store.to_seed(), demo());
    }

    #[test]
    fn demo_has_what_the_article_needs() {
        let demo = demo();
        assert!(demo.directories.len() >= 3);
        let corp = demo.directory("corp.example.com").unwrap();
        assert!(corp.assignments.len() > 400);
        assert!(demo
            .directories
            .iter()
            .any(|d| d.status == AppStatus::Inactive));
        let emea = demo.directory("emea.example.com").unwrap();
        assert!(emea
            .mappings
            .iter()
            .any(|m| m.properties.contains_key("dn")));
    }
}
