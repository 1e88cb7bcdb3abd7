//! `/api/v1/apps/{id}/groups[/{groupId}]`: app group assignments (list, read, `PUT`,
//! JSON-Patch), each write recorded in the System Log as Okta does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Map, Value};

use super::{paged, paginate, parse_json_body, require, uuid_like, ApiResult, OktaPath, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::ids::timestamp;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::store::{EventTarget, Store, StoredAssignment, StoredEvent};
use crate::sim::wire;

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

pub(super) async fn list_app_groups(
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

pub(super) async fn get_app_group(
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
        outcome_result: "SUCCESS",
        outcome_reason: None,
        by_system: false,
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

pub(super) async fn put_app_group(
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

pub(super) async fn patch_app_group(
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
