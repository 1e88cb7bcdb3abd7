//! OAuth 2.0 for a service app: client credentials with `private_key_jwt` at
//! `{org}/oauth2/v1/token`, the access token cached and refreshed before it expires (or once
//! after a 401 `invalid_token`), and DPoP when the org asks for it (`invalid_dpop_proof`,
//! `use_dpop_nonce`). Hands the send loop ready `Authorization` (and `DPoP`) headers.
//! Must never log or return a token, an assertion, a proof or the key.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use url::Url;

use super::dpop::DpopKey;
use super::error::{OktaError, TokenRefusal};
use super::keys::{random_jti, SigningKey};
use super::ratelimit::{self, RateHeaders};
use super::settings::Secret;

/// The most of a token answer read: an access token answer is a few KB.
const TOKEN_BODY_BYTES: usize = 256 << 10;

/// `client_assertion_type` of `private_key_jwt`.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion (Okta allows at most an hour).
const ASSERTION_LIFETIME_SECONDS: i64 = 300;
/// Token requests per token (DPoP discovery and a nonce round trip need three).
const MAX_TOKEN_ATTEMPTS: u32 = 4;
/// The pause before resending a token request after a 5xx or a transport error (times the
/// attempt number for transport errors).
const TOKEN_RETRY_WAIT: Duration = Duration::from_millis(250);

/// Which Okta scopes a command needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScopeSet {
    /// `plan`, `export`: read scopes only.
    #[default]
    Read,
    /// `apply`: the read scopes plus `okta.apps.manage` and `okta.profileMappings.manage`.
    Apply,
    /// `guard`: the read scopes (it judges and plans, never writes).
    Guard,
    /// `guard --from-logs`: the read scopes plus `okta.logs.read`.
    GuardFromLogs,
    /// `guard register`: `okta.eventHooks.manage` only.
    EventHooks,
    /// `plan --evidence`, `import-ous --discover`: the read scopes plus `okta.users.read`,
    /// `okta.groups.read` and `okta.logs.read`.
    Evidence,
    /// `apply --evidence`: both.
    ApplyWithEvidence,
}

impl ScopeSet {
    /// The scopes ouguard requests for this set (when `OKTA_CLIENT_SCOPES` does not override).
    #[must_use]
    pub fn scopes(self) -> Vec<String> {
        let mut scopes = vec![
            "okta.apps.read",
            "okta.profileMappings.read",
            "okta.userTypes.read",
        ];
        match self {
            ScopeSet::Apply | ScopeSet::ApplyWithEvidence => {
                scopes.extend(["okta.apps.manage", "okta.profileMappings.manage"]);
            }
            ScopeSet::GuardFromLogs => scopes.push("okta.logs.read"),
            ScopeSet::EventHooks => scopes = vec!["okta.eventHooks.manage"],
            ScopeSet::Read | ScopeSet::Guard | ScopeSet::Evidence => {}
        }
        if matches!(self, ScopeSet::Evidence | ScopeSet::ApplyWithEvidence) {
            scopes.extend(["okta.users.read", "okta.groups.read", "okta.logs.read"]);
        }
        scopes.into_iter().map(str::to_string).collect()
    }

    /// The scopes of [`Self::scopes`] the command can do without: the evidence scopes,
    /// whose sources degrade to a warning. When Okta refuses the whole request
    /// (`invalid_scope`: the app was not granted one of them), the session asks again
    /// without the ones it lacks.
    #[must_use]
    pub fn optional_scopes(self) -> Vec<String> {
        match self {
            ScopeSet::Evidence | ScopeSet::ApplyWithEvidence => {
                ["okta.users.read", "okta.groups.read", "okta.logs.read"]
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The headers that authenticate one API request.
pub(crate) struct RequestAuth {
    pub authorization: HeaderValue,
    pub dpop: Option<HeaderValue>,
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The signed `client_assertion` of `private_key_jwt`, issued at `now` (epoch seconds).
pub(crate) fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    kid: Option<&str>,
    audience: &str,
    now: i64,
    jti: &str,
) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), Value::from("JWT"));
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::from(kid));
    }
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECONDS,
        "jti": jti,
    });
    let assertion = key.sign_jwt(header, &claims);
    crate::redact::register_ephemeral(&assertion);
    assertion
}

/// Whether Okta refused the token request for its scopes.
fn is_invalid_scope(error: &OktaError) -> bool {
    matches!(error, OktaError::TokenRequest(refusal) if refusal.error == "invalid_scope")
}

/// When to fetch a new token: a minute before it expires (half its life if it is short).
pub(crate) fn refresh_after(expires_in: Duration) -> Duration {
    let margin = Duration::from_secs(60).min(expires_in / 2);
    expires_in - margin
}

struct Token {
    value: Secret,
    dpop: bool,
    refresh_at: Instant,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// Set once the org asked for DPoP.
    dpop: Option<DpopKey>,
    token_nonce: Option<String>,
    api_nonce: Option<String>,
    /// The scopes asked for once Okta refused some optional ones (`invalid_scope`).
    narrowed: Option<Vec<String>>,
}

/// A service app's credentials and its current access token.
pub(crate) struct OAuthSession {
    client_id: String,
    kid: Option<String>,
    scopes: Vec<String>,
    /// Scopes of `scopes` the command can do without (see [`ScopeSet::optional_scopes`]).
    optional: Vec<String>,
    key: SigningKey,
    token_url: Url,
    state: tokio::sync::Mutex<State>,
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OAuthErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

/// What the send loop should do after a 401.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterUnauthorized {
    /// Resend with new headers (a new token, or the server's DPoP nonce).
    Resend,
    /// Give up: it is not an authentication problem ouguard can fix by itself.
    Fail,
}

impl OAuthSession {
    /// Loads the key and prepares the token endpoint of `org_url`.
    ///
    /// # Errors
    /// `Config` when the key cannot be loaded or the url is invalid.
    pub(crate) fn new(
        org_url: &Url,
        client_id: &str,
        kid: Option<&str>,
        configured_scopes: &[String],
        scope_set: ScopeSet,
        private_key: &Secret,
    ) -> Result<OAuthSession, OktaError> {
        let key = super::keys::load_private_key(private_key)?;
        let token_url = org_url
            .join("/oauth2/v1/token")
            .map_err(|e| OktaError::config(format!("invalid org url: {e}")))?;
        // Scopes the admin configured are asked for exactly as configured.
        let (scopes, optional) = if configured_scopes.is_empty() {
            (scope_set.scopes(), scope_set.optional_scopes())
        } else {
            (configured_scopes.to_vec(), Vec::new())
        };
        Ok(OAuthSession {
            client_id: client_id.to_string(),
            kid: kid.map(str::to_string),
            scopes,
            optional,
            key,
            token_url,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The headers for `method url`: a cached token (fetched or refreshed when needed) and,
    /// with DPoP, a fresh proof bound to it.
    pub(crate) async fn authorize(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
        on_request: &(dyn Fn() + Sync),
    ) -> Result<RequestAuth, OktaError> {
        let mut state = self.state.lock().await;
        let fresh = state
            .token
            .as_ref()
            .is_some_and(|t| Instant::now() < t.refresh_at);
        if !fresh {
            state.token = None;
            let token = self.fetch_token(http, &mut state, on_request).await?;
            state.token = Some(token);
        }
        let Some(token) = state.token.as_ref() else {
            return Err(OktaError::config("no access token"));
        };
        let (scheme, proof) = match (&state.dpop, token.dpop) {
            (Some(key), true) => {
                let proof = key.proof(
                    method.as_str(),
                    url,
                    unix_now(),
                    state.api_nonce.as_deref(),
                    Some(token.value.expose()),
                );
                ("DPoP", Some(sensitive(&proof)?))
            }
            _ => ("Bearer", None),
        };
        let authorization = sensitive(&format!("{scheme} {}", token.value.expose()))?;
        Ok(RequestAuth {
            authorization,
            dpop: proof,
        })
    }

    /// Reacts to a 401 from the API: a DPoP nonce to use, or a token to replace.
    pub(crate) async fn after_unauthorized(&self, headers: &HeaderMap) -> AfterUnauthorized {
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let error = challenge_param(&challenge, "error");
        let mut state = self.state.lock().await;
        match error.as_deref() {
            // The nonce may already be the session's when a concurrent request met the same
            // challenge first: this request's proof was made before, so it is resent too
            // (the client bounds resends per request).
            Some("use_dpop_nonce") => match dpop_nonce(headers) {
                Some(nonce) => {
                    state.api_nonce = Some(nonce);
                    AfterUnauthorized::Resend
                }
                None => AfterUnauthorized::Fail,
            },
            Some("invalid_token") => {
                state.token = None;
                AfterUnauthorized::Resend
            }
            _ => AfterUnauthorized::Fail,
        }
    }

    /// A token for the session's scopes. When Okta refuses them with `invalid_scope` and
    /// some are optional, finds which optional ones the app was granted (one request each,
    /// once per session) and keeps to those: a source that needs a missing one then answers
    /// 403 and becomes a warning naming its scope, and the command goes on.
    async fn fetch_token(
        &self,
        http: &reqwest::Client,
        state: &mut State,
        on_request: &(dyn Fn() + Sync),
    ) -> Result<Token, OktaError> {
        let scopes = state
            .narrowed
            .clone()
            .unwrap_or_else(|| self.scopes.clone());
        let refused = match self.request_token(http, state, on_request, &scopes).await {
            Err(error) if is_invalid_scope(&error) && state.narrowed.is_none() => error,
            other => return other,
        };
        let optional: Vec<&String> = scopes
            .iter()
            .filter(|s| self.optional.contains(s))
            .collect();
        if optional.is_empty() {
            return Err(refused);
        }
        let mut kept: Vec<String> = scopes
            .iter()
            .filter(|s| !self.optional.contains(s))
            .cloned()
            .collect();
        let mut token = None;
        for scope in optional {
            let mut trial = kept.clone();
            trial.push(scope.clone());
            match self.request_token(http, state, on_request, &trial).await {
                Ok(granted) => {
                    kept = trial;
                    token = Some(granted);
                }
                Err(error) if is_invalid_scope(&error) => {
                    tracing::debug!(scope = %scope, "the app was not granted this optional scope");
                }
                Err(error) => return Err(error),
            }
        }
        state.narrowed = Some(kept.clone());
        match token {
            Some(token) => Ok(token),
            None => self.request_token(http, state, on_request, &kept).await,
        }
    }

    async fn request_token(
        &self,
        http: &reqwest::Client,
        state: &mut State,
        on_request: &(dyn Fn() + Sync),
        scopes: &[String],
    ) -> Result<Token, OktaError> {
        let scope = scopes.join(" ");
        let audience = self.token_url.as_str();
        let mut last_error = None;
        for attempt in 1..=MAX_TOKEN_ATTEMPTS {
            let now = unix_now();
            let assertion = client_assertion(
                &self.key,
                &self.client_id,
                self.kid.as_deref(),
                audience,
                now,
                &random_jti(),
            );
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
            ];
            let mut request = http.post(self.token_url.clone()).form(&form);
            if let Some(dpop) = &state.dpop {
                let proof = dpop.proof(
                    "POST",
                    &self.token_url,
                    now,
                    state.token_nonce.as_deref(),
                    None,
                );
                request = request.header("DPoP", sensitive(&proof)?);
            }
            on_request();
            let started = Instant::now();
            // A lost connection is resent like a 5xx: the token request changes nothing at
            // Okta, and each attempt carries a fresh assertion (new `jti`) and proof.
            let exchanged = async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                // A token answer is a few KB; a larger one is cut (and then fails to parse).
                let body = super::client::read_start(response, TOKEN_BODY_BYTES).await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            }
            .await;
            let (status, headers, body) = match exchanged {
                Ok(exchanged) => exchanged,
                Err(error) => {
                    tracing::debug!(error = %error, attempt, "token request failed in transport");
                    last_error = Some(self.transport(error));
                    if attempt < MAX_TOKEN_ATTEMPTS {
                        tokio::time::sleep(TOKEN_RETRY_WAIT * attempt).await;
                    }
                    continue;
                }
            };
            let request_id = headers
                .get("x-okta-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            tracing::debug!(
                method = "POST",
                path = self.token_url.path(),
                status = status.as_u16(),
                request_id = request_id.as_deref().unwrap_or("-"),
                elapsed_ms = started.elapsed().as_millis(),
                dpop = state.dpop.is_some(),
                "okta token request"
            );
            if status.is_success() {
                return self.accept_token(&body, state, request_id);
            }
            // Rate limited or a server error: the token request is safe to resend.
            if status.as_u16() == 429 || status.is_server_error() {
                let wait = match RateHeaders::from_headers(&headers) {
                    Some(r) if status.as_u16() == 429 => ratelimit::wait_until_reset(
                        r.reset_epoch,
                        r.date_epoch,
                        Duration::from_secs(1),
                        Duration::from_secs(60),
                    ),
                    _ => TOKEN_RETRY_WAIT,
                };
                tracing::trace!(
                    status = status.as_u16(),
                    wait_ms = wait.as_millis(),
                    "token request: waiting, then resending"
                );
                last_error = Some(self.refusal(
                    scopes,
                    status.as_u16(),
                    format!("http {}", status.as_u16()),
                    None,
                    request_id,
                ));
                tokio::time::sleep(wait).await;
                continue;
            }
            let parsed: OAuthErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            let error = parsed.error.unwrap_or_else(|| format!("http {status}"));
            match error.as_str() {
                "invalid_dpop_proof" if state.dpop.is_none() => {
                    tracing::debug!("the org requires DPoP: sending proofs from now on");
                    state.dpop = Some(DpopKey::generate());
                    continue;
                }
                "use_dpop_nonce" => {
                    if let Some(nonce) = dpop_nonce(&headers) {
                        if state.token_nonce.as_deref() != Some(nonce.as_str()) {
                            tracing::debug!("the org sent a DPoP nonce: resending");
                            state.dpop.get_or_insert_with(DpopKey::generate);
                            state.token_nonce = Some(nonce);
                            continue;
                        }
                    }
                }
                _ => {}
            }
            last_error = Some(self.refusal(
                scopes,
                status.as_u16(),
                error,
                parsed.error_description.map(|d| shorten(&d)),
                request_id,
            ));
            break;
        }
        Err(last_error.unwrap_or_else(|| {
            self.refusal(
                scopes,
                400,
                "use_dpop_nonce".into(),
                Some("the org kept asking for a new DPoP nonce".into()),
                None,
            )
        }))
    }

    fn refusal(
        &self,
        scopes: &[String],
        status: u16,
        error: String,
        description: Option<String>,
        request_id: Option<String>,
    ) -> OktaError {
        OktaError::TokenRequest(Box::new(TokenRefusal {
            status,
            error,
            description,
            request_id,
            client_id: self.client_id.clone(),
            kid: self.kid.clone(),
            scopes: scopes.to_vec(),
        }))
    }

    fn accept_token(
        &self,
        body: &[u8],
        state: &State,
        request_id: Option<String>,
    ) -> Result<Token, OktaError> {
        let bad = |detail: &str| OktaError::Decode {
            method: "POST".into(),
            url: self.token_url.to_string(),
            request_id: request_id.clone(),
            detail: detail.to_string(),
        };
        // Never quote serde's message here: it could contain the token.
        let response: TokenResponse = serde_json::from_slice(body).map_err(|_| {
            bad("the token response is not `{token_type, access_token, expires_in}`")
        })?;
        let dpop = if response.token_type.eq_ignore_ascii_case("DPoP") {
            if state.dpop.is_none() {
                return Err(bad("a DPoP token was issued without a DPoP proof"));
            }
            true
        } else if response.token_type.eq_ignore_ascii_case("Bearer") {
            false
        } else {
            return Err(bad(&format!(
                "unknown token_type `{}`",
                shorten(&response.token_type)
            )));
        };
        if response.access_token.is_empty()
            || HeaderValue::from_str(&response.access_token).is_err()
        {
            return Err(bad("the access token is empty or not sendable in a header"));
        }
        let expires_in = Duration::from_secs(response.expires_in.unwrap_or(3600));
        Ok(Token {
            value: Secret::new(response.access_token),
            dpop,
            refresh_at: Instant::now() + refresh_after(expires_in),
        })
    }

    fn transport(&self, error: reqwest::Error) -> OktaError {
        if error.is_timeout() {
            OktaError::Timeout {
                method: "POST".into(),
                url: self.token_url.to_string(),
            }
        } else {
            OktaError::Transport {
                method: "POST".into(),
                url: self.token_url.to_string(),
                source: error,
            }
        }
    }
}

fn sensitive(text: &str) -> Result<HeaderValue, OktaError> {
    let mut value = HeaderValue::from_str(text)
        .map_err(|_| OktaError::config("a credential cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn dpop_nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|n| !n.is_empty())
}

/// A parameter of a `WWW-Authenticate` challenge: `error` of `DPoP error="use_dpop_nonce"`.
pub(crate) fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let mut rest = challenge;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0
            || rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c == ' ' || c == ',');
        let after = &rest[at + name.len()..];
        let after_trim = after.trim_start();
        if before_ok && after_trim.starts_with('=') {
            let value = after_trim[1..].trim_start();
            return Some(if let Some(quoted) = value.strip_prefix('"') {
                quoted.split('"').next().unwrap_or_default().to_string()
            } else {
                value
                    .split([',', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
        }
        rest = after;
    }
    None
}

fn shorten(text: &str) -> String {
    crate::redact::outside(text)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    use super::*;

    fn part(jwt: &str, i: usize) -> Value {
        let p = jwt.split('.').nth(i).expect("part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
    }

    #[test]
    fn the_client_assertion_has_okta_claims_and_a_short_life() {
        let pem = super::super::keys::tests::ec_pem();
        let key = super::super::keys::load_private_key(&Secret::new(pem)).expect("key");
        let aud = "https://a.okta.com/oauth2/v1/token";
        let jwt = client_assertion(&key, "0oaapp", Some("kid1"), aud, 1_700_000_000, "j1");
        let header = part(&jwt, 0);
        assert_eq!(header["kid"], "kid1");
        assert_eq!(header["alg"], "ES256");
        let claims = part(&jwt, 1);
        assert_eq!(claims["iss"], "0oaapp");
        assert_eq!(claims["sub"], "0oaapp");
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_300);
        assert_eq!(claims["jti"], "j1");
        let no_kid = client_assertion(&key, "0oaapp", None, aud, 0, "j2");
        assert!(part(&no_kid, 0).get("kid").is_none());
    }

    #[test]
    fn rsa_pkcs1_fixture_signs_rs256() {
        let pem = include_str!("../../tests/fixtures/test-only-rsa-pkcs1.pem");
        let key = super::super::keys::load_private_key(&Secret::new(pem)).expect("key");
        let jwt = client_assertion(&key, "c", None, "aud", 0, "j");
        assert_eq!(part(&jwt, 0)["alg"], "RS256");
        assert_eq!(key.public_jwk()["kty"], "RSA");
    }

    #[test]
    fn tokens_are_refreshed_a_minute_early_or_at_half_life() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(refresh_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn scope_sets() {
        assert_eq!(ScopeSet::Read.scopes().len(), 3);
        let apply = ScopeSet::Apply.scopes();
        assert!(apply.contains(&"okta.apps.manage".to_string()));
        assert!(apply.contains(&"okta.profileMappings.manage".to_string()));
        assert!(!ScopeSet::Read
            .scopes()
            .iter()
            .any(|s| s.ends_with(".manage")));
    }

    #[test]
    fn challenge_params() {
        let c = r#"DPoP algs="ES256 RS256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
        assert_eq!(
            challenge_param(c, "error").as_deref(),
            Some("use_dpop_nonce")
        );
        let b = r#"Bearer authorization_uri="x", realm="IdP", error="insufficient_scope", resource="/api/v1/apps""#;
        assert_eq!(
            challenge_param(b, "error").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(
            challenge_param("Bearer error=invalid_token", "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(challenge_param("Bearer realm=\"x\"", "error"), None);
    }
}
