//! Okta's Event Hooks API, for `ouguard guard register`: list, create, replace, activate and
//! verify a hook (scope `okta.eventHooks.manage`). The shared secret goes out as the hook's
//! `authScheme` value and is never logged or returned (Okta does not return it either).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{decode, OktaClient};
use super::error::OktaError;
use super::reader::segment;
use super::settings::Secret;

/// An Event Hook, as ouguard reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHook {
    pub id: String,
    pub name: String,
    /// `ACTIVE` | `INACTIVE`.
    pub status: String,
    /// `VERIFIED` | `UNVERIFIED`.
    pub verification_status: String,
    pub uri: String,
    pub events: Vec<String>,
}

/// What to register.
#[derive(Debug, Clone)]
pub struct EventHookSpec {
    pub name: String,
    pub uri: String,
    pub events: Vec<String>,
    /// The `Authorization` header value Okta sends with every call.
    pub secret: Secret,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEventHook {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    verification_status: Option<String>,
    #[serde(default)]
    events: Option<WireEvents>,
    #[serde(default)]
    channel: Option<WireChannel>,
}

#[derive(Debug, Deserialize)]
struct WireEvents {
    #[serde(default)]
    items: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct WireChannel {
    #[serde(default)]
    config: Option<WireChannelConfig>,
}

#[derive(Debug, Deserialize)]
struct WireChannelConfig {
    #[serde(default)]
    uri: Option<String>,
}

impl From<WireEventHook> for EventHook {
    fn from(w: WireEventHook) -> Self {
        EventHook {
            id: w.id,
            name: w.name.unwrap_or_default(),
            status: w.status.unwrap_or_default(),
            verification_status: w.verification_status.unwrap_or_default(),
            uri: w
                .channel
                .and_then(|c| c.config)
                .and_then(|c| c.uri)
                .unwrap_or_default(),
            events: w.events.map(|e| e.items).unwrap_or_default(),
        }
    }
}

fn hook_body(spec: &EventHookSpec) -> Value {
    json!({
        "name": spec.name,
        "events": {"type": "EVENT_TYPE", "items": spec.events},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": spec.uri,
                "headers": [],
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": spec.secret.expose()}
            }
        }
    })
}

impl OktaClient {
    /// `GET /api/v1/eventHooks`.
    ///
    /// # Errors
    /// Any `OktaError` (403 without `okta.eventHooks.read`/`.manage`).
    pub async fn list_event_hooks(&self) -> Result<Vec<EventHook>, OktaError> {
        let (hooks, _): (Vec<WireEventHook>, _) = self.get_json("/api/v1/eventHooks").await?;
        Ok(hooks.into_iter().map(EventHook::from).collect())
    }

    /// `POST /api/v1/eventHooks`: a new hook (Okta creates it `ACTIVE`, `UNVERIFIED`).
    ///
    /// # Errors
    /// Any `OktaError` (400 for a URI Okta refuses).
    pub async fn create_event_hook(&self, spec: &EventHookSpec) -> Result<EventHook, OktaError> {
        let url = self.url("/api/v1/eventHooks")?;
        let reply = self.send(Method::POST, url, Some(&hook_body(spec))).await?;
        Ok(decode::<WireEventHook>(&reply)?.into())
    }

    /// `PUT /api/v1/eventHooks/{id}`: replaces name, events and channel (the hook must be
    /// verified again afterwards).
    ///
    /// # Errors
    /// Any `OktaError`.
    pub async fn replace_event_hook(
        &self,
        id: &str,
        spec: &EventHookSpec,
    ) -> Result<EventHook, OktaError> {
        let url = self.url(&format!("/api/v1/eventHooks/{}", segment(id)))?;
        let reply = self.send(Method::PUT, url, Some(&hook_body(spec))).await?;
        Ok(decode::<WireEventHook>(&reply)?.into())
    }

    /// `POST /api/v1/eventHooks/{id}/lifecycle/{verify|activate|deactivate}`.
    ///
    /// # Errors
    /// Any `OktaError`; `verify` answers 400 when the hook's URI did not answer the
    /// challenge.
    pub async fn event_hook_lifecycle(
        &self,
        id: &str,
        action: EventHookLifecycle,
    ) -> Result<EventHook, OktaError> {
        let url = self.url(&format!(
            "/api/v1/eventHooks/{}/lifecycle/{}",
            segment(id),
            action.as_str()
        ))?;
        let reply = self.send(Method::POST, url, None).await?;
        Ok(decode::<WireEventHook>(&reply)?.into())
    }
}

/// The lifecycle operations of an Event Hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventHookLifecycle {
    Verify,
    Activate,
    Deactivate,
}

impl EventHookLifecycle {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventHookLifecycle::Verify => "verify",
            EventHookLifecycle::Activate => "activate",
            EventHookLifecycle::Deactivate => "deactivate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_documented_shape() {
        let spec = EventHookSpec {
            name: "ouguard guard".into(),
            uri: "https://guard.example.com/okta".into(),
            events: vec!["group.application_assignment.add".into()],
            secret: Secret::new("s3cret"),
        };
        let body = hook_body(&spec);
        assert_eq!(body["events"]["type"], "EVENT_TYPE");
        assert_eq!(body["channel"]["config"]["authScheme"]["type"], "HEADER");
        assert_eq!(
            body["channel"]["config"]["authScheme"]["key"],
            "Authorization"
        );
        assert_eq!(body["channel"]["version"], "1.0.0");
    }
}
