//! The simulated org's HTTP server: accepts connections with hyper, and wraps every Okta API
//! request in what Okta does around its endpoints: request ids, the request log, the
//! concurrency limit, faults, authentication, rate limits and `Link`-free headers. Routing
//! and JSON live in `api` and `admin`; this file never looks inside a body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use chrono::Utc;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;

use super::auth::{AuthFailure, Authenticator, Principal};
use super::errors::ApiError;
use super::faults::{Disruption, FaultPlan};
use super::ids::{request_id, timestamp};
use super::oauth::{challenge, AuthorizationServer, TokenFailure};
use super::ratelimit::{concurrency_refusal, EndpointFamily, RateLimitStatus, RateLimiter};
use super::request_log::RecordedRequest;
use super::store::Store;

/// Largest request body the simulator reads.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Requests kept in the request log; older ones are forgotten so a long-running
/// `ouguard sim` does not grow without bound.
pub(crate) const REQUEST_LOG_CAPACITY: usize = 10_000;

fn record_request(shared: &Shared, record: RecordedRequest) {
    let mut log = lock(&shared.requests);
    if log.len() >= REQUEST_LOG_CAPACITY {
        let excess = log.len() + 1 - REQUEST_LOG_CAPACITY;
        log.drain(..excess);
    }
    log.push(record);
}

/// State shared by every connection of one simulated org.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<FaultPlan>,
    pub rate: Mutex<RateLimiter>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub seq: AtomicU64,
    pub auth: Authenticator,
    pub oauth: Arc<AuthorizationServer>,
    pub token: String,
    pub mappings_unavailable: AtomicBool,
    pub concurrency: Option<Arc<Semaphore>>,
    pub local_addr: SocketAddr,
    pub hooks: super::event_hooks::Hooks,
}

/// Locks a mutex, ignoring poisoning (a panicked handler must not take the org down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a handler knows about the request it serves.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    pub request_id: String,
    /// `http://host:port` as the client addressed the org.
    pub base_url: String,
    /// Path and query as sent.
    pub path_and_query: String,
    pub principal: Principal,
}

/// Accepts connections until `shutdown` flips to `true`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    api: Router,
    admin: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _peer)) = accepted else {
            // Transient accept errors (e.g. too many open files): back off briefly.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let api = api.clone();
        let admin = admin.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let drop_now = Arc::new(Notify::new());
            let service = {
                let drop_now = Arc::clone(&drop_now);
                hyper::service::service_fn(move |req: Request<Incoming>| {
                    let shared = Arc::clone(&shared);
                    let api = api.clone();
                    let admin = admin.clone();
                    let drop_now = Arc::clone(&drop_now);
                    async move { Ok::<_, Infallible>(handle(shared, api, admin, drop_now, req).await) }
                })
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = drop_now.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    api: Router,
    admin: Router,
    drop_now: Arc<Notify>,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/sim" || path.starts_with("/sim/") {
        let req = req.map(Body::new);
        return match admin.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
    }

    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = request_id();
    let arrived = timestamp(Utc::now());
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_string());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| shared.local_addr.to_string(), str::to_string);
    let write = matches!(
        method,
        Method::PUT | Method::PATCH | Method::POST | Method::DELETE
    );
    let mut record = RecordedRequest {
        seq,
        method: method.to_string(),
        path: path_and_query.clone(),
        status: None,
        request_id: request_id.clone(),
        write,
        timestamp: arrived,
        dropped: false,
        request_body: None,
        response_body: None,
    };

    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let resp =
                ApiError::validation("request body", vec!["body too large".into()]).into_response();
            return finish(&shared, record, resp, &request_id, None, None).await;
        }
    };
    if !body.is_empty() {
        record.request_body = Some(if path == TOKEN_PATH {
            redact_form(&body)
        } else {
            String::from_utf8_lossy(&body).into_owned()
        });
    }

    // Okta's concurrent-request limit: refuse at once, do not queue.
    let _permit = match &shared.concurrency {
        Some(sem) => match Arc::clone(sem).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let resp = ApiError::rate_limited().into_response();
                let status = concurrency_refusal();
                return finish(&shared, record, resp, &request_id, Some(status), None).await;
            }
        },
        None => None,
    };

    let effects = lock(&shared.faults).evaluate(method.as_str(), &path);
    if !effects.delay.is_zero() {
        sleep_precisely(effects.delay).await;
    }
    let family = EndpointFamily::of_path(&path);
    let slow = effects.slow_body;

    match effects.disruption {
        Some(Disruption::ConnectionReset) => {
            record.dropped = true;
            record_request(&shared, record);
            drop_now.notify_one();
            return std::future::pending().await;
        }
        Some(Disruption::RateLimited) => {
            let status = lock(&shared.rate).exhausted(family);
            let resp = ApiError::rate_limited().into_response();
            return finish(&shared, record, resp, &request_id, Some(status), slow).await;
        }
        Some(Disruption::ServerError(code)) => {
            let resp = ApiError::server_error(code).into_response();
            return finish(&shared, record, resp, &request_id, None, slow).await;
        }
        Some(Disruption::Forbidden) => {
            let resp = ApiError::forbidden().into_response();
            return finish(&shared, record, resp, &request_id, None, slow).await;
        }
        Some(Disruption::LostResponse | Disruption::StalledResponse) | None => {}
    }

    if path == TOKEN_PATH {
        let resp = if method == Method::POST {
            shared
                .oauth
                .token(&parts.headers, &body, &format!("http://{host}"))
        } else {
            ApiError::method_not_allowed().into_response()
        };
        return finish(&shared, record, resp, &request_id, None, slow).await;
    }

    let mut rate_status = None;
    if path.starts_with("/api/") {
        if let Some(family) = family {
            let status = lock(&shared.rate).check(family);
            rate_status = Some(status);
            if !status.allowed {
                let resp = ApiError::rate_limited().into_response();
                return finish(&shared, record, resp, &request_id, rate_status, slow).await;
            }
        }
    }
    let principal = if path.starts_with("/api/") {
        let htu = format!("http://{host}{path}");
        match shared
            .auth
            .authenticate(&parts.headers, method.as_str(), &htu)
        {
            Ok(p) => Some(p),
            Err(failure) => {
                let resp = unauthorized(&shared.oauth, failure);
                return finish(&shared, record, resp, &request_id, rate_status, slow).await;
            }
        }
    } else {
        None
    };
    if family == Some(EndpointFamily::Mappings)
        && shared.mappings_unavailable.load(Ordering::SeqCst)
    {
        let resp = ApiError::invalid_token().into_response();
        return finish(&shared, record, resp, &request_id, rate_status, slow).await;
    }

    let mut req = Request::from_parts(parts, Body::from(body));
    req.extensions_mut().insert(RequestContext {
        request_id: request_id.clone(),
        base_url: format!("http://{host}"),
        path_and_query,
        principal: principal.unwrap_or(Principal::ApiToken),
    });
    let mut resp = match api.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    if effects.malformed_body {
        resp = cut_body_in_half(resp).await;
    }

    if effects.disruption == Some(Disruption::LostResponse) {
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        record.status = Some(parts.status.as_u16());
        record.response_body = Some(String::from_utf8_lossy(&bytes).into_owned());
        record.dropped = true;
        record_request(&shared, record);
        drop_now.notify_one();
        return std::future::pending().await;
    }
    if effects.disruption == Some(Disruption::StalledResponse) {
        // Logged as answered (the write took effect), but the answer is never sent.
        record.status = Some(resp.status().as_u16());
        record_request(&shared, record);
        return std::future::pending().await;
    }
    finish(&shared, record, resp, &request_id, rate_status, slow).await
}

/// Sleeps `delay` to within tens of microseconds. Tokio's timer counts whole milliseconds:
/// it rounds a deadline up to the next one and parks for whole ones, so a plain `sleep`
/// overran the injected latency by 1.2 ms on average (measured), every request. The last
/// 2 ms are slept on a blocking thread instead (`nanosleep`).
async fn sleep_precisely(delay: Duration) {
    let deadline = std::time::Instant::now() + delay;
    tokio::time::sleep(delay.saturating_sub(Duration::from_millis(2))).await;
    let rest = deadline.saturating_duration_since(std::time::Instant::now());
    if !rest.is_zero() {
        // Only a panic in `sleep` could fail this; the request goes on either way.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

/// A body as text for the request log: `from_utf8` validates a page of JSON several times
/// faster than `from_utf8_lossy`, which only the rare invalid body needs.
fn lossy_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The same answer with its body cut in half (a `MalformedBody` fault): no longer JSON.
async fn cut_body_in_half(resp: Response<Body>) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::from(half))
}

/// The token endpoint of the org authorization server.
const TOKEN_PATH: &str = "/oauth2/v1/token";

/// A token request's form with the client assertion blanked (the log is served on `/sim/`).
fn redact_form(body: &[u8]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(body) {
        if k == "client_assertion" {
            out.append_pair(&k, "[redacted]");
        } else {
            out.append_pair(&k, &v);
        }
    }
    out.finish()
}

/// 401 `E0000011`, with an OAuth challenge when an OAuth token or proof was refused.
fn unauthorized(oauth: &AuthorizationServer, failure: AuthFailure) -> Response<Body> {
    let AuthFailure::OAuth { scheme, failure } = failure else {
        return ApiError::invalid_token().into_response();
    };
    let (error, description) = match failure {
        TokenFailure::InvalidToken(d) => ("invalid_token", d),
        TokenFailure::InvalidProof(d) => ("invalid_dpop_proof", d),
        TokenFailure::UseNonce => (
            "use_dpop_nonce",
            "Resource server requires nonce in DPoP proof.",
        ),
    };
    let mut resp =
        ApiError::oauth_unauthorized(challenge(&scheme, error, description)).into_response();
    if error == "use_dpop_nonce" {
        if let Ok(v) = HeaderValue::from_str(oauth.nonce()) {
            resp.headers_mut().insert("dpop-nonce", v);
        }
    }
    resp
}

/// Adds Okta's headers, records the exchange and (for a slow-body fault) re-streams the body.
async fn finish(
    shared: &Shared,
    mut record: RecordedRequest,
    resp: Response<Body>,
    request_id: &str,
    rate: Option<RateLimitStatus>,
    slow: Option<(usize, Duration)>,
) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes: Bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            Bytes::new()
        }
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        parts.headers.insert("x-okta-request-id", v);
    }
    if let Some(rate) = rate {
        parts
            .headers
            .insert("x-rate-limit-limit", HeaderValue::from(rate.limit));
        parts
            .headers
            .insert("x-rate-limit-remaining", HeaderValue::from(rate.remaining));
        parts.headers.insert(
            "x-rate-limit-reset",
            HeaderValue::from(rate.reset_epoch_seconds),
        );
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    record.status = Some(parts.status.as_u16());
    if !bytes.is_empty() {
        record.response_body = Some(lossy_text(&bytes));
    }
    record_request(shared, record);

    let body = match slow {
        Some((chunk_bytes, delay)) if !bytes.is_empty() => {
            let chunks: Vec<Bytes> = bytes
                .chunks(chunk_bytes)
                .map(Bytes::copy_from_slice)
                .collect();
            let stream = futures_util::stream::iter(chunks.into_iter().enumerate()).then(
                move |(i, chunk)| async move {
                    if i > 0 {
                        tokio::time::sleep(delay).await;
                    }
                    Ok::<Bytes, Infallible>(chunk)
                },
            );
            Body::from_stream(stream)
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn injected_latency_is_never_short() {
        // How late it may be is a timing figure, measured by `examples/bench_org.rs`, not
        // asserted here: a busy machine makes any bound flaky.
        for ms in [0, 1, 2, 3, 7, 12] {
            let delay = Duration::from_millis(ms);
            let started = Instant::now();
            sleep_precisely(delay).await;
            let took = started.elapsed();
            assert!(took >= delay, "{took:?} < {delay:?}");
        }
    }
}
