//! The Okta management endpoints the simulator serves (apps, app group assignments, profile
//! mappings, user types, System Log), with Okta's paths, query parameters, pagination and
//! JSON. Handlers read and write the `Store`; cross-cutting behaviour (auth, rate limits,
//! faults, request ids) belongs to `server`, never here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::auth::{Principal, Scope};
use super::errors::ApiError;
use super::ids::timestamp;
use super::server::{lock, RequestContext, Shared};
use super::store::{EndKind, EventTarget, Store, StoredAssignment, StoredEvent, StoredProperty};
use super::wire;

type ApiResult = Result<Response, ApiError>;

/// The Okta API routes. Unknown paths answer 404 `E0000007`, known paths with another method
/// 405 `E0000022`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{app_id}", get(get_app))
        .route("/api/v1/apps/{app_id}/groups", get(list_app_groups))
        .route(
            "/api/v1/apps/{app_id}/groups/{group_id}",
            get(get_app_group).put(put_app_group).patch(patch_app_group),
        )
        .route("/api/v1/mappings", get(list_mappings))
        .route(
            "/api/v1/mappings/{mapping_id}",
            get(get_mapping).post(update_mapping),
        )
        .route("/api/v1/meta/types/user", get(list_user_types))
        .route("/api/v1/logs", get(list_logs))
        .merge(super::event_hooks::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(uri.path(), "Resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// `axum::extract::Path` whose rejection (e.g. a percent-encoded segment that is not UTF-8)
/// is Okta's 404 instead of axum's plain-text 400.
struct OktaPath<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for OktaPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(OktaPath(value)),
            Err(_) => Err(ApiError::not_found(parts.uri.path(), "Resource")),
        }
    }
}

fn require(ctx: &RequestContext, scope: Scope) -> Result<(), ApiError> {
    match &ctx.principal {
        p if p.grants(scope) => Ok(()),
        Principal::OAuth { dpop, .. } => {
            let path = ctx
                .path_and_query
                .split('?')
                .next()
                .unwrap_or(&ctx.path_and_query);
            Err(ApiError::insufficient_scope(scope.as_str(), *dpop, path))
        }
        Principal::ApiToken => Err(ApiError::forbidden()),
    }
}

// ---------------------------------------------------------------------------------------
// Query parameters and pagination

/// Decoded query parameters, in order (the last value of a repeated key wins on lookup).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: absent or non-positive → `default`; clamped to `min..=max`; not a number → 400.
    fn limit(&self, default: usize, min: usize, max: usize) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(default);
        };
        let n: i64 = raw.trim().parse().map_err(|_| {
            ApiError::validation("limit", vec![format!("limit: `{raw}` is not an integer")])
        })?;
        if n <= 0 {
            return Ok(default.clamp(min, max));
        }
        Ok(usize::try_from(n).unwrap_or(max).clamp(min, max))
    }

    /// The query string with `after` replaced by `cursor`.
    fn with_after(&self, cursor: &str) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| k != "after") {
            ser.append_pair(k, v);
        }
        ser.append_pair("after", cursor);
        ser.finish()
    }
}

/// One page of `items` after the item whose key is `after` (`None`: from the start).
/// Returns the page and the cursor of the next page, if any.
fn paginate<'a, T>(
    items: &'a [T],
    after: Option<&str>,
    limit: usize,
    key: impl Fn(&T) -> &str,
) -> Result<(&'a [T], Option<String>), ApiError> {
    let start = match after {
        None | Some("") => 0,
        Some(cursor) => {
            items.iter().position(|i| key(i) == cursor).ok_or_else(|| {
                ApiError::validation("after", vec![format!("after: unknown cursor `{cursor}`")])
            })? + 1
        }
    };
    let start = start.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let page = &items[start..end];
    let next = (end < items.len())
        .then(|| page.last().map(|i| key(i).to_string()))
        .flatten();
    Ok((page, next))
}

/// A 200 JSON answer with Okta's `Link` headers (`self`, and `next` when there is more).
fn paged<T: Serialize>(
    ctx: &RequestContext,
    query: &Query,
    body: T,
    next: Option<&str>,
) -> Response {
    let mut resp = Json(body).into_response();
    let self_link = format!("<{}{}>; rel=\"self\"", ctx.base_url, ctx.path_and_query);
    if let Ok(v) = HeaderValue::from_str(&self_link) {
        resp.headers_mut().append(header::LINK, v);
    }
    if let Some(cursor) = next {
        let path = ctx
            .path_and_query
            .split('?')
            .next()
            .unwrap_or(&ctx.path_and_query);
        let next_link = format!(
            "<{}{}?{}>; rel=\"next\"",
            ctx.base_url,
            path,
            query.with_after(cursor)
        );
        if let Ok(v) = HeaderValue::from_str(&next_link) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
    resp
}

fn parse_json_body(body: &Bytes, required: bool) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if required {
            Err(ApiError::validation(
                "request body",
                vec!["The request body was not well-formed: body is empty".into()],
            ))
        } else {
            Ok(None)
        };
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        ApiError::validation(
            "request body",
            vec![format!("The request body was not well-formed: {e}")],
        )
    })
}

// ---------------------------------------------------------------------------------------
// Apps

/// A parsed `filter` for `/api/v1/apps`: a conjunction of `attr eq "value"`.
fn parse_app_filter(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let bad = || {
        ApiError::validation(
            "filter",
            vec![format!(
                "filter: `{raw}` is not supported; use `name eq \"…\"`, `status eq \"…\"` or `id eq \"…\"`, joined by `and`"
            )],
        )
    };
    let mut terms = Vec::new();
    for term in split_and(raw) {
        let term = term.trim();
        let mut words = term.splitn(3, ' ');
        let (Some(attr), Some(op), Some(value)) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        let value = value.trim();
        if !op.eq_ignore_ascii_case("eq")
            || value.len() < 2
            || !value.starts_with('"')
            || !value.ends_with('"')
        {
            return Err(bad());
        }
        if !matches!(attr, "name" | "status" | "id") {
            return Err(bad());
        }
        terms.push((attr.to_string(), value[1..value.len() - 1].to_string()));
    }
    if terms.is_empty() {
        return Err(bad());
    }
    Ok(terms)
}

fn split_and(raw: &str) -> Vec<&str> {
    let lower = raw.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut start = 0;
    while let Some(pos) = lower[start..].find(" and ") {
        parts.push(&raw[start..start + pos]);
        start += pos + 5;
    }
    parts.push(&raw[start..]);
    parts
}

async fn list_apps(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::AppsRead)?;
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(20, 1, 200)?;
    let filter = query.get("filter").map(parse_app_filter).transpose()?;
    let q = query.get("q").map(str::to_lowercase);
    let store = lock(&shared.store);
    let apps: Vec<_> = store
        .apps
        .iter()
        .filter(|app| {
            filter.as_ref().is_none_or(|terms| {
                terms.iter().all(|(attr, value)| match attr.as_str() {
                    "name" => app.name == *value,
                    "id" => app.id == *value,
                    _ => wire_status(app.status) == value,
                })
            })
        })
        .filter(|app| {
            q.as_deref().is_none_or(|q| {
                app.name.to_lowercase().starts_with(q) || app.label.to_lowercase().starts_with(q)
            })
        })
        .collect();
    let (page, next) = paginate(&apps, query.get("after"), limit, |a| a.id.as_str())?;
    let body: Vec<wire::Application> = page
        .iter()
        .map(|a| wire::Application::from_store(a, &ctx.base_url))
        .collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

fn wire_status(status: crate::state::AppStatus) -> &'static str {
    match status {
        crate::state::AppStatus::Active => "ACTIVE",
        crate::state::AppStatus::Inactive => "INACTIVE",
    }
}

async fn get_app(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(app_id): OktaPath<String>,
) -> ApiResult {
    require(&ctx, Scope::AppsRead)?;
    let store = lock(&shared.store);
    let app = store
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(&app_id, "AppInstance"))?;
    Ok(Json(wire::Application::from_store(app, &ctx.base_url)).into_response())
}

// ---------------------------------------------------------------------------------------
// App group assignments

fn wants_group(query: &Query) -> bool {
    query
        .get("expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "group"))
}

fn assignment_json<'a>(
    store: &'a Store,
    app_id: &str,
    a: &'a StoredAssignment,
    embed: bool,
    base: &str,
) -> wire::GroupAssignment<'a> {
    wire::GroupAssignment::from_store(app_id, a, store.group_view(&a.group_id), embed, base)
}

/// An assignment's pagination cursor: its group id.
fn assignment_key(a: &StoredAssignment) -> &str {
    &a.group_id
}

async fn list_app_groups(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(app_id): OktaPath<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::AppsRead)?;
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(20, 20, 200)?;
    let embed = wants_group(&query);
    let q = query.get("q").map(str::to_lowercase);
    let store = lock(&shared.store);
    let app = store
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(&app_id, "AppInstance"))?;
    let all: &[StoredAssignment] = app.directory().map_or(&[], |d| &d.assignments);
    let after = query.get("after");
    // Without `q`, the page is cut from the stored list itself rather than from a copy.
    let (page, next): (Vec<&StoredAssignment>, _) = match q.as_deref() {
        None => {
            let (page, next) = paginate(all, after, limit, assignment_key)?;
            (page.iter().collect(), next)
        }
        Some(q) => {
            let matching: Vec<&StoredAssignment> = all
                .iter()
                .filter(|a| store.group_name(&a.group_id).to_lowercase().starts_with(q))
                .collect();
            let (page, next) = paginate(&matching, after, limit, |a| assignment_key(a))?;
            (page.to_vec(), next)
        }
    };
    let body: Vec<wire::GroupAssignment> = page
        .iter()
        .map(|a| assignment_json(&store, &app_id, a, embed, &ctx.base_url))
        .collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

async fn get_app_group(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath((app_id, group_id)): OktaPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::AppsRead)?;
    let query = Query::parse(raw.as_deref());
    let store = lock(&shared.store);
    let app = store
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(&app_id, "AppInstance"))?;
    let a = app
        .directory()
        .and_then(|d| d.assignments.iter().find(|a| a.group_id == group_id))
        .ok_or_else(|| ApiError::not_found(&group_id, "ApplicationGroupAssignment"))?;
    Ok(Json(assignment_json(
        &store,
        &app_id,
        a,
        wants_group(&query),
        &ctx.base_url,
    ))
    .into_response())
}

/// The writable part of an assignment, validated from a request body.
struct AssignmentInput {
    priority: Option<i64>,
    profile: Option<Map<String, Value>>,
}

fn validate_profile(profile: &Map<String, Value>, causes: &mut Vec<String>) {
    if let Some(ou) = profile.get("organizationalUnit") {
        if !(ou.is_string() || ou.is_null()) {
            causes.push("profile.organizationalUnit: must be a string".into());
        }
    }
}

fn assignment_input(body: Option<Value>) -> Result<AssignmentInput, ApiError> {
    let Some(body) = body else {
        return Ok(AssignmentInput {
            priority: None,
            profile: None,
        });
    };
    let Value::Object(obj) = body else {
        return Err(ApiError::validation(
            "applicationGroupAssignment",
            vec!["The request body must be a JSON object".into()],
        ));
    };
    let mut causes = Vec::new();
    let priority = match obj.get("priority") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|p| p >= 0) => n.as_i64(),
        Some(_) => {
            causes.push("priority: must be a non-negative integer".into());
            None
        }
    };
    let profile = match obj.get("profile") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            validate_profile(p, &mut causes);
            Some(p.clone())
        }
        Some(_) => {
            causes.push("profile: must be an object".into());
            None
        }
    };
    if causes.is_empty() {
        Ok(AssignmentInput { priority, profile })
    } else {
        Err(ApiError::validation("applicationGroupAssignment", causes))
    }
}

fn record_assignment_event(
    store: &mut Store,
    ctx: &RequestContext,
    app_id: &str,
    group_id: &str,
    event_type: &str,
    before: Option<&StoredAssignment>,
    after: &StoredAssignment,
) {
    let (app_label, domain) = store
        .app(app_id)
        .map(|a| {
            (
                a.label.clone(),
                a.directory().map(|d| d.domain.clone()).unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let group_name = store.group_name(group_id);
    let ou = |a: Option<&StoredAssignment>| {
        let mut m = Map::new();
        m.insert(
            "organizationalUnit".into(),
            a.and_then(StoredAssignment::organizational_unit)
                .map_or(Value::Null, |s| Value::String(s.to_string())),
        );
        m.insert(
            "priority".into(),
            a.and_then(|a| a.priority).map_or(Value::Null, Value::from),
        );
        Value::Object(m)
    };
    let published = Utc::now();
    store.events.push(StoredEvent {
        uuid: uuid_like(&ctx.request_id, store.events.len()),
        published,
        event_type: event_type.to_string(),
        display_message: format!("Update app group assignment of {group_name} to {app_label}"),
        request_id: ctx.request_id.clone(),
        request_uri: ctx.path_and_query.clone(),
        targets: vec![
            EventTarget {
                id: app_id.to_string(),
                kind: "AppInstance".into(),
                alternate_id: domain,
                display_name: app_label,
                change: None,
            },
            EventTarget {
                id: group_id.to_string(),
                kind: "UserGroup".into(),
                alternate_id: group_name.clone(),
                display_name: group_name,
                change: Some((ou(before), ou(Some(after)))),
            },
        ],
    });
}

/// A UUID-shaped, unique event id.
fn uuid_like(request_id: &str, n: usize) -> String {
    let hex = super::ids::derived_id("", &format!("{request_id}:{n}"))
        .bytes()
        .map(|b| format!("{:x}", b % 16))
        .collect::<String>();
    let hex = format!("{hex}{hex}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

async fn put_app_group(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath((app_id, group_id)): OktaPath<(String, String)>,
    body: Bytes,
) -> ApiResult {
    require(&ctx, Scope::AppsManage)?;
    let input = assignment_input(parse_json_body(&body, false)?)?;
    let mut store = lock(&shared.store);
    if store.app(&app_id).is_none() {
        return Err(ApiError::not_found(&app_id, "AppInstance"));
    }
    if !store.groups.contains_key(&group_id) {
        return Err(ApiError::not_found(&group_id, "UserGroup"));
    }
    let now = timestamp(store.clock.next());
    let Some(dir) = store.app_mut(&app_id).and_then(|a| a.directory_mut()) else {
        return Err(ApiError::validation(
            "applicationGroupAssignment",
            vec!["this simulated app does not take group assignments".into()],
        ));
    };
    let next_priority = dir
        .assignments
        .iter()
        .filter_map(|a| a.priority)
        .max()
        .map_or(0, |p| p + 1);
    let (before, after, event) = match dir.assignments.iter_mut().find(|a| a.group_id == group_id) {
        Some(existing) => {
            let before = existing.clone();
            if let Some(p) = input.priority {
                existing.priority = Some(p);
            }
            existing.profile = input.profile.unwrap_or_default();
            existing.last_updated = now;
            (
                Some(before),
                existing.clone(),
                "group.application_assignment.update",
            )
        }
        None => {
            let created = StoredAssignment {
                group_id: group_id.clone(),
                priority: Some(input.priority.unwrap_or(next_priority)),
                profile: input.profile.unwrap_or_default(),
                last_updated: now,
            };
            dir.assignments.push(created.clone());
            (None, created, "group.application_assignment.add")
        }
    };
    record_assignment_event(
        &mut store,
        &ctx,
        &app_id,
        &group_id,
        event,
        before.as_ref(),
        &after,
    );
    Ok(Json(assignment_json(
        &store,
        &app_id,
        &after,
        false,
        &ctx.base_url,
    ))
    .into_response())
}

/// Applies one JSON-Patch operation (`replace` / `remove`) to an assignment.
fn apply_patch_op(a: &mut StoredAssignment, op: &Value, causes: &mut Vec<String>) {
    let Some(obj) = op.as_object() else {
        causes.push("each operation must be an object".into());
        return;
    };
    let kind = obj.get("op").and_then(Value::as_str).unwrap_or("");
    let Some(path) = obj.get("path").and_then(Value::as_str) else {
        causes.push("path: required".into());
        return;
    };
    let value = obj.get("value");
    let segments: Vec<String> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    match (
        kind,
        segments
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        value,
    ) {
        ("replace", ["priority"], Some(v)) => match v.as_i64().filter(|p| *p >= 0) {
            Some(p) => a.priority = Some(p),
            None => causes.push("priority: must be a non-negative integer".into()),
        },
        ("replace", ["profile"], Some(Value::Object(p))) => {
            validate_profile(p, causes);
            a.profile = p.clone();
        }
        ("replace", ["profile", key], Some(v)) => {
            if *key == "organizationalUnit" && !(v.is_string() || v.is_null()) {
                causes.push("profile.organizationalUnit: must be a string".into());
            } else {
                a.profile.insert((*key).to_string(), v.clone());
            }
        }
        ("remove", ["profile", key], _) => {
            a.profile.remove(*key);
        }
        ("replace", _, None) => causes.push(format!("{path}: `replace` needs a value")),
        ("replace" | "remove", _, _) => causes.push(format!("{path}: path not supported")),
        (other, _, _) => causes.push(format!("op: `{other}` is not one of `replace`, `remove`")),
    }
}

async fn patch_app_group(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath((app_id, group_id)): OktaPath<(String, String)>,
    body: Bytes,
) -> ApiResult {
    require(&ctx, Scope::AppsManage)?;
    let ops = match parse_json_body(&body, true)? {
        Some(Value::Array(ops)) => ops,
        _ => {
            return Err(ApiError::validation(
                "request body",
                vec!["The request body must be a JSON Patch array".into()],
            ))
        }
    };
    let mut store = lock(&shared.store);
    if store.app(&app_id).is_none() {
        return Err(ApiError::not_found(&app_id, "AppInstance"));
    }
    let now = timestamp(store.clock.next());
    let not_found = || ApiError::not_found(&group_id, "ApplicationGroupAssignment");
    let dir = store
        .app_mut(&app_id)
        .and_then(|a| a.directory_mut())
        .ok_or_else(not_found)?;
    let existing = dir
        .assignments
        .iter_mut()
        .find(|a| a.group_id == group_id)
        .ok_or_else(not_found)?;
    let before = existing.clone();
    let mut updated = existing.clone();
    let mut causes = Vec::new();
    for op in &ops {
        apply_patch_op(&mut updated, op, &mut causes);
    }
    if !causes.is_empty() {
        return Err(ApiError::validation("applicationGroupAssignment", causes));
    }
    updated.last_updated = now;
    *existing = updated.clone();
    record_assignment_event(
        &mut store,
        &ctx,
        &app_id,
        &group_id,
        "group.application_assignment.update",
        Some(&before),
        &updated,
    );
    Ok(Json(assignment_json(
        &store,
        &app_id,
        &updated,
        false,
        &ctx.base_url,
    ))
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Profile mappings

async fn list_mappings(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::ProfileMappingsRead)?;
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(20, 1, 200)?;
    let store = lock(&shared.store);
    let mut mappings: Vec<_> = store
        .mappings
        .iter()
        .filter(|m| query.get("sourceId").is_none_or(|s| m.source.id == s))
        .filter(|m| query.get("targetId").is_none_or(|t| m.target.id == t))
        .collect();
    mappings.sort_by(|a, b| a.id.cmp(&b.id));
    // `after` is a mapping id: everything sorting after it.
    let start = query
        .get("after")
        .filter(|a| !a.is_empty())
        .map_or(0, |after| {
            mappings.partition_point(|m| m.id.as_str() <= after)
        });
    let rest = &mappings[start..];
    let page = &rest[..limit.min(rest.len())];
    let next = (rest.len() > page.len())
        .then(|| page.last().map(|m| m.id.clone()))
        .flatten();
    let body: Vec<wire::ProfileMapping> = page
        .iter()
        .map(|m| wire::ProfileMapping::from_store(m, false, &ctx.base_url))
        .collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

async fn get_mapping(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(mapping_id): OktaPath<String>,
) -> ApiResult {
    require(&ctx, Scope::ProfileMappingsRead)?;
    let store = lock(&shared.store);
    let m = store
        .mapping(&mapping_id)
        .ok_or_else(|| ApiError::not_found(&mapping_id, "PropertyMapping"))?;
    Ok(Json(wire::ProfileMapping::from_store(m, true, &ctx.base_url)).into_response())
}

/// One requested change to a mapping property: `None` removes the key.
type PropertyChange = Option<(Option<String>, Option<String>)>;

fn mapping_changes(body: Option<Value>) -> Result<BTreeMap<String, PropertyChange>, ApiError> {
    let fail = |causes: Vec<String>| ApiError::validation("profileMapping", causes);
    let Some(Value::Object(obj)) = body else {
        return Err(fail(vec!["The request body must be a JSON object".into()]));
    };
    let Some(props) = obj.get("properties") else {
        return Err(fail(vec![
            "properties: The field cannot be left blank".into()
        ]));
    };
    let Value::Object(props) = props else {
        return Err(fail(vec!["properties: must be an object".into()]));
    };
    let mut causes = Vec::new();
    let mut changes = BTreeMap::new();
    for (key, value) in props {
        match value {
            Value::Null => {
                changes.insert(key.clone(), None);
            }
            Value::Object(p) => {
                let expression = match p.get("expression") {
                    None => None,
                    Some(Value::Null) => {
                        // An explicit null expression removes the property.
                        changes.insert(key.clone(), None);
                        continue;
                    }
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => {
                        causes.push(format!("properties.{key}.expression: must be a string"));
                        continue;
                    }
                };
                let push_status = match p.get("pushStatus") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s == "PUSH" || s == "DONT_PUSH" => Some(s.clone()),
                    Some(other) => {
                        causes.push(format!(
                            "properties.{key}.pushStatus: `{other}` is not one of PUSH, DONT_PUSH"
                        ));
                        continue;
                    }
                };
                changes.insert(key.clone(), Some((expression, push_status)));
            }
            _ => causes.push(format!("properties.{key}: must be an object or null")),
        }
    }
    if causes.is_empty() {
        Ok(changes)
    } else {
        Err(fail(causes))
    }
}

async fn update_mapping(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(mapping_id): OktaPath<String>,
    body: Bytes,
) -> ApiResult {
    require(&ctx, Scope::ProfileMappingsManage)?;
    let changes = mapping_changes(parse_json_body(&body, true)?)?;
    let mut store = lock(&shared.store);
    let mapping = store
        .mapping_mut(&mapping_id)
        .ok_or_else(|| ApiError::not_found(&mapping_id, "PropertyMapping"))?;
    let mut updated = mapping.properties.clone();
    let mut causes = Vec::new();
    let mut from = Map::new();
    let mut to = Map::new();
    for (key, change) in &changes {
        from.insert(
            key.clone(),
            updated
                .get(key)
                .and_then(|p| p.expression.clone())
                .map_or(Value::Null, Value::String),
        );
        match change {
            None => {
                updated.remove(key);
            }
            Some((expression, push_status)) => match updated.get_mut(key) {
                Some(existing) => {
                    if let Some(e) = expression {
                        existing.expression = Some(e.clone());
                    }
                    if let Some(p) = push_status {
                        existing.push_status = Some(p.clone());
                    }
                }
                None => match expression {
                    Some(e) => {
                        updated.insert(
                            key.clone(),
                            StoredProperty {
                                expression: Some(e.clone()),
                                push_status: Some(
                                    push_status.clone().unwrap_or_else(|| "PUSH".into()),
                                ),
                            },
                        );
                    }
                    None => causes.push(format!(
                        "properties.{key}.expression: required for a new property"
                    )),
                },
            },
        }
        to.insert(
            key.clone(),
            updated
                .get(key)
                .and_then(|p| p.expression.clone())
                .map_or(Value::Null, Value::String),
        );
    }
    if !causes.is_empty() {
        return Err(ApiError::validation("profileMapping", causes));
    }
    mapping.properties = updated;
    let snapshot = mapping.clone();
    let target_label = store
        .app(&snapshot.target.id)
        .or_else(|| store.app(&snapshot.source.id))
        .map(|a| a.label.clone())
        .unwrap_or_default();
    let published = Utc::now();
    let n = store.events.len();
    store.events.push(StoredEvent {
        uuid: uuid_like(&ctx.request_id, n),
        published,
        event_type: "application.integration.profile_mapping_update".into(),
        display_message: format!("Update profile mapping {} ({target_label})", snapshot.id),
        request_id: ctx.request_id.clone(),
        request_uri: ctx.path_and_query.clone(),
        targets: vec![EventTarget {
            id: snapshot.id.clone(),
            kind: "PropertyMapping".into(),
            alternate_id: format!(
                "{} -> {}",
                end_name(&snapshot.source.name, snapshot.source.kind),
                end_name(&snapshot.target.name, snapshot.target.kind)
            ),
            display_name: target_label,
            change: Some((Value::Object(from), Value::Object(to))),
        }],
    });
    Ok(Json(wire::ProfileMapping::from_store(
        &snapshot,
        true,
        &ctx.base_url,
    ))
    .into_response())
}

fn end_name(name: &str, kind: EndKind) -> String {
    match kind {
        EndKind::UserType => format!("user:{name}"),
        EndKind::AppUser => format!("appuser:{name}"),
    }
}

// ---------------------------------------------------------------------------------------
// User types

async fn list_user_types(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult {
    require(&ctx, Scope::UserTypesRead)?;
    let store = lock(&shared.store);
    let body: Vec<wire::UserType> = store
        .user_types
        .iter()
        .map(|t| wire::UserType::from_store(t, &ctx.base_url))
        .collect();
    Ok(Json(body).into_response())
}

// ---------------------------------------------------------------------------------------
// System Log

fn parse_time(query: &Query, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    query
        .get(key)
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::validation(
                        key,
                        vec![format!("{key}: `{raw}` is not an ISO 8601 timestamp")],
                    )
                })
        })
        .transpose()
}

async fn list_logs(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::LogsRead)?;
    let query = Query::parse(raw.as_deref());
    let until = parse_time(&query, "until")?.unwrap_or_else(Utc::now);
    let since = parse_time(&query, "since")?.unwrap_or(until - ChronoDuration::days(7));
    let limit = match query.get("limit") {
        None => 100,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map_err(|_| {
                ApiError::validation(
                    "limit",
                    vec![format!(
                        "limit: `{raw}` is not an integer between 0 and 1000"
                    )],
                )
            })?
            .min(1000),
    };
    let descending = match query.get("sortOrder") {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(other) => {
            return Err(ApiError::validation(
                "sortOrder",
                vec![format!(
                    "sortOrder: `{other}` is not one of ASCENDING, DESCENDING"
                )],
            ))
        }
    };
    let event_type_filter = match query.get("filter") {
        None => None,
        Some(f) => {
            let terms = parse_log_filter(f)?;
            Some(terms)
        }
    };
    let keywords: Vec<String> = query
        .get("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let store = lock(&shared.store);
    let mut events: Vec<_> = store
        .events
        .iter()
        .filter(|e| e.published >= since && e.published <= until)
        .filter(|e| {
            event_type_filter
                .as_ref()
                .is_none_or(|types| types.contains(&e.event_type))
        })
        .filter(|e| {
            let haystack = format!(
                "{} {} {}",
                e.event_type,
                e.display_message,
                e.targets
                    .iter()
                    .map(|t| format!("{} {} {}", t.id, t.display_name, t.alternate_id))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
            .to_lowercase();
            keywords.iter().all(|k| haystack.contains(k.as_str()))
        })
        .collect();
    if descending {
        events.reverse();
    }
    let (page, mut next) = paginate(&events, query.get("after"), limit, |e| e.uuid.as_str())?;
    // A polling query (no `until`, ascending) always has a `next`: where to poll from next.
    if next.is_none() && query.get("until").is_none() && !descending {
        next = Some(page.last().map_or_else(
            || query.get("after").unwrap_or_default().to_string(),
            |e| e.uuid.clone(),
        ));
    }
    let body: Vec<wire::LogEvent> = page.iter().map(|e| wire::LogEvent::from_store(e)).collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

fn parse_log_filter(raw: &str) -> Result<Vec<String>, ApiError> {
    let terms: Option<Vec<String>> = raw
        .split(" or ")
        .map(|term| parse_app_filter_like(term, "eventType"))
        .collect();
    terms.ok_or_else(|| {
        ApiError::validation(
            "filter",
            vec![format!(
                "filter: `{raw}` is not supported; use `eventType eq \"…\"`, joined by `or`"
            )],
        )
    })
}

fn parse_app_filter_like(raw: &str, attr: &str) -> Option<String> {
    let rest = raw.trim().strip_prefix(attr)?.trim_start();
    let rest = rest.strip_prefix("eq")?.trim();
    let value = rest.strip_prefix('"')?.strip_suffix('"')?;
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_filters_parse() {
        assert_eq!(
            parse_app_filter(r#"name eq "active_directory""#).unwrap(),
            vec![("name".to_string(), "active_directory".to_string())]
        );
        assert_eq!(
            parse_app_filter(r#"name eq "active_directory" and status eq "ACTIVE""#)
                .unwrap()
                .len(),
            2
        );
        assert!(parse_app_filter("name sw \"x\"").is_err());
        assert!(parse_app_filter("label eq \"x\"").is_err());
    }

    #[test]
    fn pagination_windows() {
        let items: Vec<String> = (0..5).map(|i| format!("id{i}")).collect();
        let (page, next) = paginate(&items, None, 2, String::as_str).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(next.as_deref(), Some("id1"));
        let (page, next) = paginate(&items, Some("id3"), 2, String::as_str).unwrap();
        assert_eq!(page, &items[4..]);
        assert_eq!(next, None);
        assert!(paginate(&items, Some("nope"), 2, String::as_str).is_err());
        let (page, next) = paginate(&items, None, 5, String::as_str).unwrap();
        assert_eq!((page.len(), next), (5, None));
    }

    #[test]
    fn removals_are_recognised() {
        let changes = mapping_changes(Some(serde_json::json!({
            "properties": {"dn": null, "x": {"expression": null, "pushStatus": null},
                           "y": {"expression": "user.y"}}
        })))
        .unwrap();
        assert_eq!(changes["dn"], None);
        assert_eq!(changes["x"], None);
        assert_eq!(changes["y"], Some((Some("user.y".into()), None)));
        assert!(mapping_changes(Some(serde_json::json!({}))).is_err());
        assert!(mapping_changes(Some(
            serde_json::json!({"properties": {"a": {"pushStatus": "SOMETIMES"}}})
        ))
        .is_err());
    }
}
