//! `/api/v1/meta/types/user`: the org's user types (one page, no pagination).

use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Extension, Json};

use super::{require, ApiResult};
use crate::sim::auth::Scope;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::wire;

pub(super) async fn list_user_types(
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
