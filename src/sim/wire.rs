//! The simulator's own JSON wire types, written from Okta's management API documentation and
//! spec (`Application`, `ApplicationGroupAssignment`, `ProfileMapping`, `UserType`,
//! `LogEvent`, `Error`). They must never be shared with, or imported from, the client side:
//! the point is that each side is written independently.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use super::ids::timestamp;
use super::store::{
    AppKind, AppUserOrigin, EndKind, StoredApp, StoredAppUser, StoredAssignment, StoredEvent,
    StoredMapping, StoredMappingEnd, StoredUser, StoredUserType,
};
use crate::state::AppStatus;

/// `{"href": …}`: Okta's `HrefObject`.
#[derive(Debug, Clone, Serialize)]
pub struct Href {
    pub href: String,
}

fn href(base: &str, path: &str) -> Href {
    Href {
        href: format!("{base}{path}"),
    }
}

/// Okta's error body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    pub error_summary: String,
    pub error_link: String,
    pub error_id: String,
    pub error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCause {
    pub error_summary: String,
}

fn status_str(status: AppStatus) -> &'static str {
    match status {
        AppStatus::Active => "ACTIVE",
        AppStatus::Inactive => "INACTIVE",
    }
}

// ---------------------------------------------------------------------------------------
// Application

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub name: String,
    pub label: String,
    pub status: &'static str,
    pub last_updated: String,
    pub created: String,
    pub accessibility: Accessibility,
    pub visibility: Visibility,
    pub features: Vec<&'static str>,
    /// `null` for AD apps: Okta returns no sign-on mode for directory integrations.
    pub sign_on_mode: Option<&'static str>,
    pub credentials: Credentials,
    pub settings: Settings,
    #[serde(rename = "_links")]
    pub links: ApplicationLinks,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accessibility {
    pub self_service: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_redirect_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Visibility {
    pub auto_submit_toolbar: bool,
    pub hide: VisibilityHide,
    pub app_links: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VisibilityHide {
    #[serde(rename = "iOS")]
    pub ios: bool,
    pub web: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub user_name_template: UserNameTemplate,
    pub signing: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserNameTemplate {
    pub template: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Settings {
    Directory { app: DirectoryAppSettings },
    Bookmark { app: BookmarkAppSettings },
}

/// `settings.app` of an AD integration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAppSettings {
    pub naming_context: String,
    pub filter_groups_by_ou: bool,
    pub jit_groups_across_domains: bool,
    pub activation_email: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    /// A single OU string, often null; not the import-OU list.
    pub search_org_unit: Option<String>,
    /// An integer or null (Okta's Python SDK models it as an int).
    pub scan_rate: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookmarkAppSettings {
    pub request_integration: bool,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationLinks {
    #[serde(rename = "self")]
    pub self_link: Href,
    pub groups: Href,
    pub users: Href,
    pub logo: Vec<Href>,
    pub app_links: Vec<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activate: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivate: Option<Href>,
}

impl Application {
    #[must_use]
    pub fn from_store(app: &StoredApp, base: &str) -> Application {
        let api = format!("/api/v1/apps/{}", app.id);
        let (features, sign_on_mode, settings) = match &app.kind {
            AppKind::Directory(dir) => (
                vec![
                    "IMPORT_NEW_USERS",
                    "IMPORT_PROFILE_UPDATES",
                    "IMPORT_USER_SCHEMA",
                    "PROFILE_MASTERING",
                    "PUSH_NEW_USERS",
                    "PUSH_PASSWORD_UPDATES",
                    "PUSH_PROFILE_UPDATES",
                    "PUSH_USER_DEACTIVATION",
                    "REACTIVATE_USERS",
                ],
                None,
                Settings::Directory {
                    app: DirectoryAppSettings {
                        naming_context: dir.domain.clone(),
                        filter_groups_by_ou: false,
                        jit_groups_across_domains: false,
                        activation_email: None,
                        login: None,
                        password: None,
                        search_org_unit: None,
                        scan_rate: None,
                    },
                },
            ),
            AppKind::Bookmark { url } => (
                Vec::new(),
                Some("BOOKMARK"),
                Settings::Bookmark {
                    app: BookmarkAppSettings {
                        request_integration: false,
                        url: url.clone(),
                    },
                },
            ),
        };
        let active = app.status == AppStatus::Active;
        Application {
            id: app.id.clone(),
            name: app.name.clone(),
            label: app.label.clone(),
            status: status_str(app.status),
            last_updated: app.last_updated.clone(),
            created: app.created.clone(),
            accessibility: Accessibility {
                self_service: false,
                error_redirect_url: None,
                login_redirect_url: None,
            },
            visibility: Visibility {
                auto_submit_toolbar: false,
                hide: VisibilityHide {
                    ios: false,
                    web: false,
                },
                app_links: Map::new(),
            },
            features,
            sign_on_mode,
            credentials: Credentials {
                user_name_template: UserNameTemplate {
                    template: "${source.login}".into(),
                    kind: "BUILT_IN".into(),
                },
                signing: Map::new(),
            },
            settings,
            links: ApplicationLinks {
                self_link: href(base, &api),
                groups: href(base, &format!("{api}/groups")),
                users: href(base, &format!("{api}/users")),
                logo: Vec::new(),
                app_links: Vec::new(),
                activate: (!active).then(|| href(base, &format!("{api}/lifecycle/activate"))),
                deactivate: active.then(|| href(base, &format!("{api}/lifecycle/deactivate"))),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// ApplicationGroupAssignment

/// Borrows from the store: a page of 200 is serialized without copying the org's strings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupAssignment<'a> {
    pub id: &'a str,
    pub last_updated: &'a str,
    pub priority: i64,
    pub profile: &'a Map<String, Value>,
    #[serde(rename = "_links")]
    pub links: GroupAssignmentLinks,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<GroupAssignmentEmbedded<'a>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupAssignmentLinks {
    pub app: Href,
    #[serde(rename = "self")]
    pub self_link: Href,
    pub group: Href,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupAssignmentEmbedded<'a> {
    pub group: Group<'a>,
}

/// Okta's `Group` object, as embedded by `expand=group`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group<'a> {
    pub id: &'a str,
    pub created: Cow<'a, str>,
    pub last_updated: Cow<'a, str>,
    pub last_membership_updated: Cow<'a, str>,
    pub object_class: [&'static str; 1],
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub profile: GroupProfile<'a>,
    #[serde(rename = "_links")]
    pub links: GroupLinks,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupProfile<'a> {
    pub name: Cow<'a, str>,
    /// A string when set (the spec's `OktaUserGroupProfile` has no null description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupLinks {
    #[serde(rename = "self")]
    pub self_link: Href,
}

impl<'a> Group<'a> {
    /// A group on its own (`/api/v1/users/{id}/groups`).
    #[must_use]
    pub fn standalone(
        id: &'a str,
        (name, created): (Cow<'a, str>, Cow<'a, str>),
        base: &str,
    ) -> Group<'a> {
        Group {
            id,
            created: created.clone(),
            last_updated: created.clone(),
            last_membership_updated: created,
            object_class: ["okta:user_group"],
            kind: "OKTA_GROUP",
            profile: GroupProfile {
                name,
                description: None,
            },
            links: GroupLinks {
                self_link: Href {
                    href: format!("{base}/api/v1/groups/{id}"),
                },
            },
        }
    }
}

impl<'a> GroupAssignment<'a> {
    /// `group` is the group's name and `created` timestamp ([`super::store::Store::group_view`]).
    #[must_use]
    pub fn from_store(
        app_id: &str,
        a: &'a StoredAssignment,
        (group_name, group_created): (Cow<'a, str>, Cow<'a, str>),
        embed_group: bool,
        base: &str,
    ) -> GroupAssignment<'a> {
        let group_href = || Href {
            href: format!("{base}/api/v1/groups/{}", a.group_id),
        };
        GroupAssignment {
            id: &a.group_id,
            last_updated: &a.last_updated,
            priority: a.priority.unwrap_or(0),
            profile: &a.profile,
            links: GroupAssignmentLinks {
                app: Href {
                    href: format!("{base}/api/v1/apps/{app_id}"),
                },
                self_link: Href {
                    href: format!("{base}/api/v1/apps/{app_id}/groups/{}", a.group_id),
                },
                group: group_href(),
            },
            embedded: embed_group.then(|| GroupAssignmentEmbedded {
                group: Group {
                    id: &a.group_id,
                    created: group_created.clone(),
                    last_updated: group_created.clone(),
                    last_membership_updated: group_created,
                    object_class: ["okta:user_group"],
                    kind: "OKTA_GROUP",
                    profile: GroupProfile {
                        name: group_name,
                        description: None,
                    },
                    links: GroupLinks {
                        self_link: group_href(),
                    },
                },
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ProfileMapping

#[derive(Debug, Clone, Serialize)]
pub struct ProfileMapping {
    pub id: String,
    pub source: MappingEnd,
    pub target: MappingEnd,
    /// Present on single reads and updates; absent from list items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    #[serde(rename = "_links")]
    pub links: SelfLinks,
}

#[derive(Debug, Clone, Serialize)]
pub struct MappingEnd {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "_links")]
    pub links: MappingEndLinks,
}

#[derive(Debug, Clone, Serialize)]
pub struct MappingEndLinks {
    #[serde(rename = "self")]
    pub self_link: Href,
    pub schema: Href,
}

#[derive(Debug, Clone, Serialize)]
pub struct SelfLinks {
    #[serde(rename = "self")]
    pub self_link: Href,
}

fn mapping_end(end: &StoredMappingEnd, base: &str) -> MappingEnd {
    match end.kind {
        EndKind::UserType => MappingEnd {
            id: end.id.clone(),
            name: end.name.clone(),
            kind: "user",
            links: MappingEndLinks {
                self_link: href(base, &format!("/api/v1/meta/types/user/{}", end.id)),
                schema: href(
                    base,
                    &format!(
                        "/api/v1/meta/schemas/user/{}",
                        super::ids::derived_id("osc", &end.id)
                    ),
                ),
            },
        },
        EndKind::AppUser => MappingEnd {
            id: end.id.clone(),
            name: end.name.clone(),
            kind: "appuser",
            links: MappingEndLinks {
                self_link: href(base, &format!("/api/v1/apps/{}", end.id)),
                schema: href(
                    base,
                    &format!("/api/v1/meta/schemas/apps/{}/default", end.id),
                ),
            },
        },
    }
}

impl ProfileMapping {
    #[must_use]
    pub fn from_store(m: &StoredMapping, with_properties: bool, base: &str) -> ProfileMapping {
        let properties = with_properties.then(|| {
            m.properties
                .iter()
                .map(|(k, p)| {
                    let mut prop = Map::new();
                    prop.insert(
                        "expression".into(),
                        p.expression.clone().map_or(Value::Null, Value::String),
                    );
                    prop.insert(
                        "pushStatus".into(),
                        p.push_status.clone().map_or(Value::Null, Value::String),
                    );
                    (k.clone(), Value::Object(prop))
                })
                .collect()
        });
        ProfileMapping {
            id: m.id.clone(),
            source: mapping_end(&m.source, base),
            target: mapping_end(&m.target, base),
            properties,
            links: SelfLinks {
                self_link: href(base, &format!("/api/v1/mappings/{}", m.id)),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// UserType

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserType {
    pub id: String,
    pub display_name: String,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub last_updated_by: String,
    pub created: String,
    pub last_updated: String,
    pub default: bool,
    #[serde(rename = "_links")]
    pub links: MappingEndLinks,
}

impl UserType {
    #[must_use]
    pub fn from_store(t: &StoredUserType, base: &str) -> UserType {
        let admin = super::ids::derived_id("00u", "sim-admin");
        UserType {
            id: t.id.clone(),
            display_name: t.display_name.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            created_by: admin.clone(),
            last_updated_by: admin,
            created: t.created.clone(),
            last_updated: t.last_updated.clone(),
            default: t.default,
            links: MappingEndLinks {
                self_link: href(base, &format!("/api/v1/meta/types/user/{}", t.id)),
                schema: href(
                    base,
                    &format!(
                        "/api/v1/meta/schemas/user/{}",
                        super::ids::derived_id("osc", &t.id)
                    ),
                ),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// LogEvent

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    pub uuid: String,
    pub published: String,
    pub event_type: String,
    pub version: String,
    pub severity: &'static str,
    pub legacy_event_type: String,
    pub display_message: String,
    pub actor: LogActor,
    pub client: LogClient,
    pub outcome: LogOutcome,
    pub target: Vec<LogTarget>,
    pub transaction: LogTransaction,
    pub debug_context: LogDebugContext,
    pub authentication_context: Map<String, Value>,
    pub security_context: Map<String, Value>,
    pub request: LogRequest,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogActor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogClient {
    pub ip_address: String,
    pub device: String,
    pub user_agent: LogUserAgent,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogUserAgent {
    pub raw_user_agent: String,
    pub os: String,
    pub browser: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogOutcome {
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTarget {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_details: Option<ChangeDetails>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeDetails {
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogTransaction {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub detail: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogDebugContext {
    pub debug_data: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRequest {
    pub ip_chain: Vec<Value>,
}

impl LogEvent {
    #[must_use]
    pub fn from_store(e: &StoredEvent) -> LogEvent {
        let mut debug_data = Map::new();
        debug_data.insert("requestId".into(), Value::String(e.request_id.clone()));
        debug_data.insert("requestUri".into(), Value::String(e.request_uri.clone()));
        debug_data.insert("url".into(), Value::String(e.request_uri.clone()));
        let mut detail = Map::new();
        detail.insert(
            "requestApiTokenId".into(),
            Value::String(super::ids::derived_id("00T", "sim-token")),
        );
        LogEvent {
            uuid: e.uuid.clone(),
            published: timestamp(e.published),
            event_type: e.event_type.clone(),
            version: "0".into(),
            severity: "INFO",
            legacy_event_type: e.event_type.replace('.', "_"),
            display_message: e.display_message.clone(),
            actor: if e.by_system {
                LogActor {
                    id: super::ids::derived_id("0oa", "okta-system"),
                    kind: "PublicClientApp".into(),
                    alternate_id: "Okta System".into(),
                    display_name: "Okta System".into(),
                }
            } else {
                LogActor {
                    id: super::ids::derived_id("00u", "sim-admin"),
                    kind: "User".into(),
                    alternate_id: "admin@example.com".into(),
                    display_name: "Simulated Admin".into(),
                }
            },
            client: LogClient {
                ip_address: "127.0.0.1".into(),
                device: "Unknown".into(),
                user_agent: LogUserAgent {
                    raw_user_agent: "ouguard-sim".into(),
                    os: "Unknown".into(),
                    browser: "UNKNOWN".into(),
                },
            },
            outcome: LogOutcome {
                result: e.outcome_result,
                reason: e.outcome_reason.clone(),
            },
            target: e
                .targets
                .iter()
                .map(|t| LogTarget {
                    id: t.id.clone(),
                    kind: t.kind.clone(),
                    alternate_id: t.alternate_id.clone(),
                    display_name: t.display_name.clone(),
                    change_details: t
                        .change
                        .clone()
                        .map(|(from, to)| ChangeDetails { from, to }),
                })
                .collect(),
            transaction: LogTransaction {
                kind: "WEB",
                id: e.request_id.clone(),
                detail,
            },
            debug_context: LogDebugContext { debug_data },
            authentication_context: Map::new(),
            security_context: Map::new(),
            request: LogRequest {
                ip_chain: Vec::new(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// User (a group member) and AppUser

/// Okta's `User`, as `/api/v1/groups/{id}/users` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub status: &'static str,
    pub created: String,
    pub activated: String,
    pub status_changed: String,
    pub last_login: Option<String>,
    pub last_updated: String,
    pub password_changed: Option<String>,
    #[serde(rename = "type")]
    pub user_type: UserTypeRef,
    pub profile: UserProfile,
    pub credentials: UserCredentials,
    #[serde(rename = "_links")]
    pub links: UserLinks,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserTypeRef {
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub login: String,
    pub mobile_phone: Option<String>,
    pub second_email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserCredentials {
    pub provider: UserProvider,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserProvider {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserLinks {
    #[serde(rename = "self")]
    pub self_link: Href,
}

impl User {
    #[must_use]
    pub fn from_store(u: &StoredUser, user_type_id: &str, base: &str) -> User {
        User {
            id: u.id.clone(),
            status: "ACTIVE",
            created: u.created.clone(),
            activated: u.created.clone(),
            status_changed: u.created.clone(),
            last_login: None,
            last_updated: u.created.clone(),
            password_changed: None,
            user_type: UserTypeRef {
                id: user_type_id.to_string(),
            },
            profile: UserProfile {
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                email: u.login.clone(),
                login: u.login.clone(),
                mobile_phone: None,
                second_email: None,
            },
            credentials: UserCredentials {
                provider: UserProvider {
                    kind: "OKTA",
                    name: "OKTA",
                },
            },
            links: UserLinks {
                self_link: href(base, &format!("/api/v1/users/{}", u.id)),
            },
        }
    }
}

/// Okta's `AppUser`: a user's assignment to an app, with the app's profile of the user (for
/// AD, `dn` is the user's distinguishedName once AD has the user).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUser {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created: String,
    pub last_updated: String,
    pub scope: &'static str,
    pub status: &'static str,
    pub status_changed: String,
    pub password_changed: Option<String>,
    pub sync_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<String>,
    pub credentials: AppUserCredentials,
    pub profile: Map<String, Value>,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<AppUserEmbedded>,
    #[serde(rename = "_links")]
    pub links: AppUserLinks,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUserCredentials {
    pub user_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppUserEmbedded {
    pub user: User,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppUserLinks {
    pub app: Href,
    pub user: Href,
}

impl AppUser {
    /// `user`: the Okta user behind the app user; `embed`: `expand=user`.
    #[must_use]
    pub fn from_store(
        app_id: &str,
        a: &StoredAppUser,
        user: Option<&StoredUser>,
        user_type_id: &str,
        embed: bool,
        base: &str,
    ) -> AppUser {
        let mut profile = Map::new();
        let login = user.map_or_else(|| a.user_id.clone(), |u| u.login.clone());
        if let Some(u) = user {
            profile.insert("firstName".into(), Value::String(u.first_name.clone()));
            profile.insert("lastName".into(), Value::String(u.last_name.clone()));
            profile.insert("email".into(), Value::String(u.login.clone()));
        }
        let sam = login.split('@').next().unwrap_or(&login).to_string();
        profile.insert("samAccountName".into(), Value::String(sam));
        profile.insert("dn".into(), a.dn.clone().map_or(Value::Null, Value::String));
        AppUser {
            id: a.user_id.clone(),
            external_id: a.external_id.clone(),
            created: a.created.clone(),
            last_updated: a.last_updated.clone(),
            scope: match a.origin {
                AppUserOrigin::Imported => "USER",
                AppUserOrigin::Group(_) => "GROUP",
            },
            status: a.status,
            status_changed: a.last_updated.clone(),
            password_changed: None,
            sync_state: a.sync_state,
            last_sync: a.last_sync.clone(),
            credentials: AppUserCredentials { user_name: login },
            profile,
            embedded: match (embed, user) {
                (true, Some(u)) => Some(AppUserEmbedded {
                    user: User::from_store(u, user_type_id, base),
                }),
                _ => None,
            },
            links: AppUserLinks {
                app: href(base, &format!("/api/v1/apps/{app_id}")),
                user: href(base, &format!("/api/v1/users/{}", a.user_id)),
            },
        }
    }
}
