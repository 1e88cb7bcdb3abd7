//! The simulated org's Event Hooks, as Okta runs them: the API (list, create, read,
//! replace, delete, activate, deactivate, verify), the one-time verification `GET` with
//! `X-Okta-Verification-Challenge`, and deliveries of the System Log events the org records
//! (changes made through its API or `/sim/`): batched, at least once — every
//! `duplicate_every`-th delivery is sent twice —, 3 s timeout, one retry after a timeout,
//! a 5xx or a dropped connection, none after a 4xx. Its JSON types are its own.
//!
//! Safety: the simulator calls only loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) unless
//! `allow_remote` is set, so tests never call outside. Okta requires `https://` hook URIs;
//! the simulator also accepts `http://` on loopback, for tests.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::auth::{Principal, Scope};
use super::errors::ApiError;
use super::ids::{derived_id, random_base62, timestamp};
use super::server::{lock, RequestContext, Shared};
use super::store::{EventTarget, StoredAssignment, StoredEvent, StoredGroup};
use super::wire;

type ApiResult = Result<Response, ApiError>;

/// How long the org waits for a hook's answer (Okta: 3 s).
const HOOK_TIMEOUT: Duration = Duration::from_secs(3);
/// Events per delivery at most.
const EVENTS_PER_DELIVERY: usize = 50;
/// How often new events are looked for (and so the longest a batch collects).
const DELIVERY_TICK: Duration = Duration::from_millis(100);
/// Deliveries remembered for tests (the last ones).
const DELIVERY_LOG_CAPACITY: usize = 10_000;

/// Event types the simulated org lets a hook subscribe to (a part of Okta's catalog;
/// `directory.mapping.update` and `application.provision.user.push` are not eligible).
const ELIGIBLE: &[&str] = &[
    "group.application_assignment.add",
    "group.application_assignment.update",
    "group.application_assignment.remove",
    "application.provision.user.sync",
    "application.user_membership.add",
    "application.user_membership.remove",
    "group.user_membership.add",
    "group.user_membership.remove",
    "application.integration.profile_mapping_update",
    "user.lifecycle.create",
];

#[derive(Debug, Clone)]
struct StoredHook {
    id: String,
    name: String,
    description: Option<String>,
    active: bool,
    verified: bool,
    created: String,
    last_updated: String,
    events: Vec<String>,
    uri: String,
    headers: Vec<(String, String)>,
    auth: Option<(String, String)>,
}

/// One delivery attempt, as the simulator made it (tests assert on these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    pub hook_id: String,
    pub event_uuids: Vec<String>,
    /// 1 for the first try, 2 for the retry.
    pub attempt: u32,
    /// `true` for the second copy of a delivery sent twice.
    pub duplicate: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct HooksInner {
    hooks: Vec<StoredHook>,
    /// Events of the store already handed to deliveries.
    cursor: usize,
    attempts: Vec<DeliveryAttempt>,
    deliveries: u64,
}

/// The org's Event Hooks and their deliveries.
#[derive(Debug)]
pub(crate) struct Hooks {
    inner: Mutex<HooksInner>,
    /// Every n-th delivery is sent twice; 0: never.
    duplicate_every: AtomicU32,
    allow_remote: std::sync::atomic::AtomicBool,
    http: reqwest::Client,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            inner: Mutex::new(HooksInner::default()),
            duplicate_every: AtomicU32::new(3),
            allow_remote: std::sync::atomic::AtomicBool::new(false),
            http: reqwest::Client::builder()
                .timeout(HOOK_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Hooks {
    pub(crate) fn set_duplicate_every(&self, every: u32) {
        self.duplicate_every.store(every, Ordering::SeqCst);
    }

    pub(crate) fn set_allow_remote(&self, allow: bool) {
        self.allow_remote.store(allow, Ordering::SeqCst);
    }

    pub(crate) fn attempts(&self) -> Vec<DeliveryAttempt> {
        lock(&self.inner).attempts.clone()
    }

    /// `(id, name, status, verificationStatus, uri)` of every hook.
    pub(crate) fn summary(&self) -> Vec<(String, String, String, String, String)> {
        lock(&self.inner)
            .hooks
            .iter()
            .map(|h| {
                (
                    h.id.clone(),
                    h.name.clone(),
                    status(h).into(),
                    verification(h).into(),
                    h.uri.clone(),
                )
            })
            .collect()
    }

    fn record(&self, attempt: DeliveryAttempt) {
        let mut inner = lock(&self.inner);
        if inner.attempts.len() >= DELIVERY_LOG_CAPACITY {
            inner.attempts.remove(0);
        }
        inner.attempts.push(attempt);
    }
}

fn status(h: &StoredHook) -> &'static str {
    if h.active {
        "ACTIVE"
    } else {
        "INACTIVE"
    }
}

fn verification(h: &StoredHook) -> &'static str {
    if h.verified {
        "VERIFIED"
    } else {
        "UNVERIFIED"
    }
}

// ---------------------------------------------------------------------------------------
// Wire types (the simulator's own, from Okta's documentation)

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireHook {
    id: String,
    status: &'static str,
    verification_status: &'static str,
    name: String,
    description: Option<String>,
    created: String,
    created_by: String,
    last_updated: String,
    events: WireEvents,
    channel: WireChannel,
    #[serde(rename = "_links")]
    links: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct WireEvents {
    #[serde(rename = "type")]
    kind: &'static str,
    items: Vec<String>,
    filter: Option<Value>,
}

#[derive(Debug, Serialize)]
struct WireChannel {
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    config: WireChannelConfig,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireChannelConfig {
    uri: String,
    headers: Vec<WireHeader>,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_scheme: Option<WireAuthScheme>,
}

#[derive(Debug, Serialize)]
struct WireHeader {
    key: String,
    value: String,
}

/// `authScheme` without its write-only `value`.
#[derive(Debug, Serialize)]
struct WireAuthScheme {
    #[serde(rename = "type")]
    kind: &'static str,
    key: String,
}

fn wire_hook(h: &StoredHook, base: &str) -> WireHook {
    let link = |path: &str| json!({"href": format!("{base}/api/v1/eventHooks/{}{path}", h.id)});
    let mut links = Map::new();
    links.insert("self".into(), link(""));
    links.insert("verify".into(), link("/lifecycle/verify"));
    if h.active {
        links.insert("deactivate".into(), link("/lifecycle/deactivate"));
    } else {
        links.insert("activate".into(), link("/lifecycle/activate"));
    }
    WireHook {
        id: h.id.clone(),
        status: status(h),
        verification_status: verification(h),
        name: h.name.clone(),
        description: h.description.clone(),
        created: h.created.clone(),
        created_by: derived_id("00u", "sim-admin"),
        last_updated: h.last_updated.clone(),
        events: WireEvents {
            kind: "EVENT_TYPE",
            items: h.events.clone(),
            filter: None,
        },
        channel: WireChannel {
            kind: "HTTP",
            version: "1.0.0",
            config: WireChannelConfig {
                uri: h.uri.clone(),
                headers: h
                    .headers
                    .iter()
                    .map(|(key, value)| WireHeader {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                method: "POST",
                auth_scheme: h.auth.as_ref().map(|(key, _)| WireAuthScheme {
                    kind: "HEADER",
                    key: key.clone(),
                }),
            },
        },
        links,
    }
}

// ---------------------------------------------------------------------------------------
// Routes

/// The Event Hooks routes; `api::router` merges them.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/eventHooks", get(list_hooks).post(create_hook))
        .route(
            "/api/v1/eventHooks/{hook_id}",
            get(get_hook).put(replace_hook).delete(delete_hook),
        )
        .route(
            "/api/v1/eventHooks/{hook_id}/lifecycle/{action}",
            post(lifecycle),
        )
}

fn require(ctx: &RequestContext, scope: Scope) -> Result<(), ApiError> {
    match &ctx.principal {
        p if p.grants(scope) => Ok(()),
        Principal::OAuth { dpop, .. } => Err(ApiError::insufficient_scope(
            scope.as_str(),
            *dpop,
            ctx.path_and_query.split('?').next().unwrap_or_default(),
        )),
        Principal::ApiToken => Err(ApiError::forbidden()),
    }
}

/// `{hook_id}` (and `{action}`) path segments; a bad segment is Okta's 404.
struct HookPath(Vec<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for HookPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        use axum::extract::Path;
        match Path::<Vec<String>>::from_request_parts(parts, state).await {
            Ok(Path(segments)) => Ok(HookPath(segments)),
            Err(_) => Err(ApiError::not_found(parts.uri.path(), "EventHook")),
        }
    }
}

/// A hook definition validated from a request body.
struct HookInput {
    name: String,
    description: Option<String>,
    events: Vec<String>,
    uri: String,
    headers: Vec<(String, String)>,
    auth: Option<(String, String)>,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn hook_input(body: &Bytes) -> Result<HookInput, ApiError> {
    let fail = |causes: Vec<String>| ApiError::validation("eventHook", causes);
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| fail(vec![format!("The request body was not well-formed: {e}")]))?;
    let mut causes = Vec::new();
    let name = str_at(&value, "name")
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() {
        causes.push("name: The field cannot be left blank".into());
    }
    let description = str_at(&value, "description").map(str::to_string);
    let events = &value["events"];
    if str_at(events, "type") != Some("EVENT_TYPE") {
        causes.push("events.type: must be EVENT_TYPE".into());
    }
    let items: Vec<String> = events["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if items.is_empty() {
        causes.push("events.items: at least one event type is required".into());
    }
    for item in &items {
        if !ELIGIBLE.contains(&item.as_str()) {
            causes.push(format!(
                "events.items: `{item}` is not eligible for event hooks"
            ));
        }
    }
    let channel = &value["channel"];
    if str_at(channel, "type") != Some("HTTP") {
        causes.push("channel.type: must be HTTP".into());
    }
    if str_at(channel, "version") != Some("1.0.0") {
        causes.push("channel.version: must be 1.0.0".into());
    }
    let config = &channel["config"];
    let uri = str_at(config, "uri").unwrap_or_default().to_string();
    match url::Url::parse(&uri) {
        Ok(u) if u.scheme() == "https" => {}
        Ok(u) if u.scheme() == "http" && is_loopback_url(&u) => {}
        Ok(_) => causes.push(
            "channel.config.uri: must be an HTTPS URL (the simulator also takes http:// on loopback)"
                .into(),
        ),
        Err(_) => causes.push("channel.config.uri: must be a valid URL".into()),
    }
    let mut headers = Vec::new();
    if let Some(list) = config["headers"].as_array() {
        for h in list {
            match (str_at(h, "key"), str_at(h, "value")) {
                (Some(k), Some(v)) => headers.push((k.to_string(), v.to_string())),
                _ if h.is_null() => {}
                _ => causes.push("channel.config.headers: each needs key and value".into()),
            }
        }
    }
    let scheme = &config["authScheme"];
    let auth = if scheme.is_null() {
        None
    } else {
        if str_at(scheme, "type") != Some("HEADER") {
            causes.push("channel.config.authScheme.type: must be HEADER".into());
        }
        match (str_at(scheme, "key"), str_at(scheme, "value")) {
            (Some(k), Some(v)) if !k.is_empty() => Some((k.to_string(), v.to_string())),
            _ => {
                causes.push("channel.config.authScheme: key and value are required".into());
                None
            }
        }
    };
    if causes.is_empty() {
        Ok(HookInput {
            name,
            description,
            events: items,
            uri,
            headers,
            auth,
        })
    } else {
        Err(fail(causes))
    }
}

fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

async fn list_hooks(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult {
    require(&ctx, Scope::EventHooksRead)?;
    let inner = lock(&shared.hooks.inner);
    let body: Vec<WireHook> = inner
        .hooks
        .iter()
        .map(|h| wire_hook(h, &ctx.base_url))
        .collect();
    Ok(Json(body).into_response())
}

async fn create_hook(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult {
    require(&ctx, Scope::EventHooksManage)?;
    let input = hook_input(&body)?;
    let now = timestamp(Utc::now());
    let hook = StoredHook {
        id: format!("who{}", random_base62(&mut rand::thread_rng(), 17)),
        name: input.name,
        description: input.description,
        active: true,
        verified: false,
        created: now.clone(),
        last_updated: now,
        events: input.events,
        uri: input.uri,
        headers: input.headers,
        auth: input.auth,
    };
    let body = wire_hook(&hook, &ctx.base_url);
    lock(&shared.hooks.inner).hooks.push(hook);
    Ok(Json(body).into_response())
}

fn find<'a>(hooks: &'a mut [StoredHook], id: &str) -> Result<&'a mut StoredHook, ApiError> {
    hooks
        .iter_mut()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError::not_found(id, "EventHook"))
}

fn hook_id(path: &HookPath) -> &str {
    path.0.first().map_or("", String::as_str)
}

async fn get_hook(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    path: HookPath,
) -> ApiResult {
    require(&ctx, Scope::EventHooksRead)?;
    let mut inner = lock(&shared.hooks.inner);
    let hook = find(&mut inner.hooks, hook_id(&path))?;
    Ok(Json(wire_hook(hook, &ctx.base_url)).into_response())
}

async fn replace_hook(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    path: HookPath,
    body: Bytes,
) -> ApiResult {
    require(&ctx, Scope::EventHooksManage)?;
    let input = hook_input(&body)?;
    let mut inner = lock(&shared.hooks.inner);
    let hook = find(&mut inner.hooks, hook_id(&path))?;
    hook.name = input.name;
    hook.description = input.description;
    hook.events = input.events;
    // A new channel must be verified again.
    hook.verified = false;
    hook.uri = input.uri;
    hook.headers = input.headers;
    hook.auth = input.auth;
    hook.last_updated = timestamp(Utc::now());
    Ok(Json(wire_hook(hook, &ctx.base_url)).into_response())
}

async fn delete_hook(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    path: HookPath,
) -> ApiResult {
    require(&ctx, Scope::EventHooksManage)?;
    let mut inner = lock(&shared.hooks.inner);
    let id = hook_id(&path).to_string();
    let hook = find(&mut inner.hooks, &id)?;
    if hook.active {
        return Err(ApiError::validation(
            "eventHook",
            vec!["only an INACTIVE event hook can be deleted: deactivate it first".into()],
        ));
    }
    inner.hooks.retain(|h| h.id != id);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

async fn lifecycle(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    path: HookPath,
) -> ApiResult {
    require(&ctx, Scope::EventHooksManage)?;
    let id = hook_id(&path).to_string();
    let action = path.0.get(1).cloned().unwrap_or_default();
    match action.as_str() {
        "activate" | "deactivate" => {
            let mut inner = lock(&shared.hooks.inner);
            let hook = find(&mut inner.hooks, &id)?;
            hook.active = action == "activate";
            hook.last_updated = timestamp(Utc::now());
            Ok(Json(wire_hook(hook, &ctx.base_url)).into_response())
        }
        "verify" => verify(&shared, &ctx, &id).await,
        _ => Err(ApiError::not_found(ctx.path_and_query.as_str(), "Resource")),
    }
}

/// Sends the verification `GET` (3 s, one retry) and marks the hook `VERIFIED` when the
/// answer echoes the challenge.
async fn verify(shared: &Arc<Shared>, ctx: &RequestContext, id: &str) -> ApiResult {
    let hook = {
        let mut inner = lock(&shared.hooks.inner);
        find(&mut inner.hooks, id)?.clone()
    };
    let challenge = random_base62(&mut rand::thread_rng(), 40);
    let mut problem = String::new();
    let mut ok = false;
    if !deliverable(shared, &hook.uri) {
        problem =
            "the simulated org calls only loopback hosts (set allow_remote to change that)".into();
    } else {
        for _attempt in 0..2 {
            let mut request = shared
                .hooks
                .http
                .get(&hook.uri)
                .header("X-Okta-Verification-Challenge", &challenge);
            for (k, v) in &hook.headers {
                request = request.header(k, v);
            }
            if let Some((k, v)) = &hook.auth {
                request = request.header(k, v);
            }
            match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    if body.get("verification").and_then(Value::as_str) == Some(challenge.as_str())
                    {
                        ok = true;
                    } else {
                        problem = "the answer did not echo the verification challenge".into();
                    }
                    break;
                }
                Ok(resp) => problem = format!("the hook answered {}", resp.status().as_u16()),
                Err(e) if e.is_timeout() => problem = "the hook did not answer within 3 s".into(),
                Err(_) => problem = "the hook could not be reached".into(),
            }
        }
    }
    if !ok {
        return Err(ApiError::validation(
            "eventHook",
            vec![format!("Verification of the event hook failed: {problem}")],
        ));
    }
    let mut inner = lock(&shared.hooks.inner);
    let hook = find(&mut inner.hooks, id)?;
    hook.verified = true;
    hook.last_updated = timestamp(Utc::now());
    Ok(Json(wire_hook(hook, &ctx.base_url)).into_response())
}

fn deliverable(shared: &Shared, uri: &str) -> bool {
    url::Url::parse(uri)
        .is_ok_and(|u| shared.hooks.allow_remote.load(Ordering::SeqCst) || is_loopback_url(&u))
}

// ---------------------------------------------------------------------------------------
// Deliveries

/// Delivers new System Log events to the active, verified hooks until `shutdown`.
pub(crate) async fn deliver_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(DELIVERY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        for (hook, events) in collect(&shared) {
            for chunk in events.chunks(EVENTS_PER_DELIVERY) {
                let n = {
                    let mut inner = lock(&shared.hooks.inner);
                    inner.deliveries += 1;
                    inner.deliveries
                };
                let every = u64::from(shared.hooks.duplicate_every.load(Ordering::SeqCst));
                let twice = every > 0 && n % every == 0;
                let shared = Arc::clone(&shared);
                let hook = hook.clone();
                let chunk = chunk.to_vec();
                tokio::spawn(async move {
                    let body = delivery_body(&shared, &hook, &chunk);
                    deliver(&shared, &hook, &body, &chunk, false).await;
                    if twice {
                        deliver(&shared, &hook, &body, &chunk, true).await;
                    }
                });
            }
        }
    }
}

/// The new events per active, verified hook (as Okta's `LogEvent` JSON, with their uuids).
fn collect(shared: &Shared) -> Vec<(StoredHook, Vec<(String, Value)>)> {
    let store = lock(&shared.store);
    let mut inner = lock(&shared.hooks.inner);
    // A replaced state (fewer events): start over from its end.
    if inner.cursor > store.events.len() {
        inner.cursor = store.events.len();
    }
    let new = &store.events[inner.cursor..];
    inner.cursor = store.events.len();
    if new.is_empty() {
        return Vec::new();
    }
    inner
        .hooks
        .iter()
        .filter(|h| h.active && h.verified)
        .filter_map(|h| {
            let events: Vec<(String, Value)> = new
                .iter()
                .filter(|e| h.events.contains(&e.event_type))
                .map(|e| {
                    (
                        e.uuid.clone(),
                        serde_json::to_value(wire::LogEvent::from_store(e)).unwrap_or(Value::Null),
                    )
                })
                .collect();
            (!events.is_empty()).then(|| (h.clone(), events))
        })
        .collect()
}

fn delivery_body(shared: &Shared, hook: &StoredHook, events: &[(String, Value)]) -> Value {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": format!("http://{}/api/v1/eventHooks/{}", shared.local_addr, hook.id),
        "eventId": random_uuid(),
        "eventTime": timestamp(Utc::now()),
        "contentType": "application/json",
        "data": {"events": events.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()},
    })
}

/// One delivery: a try and, after a timeout, a 5xx or a dropped connection, one retry.
async fn deliver(
    shared: &Shared,
    hook: &StoredHook,
    body: &Value,
    events: &[(String, Value)],
    duplicate: bool,
) {
    let uuids: Vec<String> = events.iter().map(|(u, _)| u.clone()).collect();
    if !deliverable(shared, &hook.uri) {
        shared.hooks.record(DeliveryAttempt {
            hook_id: hook.id.clone(),
            event_uuids: uuids,
            attempt: 1,
            duplicate,
            status: None,
            error: Some("refused: the simulated org delivers only to loopback hosts".into()),
        });
        return;
    }
    for attempt in 1..=2 {
        let mut request = shared.hooks.http.post(&hook.uri).json(body);
        for (k, v) in &hook.headers {
            request = request.header(k, v);
        }
        if let Some((k, v)) = &hook.auth {
            request = request.header(k, v);
        }
        let (status, error, retry) = match request.send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                (Some(code), None, code >= 500)
            }
            Err(e) if e.is_timeout() => (None, Some("timeout after 3 s".to_string()), true),
            Err(_) => (None, Some("connection failed".to_string()), true),
        };
        shared.hooks.record(DeliveryAttempt {
            hook_id: hook.id.clone(),
            event_uuids: uuids.clone(),
            attempt,
            duplicate,
            status,
            error,
        });
        if !retry {
            return;
        }
    }
}

fn random_uuid() -> String {
    let mut rng = rand::thread_rng();
    let hex: String = (0..32)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

// ---------------------------------------------------------------------------------------
// The admin console: assign a group (`/sim/` and `SimControl`)

/// Assigns `group` (a name or id; a new group is created for an unknown name) to a
/// directory with `ou`, as an admin does on the group's Directories tab, recording the
/// `group.application_assignment.add`/`.update` event Okta records. Returns the group id.
pub(crate) fn console_assign(
    shared: &Shared,
    directory: &str,
    group: &str,
    ou: Option<&str>,
) -> Result<String, String> {
    let mut store = lock(&shared.store);
    let (app_id, label, domain) = {
        let app = store
            .directory_app_mut(directory)
            .ok_or_else(|| format!("directory `{directory}` not found"))?;
        let domain = app
            .directory()
            .map(|d| d.domain.clone())
            .unwrap_or_default();
        (app.id.clone(), app.label.clone(), domain)
    };
    let group_id = match store
        .groups
        .values()
        .find(|g| g.id == group || g.name == group)
    {
        Some(g) => g.id.clone(),
        None => {
            let id = derived_id("00g", &format!("console:{group}"));
            store.groups.insert(
                id.clone(),
                StoredGroup {
                    id: id.clone(),
                    name: group.to_string(),
                    created: timestamp(Utc::now()),
                },
            );
            id
        }
    };
    let group_name = store.group_name(&group_id);
    let now = timestamp(store.clock.next());
    let Some(dir) = store.app_mut(&app_id).and_then(|a| a.directory_mut()) else {
        return Err(format!("`{directory}` is not a directory"));
    };
    let next_priority = dir
        .assignments
        .iter()
        .filter_map(|a| a.priority)
        .max()
        .map_or(0, |p| p + 1);
    let mut profile = Map::new();
    profile.insert(
        "organizationalUnit".into(),
        ou.map_or(Value::Null, |o| Value::String(o.to_string())),
    );
    let (event_type, before) = match dir.assignments.iter_mut().find(|a| a.group_id == group_id) {
        Some(existing) => {
            let before = existing.organizational_unit().map(str::to_string);
            existing.profile.insert(
                "organizationalUnit".into(),
                profile["organizationalUnit"].clone(),
            );
            existing.last_updated = now;
            ("group.application_assignment.update", before)
        }
        None => {
            dir.assignments.push(StoredAssignment {
                group_id: group_id.clone(),
                priority: Some(next_priority),
                profile,
                last_updated: now,
            });
            ("group.application_assignment.add", None)
        }
    };
    let request_id = super::ids::request_id();
    store.events.push(StoredEvent {
        uuid: random_uuid(),
        published: Utc::now(),
        event_type: event_type.into(),
        display_message: format!("Update app group assignment of {group_name} to {label}"),
        request_id: request_id.clone(),
        request_uri: format!("/admin/group/{group_id}/directories"),
        targets: vec![
            EventTarget {
                id: app_id,
                kind: "AppInstance".into(),
                alternate_id: domain,
                display_name: label,
                change: None,
            },
            EventTarget {
                id: group_id.clone(),
                kind: "UserGroup".into(),
                alternate_id: group_name.clone(),
                display_name: group_name,
                change: Some((
                    json!({"organizationalUnit": before}),
                    json!({"organizationalUnit": ou}),
                )),
            },
        ],
    });
    Ok(group_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_bodies_are_validated_like_okta() {
        let good = json!({
            "name": "g",
            "events": {"type": "EVENT_TYPE", "items": ["group.application_assignment.add"]},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {
                "uri": "http://127.0.0.1:9/hook",
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": "s"}}}
        });
        assert!(hook_input(&Bytes::from(good.to_string())).is_ok());
        let mut remote = good.clone();
        remote["channel"]["config"]["uri"] = json!("http://guard.example.com/hook");
        assert!(hook_input(&Bytes::from(remote.to_string())).is_err());
        let mut https = good.clone();
        https["channel"]["config"]["uri"] = json!("https://guard.example.com/hook");
        assert!(hook_input(&Bytes::from(https.to_string())).is_ok());
        let mut ineligible = good;
        ineligible["events"]["items"] = json!(["directory.mapping.update"]);
        assert!(hook_input(&Bytes::from(ineligible.to_string())).is_err());
    }

    #[test]
    fn only_loopback_is_called() {
        for (uri, ok) in [
            ("http://127.0.0.1:1/x", true),
            ("http://[::1]:1/x", true),
            ("http://localhost/x", true),
            ("https://guard.example.com/x", false),
            ("http://10.0.0.1/x", false),
        ] {
            assert_eq!(is_loopback_url(&url::Url::parse(uri).unwrap()), ok, "{uri}");
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    group: String,
    #[serde(default)]
    ou: Option<String>,
}

/// `POST /sim/directories/{directory}/assignments`: [`console_assign`] over HTTP.
pub(crate) async fn admin_assign(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(directory): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    use axum::http::StatusCode;
    let input: AssignBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid request body: {e}")})),
            )
                .into_response()
        }
    };
    match console_assign(&shared, &directory, &input.group, input.ou.as_deref()) {
        Ok(group_id) => Json(json!({"directory": directory, "group_id": group_id})).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response(),
    }
}
