//! `/api/v1/mappings[/{id}]`: profile mappings (list by source/target, read with
//! properties, partial `POST` update), each update recorded in the System Log.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Map, Value};

use super::{paged, parse_json_body, require, uuid_like, ApiResult, OktaPath, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::store::{EndKind, EventTarget, StoredEvent, StoredProperty};
use crate::sim::wire;

pub(super) async fn list_mappings(
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

pub(super) async fn get_mapping(
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

pub(super) async fn update_mapping(
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
        outcome_result: "SUCCESS",
        outcome_reason: None,
        by_system: false,
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

#[cfg(test)]
mod tests {
    use super::*;

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
