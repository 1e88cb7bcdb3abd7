//! `/api/v1/logs`: the System Log.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::Extension;
use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::{paged, paginate, require, ApiResult, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::wire;

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

pub(super) async fn list_logs(
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
                .as_deref()
                .is_none_or(|t| e.event_type == t)
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
    let (page, next) = paginate(&events, query.get("after"), limit, |e| e.uuid.as_str())?;
    let body: Vec<wire::LogEvent> = page.iter().map(|e| wire::LogEvent::from_store(e)).collect();
    Ok(paged(&ctx, &query, body, next.as_deref()))
}

fn parse_log_filter(raw: &str) -> Result<String, ApiError> {
    let terms = parse_app_filter_like(raw, "eventType");
    terms.ok_or_else(|| {
        ApiError::validation(
            "filter",
            vec![format!(
                "filter: `{raw}` is not supported; use `eventType eq \"…\"`"
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
