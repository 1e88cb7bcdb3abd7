//! The simulated org's state: apps, groups, group assignments, profile mappings, user types,
//! System Log events and the hidden import OUs. Built from and exported to an `OrgState`
//! seed; extra data a seed does not carry (created dates, groups, From-App mappings, a
//! non-AD app) is derived deterministically. No HTTP and no wire types here.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::ids::{derived_id, derived_timestamp, group_created, timestamp, WriteClock};
use crate::state::{
    AppStatus, Directory, GroupAssignment, ImportOuSource, ImportOus, Mapping, MappingEnd,
    MappingProperty, OrgState, UserType,
};

/// App name Okta gives every Active Directory integration.
pub const AD_APP_NAME: &str = "active_directory";

/// Why a seed cannot become a simulated org.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("app id `{0}` appears twice in the seed")]
    DuplicateAppId(String),
    #[error("mapping id `{0}` appears twice in the seed")]
    DuplicateMappingId(String),
    #[error("group `{group}` is assigned twice to directory `{directory}`")]
    DuplicateAssignment { directory: String, group: String },
    #[error("directory `{0}` not found")]
    UnknownDirectory(String),
}

#[derive(Debug, Clone)]
pub struct StoredUserType {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub default: bool,
    pub created: String,
    pub last_updated: String,
}

#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub id: String,
    pub name: String,
    /// `created` (and `lastUpdated`) of the embedded group, derived from the id once.
    pub created: String,
}

#[derive(Debug, Clone)]
pub struct StoredAssignment {
    pub group_id: String,
    pub priority: Option<i64>,
    /// The whole assignment profile, `organizationalUnit` included.
    pub profile: Map<String, Value>,
    pub last_updated: String,
}

impl StoredAssignment {
    /// `profile.organizationalUnit` when it is a string.
    #[must_use]
    pub fn organizational_unit(&self) -> Option<&str> {
        self.profile
            .get("organizationalUnit")
            .and_then(Value::as_str)
    }
}

/// Hidden and visible data of an AD directory integration.
#[derive(Debug, Clone)]
pub struct DirectoryData {
    pub domain: String,
    pub import_ous: Option<ImportOus>,
    pub assignments: Vec<StoredAssignment>,
    pub mappings_read: bool,
    /// The directory's app users (imported from AD, or pushed to it by a group), in the
    /// order Okta lists them. Filled by `population`.
    pub app_users: Vec<StoredAppUser>,
}

/// An Okta user (a group member or a user imported from AD).
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub login: String,
    pub created: String,
}

/// How an app user came to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppUserOrigin {
    /// Imported from AD (`scope` `USER`).
    Imported,
    /// Pushed to AD through this group's assignment (`scope` `GROUP`): the member's group
    /// assigned to the directory with the highest priority.
    Group(String),
}

/// A user's assignment to an AD app, with what AD knows of them.
#[derive(Debug, Clone)]
pub struct StoredAppUser {
    pub user_id: String,
    pub origin: AppUserOrigin,
    /// `PROVISIONED`/`ACTIVE` once AD has the user, `STAGED` while the push failed.
    pub status: &'static str,
    /// `SYNCHRONIZED`, or `ERROR` after a failed push.
    pub sync_state: &'static str,
    /// AD's objectGUID, set once AD has the user.
    pub external_id: Option<String>,
    /// `profile.dn`: the user's distinguishedName in AD, once AD has the user.
    pub dn: Option<String>,
    pub created: String,
    pub last_updated: String,
    pub last_sync: Option<String>,
}

#[derive(Debug, Clone)]
pub enum AppKind {
    Directory(DirectoryData),
    /// A plain bookmark app, present so that `filter=name eq "active_directory"` has
    /// something to filter out.
    Bookmark {
        url: String,
    },
}

#[derive(Debug, Clone)]
pub struct StoredApp {
    pub id: String,
    pub name: String,
    pub label: String,
    pub status: AppStatus,
    pub created: String,
    pub last_updated: String,
    pub kind: AppKind,
}

impl StoredApp {
    #[must_use]
    pub fn directory(&self) -> Option<&DirectoryData> {
        match &self.kind {
            AppKind::Directory(d) => Some(d),
            AppKind::Bookmark { .. } => None,
        }
    }
    pub fn directory_mut(&mut self) -> Option<&mut DirectoryData> {
        match &mut self.kind {
            AppKind::Directory(d) => Some(d),
            AppKind::Bookmark { .. } => None,
        }
    }
    fn matches(&self, id_or_domain: &str) -> bool {
        self.id == id_or_domain
            || self
                .directory()
                .is_some_and(|d| d.domain.eq_ignore_ascii_case(id_or_domain))
    }
}

/// Which side of a mapping an end is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// An Okta user type (`type: "user"`).
    UserType,
    /// An app instance's user profile (`type: "appuser"`).
    AppUser,
}

#[derive(Debug, Clone)]
pub struct StoredMappingEnd {
    pub id: String,
    pub name: String,
    pub kind: EndKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProperty {
    pub expression: Option<String>,
    pub push_status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredMapping {
    pub id: String,
    pub source: StoredMappingEnd,
    pub target: StoredMappingEnd,
    pub properties: BTreeMap<String, StoredProperty>,
    /// `true` for mappings derived by the simulator (AD → Okta), which a seed does not carry.
    pub derived: bool,
}

/// One System Log event, in the simulator's own terms (rendered by `wire`).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub uuid: String,
    pub published: DateTime<Utc>,
    pub event_type: String,
    pub display_message: String,
    pub request_id: String,
    pub request_uri: String,
    /// `outcome.result`: `SUCCESS` or `FAILURE`.
    pub outcome_result: &'static str,
    /// `outcome.reason`, when Okta gives one.
    pub outcome_reason: Option<String>,
    /// `true` for what Okta does by itself (provisioning): the actor is Okta, not an admin.
    pub by_system: bool,
    pub targets: Vec<EventTarget>,
}

#[derive(Debug, Clone)]
pub struct EventTarget {
    pub id: String,
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
    pub change: Option<(Value, Value)>,
}

/// The whole simulated org.
#[derive(Debug)]
pub struct Store {
    pub org_url: Option<String>,
    pub user_types: Vec<StoredUserType>,
    pub apps: Vec<StoredApp>,
    /// By id; only ever looked up (every listed assignment looks up its group).
    pub groups: HashMap<String, StoredGroup>,
    pub mappings: Vec<StoredMapping>,
    /// Ordered by `published` (appended as they happen): a System Log cursor is a position.
    pub events: Vec<StoredEvent>,
    pub clock: WriteClock,
    /// Okta users by id (members and imported users); filled by `population`.
    pub users: HashMap<String, StoredUser>,
    /// Group id → member user ids, in the order Okta lists them.
    pub members: HashMap<String, Vec<String>>,
}

impl Store {
    /// The id of the org's default user type (empty when there is none).
    #[must_use]
    pub fn default_user_type_id(&self) -> String {
        self.user_types
            .iter()
            .find(|t| t.default)
            .map(|t| t.id.clone())
            .unwrap_or_default()
    }

    /// Builds the org from a seed, deriving what the seed does not carry.
    pub fn from_seed(seed: &OrgState) -> Result<Store, SeedError> {
        let mut clock = WriteClock::default();
        let mut user_types: Vec<StoredUserType> = seed
            .user_types
            .iter()
            .map(|t| {
                let created = timestamp(derived_timestamp(&format!("created:{}", t.id)));
                StoredUserType {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    display_name: t.display_name.clone().unwrap_or_else(|| t.name.clone()),
                    description: format!("Okta user type `{}`", t.name),
                    default: t.default,
                    created: created.clone(),
                    last_updated: created,
                }
            })
            .collect();
        // Okta always has a default user type; synthesize one if the seed has none.
        let default_type = if let Some(t) = user_types.iter().find(|t| t.default) {
            t.clone()
        } else {
            let id = derived_id("oty", "default-user-type");
            let created = timestamp(derived_timestamp(&format!("created:{id}")));
            let t = StoredUserType {
                id,
                name: "user".into(),
                display_name: "User".into(),
                description: "Okta user profile template with default permission settings".into(),
                default: true,
                created: created.clone(),
                last_updated: created,
            };
            user_types.insert(0, t.clone());
            t
        };

        let mut apps = Vec::new();
        let mut groups = HashMap::new();
        let mut mappings: Vec<StoredMapping> = Vec::new();
        for dir in &seed.directories {
            if apps.iter().any(|a: &StoredApp| a.id == dir.app_id) {
                return Err(SeedError::DuplicateAppId(dir.app_id.clone()));
            }
            let mut assignments: Vec<StoredAssignment> = Vec::new();
            for a in &dir.assignments {
                if assignments.iter().any(|x| x.group_id == a.group_id) {
                    return Err(SeedError::DuplicateAssignment {
                        directory: dir.domain.clone(),
                        group: a.group_id.clone(),
                    });
                }
                clock.observe(&a.last_updated);
                groups
                    .entry(a.group_id.clone())
                    .or_insert_with(|| StoredGroup {
                        id: a.group_id.clone(),
                        name: a.group_name.clone(),
                        created: group_created(&a.group_id),
                    });
                let mut profile: Map<String, Value> = a
                    .other_profile
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if let Some(ou) = &a.organizational_unit {
                    profile.insert("organizationalUnit".into(), Value::String(ou.clone()));
                }
                assignments.push(StoredAssignment {
                    group_id: a.group_id.clone(),
                    priority: a.priority,
                    profile,
                    last_updated: a.last_updated.clone(),
                });
            }
            for m in &dir.mappings {
                if mappings.iter().any(|x| x.id == m.id) {
                    return Err(SeedError::DuplicateMappingId(m.id.clone()));
                }
                mappings.push(StoredMapping {
                    id: m.id.clone(),
                    source: StoredMappingEnd {
                        id: m.source_user_type.id.clone(),
                        name: m.source_user_type.name.clone(),
                        kind: EndKind::UserType,
                    },
                    target: StoredMappingEnd {
                        id: dir.app_id.clone(),
                        name: m.target.name.clone(),
                        kind: EndKind::AppUser,
                    },
                    properties: m
                        .properties
                        .iter()
                        .map(|(k, p)| {
                            (
                                k.clone(),
                                StoredProperty {
                                    expression: p.expression.clone(),
                                    push_status: p.push_status.clone(),
                                },
                            )
                        })
                        .collect(),
                    derived: false,
                });
            }
            // AD → Okta ("From App") mapping: Okta always has one per directory.
            mappings.push(from_app_mapping(&dir.app_id, &default_type));
            let created = derived_timestamp(&format!("created:{}", dir.app_id));
            apps.push(StoredApp {
                id: dir.app_id.clone(),
                name: AD_APP_NAME.into(),
                label: dir.label.clone(),
                status: dir.status,
                created: timestamp(created),
                last_updated: timestamp(created + chrono::Duration::days(30)),
                kind: AppKind::Directory(DirectoryData {
                    domain: dir.domain.clone(),
                    import_ous: dir.import_ous.clone(),
                    assignments,
                    mappings_read: dir.mappings_read,
                    app_users: Vec::new(),
                }),
            });
        }
        let bookmark_id = derived_id("0oa", "bookmark:intranet");
        let created = derived_timestamp(&format!("created:{bookmark_id}"));
        apps.push(StoredApp {
            id: bookmark_id,
            name: "bookmark".into(),
            label: "Intranet".into(),
            status: AppStatus::Active,
            created: timestamp(created),
            last_updated: timestamp(created),
            kind: AppKind::Bookmark {
                url: "https://intranet.example.com/".into(),
            },
        });
        Ok(Store {
            org_url: seed.org_url.clone(),
            user_types,
            apps,
            groups,
            mappings,
            events: Vec::new(),
            clock,
            users: HashMap::new(),
            members: HashMap::new(),
        })
    }

    /// [`Store::from_seed`], then its people and their provisioning history
    /// (`population`), pushed over the days before now.
    pub fn populated(
        seed: &OrgState,
        population: &super::population::Population,
    ) -> Result<Store, SeedError> {
        let mut store = Store::from_seed(seed)?;
        super::population::populate(&mut store, population, chrono::Utc::now());
        Ok(store)
    }

    /// The org as an `OrgState` seed (the inverse of [`Store::from_seed`]).
    #[must_use]
    pub fn to_seed(&self) -> OrgState {
        let directories = self
            .apps
            .iter()
            .filter_map(|app| {
                let dir = app.directory()?;
                Some(Directory {
                    app_id: app.id.clone(),
                    domain: dir.domain.clone(),
                    label: app.label.clone(),
                    status: app.status,
                    import_ous: dir.import_ous.clone(),
                    assignments: dir
                        .assignments
                        .iter()
                        .map(|a| self.assignment_to_seed(a))
                        .collect(),
                    mappings: self
                        .mappings
                        .iter()
                        .filter(|m| !m.derived && m.target.id == app.id)
                        .map(mapping_to_seed)
                        .collect(),
                    mappings_read: dir.mappings_read,
                })
            })
            .collect();
        OrgState {
            format_version: crate::state::SNAPSHOT_FORMAT_VERSION.to_string(),
            org_url: self.org_url.clone(),
            user_types: self
                .user_types
                .iter()
                .map(|t| UserType {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    display_name: Some(t.display_name.clone()),
                    default: t.default,
                })
                .collect(),
            directories,
        }
    }

    fn assignment_to_seed(&self, a: &StoredAssignment) -> GroupAssignment {
        let mut other = BTreeMap::new();
        let mut ou = None;
        for (k, v) in &a.profile {
            if k == "organizationalUnit" {
                ou = v.as_str().map(str::to_string);
            } else {
                other.insert(k.clone(), v.clone());
            }
        }
        GroupAssignment {
            group_id: a.group_id.clone(),
            group_name: self.group_name(&a.group_id),
            priority: a.priority,
            organizational_unit: ou,
            last_updated: a.last_updated.clone(),
            other_profile: other,
        }
    }

    /// A group's name and `created` timestamp (for a group the org does not know: its id,
    /// and the timestamp derived from it).
    #[must_use]
    pub fn group_view(&self, group_id: &str) -> (Cow<'_, str>, Cow<'_, str>) {
        match self.groups.get(group_id) {
            Some(g) => (Cow::Borrowed(&g.name), Cow::Borrowed(&g.created)),
            None => (
                Cow::Owned(group_id.to_string()),
                Cow::Owned(group_created(group_id)),
            ),
        }
    }

    #[must_use]
    pub fn group_name(&self, group_id: &str) -> String {
        self.groups
            .get(group_id)
            .map_or_else(|| group_id.to_string(), |g| g.name.clone())
    }

    #[must_use]
    pub fn app(&self, id: &str) -> Option<&StoredApp> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub fn app_mut(&mut self, id: &str) -> Option<&mut StoredApp> {
        self.apps.iter_mut().find(|a| a.id == id)
    }

    /// A directory by app id or domain (case-insensitive).
    pub fn directory_app_mut(&mut self, id_or_domain: &str) -> Option<&mut StoredApp> {
        self.apps
            .iter_mut()
            .find(|a| a.directory().is_some() && a.matches(id_or_domain))
    }

    #[must_use]
    pub fn mapping(&self, id: &str) -> Option<&StoredMapping> {
        self.mappings.iter().find(|m| m.id == id)
    }

    pub fn mapping_mut(&mut self, id: &str) -> Option<&mut StoredMapping> {
        self.mappings.iter_mut().find(|m| m.id == id)
    }

    /// Adds `ou` to a directory's import OUs (what an admin does by ticking the box in the
    /// console). Returns `false` when it was already there, spelled exactly the same.
    pub fn tick_import_ou(&mut self, id_or_domain: &str, ou: &str) -> Result<bool, SeedError> {
        let app = self
            .directory_app_mut(id_or_domain)
            .ok_or_else(|| SeedError::UnknownDirectory(id_or_domain.to_string()))?;
        let Some(dir) = app.directory_mut() else {
            return Err(SeedError::UnknownDirectory(id_or_domain.to_string()));
        };
        let import_ous = dir.import_ous.get_or_insert_with(|| ImportOus {
            source: ImportOuSource::Simulator,
            ous: Vec::new(),
        });
        if import_ous.ous.iter().any(|o| o == ou) {
            return Ok(false);
        }
        import_ous.ous.push(ou.to_string());
        Ok(true)
    }
}

fn mapping_to_seed(m: &StoredMapping) -> Mapping {
    Mapping {
        id: m.id.clone(),
        source_user_type: MappingEnd {
            id: m.source.id.clone(),
            name: m.source.name.clone(),
        },
        target: MappingEnd {
            id: m.target.id.clone(),
            name: m.target.name.clone(),
        },
        properties: m
            .properties
            .iter()
            .map(|(k, p)| {
                (
                    k.clone(),
                    MappingProperty {
                        expression: p.expression.clone(),
                        push_status: p.push_status.clone(),
                    },
                )
            })
            .collect(),
    }
}

fn from_app_mapping(app_id: &str, default_type: &StoredUserType) -> StoredMapping {
    let mut properties = BTreeMap::new();
    for (key, expr) in [
        ("firstName", "appuser.firstName"),
        ("lastName", "appuser.lastName"),
        ("email", "appuser.email"),
        ("login", "appuser.userName"),
    ] {
        properties.insert(
            key.to_string(),
            StoredProperty {
                expression: Some(expr.to_string()),
                push_status: Some("PUSH".into()),
            },
        );
    }
    StoredMapping {
        id: derived_id("prm", &format!("from-app:{app_id}")),
        source: StoredMappingEnd {
            id: app_id.to_string(),
            name: AD_APP_NAME.into(),
            kind: EndKind::AppUser,
        },
        target: StoredMappingEnd {
            id: default_type.id.clone(),
            name: default_type.name.clone(),
            kind: EndKind::UserType,
        },
        properties,
        derived: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_view_is_its_name_and_fixed_created_time() {
        let store = Store::from_seed(&crate::sim::seed::demo()).expect("the demo seeds");
        let (id, group) = store.groups.iter().next().expect("a group");
        let (name, created) = store.group_view(id);
        assert_eq!(name, group.name.as_str());
        assert_eq!(created, group_created(id));
        assert_eq!(
            created,
            timestamp(derived_timestamp(&format!("created:{id}")))
        );
        // An id the org does not know stands for its own name.
        let (name, created) = store.group_view("00gnotagroup");
        assert_eq!(name, "00gnotagroup");
        assert_eq!(created, group_created("00gnotagroup"));
    }
}
