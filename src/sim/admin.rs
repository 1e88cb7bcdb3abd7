//! The simulator's admin surface under `/sim/` (no auth; clearly not Okta): tick an import
//! OU as an admin would in the console, read the request log, read or replace the whole
//! state, inject faults, and ask the provisioning ground truth. Tests and demos only; it
//! never pretends to be an Okta endpoint.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::faults::Fault;
use super::provisioning;
use super::server::{lock, Shared};
use super::store::{SeedError, Store};
use crate::dn::Dn;
use crate::state::OrgState;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sim", get(index))
        .route("/sim/", get(index))
        .route(
            "/sim/directories/{directory}/import-ous",
            post(tick_import_ou),
        )
        .route(
            "/sim/directories/{directory}/assignments",
            post(super::event_hooks::admin_assign),
        )
        .route("/sim/requests", get(requests).delete(clear_requests))
        .route("/sim/state", get(get_state).put(put_state))
        .route(
            "/sim/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/sim/mappings-unavailable", put(set_mappings_unavailable))
        .route("/sim/provisioning-check", get(provisioning_check))
        .fallback(|| async {
            admin_error(StatusCode::NOT_FOUND, "no such /sim/ route; see GET /sim")
        })
        .method_not_allowed_fallback(|| async {
            admin_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this /sim/ route",
            )
        })
        .with_state(shared)
}

fn admin_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(admin_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid request body: {e}"),
        ))
    })
}

async fn index() -> Response {
    Json(json!({
        "about": "ouguard simulated Okta org: admin surface (not part of Okta's API)",
        "routes": {
            "POST /sim/directories/{appIdOrDomain}/import-ous": "{\"ou\": DN}: tick an import OU",
            "POST /sim/directories/{appIdOrDomain}/assignments": "{\"group\": name or id, \"ou\": DN or null}: assign a group as an admin does (logged, delivered to Event Hooks)",
            "GET /sim/requests": "request log",
            "DELETE /sim/requests": "clear the request log",
            "GET /sim/state": "whole state, as an OrgState seed",
            "PUT /sim/state": "replace the whole state with an OrgState seed",
            "GET /sim/faults": "active faults",
            "POST /sim/faults": "inject a fault or a list of faults",
            "DELETE /sim/faults": "clear faults",
            "PUT /sim/mappings-unavailable": "{\"unavailable\": bool}: /api/v1/mappings answers 401",
            "GET /sim/provisioning-check": "would provisioning succeed, per group assignment"
        }
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TickBody {
    ou: String,
}

async fn tick_import_ou(
    State(shared): State<Arc<Shared>>,
    Path(directory): Path<String>,
    body: Bytes,
) -> Response {
    let tick: TickBody = match parse(&body) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    if let Err(e) = Dn::parse(&tick.ou) {
        return admin_error(
            StatusCode::BAD_REQUEST,
            &format!("`{}` is not a valid DN: {e}", tick.ou),
        );
    }
    let mut store = lock(&shared.store);
    match store.tick_import_ou(&directory, &tick.ou) {
        Ok(added) => {
            let ous = store
                .directory_app_mut(&directory)
                .and_then(|a| a.directory().and_then(|d| d.import_ous.clone()))
                .map(|i| i.ous)
                .unwrap_or_default();
            Json(json!({ "directory": directory, "added": added, "import_ous": ous }))
                .into_response()
        }
        Err(e @ SeedError::UnknownDirectory(_)) => {
            admin_error(StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.requests).clone()).into_response()
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.requests).clear();
    StatusCode::NO_CONTENT
}

async fn get_state(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.store).to_seed()).into_response()
}

async fn put_state(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let seed: OrgState = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    match Store::from_seed(&seed) {
        Ok(store) => {
            *lock(&shared.store) = store;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultsBody {
    One(Fault),
    Many(Vec<Fault>),
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.faults).active()).into_response()
}

async fn add_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let faults = match parse::<FaultsBody>(&body) {
        Ok(FaultsBody::One(f)) => vec![f],
        Ok(FaultsBody::Many(fs)) => fs,
        Err(resp) => return *resp,
    };
    let mut plan = lock(&shared.faults);
    for f in faults {
        plan.inject(f);
    }
    Json(plan.active()).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.faults).clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingsUnavailable {
    unavailable: bool,
}

async fn set_mappings_unavailable(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<MappingsUnavailable>(&body) {
        Ok(m) => {
            shared
                .mappings_unavailable
                .store(m.unavailable, Ordering::SeqCst);
            Json(json!({ "unavailable": m.unavailable })).into_response()
        }
        Err(resp) => *resp,
    }
}

async fn provisioning_check(State(shared): State<Arc<Shared>>) -> Response {
    Json(provisioning::check(&lock(&shared.store))).into_response()
}
