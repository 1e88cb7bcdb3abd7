//! The events the guard judges, as plain data: what an Event Hook delivery or a System Log
//! page says about one change. `okta/` turns Okta's `LogEvent` JSON into these at its edge;
//! the guard's journal stores them in this (ouguard's own) shape.

use serde::{Deserialize, Serialize};

/// Assignment changes that the guard judges with R1.
pub const ASSIGNMENT_EVENT_TYPES: &[&str] = &[
    "group.application_assignment.add",
    "group.application_assignment.update",
    "group.application_assignment.remove",
];

/// Provisioning results that the guard records as impact.
pub const PROVISIONING_EVENT_TYPES: &[&str] = &[
    "application.provision.user.sync",
    "application.provision.user.push",
];

/// Every event type the guard subscribes to, in the order `guard register` sends them.
/// `application.provision.user.push` is not event-hook eligible (okta-api.md §10): `register`
/// leaves it out, `--from-logs` asks for it.
#[must_use]
pub fn hook_event_types() -> Vec<&'static str> {
    ASSIGNMENT_EVENT_TYPES
        .iter()
        .chain(std::iter::once(&"application.provision.user.sync"))
        .copied()
        .collect()
}

/// Every event type `--from-logs` asks the System Log for.
#[must_use]
pub fn log_event_types() -> Vec<&'static str> {
    ASSIGNMENT_EVENT_TYPES
        .iter()
        .chain(PROVISIONING_EVENT_TYPES)
        .copied()
        .collect()
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    pub id: String,
    pub alternate_id: String,
    pub display_name: String,
}

/// One `target[]` entry of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    /// Okta's `type`: `AppInstance`, `UserGroup`, `User`, …
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
}

/// One System Log event, as far as the guard cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardEvent {
    pub uuid: String,
    /// `published`, exactly as Okta wrote it (RFC 3339).
    pub published: String,
    pub event_type: String,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub targets: Vec<Target>,
    /// `outcome.result`: `SUCCESS`, `FAILURE`, …
    #[serde(default)]
    pub outcome: Option<String>,
    /// `outcome.reason`, possibly empty.
    #[serde(default)]
    pub reason: Option<String>,
}

impl GuardEvent {
    /// The first target of type `kind` (targets are found by type, never by position).
    #[must_use]
    pub fn target(&self, kind: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind == kind)
    }

    /// The app instance the event is about.
    #[must_use]
    pub fn app_id(&self) -> Option<&str> {
        self.target("AppInstance").map(|t| t.id.as_str())
    }

    /// What the guard does with the event.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        let t = self.event_type.as_str();
        if ASSIGNMENT_EVENT_TYPES.contains(&t) {
            EventKind::Assignment
        } else if PROVISIONING_EVENT_TYPES.contains(&t) {
            if self.outcome.as_deref() == Some("FAILURE") {
                EventKind::ProvisioningFailure
            } else {
                EventKind::Other
            }
        } else {
            EventKind::Other
        }
    }
}

/// How the guard treats an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A group's assignment to an app was added, changed or removed: judge it.
    Assignment,
    /// A provisioning operation failed: record its impact.
    ProvisioningFailure,
    /// Anything else: counted, not judged.
    Other,
}

/// Sorts a batch by `published` (RFC 3339 UTC strings of one producer sort as text; ties
/// keep their order).
pub fn sort_by_published(events: &mut [GuardEvent]) {
    events.sort_by(|a, b| a.published.cmp(&b.published));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, outcome: Option<&str>) -> GuardEvent {
        GuardEvent {
            uuid: "u".into(),
            published: "2026-01-01T00:00:00.000Z".into(),
            event_type: event_type.into(),
            actor: None,
            targets: vec![
                Target {
                    id: "00g1".into(),
                    kind: "UserGroup".into(),
                    alternate_id: "Marketing".into(),
                    display_name: "Marketing".into(),
                },
                Target {
                    id: "0oa1".into(),
                    kind: "AppInstance".into(),
                    alternate_id: "corp".into(),
                    display_name: "corp".into(),
                },
            ],
            outcome: outcome.map(str::to_string),
            reason: None,
        }
    }

    #[test]
    fn kinds_and_targets_by_type() {
        let e = event("group.application_assignment.add", Some("SUCCESS"));
        assert_eq!(e.kind(), EventKind::Assignment);
        assert_eq!(e.app_id(), Some("0oa1"));
        assert_eq!(
            event("application.provision.user.sync", Some("FAILURE")).kind(),
            EventKind::ProvisioningFailure
        );
        assert_eq!(
            event("application.provision.user.sync", Some("SUCCESS")).kind(),
            EventKind::Other
        );
        assert_eq!(event("user.session.start", None).kind(), EventKind::Other);
        assert!(!hook_event_types().contains(&"application.provision.user.push"));
        assert!(log_event_types().contains(&"application.provision.user.push"));
    }
}
