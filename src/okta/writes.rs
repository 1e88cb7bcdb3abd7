//! The fresh reads and the two writes `apply` performs: retarget a group assignment's OU
//! (PUT of the whole assignment) and delete one mapping property (POST `{key: null}`).
//! Must not touch anything else, and never retries a write except after a 429.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::state::{GroupAssignment, Mapping};

use super::client::{decode, OktaClient};
use super::error::OktaError;
use super::reader::segment;
use super::wire::{WireAssignment, WireMapping, OU_KEY};

/// An assignment exactly as Okta returned it, the base of a whole-assignment PUT.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAssignment {
    pub app_id: String,
    pub group_id: String,
    pub priority: Option<i64>,
    /// The full `profile`, every key kept.
    pub profile: Map<String, Value>,
    pub last_updated: Option<String>,
}

/// A fresh read of one group assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedAssignment {
    pub assignment: GroupAssignment,
    pub raw: RawAssignment,
    pub request_id: Option<String>,
}

/// What a write returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResult {
    /// `X-Okta-Request-Id` of the write: recorded in the run record.
    pub request_id: Option<String>,
    /// The object's new `lastUpdated`, when the answer carried one.
    pub last_updated: Option<String>,
}

impl OktaClient {
    /// `GET /api/v1/apps/{appId}/groups/{groupId}?expand=group`.
    ///
    /// # Errors
    /// Any `OktaError`; `is_not_found()` when the group is no longer assigned.
    pub async fn get_group_assignment(
        &self,
        app_id: &str,
        group_id: &str,
    ) -> Result<FetchedAssignment, OktaError> {
        let path = format!(
            "/api/v1/apps/{}/groups/{}?expand=group",
            segment(app_id),
            segment(group_id)
        );
        let (wire, request_id): (WireAssignment, _) = self.get_json(&path).await?;
        let assignment = wire.to_domain(&mut |warning| {
            tracing::warn!("{warning}");
        });
        let raw = RawAssignment {
            app_id: app_id.to_string(),
            group_id: wire.id.clone(),
            priority: wire.priority,
            profile: wire.profile.clone().unwrap_or_default(),
            last_updated: wire.last_updated.clone(),
        };
        Ok(FetchedAssignment {
            assignment,
            raw,
            request_id,
        })
    }

    /// `PUT /api/v1/apps/{appId}/groups/{groupId}` with `fresh`'s priority and full profile,
    /// only `organizationalUnit` changed to `new_ou`. Not retried on 5xx or transport errors:
    /// the caller finds out by reading again.
    ///
    /// # Errors
    /// Any `OktaError`; after a 5xx, `Transport` or `Timeout` the write may or may not have
    /// happened.
    pub async fn put_group_assignment_ou(
        &self,
        app_id: &str,
        group_id: &str,
        fresh: &RawAssignment,
        new_ou: &str,
    ) -> Result<WriteResult, OktaError> {
        let body = assignment_put_body(fresh, new_ou);
        let url = self.url(&format!(
            "/api/v1/apps/{}/groups/{}",
            segment(app_id),
            segment(group_id)
        ))?;
        let reply = self.send(Method::PUT, url, Some(&body)).await?;
        // The write happened: a body we cannot read must not turn it into a failure.
        let last_updated = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("lastUpdated")?.as_str().map(str::to_string));
        Ok(WriteResult {
            request_id: reply.request_id,
            last_updated,
        })
    }

    /// `GET /api/v1/mappings/{mappingId}`, with its properties.
    ///
    /// # Errors
    /// Any `OktaError`; `is_not_found()` when the mapping is gone.
    pub async fn get_mapping(
        &self,
        mapping_id: &str,
    ) -> Result<(Mapping, Option<String>), OktaError> {
        let path = format!("/api/v1/mappings/{}", segment(mapping_id));
        let (wire, request_id): (WireMapping, _) = self.get_json(&path).await?;
        Ok((Mapping::from(wire), request_id))
    }

    /// `POST /api/v1/mappings/{mappingId}` with exactly `{"properties": {"<key>": null}}`.
    /// Okta's update is partial: no other property is touched.
    ///
    /// # Errors
    /// Any `OktaError`; as for every write, a 5xx or transport error leaves it unknown
    /// whether the key was removed: re-read.
    pub async fn remove_mapping_property(
        &self,
        mapping_id: &str,
        key: &str,
    ) -> Result<WriteResult, OktaError> {
        let url = self.url(&format!("/api/v1/mappings/{}", segment(mapping_id)))?;
        let body = mapping_removal_body(key);
        let reply = self.send(Method::POST, url, Some(&body)).await?;
        // Checked for shape only; the caller re-reads to confirm the key is gone.
        let _: Result<WireMapping, _> = decode(&reply);
        Ok(WriteResult {
            request_id: reply.request_id,
            last_updated: None,
        })
    }
}

/// The body of the retarget's PUT: `fresh`'s priority and full profile, only
/// `organizationalUnit` changed (also what the run record says was written).
#[must_use]
pub fn assignment_put_body(fresh: &RawAssignment, new_ou: &str) -> Value {
    let mut profile = fresh.profile.clone();
    profile.insert(OU_KEY.to_string(), Value::String(new_ou.to_string()));
    let mut body = Map::new();
    if let Some(priority) = fresh.priority {
        body.insert("priority".into(), json!(priority));
    }
    body.insert("profile".into(), Value::Object(profile));
    Value::Object(body)
}

/// The body of a mapping property's delete: exactly `{"properties": {"<key>": null}}`.
#[must_use]
pub fn mapping_removal_body(key: &str) -> Value {
    let mut properties = Map::new();
    properties.insert(key.to_string(), Value::Null);
    json!({ "properties": properties })
}

impl OktaClient {
    /// `PUT /api/v1/apps/{appId}/groups/{groupId}` with exactly `priority` (when set) and the
    /// whole `profile` given: an undo puts an assignment back as the run record says it was.
    /// Not retried on 5xx or transport errors: the caller finds out by reading again.
    ///
    /// # Errors
    /// Any `OktaError`; after a 5xx, `Transport` or `Timeout` the write may or may not have
    /// happened.
    pub async fn put_group_assignment_whole(
        &self,
        app_id: &str,
        group_id: &str,
        priority: Option<i64>,
        profile: &Map<String, Value>,
    ) -> Result<WriteResult, OktaError> {
        let body = whole_assignment_body(priority, profile);
        let url = self.url(&format!(
            "/api/v1/apps/{}/groups/{}",
            segment(app_id),
            segment(group_id)
        ))?;
        let reply = self.send(Method::PUT, url, Some(&body)).await?;
        let last_updated = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("lastUpdated")?.as_str().map(str::to_string));
        Ok(WriteResult {
            request_id: reply.request_id,
            last_updated,
        })
    }

    /// `POST /api/v1/mappings/{mappingId}` with exactly
    /// `{"properties": {"<key>": {"expression": …, "pushStatus": …}}}`: puts one property back
    /// (Okta's update is partial: no other property is touched).
    ///
    /// # Errors
    /// Any `OktaError`; a 5xx or transport error leaves it unknown whether the property was
    /// written: re-read.
    pub async fn restore_mapping_property(
        &self,
        mapping_id: &str,
        key: &str,
        expression: &str,
        push_status: &str,
    ) -> Result<WriteResult, OktaError> {
        let url = self.url(&format!("/api/v1/mappings/{}", segment(mapping_id)))?;
        let body = mapping_restore_body(key, expression, push_status);
        let reply = self.send(Method::POST, url, Some(&body)).await?;
        let _: Result<WireMapping, _> = decode(&reply);
        Ok(WriteResult {
            request_id: reply.request_id,
            last_updated: None,
        })
    }
}

/// The body of an undo's PUT: the recorded priority and whole profile, nothing else.
pub fn whole_assignment_body(priority: Option<i64>, profile: &Map<String, Value>) -> Value {
    let mut body = Map::new();
    if let Some(priority) = priority {
        body.insert("priority".into(), json!(priority));
    }
    body.insert("profile".into(), Value::Object(profile.clone()));
    Value::Object(body)
}

/// The body that puts one mapping property back.
pub fn mapping_restore_body(key: &str, expression: &str, push_status: &str) -> Value {
    let mut properties = Map::new();
    properties.insert(
        key.to_string(),
        json!({"expression": expression, "pushStatus": push_status}),
    );
    json!({ "properties": properties })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_bodies_are_exactly_the_recorded_values() {
        let mut profile = Map::new();
        profile.insert("organizationalUnit".into(), json!("OU=Old,DC=x"));
        profile.insert("samAccountName".into(), Value::Null);
        assert_eq!(
            whole_assignment_body(Some(2), &profile),
            json!({"priority": 2, "profile": {"organizationalUnit": "OU=Old,DC=x", "samAccountName": null}})
        );
        assert_eq!(
            whole_assignment_body(None, &Map::new()),
            json!({"profile": {}})
        );
        assert_eq!(
            mapping_restore_body("dn", "user.dn", "DONT_PUSH"),
            json!({"properties": {"dn": {"expression": "user.dn", "pushStatus": "DONT_PUSH"}}})
        );
    }

    #[test]
    fn put_body_keeps_everything_but_the_ou() {
        let mut profile = Map::new();
        profile.insert("organizationalUnit".into(), json!("OU=Old,DC=x"));
        profile.insert("fullName".into(), json!("Keep Me"));
        profile.insert("samAccountName".into(), Value::Null);
        let fresh = RawAssignment {
            app_id: "0oa1".into(),
            group_id: "00g1".into(),
            priority: Some(3),
            profile,
            last_updated: None,
        };
        assert_eq!(
            assignment_put_body(&fresh, "OU=New,DC=x"),
            json!({"priority": 3, "profile": {"organizationalUnit": "OU=New,DC=x", "fullName": "Keep Me", "samAccountName": null}})
        );
    }

    #[test]
    fn removal_body_is_exactly_the_key() {
        assert_eq!(
            mapping_removal_body("dn"),
            json!({"properties": {"dn": null}})
        );
    }
}

#[cfg(test)]
mod http_tests {
    use super::super::test_server::{bounded, fast_options, script, Canned};
    use super::*;

    const ASSIGNMENT: &str = r#"{"id":"00g1","lastUpdated":"2026-11-01T00:00:00.000Z","priority":4,
        "profile":{"organizationalUnit":"OU=Old,DC=corp,DC=example,DC=com","fullName":"Keep","memberOf":["a"]},
        "_embedded":{"group":{"profile":{"name":"Marketing"}}}}"#;

    #[tokio::test]
    async fn retarget_reads_then_puts_the_whole_assignment() {
        bounded(async {
            let server = script()
                .route("GET", "/api/v1/apps/0oa1/groups/00g1", vec![Canned::ok(ASSIGNMENT).header("x-okta-request-id", "read-1")])
                .route(
                    "PUT",
                    "/api/v1/apps/0oa1/groups/00g1",
                    vec![Canned::ok(r#"{"id":"00g1","lastUpdated":"2026-11-29T18:00:00.000Z","priority":4,"profile":{}}"#)
                        .header("x-okta-request-id", "write-1")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let fetched = client.get_group_assignment("0oa1", "00g1").await.expect("reads");
            assert_eq!(fetched.request_id.as_deref(), Some("read-1"));
            assert_eq!(fetched.assignment.group_name, "Marketing");
            assert_eq!(fetched.assignment.last_updated, "2026-11-01T00:00:00.000Z");
            let result = client
                .put_group_assignment_ou("0oa1", "00g1", &fetched.raw, "OU=Staff,DC=corp,DC=example,DC=com")
                .await
                .expect("writes");
            assert_eq!(result.request_id.as_deref(), Some("write-1"));
            assert_eq!(result.last_updated.as_deref(), Some("2026-11-29T18:00:00.000Z"));
            let requests = server.requests();
            assert_eq!(requests[0].target, "/api/v1/apps/0oa1/groups/00g1?expand=group");
            let sent: Value = serde_json::from_str(&requests[1].body).expect("json body");
            assert_eq!(
                sent,
                json!({"priority": 4, "profile": {"organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com", "fullName": "Keep", "memberOf": ["a"]}})
            );
            assert_eq!(requests[1].method, "PUT");
            assert_eq!(requests[1].header("content-type"), Some("application/json"));
        })
        .await;
    }

    #[tokio::test]
    async fn removing_a_mapping_property_posts_only_that_key() {
        bounded(async {
            let mapping = r#"{"id":"prm1","source":{"id":"oty1","name":"user","type":"user"},
                "target":{"id":"0oa1","name":"active_directory","type":"appuser"},
                "properties":{"dn":{"expression":"user.dn","pushStatus":"PUSH"}}}"#;
            let server = script()
                .route("GET", "/api/v1/mappings/prm1", vec![Canned::ok(mapping)])
                .route(
                    "POST",
                    "/api/v1/mappings/prm1",
                    vec![Canned::ok(mapping).header("x-okta-request-id", "write-2")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let (read, request_id) = client.get_mapping("prm1").await.expect("reads");
            assert_eq!(read.properties["dn"].expression.as_deref(), Some("user.dn"));
            assert_eq!(request_id.as_deref(), Some("req-1"));
            let result = client
                .remove_mapping_property("prm1", "dn")
                .await
                .expect("writes");
            assert_eq!(result.request_id.as_deref(), Some("write-2"));
            assert_eq!(server.requests()[1].body, r#"{"properties":{"dn":null}}"#);
        })
        .await;
    }

    #[tokio::test]
    async fn a_missing_assignment_is_not_found() {
        bounded(async {
            let server = script().start().await;
            let client = server.client(fast_options());
            let e = client
                .get_group_assignment("0oa1", "00gX")
                .await
                .expect_err("404");
            assert!(e.is_not_found());
            assert!(e.hint().unwrap_or_default().contains("`0oa1`"));
        })
        .await;
    }
}
