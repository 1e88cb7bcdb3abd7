//! `/api/v1/logs`: the System Log, with Okta's `since`, `until`, `limit` (≤ 1000, default
//! 100), `after`, `sortOrder`, `q` and a `filter` of `eq` terms on `eventType`,
//! `outcome.result` and `target.id` joined by `and`, alternatives joined by `or`. A bounded query (with `until`, or
//! descending) ends: its last page has no `next`. A polling query (no `until`, ascending)
//! always links on, even when empty, with an opaque cursor that can be persisted and
//! followed later to see only newer events (okta-api.md §8).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::Extension;
use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::{paged, require, split_and, ApiResult, Query};
use crate::sim::auth::Scope;
use crate::sim::errors::ApiError;
use crate::sim::server::{lock, RequestContext, Shared};
use crate::sim::store::StoredEvent;
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

/// One `attr eq "value"` term of a System Log filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogTerm {
    EventType(String),
    OutcomeResult(String),
    TargetId(String),
}

impl LogTerm {
    fn matches(&self, e: &StoredEvent) -> bool {
        match self {
            LogTerm::EventType(v) => e.event_type == *v,
            LogTerm::OutcomeResult(v) => e.outcome_result == v.as_str(),
            LogTerm::TargetId(v) => e.targets.iter().any(|t| t.id == *v),
        }
    }
}

/// Parses a filter: alternatives joined by `or`, each `eq` terms joined by `and`
/// (`and` binds tighter, as in SCIM). An event matches when every term of one alternative
/// does.
fn parse_log_filter_alternatives(raw: &str) -> Result<Vec<Vec<LogTerm>>, ApiError> {
    raw.split(" or ").map(parse_log_filter).collect()
}

/// Parses `eventType eq "…" and outcome.result eq "…" and target.id eq "…"` (any subset,
/// any order). Anything else is Okta's 400 `E0000053`.
fn parse_log_filter(raw: &str) -> Result<Vec<LogTerm>, ApiError> {
    let bad = || {
        ApiError::invalid_filter(&format!(
            "filter: `{raw}` is not supported; use `eq` on `eventType`, `outcome.result` or `target.id`, joined by `and`"
        ))
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
        let value = value[1..value.len() - 1].to_string();
        terms.push(match attr {
            "eventType" => LogTerm::EventType(value),
            "outcome.result" => LogTerm::OutcomeResult(value),
            "target.id" => LogTerm::TargetId(value),
            _ => return Err(bad()),
        });
    }
    if terms.is_empty() {
        return Err(bad());
    }
    Ok(terms)
}

/// A cursor: the position in the log after the last event seen (`c<n>`), opaque to callers.
fn parse_cursor(raw: &str) -> Result<usize, ApiError> {
    raw.strip_prefix('c')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            ApiError::validation("after", vec![format!("after: unknown cursor `{raw}`")])
        })
}

pub(super) async fn list_logs(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&ctx, Scope::LogsRead)?;
    let query = Query::parse(raw.as_deref());
    let until_given = parse_time(&query, "until")?;
    // The clock is read with the store held (below, `now` is read again under the lock):
    // an event recorded between this read and the lock would be later than `until` and
    // passed over by a polling cursor, lost for good.
    let now = Utc::now();
    let until = until_given.unwrap_or(now);
    let since = parse_time(&query, "since")?.unwrap_or(until - ChronoDuration::days(7));
    if until_given.is_some() && since > until {
        return Err(ApiError::validation(
            "since",
            vec!["since: must not be after `until`".into()],
        ));
    }
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
    let polling = until_given.is_none() && !descending;
    let terms = query
        .get("filter")
        .map(parse_log_filter_alternatives)
        .transpose()?;
    let keywords: Vec<String> = query
        .get("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let after = query
        .get("after")
        .filter(|a| !a.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let store = lock(&shared.store);
    // Every event in the store now was published at or before this instant.
    let until = match until_given {
        Some(until) => until,
        None => Utc::now().max(now),
    };
    let events = &store.events;
    let matches = |e: &StoredEvent| {
        e.published >= since
            && e.published <= until
            && terms.as_ref().is_none_or(|alternatives| {
                alternatives
                    .iter()
                    .any(|all| all.iter().all(|t| t.matches(e)))
            })
            && (keywords.is_empty() || {
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
    };
    let mut page: Vec<&StoredEvent> = Vec::new();
    // Positions are scanned in order; `cursor` is where the next page starts.
    let next: Option<usize> = if descending {
        let mut pos = after.unwrap_or(events.len()).min(events.len());
        while pos > 0 && page.len() < limit {
            pos -= 1;
            if matches(&events[pos]) {
                page.push(&events[pos]);
            }
        }
        (0..pos).rev().any(|p| matches(&events[p])).then_some(pos)
    } else {
        let mut pos = after.unwrap_or(0).min(events.len());
        while pos < events.len() && page.len() < limit {
            if matches(&events[pos]) {
                page.push(&events[pos]);
            }
            pos += 1;
        }
        if polling {
            // A polling query always links on: from the last event returned when the
            // page is full, else from the end of what was scanned.
            Some(pos)
        } else {
            (pos..events.len())
                .any(|p| matches(&events[p]))
                .then_some(pos)
        }
    };
    let body: Vec<wire::LogEvent> = page.iter().map(|e| wire::LogEvent::from_store(e)).collect();
    let cursor = next.map(|n| format!("c{n}"));
    Ok(paged(&ctx, &query, body, cursor.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(
            parse_log_filter(
                r#"eventType eq "application.provision.user.sync" and outcome.result eq "FAILURE" and target.id eq "0oa1""#
            )
            .unwrap(),
            vec![
                LogTerm::EventType("application.provision.user.sync".into()),
                LogTerm::OutcomeResult("FAILURE".into()),
                LogTerm::TargetId("0oa1".into()),
            ]
        );
        assert_eq!(
            parse_log_filter_alternatives(
                r#"eventType eq "a" or eventType eq "b" and outcome.result eq "FAILURE""#
            )
            .unwrap(),
            vec![
                vec![LogTerm::EventType("a".into())],
                vec![
                    LogTerm::EventType("b".into()),
                    LogTerm::OutcomeResult("FAILURE".into())
                ],
            ]
        );
        assert!(parse_log_filter(r#"actor.id eq "x""#).is_err());
        assert!(parse_log_filter(r#"eventType sw "x""#).is_err());
        assert!(parse_log_filter("").is_err());
        assert!(parse_cursor("c12").is_ok_and(|n| n == 12));
        assert!(parse_cursor("12").is_err());
    }
}
