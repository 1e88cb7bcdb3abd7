//! The Event Hook receiver: answers Okta's one-time verification `GET`, and takes delivery
//! `POST`s — the shared secret checked in constant time before the body is read (401), the
//! body bounded (413), the events deduped, journaled and queued, then 204 at once: the
//! judging happens after the answer. Logs each delivery at `-v`, never a header value.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::journal::{Intake, IntakeError, Stats};
use crate::okta::{parse_event_hook_delivery, Secret};

/// Largest delivery body accepted (Okta batches up to a few hundred events).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest verification challenge answered.
const MAX_CHALLENGE_CHARS: usize = 1024;

/// What the receiver needs.
pub struct Receiver {
    pub secret: Secret,
    pub intake: Arc<Intake>,
    pub max_body_bytes: usize,
}

/// Compares two byte strings in time independent of where they differ (and of their
/// lengths, by comparing their SHA-256 digests).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The receiver's routes: every path, since the reverse proxy decides the public one.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new().fallback(handle).with_state(receiver)
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn handle(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::GET {
        return verification(&headers, uri.path());
    }
    if method != Method::POST {
        return problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET (verification) and POST (deliveries)",
        );
    }
    let stats = &receiver.intake.stats;
    Stats::add(&stats.deliveries, 1);
    let presented = headers
        .get(header::AUTHORIZATION)
        .map_or(&[][..], |v| v.as_bytes());
    if !constant_time_eq(presented, receiver.secret.expose().as_bytes()) {
        Stats::add(&stats.unauthorized, 1);
        tracing::debug!(
            authorization = if presented.is_empty() {
                "missing"
            } else {
                "wrong"
            },
            "delivery refused: 401"
        );
        return problem(
            StatusCode::UNAUTHORIZED,
            "missing or wrong Authorization header",
        );
    }
    let bytes = match axum::body::to_bytes(body, receiver.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            Stats::add(&stats.too_large, 1);
            tracing::debug!(limit = receiver.max_body_bytes, "delivery refused: 413");
            return problem(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        }
    };
    let delivery = match parse_event_hook_delivery(&bytes) {
        Ok(delivery) => delivery,
        Err(e) => {
            Stats::add(&stats.bad_body, 1);
            tracing::debug!(error = %e, "delivery refused: 400");
            return problem(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let received = delivery.events.len();
    match receiver.intake.accept(delivery.events, None) {
        Ok(accepted) => {
            tracing::debug!(
                events = received,
                new = accepted.new,
                duplicates = accepted.duplicates,
                skipped = delivery.skipped,
                bytes = bytes.len(),
                "delivery accepted: 204"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(IntakeError::Full) => {
            Stats::add(&stats.overloaded, 1);
            tracing::debug!(events = received, "delivery refused: queue full, 503");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the guard is busy; Okta retries once",
            )
        }
        Err(IntakeError::Closed) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "the guard is stopping")
        }
        Err(IntakeError::Journal(e)) => {
            tracing::error!("failed to journal a delivery: {e:#}");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the guard could not record the delivery",
            )
        }
    }
}

/// Okta's one-time verification: `X-Okta-Verification-Challenge: v` → `{"verification": v}`.
/// Whether Okta sends the secret with it is not documented, so it is answered either way; it
/// reveals nothing but the challenge itself. `GET /healthz` answers `ok` for probes.
fn verification(headers: &HeaderMap, path: &str) -> Response {
    let Some(challenge) = headers.get("x-okta-verification-challenge") else {
        if path == "/healthz" {
            return (StatusCode::OK, "ok\n").into_response();
        }
        return problem(
            StatusCode::BAD_REQUEST,
            "a GET must carry X-Okta-Verification-Challenge (Okta's one-time verification)",
        );
    };
    match challenge.to_str() {
        Ok(text) if !text.is_empty() && text.chars().count() <= MAX_CHALLENGE_CHARS => {
            tracing::debug!("verification challenge answered");
            Json(json!({ "verification": text })).into_response()
        }
        _ => problem(
            StatusCode::BAD_REQUEST,
            "the verification challenge is not valid",
        ),
    }
}

/// Serves until `shutdown` completes; deliveries in flight finish first.
///
/// # Errors
/// The listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(receiver))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether the guard may listen on `addr` (loopback, or `--allow-remote`).
#[must_use]
pub fn listen_allowed(addr: &SocketAddr, allow_remote: bool) -> bool {
    allow_remote || addr.ip().is_loopback()
}

/// Counters, for tests.
#[must_use]
pub fn deliveries(intake: &Intake) -> u64 {
    intake.stats.deliveries.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_is_equality() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}
