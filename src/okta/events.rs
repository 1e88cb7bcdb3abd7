//! Okta's `LogEvent` JSON as the guard receives it: in an Event Hook delivery (`POST` body
//! `{"eventType": "com.okta.event_hook", "data": {"events": [...]}}`) or a System Log
//! polling query (`GET /api/v1/logs`, no `until`, ascending, `next` followed forever).
//! Lenient private DTOs, converted into `guard::event::GuardEvent` here; every text from
//! outside is shortened.

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::{decode, next_link, OktaClient};
use super::error::OktaError;
use crate::guard::event::{Actor, GuardEvent, Target};

/// Longest text kept from any field of an event.
const MAX_FIELD_CHARS: usize = 1024;
/// Longest `uuid` accepted (Okta's are 36 characters).
const MAX_UUID_CHARS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDelivery {
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    data: Option<WireDeliveryData>,
}

#[derive(Debug, Deserialize)]
struct WireDeliveryData {
    #[serde(default)]
    events: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogEvent {
    uuid: String,
    #[serde(default)]
    published: Option<String>,
    event_type: String,
    #[serde(default)]
    actor: Option<WireLogActor>,
    #[serde(default)]
    target: Option<Vec<WireLogTarget>>,
    #[serde(default)]
    outcome: Option<WireLogOutcome>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogActor {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    alternate_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogTarget {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    alternate_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireLogOutcome {
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn short(text: Option<String>) -> String {
    let text = text.unwrap_or_default();
    if text.chars().count() <= MAX_FIELD_CHARS {
        text
    } else {
        text.chars().take(MAX_FIELD_CHARS).collect()
    }
}

impl WireLogEvent {
    fn into_event(self) -> Option<GuardEvent> {
        let uuid = self.uuid.trim().to_string();
        if uuid.is_empty() || uuid.chars().count() > MAX_UUID_CHARS {
            return None;
        }
        Some(GuardEvent {
            uuid,
            published: short(self.published),
            event_type: short(Some(self.event_type)),
            actor: self.actor.map(|a| Actor {
                id: short(a.id),
                alternate_id: short(a.alternate_id),
                display_name: short(a.display_name),
            }),
            targets: self
                .target
                .unwrap_or_default()
                .into_iter()
                .take(32)
                .map(|t| Target {
                    id: short(t.id),
                    kind: short(t.kind),
                    alternate_id: short(t.alternate_id),
                    display_name: short(t.display_name),
                })
                .collect(),
            outcome: self
                .outcome
                .as_ref()
                .and_then(|o| o.result.clone())
                .map(|r| short(Some(r))),
            reason: self.outcome.and_then(|o| o.reason).map(|r| short(Some(r))),
        })
    }
}

/// What a delivery held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub events: Vec<GuardEvent>,
    /// Entries of `data.events` that were not events (no `uuid` or `eventType`): skipped.
    pub skipped: usize,
}

/// Why a delivery body was refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("`eventType` is `{0}`, not `com.okta.event_hook`")]
    WrongType(String),
    #[error("the body has no `data.events` list")]
    NoEvents,
}

/// Parses an Event Hook delivery body. Entries that are not events are counted and skipped,
/// so one bad entry does not lose the rest of the batch.
///
/// # Errors
/// A body that is not JSON, not an event hook delivery, or has no `data.events`.
pub fn parse_event_hook_delivery(body: &[u8]) -> Result<Delivery, DeliveryError> {
    let wire: WireDelivery =
        serde_json::from_slice(body).map_err(|e| DeliveryError::NotJson(e.to_string()))?;
    if let Some(kind) = wire.event_type.as_deref() {
        if kind != "com.okta.event_hook" {
            return Err(DeliveryError::WrongType(crate::text::truncate_for_message(
                kind,
            )));
        }
    }
    let data = wire.data.ok_or(DeliveryError::NoEvents)?;
    let mut delivery = Delivery::default();
    for value in data.events {
        match serde_json::from_value::<WireLogEvent>(value)
            .ok()
            .and_then(WireLogEvent::into_event)
        {
            Some(event) => delivery.events.push(event),
            None => delivery.skipped += 1,
        }
    }
    Ok(delivery)
}

/// One page of a System Log polling query.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub events: Vec<GuardEvent>,
    /// Entries that were not events (skipped).
    pub skipped: usize,
    /// The `next` link: where to poll from now on. A polling query always has one.
    pub next: String,
}

impl OktaClient {
    /// The first URL of a System Log polling query for `event_types` from `since` (RFC 3339):
    /// no `until`, ascending, 1,000 a page (okta-api.md §8).
    ///
    /// # Errors
    /// `Config` if the URL cannot be built.
    pub fn log_polling_start(
        &self,
        since: &str,
        event_types: &[&str],
    ) -> Result<String, OktaError> {
        let filter = event_types
            .iter()
            .map(|t| format!("eventType eq \"{t}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("since", since)
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", "1000")
            .append_pair("filter", &filter)
            .finish();
        Ok(self.url(&format!("/api/v1/logs?{query}"))?.to_string())
    }

    /// Reads one page of a polling query at `url` (a start URL or a saved `next` link, which
    /// must lead to this org). Scope `okta.logs.read`.
    ///
    /// # Errors
    /// Any `OktaError`; `Decode` when the page has no `next` link (not a polling query) or
    /// the link leaves the org.
    pub async fn poll_log_page(&self, url: &str) -> Result<LogPage, OktaError> {
        let parsed = Url::parse(url).map_err(|e| {
            OktaError::config(format!(
                "the saved System Log position `{url}` is not a url: {e}"
            ))
        })?;
        self.check_same_origin(&parsed)?;
        let reply = self.send(Method::GET, parsed, None).await?;
        let values: Vec<serde_json::Value> = decode(&reply)?;
        let bad = |detail: String| OktaError::Decode {
            method: "GET".into(),
            url: reply.url.to_string(),
            request_id: reply.request_id.clone(),
            detail,
        };
        let next = next_link(&reply.headers).ok_or_else(|| {
            bad("a System Log polling query answered without a `next` link".into())
        })?;
        let next = reply
            .url
            .join(&next)
            .map_err(|e| bad(format!("the `next` link is not a valid url: {e}")))?;
        self.check_same_origin(&next)
            .map_err(|_| bad("the `next` link leads outside the org".into()))?;
        let mut page = LogPage {
            events: Vec::new(),
            skipped: 0,
            next: next.to_string(),
        };
        for value in values {
            match serde_json::from_value::<WireLogEvent>(value)
                .ok()
                .and_then(WireLogEvent::into_event)
            {
                Some(event) => page.events.push(event),
                None => page.skipped += 1,
            }
        }
        Ok(page)
    }

    fn check_same_origin(&self, url: &Url) -> Result<(), OktaError> {
        let org = Url::parse(self.org_url()).map_err(|e| OktaError::config(e.to_string()))?;
        if url.scheme() == org.scheme()
            && url.host_str() == org.host_str()
            && url.port_or_known_default() == org.port_or_known_default()
        {
            Ok(())
        } else {
            Err(OktaError::config_with_hint(
                format!(
                    "the System Log position `{}` is not on the org `{}`",
                    url.host_str().unwrap_or("?"),
                    self.org_url()
                ),
                "delete the guard's checkpoint to start polling afresh",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_leniently() {
        let body = serde_json::json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "data": {"events": [
                {"uuid": "a1", "published": "2026-01-01T00:00:00.000Z",
                 "eventType": "group.application_assignment.add",
                 "actor": {"id": "00u1", "type": "User", "alternateId": "admin@x", "displayName": "Admin"},
                 "outcome": {"result": "SUCCESS"},
                 "target": [{"id": "0oa1", "type": "AppInstance", "alternateId": "corp", "displayName": "corp"}],
                 "extra": {"ignored": true}},
                {"published": "no uuid"},
                {"uuid": "", "eventType": "x"},
                "not an object"
            ]}
        });
        let d = parse_event_hook_delivery(body.to_string().as_bytes()).unwrap();
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.skipped, 3);
        assert_eq!(d.events[0].app_id(), Some("0oa1"));
        assert_eq!(d.events[0].actor.as_ref().unwrap().alternate_id, "admin@x");
        assert!(matches!(
            parse_event_hook_delivery(b"{nope"),
            Err(DeliveryError::NotJson(_))
        ));
        assert_eq!(
            parse_event_hook_delivery(br#"{"eventType": "other", "data": {"events": []}}"#),
            Err(DeliveryError::WrongType("other".into()))
        );
        assert_eq!(
            parse_event_hook_delivery(br#"{"eventType": "com.okta.event_hook"}"#),
            Err(DeliveryError::NoEvents)
        );
    }

    #[test]
    fn long_fields_are_cut() {
        let long = "x".repeat(5000);
        let body = serde_json::json!({"data": {"events": [
            {"uuid": "u", "eventType": long, "outcome": {"reason": long}}
        ]}});
        let d = parse_event_hook_delivery(body.to_string().as_bytes()).unwrap();
        assert_eq!(d.events[0].event_type.len(), MAX_FIELD_CHARS);
        assert_eq!(d.events[0].reason.as_ref().unwrap().len(), MAX_FIELD_CHARS);
    }
}
