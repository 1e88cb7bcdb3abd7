//! `/api/v1/apps` and `/api/v1/apps/{id}`: the org's app instances, with Okta's `filter`
//! (`eq` on `name`, `status`, `id`, joined by `and`), `q` and pagination.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};

use super::{paged, paginate, require, split_and, ApiResult, OktaPath, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::wire;

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

pub(super) async fn list_apps(
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

pub(super) async fn get_app(
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
}
