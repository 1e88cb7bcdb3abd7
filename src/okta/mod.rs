//! Okta: the only part of ouguard that knows HTTP and Okta's JSON. It resolves connection
//! settings, talks to the org (pacing, retries, pagination), and converts Okta's answers into
//! `crate::state` types at its edge. Nothing outside this module sees a wire type or reqwest.

mod client;
mod dpop;
mod error;
mod event_hooks;
mod events;
mod evidence;
mod keys;
mod oauth;
mod ratelimit;
mod reader;
mod settings;
mod slots;
#[cfg(test)]
mod test_server;
mod wire;
mod writes;

pub use client::{
    ClientOptions, ClientStats, OktaClient, WaitNotice, WaitReporter, DEFAULT_MAX_API_SHARE,
    MAX_PAGES, MAX_RESPONSE_BYTES,
};
pub use error::{ApiError, OktaError, TokenRefusal};
pub use event_hooks::{EventHook, EventHookLifecycle, EventHookSpec};
pub use events::{parse_event_hook_delivery, Delivery, DeliveryError, LogPage};
pub use evidence::{
    list_directories, read_evidence, read_user_groups, EvidenceRequest, PROVISIONING_EVENT_TYPES,
};
pub use oauth::ScopeSet;
pub use reader::{read_org_state, NoProgress, Progress, ReadOutcome};
pub(crate) use settings::is_loopback;
pub use settings::{
    normalize_org_url, resolve_connection_settings, ConnectionFlags, ConnectionSettings,
    Credentials, Secret, SettingSource,
};
pub use writes::{
    assignment_put_body, mapping_removal_body, mapping_restore_body, whole_assignment_body,
    FetchedAssignment, RawAssignment, WriteResult,
};
