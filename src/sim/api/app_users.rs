//! `/api/v1/apps/{id}/users`: an app's users (for AD, `profile.dn` once AD has the user),
//! with `limit` (1–500, default 50), `after`, `q` (startsWith on userName, firstName,
//! lastName, email) and `expand=user`. No `filter`, as in Okta.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::Extension;

use super::{paged, paginate, require, ApiResult, OktaPath, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::store::StoredAppUser;
use crate::sim::wire;

pub(super) async fn list_app_users(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(app_id): OktaPath<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::AppsRead)?;
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(50, 1, 500)?;
    let embed = query
        .get("expand")
        .is_some_and(|e| e.split(',').any(|p| p.trim() == "user"));
    let q = query.get("q").map(str::to_lowercase);
    let store = lock(&shared.store);
    let app = store
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(&app_id, "AppInstance"))?;
    let all: &[StoredAppUser] = app.directory().map_or(&[], |d| &d.app_users);
    let matching: Vec<&StoredAppUser> = all
        .iter()
        .filter(|a| {
            q.as_deref().is_none_or(|q| {
                store.users.get(&a.user_id).is_some_and(|u| {
                    [&u.login, &u.first_name, &u.last_name]
                        .iter()
                        .any(|field| field.to_lowercase().starts_with(q))
                })
            })
        })
        .collect();
    let (page, next) = paginate(&matching, query.get("after"), limit, |a| a.user_id.as_str())?;
    let default_type = store.default_user_type_id();
    let body: Vec<wire::AppUser> = page
        .iter()
        .map(|a| {
            wire::AppUser::from_store(
                &app_id,
                a,
                store.users.get(&a.user_id),
                &default_type,
                embed,
                &ctx.base_url,
            )
        })
        .collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

/// `/api/v1/groups/{id}/users`: a group's members (`limit` default 1000, `after` a user
/// id). Scope `okta.groups.read` (`okta.users.read` also lets an app read members).
pub(super) async fn list_group_users(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(group_id): OktaPath<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    if !ctx.principal.grants(Scope::UsersRead) {
        require(&ctx, Scope::GroupsRead)?;
    }
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(1000, 1, 10_000)?;
    let store = lock(&shared.store);
    if !store.groups.contains_key(&group_id) {
        return Err(ApiError::not_found(&group_id, "UserGroup"));
    }
    let members: &[String] = store.members.get(&group_id).map_or(&[], Vec::as_slice);
    let (page, next) = paginate(members, query.get("after"), limit, String::as_str)?;
    let default_type = store.default_user_type_id();
    let body: Vec<wire::User> = page
        .iter()
        .filter_map(|id| store.users.get(id))
        .map(|u| wire::User::from_store(u, &default_type, &ctx.base_url))
        .collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

/// `/api/v1/users/{id}/groups`: the groups a user is a member of (one page, as in Okta).
/// Scope `okta.users.read`.
pub(super) async fn list_user_groups(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    OktaPath(user_id): OktaPath<String>,
) -> ApiResult {
    require(&ctx, Scope::UsersRead)?;
    let store = lock(&shared.store);
    if !store.users.contains_key(&user_id) {
        return Err(ApiError::not_found(&user_id, "User"));
    }
    let mut groups: Vec<&str> = store
        .members
        .iter()
        .filter(|(_, members)| members.contains(&user_id))
        .map(|(g, _)| g.as_str())
        .collect();
    groups.sort_unstable();
    let body: Vec<wire::Group> = groups
        .into_iter()
        .map(|g| wire::Group::standalone(g, store.group_view(g), &ctx.base_url))
        .collect();
    Ok(axum::Json(body).into_response())
}
