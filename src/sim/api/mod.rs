//! The Okta management endpoints the simulator serves, with Okta's paths, query parameters,
//! pagination and JSON: the router and what every resource shares (scope checks, query
//! parsing, pagination, `Link` headers, body parsing). One file per resource: `apps`,
//! `assignments` (app group assignments), `mappings` (profile mappings), `user_types`,
//! `logs` (System Log). Handlers read and write the `Store`; cross-cutting behaviour (auth,
//! rate limits, faults, request ids) belongs to `server`, never here.

mod app_users;
mod apps;
mod assignments;
mod logs;
mod mappings;
mod user_types;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::auth::{Principal, Scope};
use super::errors::ApiError;
use super::server::{RequestContext, Shared};

pub(super) type ApiResult = Result<Response, ApiError>;

/// The Okta API routes. Unknown paths answer 404 `E0000007`, known paths with another method
/// 405 `E0000022`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/apps", get(apps::list_apps))
        .route("/api/v1/apps/{app_id}", get(apps::get_app))
        .route(
            "/api/v1/apps/{app_id}/groups",
            get(assignments::list_app_groups),
        )
        .route(
            "/api/v1/apps/{app_id}/groups/{group_id}",
            get(assignments::get_app_group)
                .put(assignments::put_app_group)
                .patch(assignments::patch_app_group),
        )
        .route(
            "/api/v1/apps/{app_id}/users",
            get(app_users::list_app_users),
        )
        .route(
            "/api/v1/groups/{group_id}/users",
            get(app_users::list_group_users),
        )
        .route(
            "/api/v1/users/{user_id}/groups",
            get(app_users::list_user_groups),
        )
        .route("/api/v1/mappings", get(mappings::list_mappings))
        .route(
            "/api/v1/mappings/{mapping_id}",
            get(mappings::get_mapping).post(mappings::update_mapping),
        )
        .route("/api/v1/meta/types/user", get(user_types::list_user_types))
        .route("/api/v1/logs", get(logs::list_logs))
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
pub(super) struct OktaPath<T>(pub(super) T);

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

pub(super) fn require(ctx: &RequestContext, scope: Scope) -> Result<(), ApiError> {
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
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: absent or non-positive → `default`; clamped to `min..=max`; not a number → 400.
    pub(super) fn limit(&self, default: usize, min: usize, max: usize) -> Result<usize, ApiError> {
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
    pub(super) fn with_after(&self, cursor: &str) -> String {
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
pub(super) fn paginate<'a, T>(
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
pub(super) fn paged<T: Serialize>(
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

pub(super) fn parse_json_body(body: &Bytes, required: bool) -> Result<Option<Value>, ApiError> {
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

pub(super) fn split_and(raw: &str) -> Vec<&str> {
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

/// A UUID-shaped, unique event id.
pub(super) fn uuid_like(request_id: &str, n: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
