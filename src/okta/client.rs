//! `OktaClient`: authenticated HTTP to one org, with pagination, bounded concurrency,
//! rate-limit pacing, 429 resends and bounded retries of reads. Knows HTTP, not Okta's
//! objects (those are in `wire.rs`). Must never log or return the token or `Authorization`.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{ApiError, OktaError};
use super::oauth::{challenge_param, AfterUnauthorized, OAuthSession, RequestAuth, ScopeSet};
use super::ratelimit::{self, Admission, InFlight, RateHeaders, RateLimiter};
use super::settings::{ConnectionSettings, Credentials};
use super::slots::{Slot, Slots};
use super::wire::ErrorBody;

/// Slot priority of the first page of a list expected to be long ([`OktaClient::get_all_long`]);
/// single reads and other lists start at 0.
const LONG_LIST: u32 = 1;

/// The largest response body read, counted after decompression: a page of 200 items is a
/// few hundred KB, so anything near this is not an Okta page. Beyond it the answer is
/// refused, never buffered whole.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The most bytes of bodies being read at once, across all requests of one client: a dozen
/// usual pages are a few MB, so only answers that would each pass the per-body limit soon
/// anyway come near it; it keeps twelve 60 MiB answers from adding up.
pub const MAX_BUFFERED_BYTES: usize = 96 << 20;

/// The bytes of bodies one client is reading at once.
#[derive(Debug, Default)]
pub(crate) struct BodyBudget {
    in_use: std::sync::atomic::AtomicUsize,
}

impl BodyBudget {
    /// Takes `n` bytes; `false` (taking nothing) when that would pass the bound.
    fn take(&self, n: usize) -> bool {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n)
                    .filter(|total| *total <= MAX_BUFFERED_BYTES)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.in_use.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The most of an error answer's body read (the rest is not looked at): an Okta error is
/// a few hundred bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// The most pages one list may have. The longest lists ouguard reads are a directory's
/// group assignments, 200 a page: 10,000 pages is two million assignments, far beyond any
/// org. A list that goes on past it is refused (a server or proxy repeating `next` links).
pub const MAX_PAGES: usize = 10_000;

/// Empty pages in a row that still link on before a list is refused as going nowhere.
const MAX_EMPTY_PAGES_IN_A_ROW: usize = 2;

/// Something a person should know is taking time: a wait for a rate-limit window, a retry
/// backoff, a request without an answer. Announced on stderr by the command (the client
/// itself prints nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitNotice {
    /// How long the wait is (or has lasted, for a request without an answer), in seconds.
    pub seconds: u64,
    /// A sentence in the project's style, e.g. ``waiting 58 s for the rate-limit window of
    /// `/api/v1/apps` (resets 19:40:12Z)``.
    pub message: String,
}

impl std::fmt::Display for WaitNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A function told of each wait.
type ReportWait = dyn Fn(&WaitNotice) + Send + Sync;

/// Where the client announces its waits ([`WaitNotice`]); by default nowhere.
#[derive(Clone, Default)]
pub struct WaitReporter(Option<Arc<ReportWait>>);

impl WaitReporter {
    pub fn new(report: impl Fn(&WaitNotice) + Send + Sync + 'static) -> Self {
        WaitReporter(Some(Arc::new(report)))
    }

    fn report(&self, notice: &WaitNotice) {
        tracing::debug!(seconds = notice.seconds, "{}", notice.message);
        if let Some(report) = &self.0 {
            report(notice);
        }
    }
}

impl std::fmt::Debug for WaitReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "WaitReporter(on)"
        } else {
            "WaitReporter(off)"
        })
    }
}

/// `19:40:12Z` for a reset in epoch seconds.
fn clock_time(epoch: u64) -> String {
    i64::try_from(epoch)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("epoch {epoch}"),
            |t| t.format("%H:%M:%SZ").to_string(),
        )
}

/// Whole seconds of a wait, rounded up (a 0.4 s wait is "1 s").
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Tunables of the client. `Default` is what a real run uses; tests shrink the waits.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, send, and read the body).
    pub request_timeout: Duration,
    /// Requests in flight at once, across all endpoint families. The default, 12, stays under
    /// a concurrent-request limit of 15 with room for the org's other clients; going over
    /// the org's limit only earns 429s.
    pub max_concurrency: usize,
    /// Tries of a read (GET) on a 5xx or a transport error, the first included.
    pub read_attempts: u32,
    /// Full-jitter backoff: attempt `n` waits a random time up to `base·2^n`, capped at `max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Resends after a 429 before giving up with `RateLimitExhausted`.
    pub max_rate_limit_retries: u32,
    /// Added to every wait for a rate-limit reset (Okta's SDKs use 1 s).
    pub reset_padding: Duration,
    /// A rate-limit reset further ahead than this is an error, not a wait (Okta's windows
    /// are a minute; a reset hours ahead is a misbehaving server or proxy).
    pub max_reset_wait: Duration,
    /// The most one request waits in all for rate-limit windows before it is an error.
    pub max_total_wait: Duration,
    /// Tries of a read that got no answer in `request_timeout`, the first included.
    pub timeout_attempts: u32,
    /// Waits at least this long are announced through `on_wait`.
    pub announce_after: Duration,
    /// Where waits are announced.
    pub on_wait: WaitReporter,
    /// ouguard's share of each rate-limit window, in percent (`--max-api-share`).
    pub max_api_share: u8,
    /// The largest response body read (after decompression).
    pub max_response_bytes: usize,
    /// The OAuth scopes to request (service apps only; `OKTA_CLIENT_SCOPES` overrides).
    pub scopes: ScopeSet,
}

/// The default `--max-api-share`: half of each window, the rest left to the org's other
/// integrations.
pub const DEFAULT_MAX_API_SHARE: u8 = 50;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_concurrency: 12,
            read_attempts: 4,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            max_rate_limit_retries: 5,
            reset_padding: Duration::from_secs(1),
            max_reset_wait: Duration::from_secs(300),
            max_total_wait: Duration::from_secs(600),
            timeout_attempts: 2,
            announce_after: Duration::from_secs(3),
            on_wait: WaitReporter::default(),
            max_api_share: DEFAULT_MAX_API_SHARE,
            max_response_bytes: MAX_RESPONSE_BYTES,
            scopes: ScopeSet::Read,
        }
    }
}

/// Counters of one client's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (resends included).
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Resends: after a 429, a 5xx or a transport error.
    pub retries: u64,
    /// Times a request waited for a rate-limit reset before being sent.
    pub paced: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    paced: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// How requests are authenticated.
enum Auth {
    /// `Authorization: SSWS <token>`, marked sensitive.
    ApiToken(HeaderValue),
    /// A service app's access token (Bearer or DPoP).
    OAuth(Box<OAuthSession>),
}

/// A client of one Okta org. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    org_url: Url,
    org_url_text: String,
    auth: Auth,
    options: ClientOptions,
    slots: Slots,
    limiter: RateLimiter,
    counters: Counters,
    bodies: BodyBudget,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("org_url", &self.inner.org_url_text)
            .finish_non_exhaustive()
    }
}

/// Any HTTP answer, before it is judged.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    request_id: Option<String>,
    rate: Option<RateHeaders>,
}

/// A resend after a 429: `X-Okta-Retry-Count` and `X-Okta-Retry-For`.
struct Resend {
    count: u32,
    retry_for: Option<String>,
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    pub method: Method,
    pub url: Url,
}

impl OktaClient {
    /// A client for the org of `settings`.
    ///
    /// # Errors
    /// `Config` for a token that cannot be sent in a header, or a private key that cannot be
    /// loaded.
    pub fn new(settings: &ConnectionSettings, options: ClientOptions) -> Result<Self, OktaError> {
        let org_url = Url::parse(&settings.org_url).map_err(|e| {
            OktaError::config(format!(
                "`{}` is not a valid org url: {e}",
                settings.org_url
            ))
        })?;
        let auth = match &settings.credentials {
            Credentials::ApiToken(token) => {
                let mut authorization = HeaderValue::from_str(&format!("SSWS {}", token.expose()))
                    .map_err(|_| {
                        OktaError::config(
                            "the okta api token contains characters that cannot be sent in a header",
                        )
                    })?;
                authorization.set_sensitive(true);
                Auth::ApiToken(authorization)
            }
            Credentials::PrivateKey {
                client_id,
                kid,
                scopes,
                private_key,
            } => Auth::OAuth(Box::new(OAuthSession::new(
                &org_url,
                client_id,
                kid.as_deref(),
                scopes,
                options.scopes,
                private_key,
            )?)),
        };
        let mut default_headers = HeaderMap::new();
        default_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("ouguard/", env!("CARGO_PKG_VERSION")))
            .default_headers(default_headers)
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OktaError::config(format!("failed to set up the http client: {e}")))?;
        Ok(OktaClient {
            inner: Arc::new(Inner {
                http,
                org_url,
                org_url_text: settings.org_url.clone(),
                auth,
                slots: Slots::new(options.max_concurrency),
                limiter: RateLimiter::new(options.reset_padding).with_share(options.max_api_share),
                counters: Counters::default(),
                bodies: BodyBudget::default(),
                options,
            }),
        })
    }

    /// The normalized org URL, e.g. `https://acme.okta.com`.
    #[must_use]
    pub fn org_url(&self) -> &str {
        &self.inner.org_url_text
    }

    /// Traffic so far.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            paced: c.paced.load(Ordering::Relaxed),
        }
    }

    /// `path_and_query` (starting with `/`) on the org.
    pub(crate) fn url(&self, path_and_query: &str) -> Result<Url, OktaError> {
        self.inner.org_url.join(path_and_query).map_err(|e| {
            OktaError::config(format!("`{path_and_query}` is not a valid api path: {e}"))
        })
    }

    /// GET one JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<(T, Option<String>), OktaError> {
        let reply = self
            .send(Method::GET, self.url(path_and_query)?, None)
            .await?;
        let value = decode(&reply)?;
        Ok((value, reply.request_id))
    }

    /// GET every page of a list, following `Link: <…>; rel="next"` opaquely.
    ///
    /// A list is one chain of requests, each waiting for the one before, so the chain is
    /// kept moving: page n+1 is requested as soon as page n has arrived, on page n's slot
    /// (it never queues behind other requests for a new one), and page n is decoded on a
    /// blocking thread while page n+1 is on its way. Items keep the server's order; page n's
    /// errors (its body, its `next` link) surface before anything about page n+1, whose
    /// request is then dropped.
    pub(crate) async fn get_all<T: DeserializeOwned + Send + 'static>(
        &self,
        path_and_query: &str,
    ) -> Result<Vec<T>, OktaError> {
        self.get_pages(path_and_query, 0).await
    }

    /// [`Self::get_all`] for a list that may run to many pages (a directory's group
    /// assignments): when requests queue for a slot, its first page goes ahead of single
    /// reads and of other lists' first pages, since a whole read lasts as long as its
    /// longest chain and only such a list can make one.
    pub(crate) async fn get_all_long<T: DeserializeOwned + Send + 'static>(
        &self,
        path_and_query: &str,
    ) -> Result<Vec<T>, OktaError> {
        self.get_pages(path_and_query, LONG_LIST).await
    }

    /// The pages of a list; page n queues (if it must) with priority `first_priority + n`.
    async fn get_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        path_and_query: &str,
        first_priority: u32,
    ) -> Result<Vec<T>, OktaError> {
        let url = self.url(path_and_query)?;
        let mut visited = HashSet::from([url.to_string()]);
        let mut items = Vec::new();
        let mut pages: usize = 1;
        let mut empty_in_a_row: usize = 0;
        let first_url = url.to_string();
        let endless = |pages: usize, why: &str| OktaError::EndlessList {
            url: first_url.clone(),
            pages,
            reason: why.to_string(),
        };
        // Later pages go first when they must queue again (after a rate-limit wait or a
        // retry): the longest list is the chain a whole read waits for.
        let mut priority = first_priority;
        let (mut reply, mut slot) = self.send_on(Method::GET, url, None, priority, None).await?;
        loop {
            // Page n's own faults come first: its body, then its `next` link.
            let next = next_link(&reply.headers).map(|next| {
                let url = self.follow(&reply, &next)?;
                if visited.insert(url.to_string()) {
                    Ok(url)
                } else {
                    Err(OktaError::Decode {
                        method: "GET".into(),
                        url: url.to_string(),
                        request_id: None,
                        detail: "the `next` link points back to a page already read".into(),
                    })
                }
            });
            let next = match next {
                Some(Ok(next)) => next,
                last_or_bad => {
                    drop(slot);
                    items.extend(decode_list::<T>(&reply)?);
                    return match last_or_bad {
                        Some(Err(bad_link)) => Err(bad_link),
                        _ => Ok(items),
                    };
                }
            };
            if pages >= MAX_PAGES {
                drop(slot);
                return Err(endless(
                    pages,
                    &format!("more than {MAX_PAGES} pages, more than any org holds"),
                ));
            }
            pages += 1;
            priority = priority.saturating_add(1);
            let (listed, fetched) = {
                let fetch = pin!(self.send_on(Method::GET, next, None, priority, Some(slot)));
                // On a blocking thread: this task must keep polling the request meanwhile.
                let decoding = tokio::task::spawn_blocking(move || decode_list::<T>(&reply));
                let decoding = pin!(async {
                    match decoding.await {
                        Ok(listed) => listed,
                        Err(stopped) if stopped.is_panic() => {
                            std::panic::resume_unwind(stopped.into_panic())
                        }
                        Err(stopped) => Err(OktaError::config(format!(
                            "decoding a page stopped unexpectedly: {stopped}"
                        ))),
                    }
                });
                match select(fetch, decoding).await {
                    Either::Left((fetched, decoding)) => (decoding.await, fetched),
                    // A page that does not decode ends the list; the request under way is
                    // dropped.
                    Either::Right((listed, fetch)) => (Ok(listed?), fetch.await),
                }
            };
            let listed = listed?;
            // Page n was empty and linked on; two such pages in a row go nowhere.
            if listed.is_empty() {
                empty_in_a_row += 1;
                if empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW {
                    return Err(endless(
                        pages - 1,
                        &format!(
                            "{empty_in_a_row} empty pages in a row that still link to a next page"
                        ),
                    ));
                }
            } else {
                empty_in_a_row = 0;
            }
            items.extend(listed);
            (reply, slot) = fetched?;
        }
    }

    /// Resolves a `next` link, refusing one that leaves the org.
    fn follow(&self, reply: &Reply, next: &str) -> Result<Url, OktaError> {
        let bad = |detail: String| OktaError::Decode {
            method: reply.method.to_string(),
            url: reply.url.to_string(),
            request_id: reply.request_id.clone(),
            detail,
        };
        let url = reply
            .url
            .join(next)
            .map_err(|e| bad(format!("the `next` link is not a valid url: {e}")))?;
        let org = &self.inner.org_url;
        let same_origin = url.scheme() == org.scheme()
            && url.host_str() == org.host_str()
            && url.port_or_known_default() == org.port_or_known_default();
        if !same_origin {
            return Err(bad(format!(
                "the `next` link leads to `{}`, outside the org `{}`",
                url.host_str().unwrap_or("?"),
                self.inner.org_url_text
            )));
        }
        Ok(url)
    }

    /// Sends one request with pacing, 429 resends and, for reads only, retries on 5xx and
    /// transport errors. Returns 2xx answers; everything else becomes an `OktaError`.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, OktaError> {
        self.send_with_priority(method, url, body, 0).await
    }

    /// [`Self::send`], waiting for a slot with `priority` (higher goes first).
    async fn send_with_priority(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        priority: u32,
    ) -> Result<Reply, OktaError> {
        let (reply, _slot) = self.send_on(method, url, body, priority, None).await?;
        Ok(reply)
    }

    /// [`Self::send_with_priority`] on the slot `held` when one is given (the first attempt
    /// then does not queue), returning the slot of the successful exchange still held so a
    /// list can hand it to its next page. Every other path gives its slot back before it
    /// waits for anything.
    async fn send_on<'a>(
        &'a self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        priority: u32,
        mut held: Option<Slot<'a>>,
    ) -> Result<(Reply, Slot<'a>), OktaError> {
        let options = &self.inner.options;
        let is_read = method == Method::GET || method == Method::HEAD;
        let family = ratelimit::endpoint_family(url.path());
        let mut failed_attempts: u32 = 0;
        let mut timeouts: u32 = 0;
        let mut resend: Option<Resend> = None;
        let mut auth_resends: u32 = 0;
        let mut waited = Duration::ZERO;
        loop {
            let (slot, in_flight) = self
                .admit(&method, &url, &family, priority, held.take(), &mut waited)
                .await?;
            // The slot first, then the credentials: a token is never stale from queueing.
            let auth = match self.request_auth(&method, &url).await {
                Ok(auth) => auth,
                Err(error) => {
                    in_flight.complete(None);
                    drop(slot);
                    return Err(error);
                }
            };
            let exchanged = self
                .exchange(&method, &url, body, resend.as_ref(), auth)
                .await;
            let answer = match exchanged {
                Ok(answer) if answer.status.is_success() => {
                    in_flight.complete(answer.rate);
                    let reply = Reply {
                        headers: answer.headers,
                        body: answer.body,
                        request_id: answer.request_id,
                        method,
                        url,
                    };
                    return Ok((reply, slot));
                }
                Ok(answer) => {
                    drop(slot);
                    answer
                }
                Err(ExchangeError::TooLarge) => {
                    drop(slot);
                    drop(in_flight);
                    return Err(OktaError::TooLarge {
                        method: method.to_string(),
                        url: url.to_string(),
                        limit_bytes: options.max_response_bytes,
                    });
                }
                Err(ExchangeError::Transport(error)) => {
                    drop(slot);
                    drop(in_flight);
                    failed_attempts += 1;
                    if error.is_timeout() {
                        timeouts += 1;
                        if is_read
                            && failed_attempts < options.read_attempts
                            && timeouts < options.timeout_attempts
                        {
                            bump(&self.inner.counters.retries);
                            self.inner.options.on_wait.report(&WaitNotice {
                                seconds: whole_seconds(options.request_timeout),
                                message: format!(
                                    "no answer from okta for `{method} {}` in {} s: trying again (attempt {} of {})",
                                    url.path(),
                                    whole_seconds(options.request_timeout),
                                    timeouts + 1,
                                    options.timeout_attempts
                                ),
                            });
                            continue;
                        }
                        return Err(OktaError::Timeout {
                            method: method.to_string(),
                            url: url.to_string(),
                        });
                    }
                    if is_read && failed_attempts < options.read_attempts {
                        self.back_off(failed_attempts, &method, &url, "the connection failed")
                            .await;
                        continue;
                    }
                    return Err(transport_error(error, &method, &url));
                }
            };
            in_flight.complete(answer.rate);

            if answer.status == StatusCode::TOO_MANY_REQUESTS {
                bump(&self.inner.counters.rate_limited);
                let count = resend.as_ref().map_or(0, |r| r.count);
                if count >= options.max_rate_limit_retries {
                    return Err(OktaError::RateLimitExhausted {
                        method: method.to_string(),
                        url: url.to_string(),
                        attempts: count + 1,
                        request_id: answer.request_id,
                    });
                }
                let wait = self.wait_for_reset(&method, &url, &family, answer.rate, &mut waited)?;
                resend = Some(Resend {
                    count: count + 1,
                    retry_for: answer
                        .request_id
                        .or_else(|| resend.and_then(|r| r.retry_for)),
                });
                bump(&self.inner.counters.retries);
                tracing::trace!(family = %family, wait_ms = wait.as_millis(), retry = count + 1, "429: waiting for the reset, then resending");
                tokio::time::sleep(wait).await;
                continue;
            }
            if answer.status == StatusCode::UNAUTHORIZED && auth_resends < 2 {
                if let Auth::OAuth(session) = &self.inner.auth {
                    if session.after_unauthorized(&answer.headers).await
                        == AfterUnauthorized::Resend
                    {
                        auth_resends += 1;
                        bump(&self.inner.counters.retries);
                        tracing::debug!("401: resending with a new access token or dpop nonce");
                        continue;
                    }
                }
            }
            if answer.status.is_server_error() && is_read {
                failed_attempts += 1;
                if failed_attempts < options.read_attempts {
                    let why = format!("okta answered {}", answer.status.as_u16());
                    self.back_off(failed_attempts, &method, &url, &why).await;
                    continue;
                }
            }
            let oauth = matches!(self.inner.auth, Auth::OAuth(_));
            return Err(api_error(&answer, &method, &url, oauth));
        }
    }

    /// The credentials of one request (for a service app: a token fetched when needed).
    async fn request_auth(&self, method: &Method, url: &Url) -> Result<RequestAuth, OktaError> {
        match &self.inner.auth {
            Auth::ApiToken(header) => Ok(RequestAuth {
                authorization: header.clone(),
                dpop: None,
            }),
            Auth::OAuth(session) => {
                let count = || bump(&self.inner.counters.requests);
                session
                    .authorize(&self.inner.http, method, url, &count)
                    .await
            }
        }
    }

    /// Waits for a slot (or takes the one `held`), then until the family's budget allows one
    /// more request in flight. The budget is asked only while holding a slot, so requests
    /// queued for a slot are not counted against a window they have not reached; a request
    /// that must wait for the window gives its slot back meanwhile.
    ///
    /// # Errors
    /// A window that resets too far ahead, or a request that has waited too long in all.
    async fn admit<'a>(
        &'a self,
        method: &Method,
        url: &Url,
        family: &str,
        priority: u32,
        mut held: Option<Slot<'a>>,
        waited: &mut Duration,
    ) -> Result<(Slot<'a>, InFlight), OktaError> {
        loop {
            let slot = match held.take() {
                Some(slot) => slot,
                None => self.inner.slots.acquire(priority).await,
            };
            match self.inner.limiter.try_start(family) {
                Admission::Go(guard) => return Ok((slot, guard)),
                Admission::Wait(paced) => {
                    drop(slot);
                    self.check_wait(method, url, family, paced.wait, paced.reset_epoch, waited)?;
                    bump(&self.inner.counters.paced);
                    tracing::trace!(family = %family, wait_ms = paced.wait.as_millis(), "pacing: waiting for the rate-limit reset");
                    if paced.first && paced.wait >= self.inner.options.announce_after {
                        self.inner.options.on_wait.report(&WaitNotice {
                            seconds: whole_seconds(paced.wait),
                            message: format!(
                                "waiting {} s for the rate-limit window of `{family}` (resets {}; ouguard uses at most {}% of it)",
                                whole_seconds(paced.wait),
                                clock_time(paced.reset_epoch),
                                self.inner.options.max_api_share.clamp(1, 100)
                            ),
                        });
                    }
                    tokio::time::sleep(paced.wait).await;
                }
            }
        }
    }

    /// Refuses a wait for a reset too far ahead, or one that would bring the request's
    /// waiting in all past the bound; otherwise counts it.
    fn check_wait(
        &self,
        method: &Method,
        url: &Url,
        family: &str,
        wait: Duration,
        reset_epoch: u64,
        waited: &mut Duration,
    ) -> Result<(), OktaError> {
        let options = &self.inner.options;
        if wait > options.max_reset_wait + options.reset_padding {
            return Err(OktaError::ResetTooFar {
                method: method.to_string(),
                url: url.to_string(),
                family: family.to_string(),
                wait_seconds: whole_seconds(wait),
                resets_at: clock_time(reset_epoch),
                max_seconds: options.max_reset_wait.as_secs(),
            });
        }
        if *waited + wait > options.max_total_wait {
            return Err(OktaError::WaitedTooLong {
                method: method.to_string(),
                url: url.to_string(),
                family: family.to_string(),
                waited_seconds: whole_seconds(*waited + wait),
            });
        }
        *waited += wait;
        Ok(())
    }

    /// One HTTP exchange (the caller holds a slot), logged at debug level.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        resend: Option<&Resend>,
        auth: RequestAuth,
    ) -> Result<Answer, ExchangeError> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, auth.authorization);
        if let Some(proof) = auth.dpop {
            request = request.header("DPoP", proof);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(resend) = resend {
            if let Some(id) = &resend.retry_for {
                request = request.header("X-Okta-Retry-For", id.as_str());
            }
            request = request.header("X-Okta-Retry-Count", resend.count.to_string());
        }
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        bump(&inner.counters.requests);
        let started = Instant::now();
        let announce_after = inner.options.announce_after;
        let limit = inner.options.max_response_bytes;
        let outcome = async {
            let mut sending = pin!(request.send());
            let response = match select(sending.as_mut(), pin!(tokio::time::sleep(announce_after))).await {
                Either::Left((response, _)) => response,
                Either::Right(((), _)) => {
                    inner.options.on_wait.report(&WaitNotice {
                        seconds: whole_seconds(announce_after),
                        message: format!(
                            "waiting for okta to answer `{method} {}` (no answer for {} s; giving up after {} s)",
                            url.path(),
                            whole_seconds(announce_after),
                            whole_seconds(inner.options.request_timeout)
                        ),
                    });
                    sending.await
                }
            }
            .map_err(ExchangeError::Transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = if status.is_success() {
                read_capped(response, limit, Some(&inner.bodies)).await?
            } else {
                read_start(response, MAX_ERROR_BODY_BYTES.min(limit)).await?
            };
            Ok::<_, ExchangeError>((status, headers, body))
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis();
        match outcome {
            Ok((status, headers, body)) => {
                let request_id = headers
                    .get("x-okta-request-id")
                    .and_then(|v| v.to_str().ok())
                    // A server's text like any other: it reaches reports and run records.
                    .map(outside);
                tracing::debug!(
                    method = %method,
                    path = %path_and_query,
                    status = status.as_u16(),
                    request_id = request_id.as_deref().unwrap_or("-"),
                    elapsed_ms,
                    "okta request"
                );
                Ok(Answer {
                    status,
                    rate: RateHeaders::from_headers(&headers),
                    headers,
                    body,
                    request_id,
                })
            }
            Err(error) => {
                let shown = match &error {
                    ExchangeError::Transport(e) => e.to_string(),
                    ExchangeError::TooLarge => format!("the body is larger than {limit} bytes"),
                };
                tracing::debug!(method = %method, path = %path_and_query, elapsed_ms, error = %shown, "okta request failed");
                Err(error)
            }
        }
    }

    /// After a 429: how long until the family's window resets (`Reset − Date` + padding);
    /// the rest of the family waits as well.
    ///
    /// # Errors
    /// A reset too far ahead, or a request that has waited too long in all.
    fn wait_for_reset(
        &self,
        method: &Method,
        url: &Url,
        family: &str,
        rate: Option<RateHeaders>,
        waited: &mut Duration,
    ) -> Result<Duration, OktaError> {
        let options = &self.inner.options;
        let wait = match rate {
            Some(r) => ratelimit::wait_until_reset(
                r.reset_epoch,
                r.date_epoch,
                options.reset_padding,
                // Measured whole, so a reset far ahead is refused rather than cut short.
                Duration::from_secs(24 * 3600),
            ),
            None => options.reset_padding,
        };
        let reset_epoch = rate.map_or(0, |r| r.reset_epoch);
        self.check_wait(method, url, family, wait, reset_epoch, waited)?;
        let first = self.inner.limiter.exhaust(family, wait, reset_epoch);
        if first && wait >= options.announce_after {
            let resets = if reset_epoch == 0 {
                String::new()
            } else {
                format!(" (resets {})", clock_time(reset_epoch))
            };
            options.on_wait.report(&WaitNotice {
                seconds: whole_seconds(wait),
                message: format!(
                    "okta is rate limiting `{family}`: waiting {} s for the rate-limit window{resets}, then resending",
                    whole_seconds(wait)
                ),
            });
        }
        Ok(wait)
    }

    async fn back_off(&self, failed_attempts: u32, method: &Method, url: &Url, why: &str) {
        let options = &self.inner.options;
        let wait = ratelimit::backoff(
            failed_attempts - 1,
            options.backoff_base,
            options.backoff_max,
        );
        bump(&self.inner.counters.retries);
        tracing::trace!(path = %url.path(), wait_ms = wait.as_millis(), attempt = failed_attempts + 1, "{why}: retrying the read");
        if wait >= options.announce_after {
            options.on_wait.report(&WaitNotice {
                seconds: whole_seconds(wait),
                message: format!(
                    "{why} for `{method} {}`: retrying in {} s (attempt {} of {})",
                    url.path(),
                    whole_seconds(wait),
                    failed_attempts + 1,
                    options.read_attempts
                ),
            });
        }
        tokio::time::sleep(wait).await;
    }
}

/// The most `errorCauses` repeated from one error answer.
const MAX_ERROR_CAUSES: usize = 10;

/// A response body larger than allowed.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    Transport(reqwest::Error),
    /// The body passed the limit (counted after decompression).
    TooLarge,
}

impl From<reqwest::Error> for ExchangeError {
    fn from(error: reqwest::Error) -> Self {
        ExchangeError::Transport(error)
    }
}

/// Reads a body chunk by chunk (decompressed: reqwest inflates gzip as it streams), up to
/// `limit` bytes; past it, `TooLarge`. Never holds more than `limit` bytes.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    limit: usize,
    budget: Option<&BodyBudget>,
) -> Result<Vec<u8>, ExchangeError> {
    let (body, complete) = read_up_to(response, limit, true, budget).await?;
    if complete {
        Ok(body)
    } else {
        Err(ExchangeError::TooLarge)
    }
}

/// The first `limit` bytes of a body (an error answer, of which only the start is looked
/// at); the rest is not read.
pub(crate) async fn read_start(
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    Ok(read_up_to(response, limit, false, None).await?.0)
}

/// At most `limit` bytes of the body, and whether that was all of it. `refuse_early`: a
/// `Content-Length` over the limit stops before reading anything. The chunks are kept as
/// they come and joined once at the end (a growing buffer would copy, and leave behind,
/// every smaller size on its way up).
///
/// `budget`: the bytes are also taken from the client's budget of bodies being read (and
/// given back once joined); a body that would pass it counts as over the limit.
async fn read_up_to(
    response: reqwest::Response,
    limit: usize,
    refuse_early: bool,
    budget: Option<&BodyBudget>,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut taken = 0usize;
    let read = read_chunks(response, limit, refuse_early, budget, &mut taken).await;
    if let Some(budget) = budget {
        budget.give_back(taken);
    }
    read
}

async fn read_chunks(
    mut response: reqwest::Response,
    limit: usize,
    refuse_early: bool,
    budget: Option<&BodyBudget>,
    taken: &mut usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let announced = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    if refuse_early && announced.is_some_and(|n| n > limit) {
        return Ok((Vec::new(), false));
    }
    let mut chunks = Vec::new();
    let mut length = 0usize;
    let mut complete = true;
    while let Some(chunk) = response.chunk().await? {
        let room = limit - length;
        let within_budget = budget.is_none_or(|b| b.take(chunk.len()));
        if within_budget && budget.is_some() {
            *taken += chunk.len();
        }
        if chunk.len() > room || !within_budget {
            chunks.push(chunk.slice(..room.min(chunk.len())));
            length += room.min(chunk.len());
            complete = false;
            break;
        }
        length += chunk.len();
        chunks.push(chunk);
    }
    if !complete && refuse_early {
        return Ok((Vec::new(), false));
    }
    let mut body = Vec::with_capacity(length);
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    Ok((body, complete))
}

/// `error`'s message, formatted only up to a few hundred characters (a parse error can quote
/// a whole string of the body, tens of megabytes).
fn bounded_message(error: &dyn std::fmt::Display) -> String {
    struct Bounded(String);
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            let room = crate::redact::OUTSIDE_TEXT_MAX_CHARS * 2
                - self.0.len().min(crate::redact::OUTSIDE_TEXT_MAX_CHARS * 2);
            if text.len() <= room {
                self.0.push_str(text);
                Ok(())
            } else {
                let mut cut = room;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.0.push_str(&text[..cut]);
                Err(std::fmt::Error)
            }
        }
    }
    let mut out = Bounded(String::new());
    let complete = std::fmt::write(&mut out, format_args!("{error}")).is_ok();
    if complete {
        out.0
    } else {
        format!("{}…", out.0)
    }
}

fn outside(text: &str) -> String {
    crate::redact::outside(text)
}

fn api_error(answer: &Answer, method: &Method, url: &Url, oauth: bool) -> OktaError {
    let parsed: ErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
    let challenge = answer
        .headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    OktaError::Api(Box::new(ApiError {
        status: answer.status.as_u16(),
        error_code: parsed.error_code.map(|t| outside(&t)),
        error_summary: parsed.error_summary.map(|t| outside(&t)),
        error_id: parsed.error_id.map(|t| outside(&t)),
        error_causes: parsed
            .error_causes
            .into_iter()
            .filter_map(|c| c.error_summary)
            .take(MAX_ERROR_CAUSES)
            .map(|t| outside(&t))
            .collect(),
        request_id: answer.request_id.clone(),
        method: method.to_string(),
        url: url.to_string(),
        oauth,
        challenge_error: challenge_param(&challenge, "error").map(|t| outside(&t)),
    }))
}

fn transport_error(error: reqwest::Error, method: &Method, url: &Url) -> OktaError {
    if error.is_timeout() {
        OktaError::Timeout {
            method: method.to_string(),
            url: url.to_string(),
        }
    } else {
        OktaError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            source: error,
        }
    }
}

/// Parses a 2xx page of a list. Anything but a JSON array is refused before parsing: a
/// parser's message would quote a string body whole (tens of megabytes, allocated again).
pub(crate) fn decode_list<T: DeserializeOwned>(reply: &Reply) -> Result<Vec<T>, OktaError> {
    let first = reply
        .body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first != Some(b'[') {
        let found = match first {
            None => "an empty body".to_string(),
            Some(b'{') => "a JSON object".to_string(),
            Some(b'"') => "a JSON string".to_string(),
            Some(_) => "something else".to_string(),
        };
        return Err(OktaError::Decode {
            method: reply.method.to_string(),
            url: reply.url.to_string(),
            request_id: reply.request_id.clone(),
            detail: format!(
                "a list page must be a JSON array, found {found} (in a body of {} bytes)",
                reply.body.len()
            ),
        });
    }
    decode(reply)
}

/// Parses a 2xx body; a mismatch names the endpoint and what was wrong, never the body.
pub(crate) fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, OktaError> {
    serde_json::from_slice(&reply.body).map_err(|e| OktaError::Decode {
        method: reply.method.to_string(),
        url: reply.url.to_string(),
        request_id: reply.request_id.clone(),
        detail: format!(
            "{} (in a body of {} bytes)",
            outside(&bounded_message(&e)),
            reply.body.len()
        ),
    })
}

/// The `rel="next"` target among all `Link` headers (each may hold several comma-joined links).
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_link_header)
        .find(|(_, rels)| {
            rels.split_whitespace()
                .any(|r| r.eq_ignore_ascii_case("next"))
        })
        .map(|(url, _)| url)
}

/// `<u1>; rel="self", <u2>; rel="next"` → `[(u1, "self"), (u2, "next")]`.
fn parse_link_header(text: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let target = after[..end].trim().to_string();
        let params = &after[end + 1..];
        let mut in_quotes = false;
        let mut cut = params.len();
        for (i, c) in params.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        let (own, tail) = params.split_at(cut);
        let rel = own
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("rel"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        links.push((target, rel));
        rest = tail;
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let cases = [
            (
                vec![r#"<https://a/x?after=1>; rel="next""#],
                Some("https://a/x?after=1"),
            ),
            (
                vec![r#"<https://a/x>; rel="self", <https://a/x?after=2&f=a,b>; rel="next""#],
                Some("https://a/x?after=2&f=a,b"),
            ),
            (
                vec![
                    r#"<https://a/x>; rel="self""#,
                    r#"<https://a/x?after=3>; rel=next"#,
                ],
                Some("https://a/x?after=3"),
            ),
            (vec![r#"<https://a/x>; rel="self""#], None),
            (vec!["garbage", "<unterminated"], None),
        ];
        for (values, want) in cases {
            let mut headers = HeaderMap::new();
            for v in &values {
                headers.append(LINK, HeaderValue::from_str(v).expect("header value"));
            }
            assert_eq!(next_link(&headers).as_deref(), want, "{values:?}");
        }
    }
}

/// The client against scripted servers: pagination, pacing, 429s, retries, errors, secrecy.
#[cfg(test)]
mod http_tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use reqwest::Method;
    use serde_json::{json, Value};

    use super::super::test_server::{bounded, fast_options, script, Canned, TEST_TOKEN};
    use super::*;

    fn numbers(from: u32, to: u32) -> String {
        serde_json::to_string(&(from..=to).collect::<Vec<_>>()).unwrap_or_default()
    }

    #[tokio::test]
    async fn pagination() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things?limit=2",
                    vec![Canned::ok(numbers(1, 2))
                        .header("link", r#"</api/v1/things?limit=2>; rel="self""#)
                        .header("link", r#"</api/v1/things?after=2&limit=2>; rel="next""#)],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=2&limit=2",
                    vec![Canned::ok(numbers(3, 4)).header(
                        "link",
                        r#"</api/v1/things?after=2&limit=2>; rel="self", </api/v1/things?after=4&limit=2>; rel="next""#,
                    )],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=4&limit=2",
                    vec![Canned::ok(numbers(5, 5))
                        .header("link", r#"</api/v1/things?after=4&limit=2>; rel="self""#)],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let items: Vec<u32> = client.get_all("/api/v1/things?limit=2").await.expect("reads");
            assert_eq!(items, vec![1, 2, 3, 4, 5]);
            let requests = server.requests();
            assert_eq!(requests.len(), 3);
            let first = &requests[0];
            assert_eq!(first.header("authorization"), Some(format!("SSWS {TEST_TOKEN}").as_str()));
            assert_eq!(first.header("accept"), Some("application/json"));
            assert!(first.header("user-agent").unwrap_or_default().starts_with("ouguard/"));
            assert_eq!(client.stats().requests, 3);
        })
        .await;
    }

    #[tokio::test]
    async fn follows_absolute_next_links_on_the_org_host() {
        bounded(async {
            let server = script().start().await;
            let base = server.url.clone();
            server.add_route(
                "GET",
                "/api/v1/things?limit=1",
                vec![Canned::ok("[1]").header(
                    "link",
                    &format!(r#"<{base}/api/v1/things?limit=1>; rel="self", <{base}/api/v1/things?after=a%2Cb>; rel="next""#),
                )],
            );
            server.add_route(
                "GET",
                "/api/v1/things?after=a%2Cb",
                vec![Canned::ok("[2]").header("link", &format!(r#"<{base}/api/v1/things?after=a%2Cb>; rel="self""#))],
            );
            let client = server.client(fast_options());
            let items: Vec<u32> = client.get_all("/api/v1/things?limit=1").await.expect("reads");
            assert_eq!(items, vec![1, 2]);
            assert_eq!(server.requests()[1].target, "/api/v1/things?after=a%2Cb");
        })
        .await;
    }

    #[tokio::test]
    async fn a_next_link_back_to_a_read_page_stops_instead_of_looping() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things",
                    vec![Canned::ok("[1]").header("link", r#"</api/v1/things>; rel="next""#)],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<u32>("/api/v1/things")
                .await
                .expect_err("loop refused");
            assert!(e.to_string().contains("already read"), "{e}");
        })
        .await;
    }

    #[tokio::test]
    async fn refuses_a_next_link_to_another_host() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things",
                    vec![Canned::ok("[1]").header(
                        "link",
                        r#"<https://evil.example.com/api/v1/things?after=1>; rel="next""#,
                    )],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<u32>("/api/v1/things")
                .await
                .expect_err("refused");
            assert!(e.to_string().contains("evil.example.com"), "{e}");
            assert_eq!(server.requests().len(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn a_429_mid_read_waits_for_reset_relative_to_date_and_resends_with_retry_headers() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things?limit=1",
                    vec![
                        Canned::ok("[1]").header("link", r#"</api/v1/things?after=1>; rel="next""#)
                    ],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=1",
                    vec![
                        Canned::error(
                            429,
                            "E0000047",
                            "API call exceeded rate limit due to too many requests.",
                        )
                        .rate(600, 0, 1)
                        .header("x-okta-request-id", "req-the-429"),
                        Canned::ok("[2]"),
                    ],
                )
                .start()
                .await;
            // The real arithmetic: wait = Reset − now + the default 1 s padding, where the
            // reset is the next whole second after `Date` and now is `Date` refined by the
            // (agreeing) local clock: between 1 s and 2 s.
            let options = ClientOptions {
                reset_padding: ClientOptions::default().reset_padding,
                ..fast_options()
            };
            let client = server.client(options);
            let started = Instant::now();
            let items: Vec<u32> = client
                .get_all("/api/v1/things?limit=1")
                .await
                .expect("reads");
            let waited = started.elapsed();
            assert_eq!(items, vec![1, 2]);
            assert!(
                waited >= Duration::from_millis(1000),
                "waited only {waited:?}"
            );
            let requests = server.requests();
            assert_eq!(requests.len(), 3);
            assert_eq!(requests[1].header("x-okta-retry-for"), None);
            assert_eq!(requests[2].header("x-okta-retry-for"), Some("req-the-429"));
            assert_eq!(requests[2].header("x-okta-retry-count"), Some("1"));
            let stats = client.stats();
            assert_eq!(
                (stats.requests, stats.rate_limited, stats.retries),
                (3, 1, 1)
            );
        })
        .await;
    }

    #[tokio::test]
    async fn endless_429s_end_in_rate_limit_exhausted() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::error(429, "E0000047", "rate limit").rate(600, 0, 0)],
                )
                .start()
                .await;
            let client = server.client(ClientOptions {
                max_rate_limit_retries: 2,
                ..fast_options()
            });
            let e = client
                .get_json::<Value>("/api/v1/apps")
                .await
                .expect_err("gives up");
            assert!(
                matches!(e, OktaError::RateLimitExhausted { attempts: 3, .. }),
                "{e}"
            );
            assert!(e.is_rate_limited());
            assert!(e.hint().unwrap_or_default().contains("retry later"));
            assert_eq!(server.requests().len(), 3);
        })
        .await;
    }

    #[tokio::test]
    async fn paces_when_remaining_is_zero_instead_of_meeting_a_429() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things?limit=1",
                    vec![Canned::ok("[1]")
                        .rate(600, 0, 0)
                        .header("link", r#"</api/v1/things?after=1>; rel="next""#)],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=1",
                    vec![Canned::ok("[2]").rate(600, 599, 60)],
                )
                .start()
                .await;
            let client = server.client(ClientOptions {
                reset_padding: Duration::from_millis(300),
                ..fast_options()
            });
            let started = Instant::now();
            let items: Vec<u32> = client
                .get_all("/api/v1/things?limit=1")
                .await
                .expect("reads");
            assert_eq!(items, vec![1, 2]);
            assert!(
                started.elapsed() >= Duration::from_millis(250),
                "{:?}",
                started.elapsed()
            );
            let stats = client.stats();
            assert_eq!(stats.rate_limited, 0);
            assert!(stats.paced >= 1, "{stats:?}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_5xx_burst_on_a_read_is_retried() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![
                        Canned::error(500, "E0000009", "Internal Server Error"),
                        Canned::json(502, "<html>bad gateway</html>"),
                        Canned::error(503, "E0000009", "unavailable"),
                        Canned::ok("[]"),
                    ],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let (apps, _): (Vec<Value>, _) = client.get_json("/api/v1/apps").await.expect("reads");
            assert!(apps.is_empty());
            assert_eq!(server.requests().len(), 4);
            assert_eq!(client.stats().retries, 3);
        })
        .await;
    }

    #[tokio::test]
    async fn a_read_gives_up_after_the_attempt_budget() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::error(500, "E0000009", "Internal Server Error")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_json::<Value>("/api/v1/apps")
                .await
                .expect_err("fails");
            assert_eq!(e.status(), Some(500));
            assert_eq!(server.requests().len(), 4);
        })
        .await;
    }

    #[tokio::test]
    async fn a_slow_read_times_out_after_its_attempts() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::ok("[]").delayed(Duration::from_secs(3))],
                )
                .start()
                .await;
            let client = server.client(ClientOptions {
                request_timeout: Duration::from_millis(150),
                read_attempts: 2,
                ..fast_options()
            });
            let e = client
                .get_json::<Value>("/api/v1/apps")
                .await
                .expect_err("times out");
            assert!(matches!(e, OktaError::Timeout { .. }), "{e}");
            assert_eq!(
                e.to_string(),
                "okta did not answer `GET /api/v1/apps` in time"
            );
            assert_eq!(server.requests().len(), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn a_5xx_on_a_write_is_not_retried() {
        bounded(async {
            let server = script()
                .route(
                    "PUT",
                    "/api/v1/apps/0oa1/groups/00g1",
                    vec![
                        Canned::error(500, "E0000009", "Internal Server Error"),
                        Canned::ok("{}"),
                    ],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let url = client.url("/api/v1/apps/0oa1/groups/00g1").expect("url");
            let e = client
                .send(Method::PUT, url, Some(&json!({})))
                .await
                .expect_err("fails");
            assert_eq!(e.status(), Some(500));
            assert_eq!(e.request_id(), Some("req-1"));
            assert_eq!(server.requests().len(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn a_dropped_connection_is_retried_on_a_read_but_not_on_a_write() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::drop_connection(), Canned::ok("[]")],
                )
                .route(
                    "POST",
                    "/api/v1/mappings/prm1",
                    vec![Canned::drop_connection(), Canned::ok("{}")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let (apps, _): (Vec<Value>, _) = client.get_json("/api/v1/apps").await.expect("reads");
            assert!(apps.is_empty());
            assert_eq!(server.requests().len(), 2);
            let url = client.url("/api/v1/mappings/prm1").expect("url");
            let e = client
                .send(Method::POST, url, Some(&json!({})))
                .await
                .expect_err("fails");
            assert!(matches!(e, OktaError::Transport { .. }), "{e}");
            assert!(e.to_string().contains("POST /api/v1/mappings/prm1"), "{e}");
            assert_eq!(server.requests().len(), 3);
        })
        .await;
    }

    #[tokio::test]
    async fn a_429_on_a_write_is_resent() {
        bounded(async {
            let server = script()
                .route(
                    "POST",
                    "/api/v1/mappings/prm1",
                    vec![
                        Canned::error(429, "E0000047", "rate limit").rate(600, 0, 0),
                        Canned::ok("{}"),
                    ],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let url = client.url("/api/v1/mappings/prm1").expect("url");
            client
                .send(
                    Method::POST,
                    url,
                    Some(&json!({"properties": {"dn": null}})),
                )
                .await
                .expect("resent");
            let requests = server.requests();
            assert_eq!(requests.len(), 2);
            assert_eq!(requests[1].header("x-okta-retry-for"), Some("req-1"));
            assert_eq!(requests[1].header("x-okta-retry-count"), Some("1"));
            assert_eq!(requests[1].body, r#"{"properties":{"dn":null}}"#);
        })
        .await;
    }

    fn oauth_client(server: &super::super::test_server::ScriptedServer) -> OktaClient {
        let settings = ConnectionSettings {
            org_url: server.url.clone(),
            org_url_source: crate::okta::SettingSource::Flag,
            credentials: Credentials::PrivateKey {
                client_id: "0oaapp".into(),
                kid: Some("k1".into()),
                scopes: Vec::new(),
                private_key: crate::okta::Secret::new(super::super::keys::tests::ec_pem()),
            },
            warnings: Vec::new(),
        };
        let options = ClientOptions {
            scopes: ScopeSet::Apply,
            ..fast_options()
        };
        OktaClient::new(&settings, options).expect("client")
    }

    #[tokio::test]
    async fn oauth_token_is_reused_replaced_after_invalid_token_and_other_401s_are_not_retried() {
        bounded(async {
            let token = |t: &str| Canned::ok(format!(r#"{{"token_type":"Bearer","access_token":"{t}","expires_in":3600,"scope":"x"}}"#));
            let server = script()
                .route("POST", "/oauth2/v1/token", vec![token("AT_ONE_secret"), token("AT_TWO_secret")])
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![
                        Canned::ok("[1]"),
                        Canned::error(401, "E0000011", "Invalid token provided")
                            .header("www-authenticate", r#"Bearer realm="IdP", error="invalid_token", error_description="The access token has expired.""#),
                        Canned::ok("[2]"),
                    ],
                )
                .route("GET", "/api/v1/mappings", vec![Canned::error(401, "E0000011", "Invalid token provided")])
                .start()
                .await;
            let client = oauth_client(&server);
            let first: Vec<u32> = client.get_all("/api/v1/apps").await.expect("first");
            let second: Vec<u32> = client.get_all("/api/v1/apps").await.expect("refreshed");
            assert_eq!((first, second), (vec![1], vec![2]));
            // A 401 without `invalid_token` (an org without the mappings feature) is final.
            let e = client.get_all::<u32>("/api/v1/mappings").await.expect_err("401");
            assert_eq!(e.status(), Some(401));
            let requests = server.requests();
            let targets: Vec<_> = requests.iter().map(|r| format!("{} {}", r.method, r.path())).collect();
            assert_eq!(
                targets,
                vec![
                    "POST /oauth2/v1/token",
                    "GET /api/v1/apps",
                    "GET /api/v1/apps",
                    "POST /oauth2/v1/token",
                    "GET /api/v1/apps",
                    "GET /api/v1/mappings",
                ]
            );
            let form = &requests[0].body;
            assert!(form.contains("grant_type=client_credentials"), "{form}");
            assert!(form.contains("okta.apps.manage"), "apply scopes: {form}");
            assert!(form.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"), "{form}");
            assert_eq!(requests[1].header("authorization"), Some("Bearer AT_ONE_secret"));
            assert_eq!(requests[4].header("authorization"), Some("Bearer AT_TWO_secret"));
            assert_eq!(requests[5].header("authorization"), Some("Bearer AT_TWO_secret"));
            assert!(requests.iter().all(|r| r.header("dpop").is_none()));
            let shown = format!("{e} {e:?} {} {client:?}", e.hint().unwrap_or_default());
            assert!(!shown.contains("AT_TWO_secret") && !shown.contains("eyJ"), "{shown}");
        })
        .await;
    }

    #[tokio::test]
    async fn malformed_json_is_a_decode_error_naming_the_endpoint() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::ok(r#"[{"id": 5, "name": "active_directory"}]"#)],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<super::super::wire::App>("/api/v1/apps?limit=200")
                .await
                .expect_err("bad shape");
            let text = e.to_string();
            assert!(matches!(e, OktaError::Decode { .. }), "{text}");
            assert!(text.contains("`GET /api/v1/apps`"), "{text}");
            assert!(text.contains("invalid type"), "{text}");
            assert!(text.contains("request id `req-1`"), "{text}");
        })
        .await;
    }

    #[tokio::test]
    async fn status_401_and_403_carry_okta_fields_and_hints() {
        bounded(async {
            let server = script()
                .route("GET", "/api/v1/apps", vec![Canned::error(401, "E0000011", "Invalid token provided")])
                .route("GET", "/api/v1/mappings", vec![Canned::error(403, "E0000006", "You do not have permission to perform the requested action")])
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client.get_json::<Value>("/api/v1/apps").await.expect_err("401");
            assert_eq!(
                e.to_string(),
                "okta returned 401 `E0000011` (Invalid token provided) for `GET /api/v1/apps` (request id `req-1`)"
            );
            assert!(e.hint().unwrap_or_default().contains("Security > API > Tokens"));
            let e = client.get_json::<Value>("/api/v1/mappings?targetId=0oa1").await.expect_err("403");
            assert!(e.hint().unwrap_or_default().contains("okta.profileMappings.read"), "{:?}", e.hint());
            // Neither is retried.
            assert_eq!(server.requests().len(), 2);
        })
        .await;
    }

    #[derive(Clone, Default)]
    struct LogBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for LogBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_token_never_appears_in_logs_errors_or_debug_output() {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![
                        Canned::error(500, "E0000009", "boom"),
                        Canned::error(403, "E0000006", "forbidden"),
                    ],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let api = client
                .get_json::<Value>("/api/v1/apps")
                .await
                .expect_err("403");
            // A transport error: nothing listens on the server's port once it is dropped.
            let gone = server.client(ClientOptions {
                read_attempts: 1,
                ..fast_options()
            });
            drop(server);
            let transport = gone
                .get_json::<Value>("/api/v1/apps")
                .await
                .expect_err("refused");
            let mut outputs = vec![format!("{client:?}")];
            for e in [&api, &transport] {
                outputs.push(format!("{e} {e:?} {:?}", e.hint()));
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    outputs.push(format!("{s} {s:?}"));
                    source = s.source();
                }
            }
            let logs = String::from_utf8_lossy(
                &logs
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
            .to_string();
            assert!(logs.contains("okta request"), "{logs}");
            assert!(logs.contains("/api/v1/apps"), "{logs}");
            assert!(logs.contains("req-1"), "{logs}");
            outputs.push(logs);
            for text in outputs {
                assert!(!text.contains(TEST_TOKEN), "token leaked: {text}");
                assert!(!text.contains("SSWS"), "authorization leaked: {text}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        bounded(async {
            // Each answer is held a while, so requests pile up at the server if the client
            // lets them: the server records the most it ever held at once.
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::ok("[]").delayed(Duration::from_millis(100))],
                )
                .start()
                .await;
            let client = server.client(ClientOptions {
                max_concurrency: 2,
                ..fast_options()
            });
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let client = client.clone();
                tasks.spawn(
                    async move { client.get_json::<Value>("/api/v1/apps").await.map(|_| ()) },
                );
            }
            while let Some(done) = tasks.join_next().await {
                assert!(matches!(done, Ok(Ok(()))));
            }
            assert_eq!(client.inner.slots.free(), 2);
            assert_eq!(server.requests().len(), 8);
            let peak = server.peak_in_flight();
            assert!((1..=2).contains(&peak), "{peak} requests in flight at once");
        })
        .await;
    }

    #[tokio::test]
    async fn a_token_request_lost_in_transport_is_resent_with_a_fresh_assertion() {
        bounded(async {
            let token = Canned::ok(
                r#"{"token_type":"Bearer","access_token":"AT_secret","expires_in":3600,"scope":"x"}"#,
            );
            let server = script()
                .route(
                    "POST",
                    "/oauth2/v1/token",
                    vec![Canned::drop_connection(), token],
                )
                .route("GET", "/api/v1/apps", vec![Canned::ok("[1]")])
                .start()
                .await;
            let client = oauth_client(&server);
            let apps: Vec<u32> = client.get_all("/api/v1/apps").await.expect("reads");
            assert_eq!(apps, vec![1]);
            let requests = server.requests();
            let targets: Vec<_> = requests
                .iter()
                .map(|r| format!("{} {}", r.method, r.path()))
                .collect();
            assert_eq!(
                targets,
                vec!["POST /oauth2/v1/token", "POST /oauth2/v1/token", "GET /api/v1/apps"]
            );
            let assertion = |i: usize| {
                requests[i]
                    .body
                    .split('&')
                    .find_map(|p| p.strip_prefix("client_assertion="))
                    .map(str::to_string)
            };
            assert!(assertion(0).is_some());
            assert_ne!(assertion(0), assertion(1), "a new assertion (new jti) each time");
        })
        .await;
    }

    /// A list of `pages` pages of `per_page` numbers at `/api/v1/things`, each answered after
    /// `delay`; page n links to page n+1.
    fn numbered_pages(
        mut builder: super::super::test_server::ScriptBuilder,
        pages: u32,
        per_page: u32,
        delay: Duration,
    ) -> super::super::test_server::ScriptBuilder {
        for n in 0..pages {
            let target = if n == 0 {
                "/api/v1/things?limit=2".to_string()
            } else {
                format!("/api/v1/things?after={n}&limit=2")
            };
            let mut answer =
                Canned::ok(numbers(n * per_page + 1, (n + 1) * per_page)).delayed(delay);
            if n + 1 < pages {
                answer = answer.header(
                    "link",
                    &format!("</api/v1/things?after={}&limit=2>; rel=\"next\"", n + 1),
                );
            }
            builder = builder.route("GET", &target, vec![answer]);
        }
        builder
    }

    #[tokio::test]
    async fn a_long_list_keeps_its_order() {
        bounded(async {
            let server = numbered_pages(script(), 8, 3, Duration::ZERO).start().await;
            let client = server.client(fast_options());
            let items: Vec<u32> = client
                .get_all_long("/api/v1/things?limit=2")
                .await
                .expect("reads");
            assert_eq!(items, (1..=24).collect::<Vec<_>>());
            let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
            assert_eq!(targets.len(), 8);
            assert_eq!(targets[0], "/api/v1/things?limit=2");
            for (n, target) in targets.iter().enumerate().skip(1) {
                assert_eq!(target, &format!("/api/v1/things?after={n}&limit=2"));
            }
            assert_eq!(client.inner.slots.free(), 12, "every slot came back");
        })
        .await;
    }

    /// When each `Slow` item finished decoding (only the test below decodes them).
    static DECODED: std::sync::Mutex<Vec<(u32, Instant)>> = std::sync::Mutex::new(Vec::new());

    /// Decoding takes 40 ms per item, as if pages were huge; each item notes when it is done.
    #[derive(Debug, PartialEq)]
    struct Slow(u32);

    impl<'de> serde::Deserialize<'de> for Slow {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let n = u32::deserialize(d)?;
            std::thread::sleep(Duration::from_millis(40));
            DECODED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((n, Instant::now()));
            Ok(Slow(n))
        }
    }

    #[tokio::test]
    async fn the_next_page_is_requested_while_the_last_one_is_decoded() {
        bounded(async {
            // 3 pages of 3 items; page n + 1 must reach the server before page n's last item
            // is decoded (one after the other, it would be asked for only afterwards).
            let server = numbered_pages(script(), 3, 3, Duration::from_millis(50))
                .start()
                .await;
            let client = server.client(fast_options());
            let items: Vec<Slow> = client
                .get_all("/api/v1/things?limit=2")
                .await
                .expect("reads");
            assert_eq!(items, (1..=9).map(Slow).collect::<Vec<_>>());
            let decoded = DECODED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let done = |item: u32| {
                decoded
                    .iter()
                    .find(|(n, _)| *n == item)
                    .map(|(_, at)| *at)
                    .expect("decoded")
            };
            let requests = server.requests();
            assert_eq!(requests.len(), 3);
            assert!(
                requests[1].at < done(3),
                "page 2 was asked for after page 1 was decoded"
            );
            assert!(
                requests[2].at < done(6),
                "page 3 was asked for after page 2 was decoded"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_next_link_back_to_an_earlier_page_stops_the_prefetch() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things?limit=2",
                    vec![Canned::ok("[1]").header("link", r#"</api/v1/things?after=1>; rel="next""#)],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=1",
                    vec![Canned::ok("[2]").header("link", r#"</api/v1/things?after=2>; rel="next""#)],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=2",
                    vec![Canned::ok("[3]").header("link", r#"</api/v1/things?after=1>; rel="next""#)],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<u32>("/api/v1/things?limit=2")
                .await
                .expect_err("loop refused");
            assert!(e.to_string().contains("already read"), "{e}");
            assert!(
                matches!(&e, OktaError::Decode { url, .. } if url.ends_with("/api/v1/things?after=1")),
                "{e:?}"
            );
            assert_eq!(server.requests().len(), 3, "the repeated page is never requested");
            assert_eq!(client.inner.slots.free(), 12);
        })
        .await;
    }

    #[tokio::test]
    async fn an_error_on_a_later_page_surfaces() {
        bounded(async {
            let server = numbered_pages(script(), 2, 2, Duration::ZERO)
                .route(
                    "GET",
                    "/api/v1/things?after=2&limit=2",
                    vec![Canned::error(403, "E0000006", "You do not have permission")],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=1&limit=2",
                    vec![Canned::ok("[3,4]")
                        .header("link", r#"</api/v1/things?after=2&limit=2>; rel="next""#)],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<u32>("/api/v1/things?limit=2")
                .await
                .expect_err("the third page fails");
            assert_eq!(e.status(), Some(403));
            assert_eq!(e.request_id(), Some("req-3"), "the third page's answer");
            assert_eq!(server.requests().len(), 3);
            assert_eq!(client.inner.slots.free(), 12);
        })
        .await;
    }

    #[tokio::test]
    async fn a_page_that_does_not_decode_fails_the_list_without_waiting_for_the_next() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things?limit=2",
                    vec![
                        Canned::ok("[1,").header("link", r#"</api/v1/things?after=1>; rel="next""#)
                    ],
                )
                .route(
                    "GET",
                    "/api/v1/things?after=1",
                    // Never in time: waiting for it would fail the test (`bounded`).
                    vec![Canned::ok("[2]").delayed(Duration::from_secs(3600))],
                )
                .start()
                .await;
            let client = server.client(ClientOptions {
                request_timeout: Duration::from_secs(3600),
                ..fast_options()
            });
            let e = client
                .get_all::<u32>("/api/v1/things?limit=2")
                .await
                .expect_err("bad body");
            assert!(matches!(e, OktaError::Decode { .. }), "{e}");
            assert_eq!(e.request_id(), Some("req-1"), "the first page's body");
            assert_eq!(
                client.inner.slots.free(),
                12,
                "the prefetch gave its slot back"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_page_that_does_not_decode_is_reported_before_its_bad_next_link() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/things",
                    vec![Canned::ok("{").header(
                        "link",
                        r#"<https://evil.example.com/api/v1/things?after=1>; rel="next""#,
                    )],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = client
                .get_all::<u32>("/api/v1/things")
                .await
                .expect_err("bad body");
            assert!(matches!(e, OktaError::Decode { .. }), "{e}");
            assert!(!e.to_string().contains("evil.example.com"), "{e}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_list_hands_its_slot_from_page_to_page() {
        bounded(async {
            // One slot. A single read queued while the list's first page is out would take
            // the slot between two pages if the list gave it back; the list keeps it.
            let server = numbered_pages(script(), 3, 1, Duration::from_millis(50))
                .route("GET", "/api/v1/single", vec![Canned::ok("[]")])
                .start()
                .await;
            let client = server.client(ClientOptions {
                max_concurrency: 1,
                ..fast_options()
            });
            let list = {
                let client = client.clone();
                tokio::spawn(async move { client.get_all::<u32>("/api/v1/things?limit=2").await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let single = {
                let client = client.clone();
                tokio::spawn(async move { client.get_json::<Value>("/api/v1/single").await })
            };
            assert_eq!(list.await.expect("joins").expect("reads"), vec![1, 2, 3]);
            single.await.expect("joins").expect("reads");
            let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
            assert_eq!(
                targets,
                [
                    "/api/v1/things?limit=2",
                    "/api/v1/things?after=1&limit=2",
                    "/api/v1/things?after=2&limit=2",
                    "/api/v1/single"
                ]
            );
            assert_eq!(client.inner.slots.free(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn a_token_endpoint_that_stays_unreachable_is_a_transport_error() {
        bounded(async {
            let server = script()
                .route(
                    "POST",
                    "/oauth2/v1/token",
                    vec![Canned::drop_connection(); 4],
                )
                .start()
                .await;
            let client = oauth_client(&server);
            let e = client
                .get_all::<u32>("/api/v1/apps")
                .await
                .expect_err("no token");
            assert!(matches!(e, OktaError::Transport { .. }), "{e}");
            assert_eq!(server.requests().len(), 4, "MAX_TOKEN_ATTEMPTS");
        })
        .await;
    }

    #[tokio::test]
    async fn a_long_lists_first_page_goes_before_queued_single_reads() {
        bounded(async {
            let server = numbered_pages(script(), 1, 1, Duration::ZERO)
                .route("GET", "/api/v1/single", vec![Canned::ok("[]")])
                .start()
                .await;
            let client = server.client(ClientOptions {
                max_concurrency: 1,
                ..fast_options()
            });
            let held = client.inner.slots.acquire(0).await;
            let single = {
                let client = client.clone();
                tokio::spawn(async move { client.get_json::<Value>("/api/v1/single").await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let list = {
                let client = client.clone();
                tokio::spawn(
                    async move { client.get_all_long::<u32>("/api/v1/things?limit=2").await },
                )
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(held);
            assert_eq!(list.await.expect("joins").expect("reads"), vec![1]);
            single.await.expect("joins").expect("reads");
            let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
            assert_eq!(targets, ["/api/v1/things?limit=2", "/api/v1/single"]);
        })
        .await;
    }
}
