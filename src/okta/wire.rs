//! Okta's JSON as ouguard reads it: private, lenient serde DTOs (unknown fields ignored,
//! optional where Okta is known to omit or null things) and their conversion into
//! `crate::state` types. Must not leak outside `okta/`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::state::{GroupAssignment, Mapping, MappingEnd, MappingProperty, UserType};

/// An app instance (`GET /api/v1/apps`). AD apps have `signOnMode: null`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct App {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read for leniency: AD apps carry `null` here
    pub sign_on_mode: Option<String>,
    #[serde(default)]
    pub settings: Value,
}

impl App {
    /// `settings.app.namingContext`: the AD domain as an FQDN.
    pub(super) fn naming_context(&self) -> Option<&str> {
        self.settings
            .get("app")?
            .get("namingContext")?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// `GET /api/v1/meta/types/user` items.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireUserType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub default: Option<bool>,
}

impl From<WireUserType> for UserType {
    fn from(t: WireUserType) -> Self {
        UserType {
            id: t.id,
            name: t.name,
            display_name: t.display_name,
            default: t.default.unwrap_or(false),
        }
    }
}

/// An app group assignment (`GET /api/v1/apps/{appId}/groups[/{groupId}]`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireAssignment {
    /// The group id.
    pub id: String,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub profile: Option<Map<String, Value>>,
    #[serde(default, rename = "_embedded")]
    pub embedded: Option<Embedded>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Embedded {
    #[serde(default)]
    pub group: Option<EmbeddedGroup>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbeddedGroup {
    #[serde(default)]
    pub profile: Option<EmbeddedGroupProfile>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbeddedGroupProfile {
    #[serde(default)]
    pub name: Option<String>,
}

pub(super) const OU_KEY: &str = "organizationalUnit";

impl WireAssignment {
    /// The embedded group's name (`expand=group`), if Okta sent it.
    pub(super) fn group_name(&self) -> Option<&str> {
        self.embedded
            .as_ref()?
            .group
            .as_ref()?
            .profile
            .as_ref()?
            .name
            .as_deref()
    }

    /// The domain value; the group name falls back to the group id when not embedded.
    /// A non-string `organizationalUnit` is reported through `warn`.
    pub(super) fn to_domain(&self, warn: &mut dyn FnMut(String)) -> GroupAssignment {
        let profile = self.profile.clone().unwrap_or_default();
        let mut other_profile = BTreeMap::new();
        let mut organizational_unit = None;
        for (key, value) in profile {
            if key == OU_KEY {
                match value {
                    Value::String(s) => organizational_unit = Some(s),
                    Value::Null => {}
                    other => warn(format!(
                        "group `{}`: `profile.organizationalUnit` is not a string ({}), treated as unset",
                        self.id,
                        json_kind(&other)
                    )),
                }
            } else {
                other_profile.insert(key, value);
            }
        }
        GroupAssignment {
            group_id: self.id.clone(),
            group_name: self
                .group_name()
                .map_or_else(|| self.id.clone(), str::to_string),
            priority: self.priority,
            organizational_unit,
            last_updated: self.last_updated.clone().unwrap_or_default(),
            other_profile,
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A profile mapping, from the list (no `properties`) or the single GET (with them).
#[derive(Debug, Deserialize)]
pub(super) struct WireMapping {
    pub id: String,
    pub source: WireMappingEnd,
    pub target: WireMappingEnd,
    /// A map keyed by target variable name (the spec types it as one object; it is not).
    #[serde(default)]
    pub properties: Option<BTreeMap<String, Option<WireMappingProperty>>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireMappingEnd {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireMappingProperty {
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub push_status: Option<String>,
}

impl WireMapping {
    /// `true` for an Okta user → app ("To App") mapping.
    pub(super) fn is_from_okta_user(&self) -> bool {
        self.source.kind.as_deref() == Some("user")
    }
}

impl From<WireMappingEnd> for MappingEnd {
    fn from(end: WireMappingEnd) -> Self {
        MappingEnd {
            name: end.name.unwrap_or_else(|| end.id.clone()),
            id: end.id,
        }
    }
}

impl From<WireMapping> for Mapping {
    fn from(m: WireMapping) -> Self {
        let properties = m
            .properties
            .unwrap_or_default()
            .into_iter()
            .map(|(key, property)| {
                let property = property.map_or(
                    MappingProperty {
                        expression: None,
                        push_status: None,
                    },
                    |p| MappingProperty {
                        expression: p.expression,
                        push_status: p.push_status,
                    },
                );
                (key, property)
            })
            .collect();
        Mapping {
            id: m.id,
            source_user_type: m.source.into(),
            target: m.target.into(),
            properties,
        }
    }
}

/// Okta's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_summary: Option<String>,
    #[serde(default)]
    pub error_id: Option<String>,
    #[serde(default)]
    pub error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrorCause {
    #[serde(default)]
    pub error_summary: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_app_with_null_sign_on_mode_and_unknown_fields() {
        let app: App = serde_json::from_str(
            r#"{"id":"0oa1","name":"active_directory","label":"corp.example.com","status":"ACTIVE",
                "signOnMode":null,"weird":{"x":1},
                "settings":{"app":{"namingContext":"corp.example.com","searchOrgUnit":null}}}"#,
        )
        .expect("parses");
        assert_eq!(app.naming_context(), Some("corp.example.com"));
    }

    #[test]
    fn assignment_without_embedded_group_uses_the_id() {
        let a: WireAssignment = serde_json::from_str(
            r#"{"id":"00g1","lastUpdated":"2026-01-01T00:00:00.000Z","priority":2,
                "profile":{"organizationalUnit":"OU=A,DC=x","fullName":null}}"#,
        )
        .expect("parses");
        let d = a.to_domain(&mut |_| {});
        assert_eq!(d.group_name, "00g1");
        assert_eq!(d.organizational_unit.as_deref(), Some("OU=A,DC=x"));
        assert_eq!(d.other_profile.len(), 1);
    }

    #[test]
    fn mapping_properties_are_a_map_with_nullable_values() {
        let m: WireMapping = serde_json::from_str(
            r#"{"id":"prm1","source":{"id":"oty1","name":"user","type":"user"},
                "target":{"id":"0oa1","name":"active_directory","type":"appuser"},
                "properties":{"dn":{"expression":"user.x","pushStatus":"PUSH"},"cn":null}}"#,
        )
        .expect("parses");
        assert!(m.is_from_okta_user());
        let m = Mapping::from(m);
        assert_eq!(m.properties["dn"].expression.as_deref(), Some("user.x"));
        assert_eq!(m.properties["cn"].expression, None);
    }
}

// ---------------------------------------------------------------------------------------
// Evidence: app users, group members, System Log events

/// An app user (`GET /api/v1/apps/{id}/users`). For AD, `profile.dn` is the user's
/// distinguishedName once AD has the user [inferred].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireAppUser {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub sync_state: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub credentials: Option<WireAppUserCredentials>,
    #[serde(default)]
    pub profile: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireAppUserCredentials {
    #[serde(default)]
    pub user_name: Option<String>,
}

impl WireAppUser {
    pub(super) fn into_fact(self) -> crate::evidence::AppUserFact {
        let text = |key: &str| {
            self.profile
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let login = self
            .credentials
            .as_ref()
            .and_then(|c| c.user_name.clone())
            .or_else(|| text("email"))
            .unwrap_or_else(|| self.id.clone());
        crate::evidence::AppUserFact {
            dn: text("dn"),
            login,
            status: self.status.clone().unwrap_or_default(),
            sync_state: self.sync_state.clone(),
            last_updated: self.last_updated.as_deref().and_then(parse_time),
            user_id: self.id,
        }
    }
}

/// A group member (`GET /api/v1/groups/{id}/users`).
#[derive(Debug, Deserialize)]
pub(super) struct WireMember {
    pub id: String,
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl From<WireMember> for crate::evidence::Member {
    fn from(m: WireMember) -> Self {
        let login = m
            .profile
            .get("login")
            .and_then(Value::as_str)
            .map_or_else(|| m.id.clone(), str::to_string);
        crate::evidence::Member {
            user_id: m.id,
            login,
        }
    }
}

/// A System Log event, only the parts provisioning evidence needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireLogEvent {
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub outcome: Option<WireLogOutcome>,
    #[serde(default)]
    pub target: Option<Vec<WireLogTarget>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireLogOutcome {
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireLogTarget {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub alternate_id: Option<String>,
}

impl WireLogEvent {
    /// The provisioning event for `app_id`, when this is one: the user and the app are found
    /// among the targets by `type`, never by position. `None` for anything else (a result
    /// other than SUCCESS/FAILURE, no user target, another app).
    pub(super) fn into_provisioning(
        self,
        app_id: &str,
    ) -> Option<crate::evidence::ProvisioningEvent> {
        let targets = self.target.unwrap_or_default();
        let on_app = targets
            .iter()
            .any(|t| t.kind.as_deref() == Some("AppInstance") && t.id.as_deref() == Some(app_id));
        let user = targets.iter().find(|t| t.kind.as_deref() == Some("User"))?;
        let outcome = self.outcome?;
        let success = match outcome.result.as_deref()? {
            "SUCCESS" => true,
            "FAILURE" => false,
            _ => return None,
        };
        if !on_app {
            return None;
        }
        let user_id = user.id.clone()?;
        Some(crate::evidence::ProvisioningEvent {
            published: self.published.as_deref().and_then(parse_time)?,
            event_type: self.event_type.unwrap_or_default(),
            success,
            login: user.alternate_id.clone().unwrap_or_else(|| user_id.clone()),
            user_id,
            reason: outcome.reason.filter(|r| !r.trim().is_empty()),
        })
    }
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A group a user is a member of (`GET /api/v1/users/{id}/groups`): only its id matters.
#[derive(Debug, Deserialize)]
pub(super) struct WireUserGroup {
    pub id: String,
}
