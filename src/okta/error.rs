//! `OktaError`: every way talking to Okta can fail, as an enum callers branch on, with
//! messages in the project's style and a `hint()` telling the admin what to do.
//! Must not contain secrets: no token, no `Authorization` header, no response bodies.

use std::fmt;

/// An error answered by Okta itself (a non-2xx HTTP status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// Okta's `errorCode`, e.g. `E0000006`; `None` when the body was not an Okta error.
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub error_id: Option<String>,
    /// The `errorSummary` of each of `errorCauses`.
    pub error_causes: Vec<String>,
    /// `X-Okta-Request-Id` of the failed response.
    pub request_id: Option<String>,
    pub method: String,
    /// The full request URL (it never holds credentials).
    pub url: String,
    /// The request was authenticated with an OAuth access token (not an API token).
    pub oauth: bool,
    /// The `error` of a `WWW-Authenticate` challenge, e.g. `insufficient_scope`.
    pub challenge_error: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "okta returned {}", self.status)?;
        if let Some(code) = &self.error_code {
            write!(f, " `{code}`")?;
        }
        if let Some(summary) = &self.error_summary {
            write!(f, " ({summary})")?;
        }
        write!(f, " for `{} {}`", self.method, path_of(&self.url))?;
        write_request_id(f, self.request_id.as_deref())?;
        for cause in &self.error_causes {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// The token endpoint's refusal of an access token (an OAuth error answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    pub status: u16,
    /// The OAuth `error`, e.g. `invalid_client`.
    pub error: String,
    /// The OAuth `error_description`, shortened.
    pub description: Option<String>,
    pub request_id: Option<String>,
    pub client_id: String,
    pub kid: Option<String>,
    pub scopes: Vec<String>,
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "okta refused an access token to the service app `{}`: `{}`",
            self.client_id, self.error
        )?;
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        write_request_id(f, self.request_id.as_deref())
    }
}

/// Why a request to Okta failed.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    /// Okta answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The request did not get an HTTP answer (DNS, TLS, connection refused or reset).
    #[error("could not reach okta for `{method} {}`", path_of(url))]
    Transport {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The request timed out.
    #[error("okta did not answer `{method} {}` in time", path_of(url))]
    Timeout { method: String, url: String },

    /// Okta answered 2xx but the body is not what the endpoint returns.
    #[error("unexpected response from okta for `{method} {}`{}: {detail}", path_of(url), RequestId(request_id.as_deref()))]
    Decode {
        method: String,
        url: String,
        request_id: Option<String>,
        detail: String,
    },

    /// Okta kept answering 429 after every allowed resend.
    #[error("okta kept rate limiting `{method} {}` after {attempts} attempts{}", path_of(url), RequestId(request_id.as_deref()))]
    RateLimitExhausted {
        method: String,
        url: String,
        attempts: u32,
        request_id: Option<String>,
    },

    /// A response body larger than the client reads (counted after decompression).
    #[error("the answer to `{method} {}` is larger than {} MiB; refused", path_of(url), limit_bytes >> 20)]
    TooLarge {
        method: String,
        url: String,
        limit_bytes: usize,
    },

    /// A list that keeps linking to a next page without getting anywhere.
    #[error(
        "the list `GET {}` goes on without end: {reason} (after {pages} pages); refused",
        path_of(url)
    )]
    EndlessList {
        url: String,
        pages: usize,
        reason: String,
    },

    /// A rate-limit window that resets further ahead than ouguard waits.
    #[error("the rate-limit window of `{family}` resets in {wait_seconds} s (at {resets_at}), more than {max_seconds} s ahead; not waiting for `{method} {}`", path_of(url))]
    ResetTooFar {
        method: String,
        url: String,
        family: String,
        wait_seconds: u64,
        resets_at: String,
        max_seconds: u64,
    },

    /// One request waited too long in all for rate-limit windows.
    #[error("`{method} {}` would wait {waited_seconds} s in all for the rate-limit windows of `{family}`; giving up", path_of(url))]
    WaitedTooLong {
        method: String,
        url: String,
        family: String,
        waited_seconds: u64,
    },

    /// A plain-http org URL that is not loopback.
    #[error("refusing the insecure org url `{url}`: only `https://` is allowed (or `http://` on loopback)")]
    InsecureUrl { url: String },

    /// The org's token endpoint refused the service app an access token.
    #[error("{0}")]
    TokenRequest(Box<TokenRefusal>),

    /// Missing or invalid connection settings.
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
}

impl OktaError {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        OktaError::Config {
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn config_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        OktaError::Config {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The HTTP status, for errors Okta answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            OktaError::Api(api) => Some(api.status),
            _ => None,
        }
    }

    /// `true` for a 404 (the object does not exist, or no longer does).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// `true` for a 429, or when the 429 resends ran out.
    #[must_use]
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            OktaError::RateLimitExhausted { .. }
                | OktaError::ResetTooFar { .. }
                | OktaError::WaitedTooLong { .. }
        ) || self.status() == Some(429)
    }

    /// The `X-Okta-Request-Id` of the response that failed, when there was one.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            OktaError::Api(api) => api.request_id.as_deref(),
            OktaError::Decode { request_id, .. }
            | OktaError::RateLimitExhausted { request_id, .. } => request_id.as_deref(),
            OktaError::TokenRequest(refusal) => refusal.request_id.as_deref(),
            _ => None,
        }
    }

    /// What the admin can do about it, when we know.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            OktaError::Api(api) => api_hint(api),
            OktaError::Transport { .. } => Some(
                "check the org url, the network and any proxy (`HTTPS_PROXY`) between here and okta"
                    .to_string(),
            ),
            OktaError::Timeout { .. } => {
                Some("okta or the network is slow: retry in a moment".to_string())
            }
            OktaError::RateLimitExhausted { .. } => Some(
                "the org's rate limit is used up (other integrations may share it): wait a minute and retry later"
                    .to_string(),
            ),
            OktaError::TooLarge { .. } => Some(
                "a page of okta's api is a few hundred KB: something between here and okta (a proxy or gateway, `HTTPS_PROXY`) may be answering instead of okta"
                    .to_string(),
            ),
            OktaError::EndlessList { .. } => Some(
                "okta (or a proxy in between) keeps sending `next` links; retry later, and if it persists report it to okta support"
                    .to_string(),
            ),
            OktaError::ResetTooFar { resets_at, .. } => Some(format!(
                "okta's windows are a minute long; a proxy or gateway may be rewriting `X-Rate-Limit-Reset`, or the org's limit is spent: retry after {resets_at}"
            )),
            OktaError::WaitedTooLong { .. } => Some(
                "the org's rate limit is spent by other integrations sharing it: retry later, or raise ouguard's part with `--max-api-share PERCENT`"
                    .to_string(),
            ),
            OktaError::InsecureUrl { .. } => {
                Some("use the org's `https://` url, e.g. `https://acme.okta.com`".to_string())
            }
            OktaError::Config { hint, .. } => hint.clone(),
            OktaError::TokenRequest(r) => token_hint(
                &r.error,
                r.description.as_deref(),
                &r.client_id,
                r.kid.as_deref(),
                &r.scopes,
            ),
            OktaError::Decode { .. } => Some(
                "okta's answer was not what this endpoint returns: retry; if it happens again, \
                 check for a proxy rewriting responses, or report it to okta support with the \
                 request id"
                    .to_string(),
            ),
        }
    }
}

/// The fix for a refused token request, from the OAuth `error` and its description.
fn token_hint(
    error: &str,
    description: Option<&str>,
    client_id: &str,
    kid: Option<&str>,
    scopes: &[String],
) -> Option<String> {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    let clock =
        "check this machine's clock: it must be within a minute of the real time (enable NTP)";
    let hint = match error {
        "invalid_client" if description.contains("kid") => match kid {
            Some(kid) => format!(
                "OKTA_CLIENT_KID `{kid}` is not the KID of a public key of the service app `{client_id}`: copy the KID shown under General > Public keys in the app"
            ),
            None => format!(
                "the service app `{client_id}` has several public keys: set OKTA_CLIENT_KID to the KID shown under General > Public keys"
            ),
        },
        "invalid_client" if description.contains("signature") => format!(
            "OKTA_CLIENT_PRIVATEKEY does not match a public key of the service app `{client_id}`{}: add this key's public key under General > Public keys, or use the private key that belongs to the registered one",
            kid.map(|k| format!(" with KID `{k}`")).unwrap_or_default()
        ),
        "invalid_client"
            if description.contains("expired")
                || description.contains("future")
                || description.contains("issued") =>
        {
            format!("the client assertion was signed at a time okta does not accept: {clock}")
        }
        "invalid_client" => format!(
            "check OKTA_CLIENT_CLIENTID `{client_id}`: it must be the client id of an API Services app whose client authentication is `Public key / Private key`"
        ),
        "invalid_scope" => format!(
            "grant the scopes `{}` to the service app (its Okta API Scopes tab), or set OKTA_CLIENT_SCOPES to scopes it was granted; plan needs the `.read` scopes, apply the `.manage` ones too",
            scopes.join(" ")
        ),
        "invalid_dpop_proof" | "use_dpop_nonce" => format!(
            "the org requires DPoP and refused ouguard's proof: {clock}; otherwise report it (as a workaround, turn off the app's `Require Demonstrating Proof of Possession (DPoP) header in token requests`)"
        ),
        "http 429" => "the org's rate limit for token requests is used up: wait a minute and retry".to_string(),
        e if e.starts_with("http 5") => "okta's token endpoint is failing: retry in a moment".to_string(),
        "unauthorized_client" | "unsupported_grant_type" => format!(
            "the app `{client_id}` may not use the client credentials grant: use an API Services app"
        ),
        _ => return None,
    };
    Some(hint)
}

fn api_hint(api: &ApiError) -> Option<String> {
    let path = path_of(&api.url);
    match api.status {
        401 if api.oauth => Some(
            "okta refused the service app's access token: run again; if it persists, check that the service app is active and was granted its scopes"
                .to_string(),
        ),
        403 if api.oauth => {
            let write = api.method != "GET";
            let scope = required_scope(path, write);
            if api.challenge_error.as_deref() == Some("insufficient_scope") {
                Some(format!(
                    "the access token lacks the `{scope}` scope: grant it to the service app (Okta API Scopes tab) and include it in OKTA_CLIENT_SCOPES if you set that"
                ))
            } else {
                Some(format!(
                    "the service app needs an admin role that allows `{scope}`: assign it the {} role (Admin roles tab of the app)",
                    if write { "Application Administrator (or Super Administrator)" } else { "Read-only Administrator" }
                ))
            }
        }
        401 => Some(
            "the API token is invalid, expired or revoked: create a new one under Security > API > Tokens and set OKTA_CLIENT_TOKEN"
                .to_string(),
        ),
        403 => {
            let write = api.method != "GET";
            let scope = required_scope(path, write);
            Some(format!(
                "this needs the `{scope}` scope; with an API token, the token's admin needs the Super Administrator or App Administrator role"
            ))
        }
        404 => directory_app_id(path).map(|app_id| {
            format!("the directory `{app_id}` was deleted or the app id is wrong: run `ouguard plan` again")
        }),
        429 => Some("okta's rate limit is used up: wait a minute and retry later".to_string()),
        _ => None,
    }
}

/// The OAuth scope an endpoint needs (also tells an API-token admin what is being done).
pub(crate) fn required_scope(path: &str, write: bool) -> &'static str {
    if path.starts_with("/api/v1/eventHooks") {
        return if write {
            "okta.eventHooks.manage"
        } else {
            "okta.eventHooks.read"
        };
    }
    if path.starts_with("/api/v1/logs") {
        return "okta.logs.read";
    }
    match (
        path.starts_with("/api/v1/mappings"),
        path.starts_with("/api/v1/meta/types/user"),
        write,
    ) {
        (true, _, false) => "okta.profileMappings.read",
        (true, _, true) => "okta.profileMappings.manage",
        (_, true, _) => "okta.userTypes.read",
        (_, _, false) => "okta.apps.read",
        (_, _, true) => "okta.apps.manage",
    }
}

/// `0oa1` out of `/api/v1/apps/0oa1/...`.
fn directory_app_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/apps/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// The path part of a URL, for messages (queries are long and add little).
pub(crate) fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

fn write_request_id(f: &mut fmt::Formatter<'_>, request_id: Option<&str>) -> fmt::Result {
    match request_id {
        Some(id) => write!(f, " (request id `{id}`)"),
        None => Ok(()),
    }
}

struct RequestId<'a>(Option<&'a str>);

impl fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_request_id(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, method: &str, url: &str) -> OktaError {
        OktaError::Api(Box::new(ApiError {
            status,
            error_code: Some("E0000006".into()),
            error_summary: Some(
                "You do not have permission to perform the requested action".into(),
            ),
            error_id: Some("oae1".into()),
            error_causes: vec![],
            request_id: Some("abc".into()),
            method: method.into(),
            url: url.into(),
            oauth: false,
            challenge_error: None,
        }))
    }

    #[test]
    fn api_error_display_matches_the_style() {
        let e = api(
            403,
            "GET",
            "https://acme.okta.com/api/v1/apps?filter=x&limit=200",
        );
        assert_eq!(
            e.to_string(),
            "okta returned 403 `E0000006` (You do not have permission to perform the requested action) for `GET /api/v1/apps` (request id `abc`)"
        );
    }

    #[test]
    fn hints_name_the_scope() {
        let cases = [
            ("GET", "https://a/api/v1/apps", "okta.apps.read"),
            (
                "GET",
                "https://a/api/v1/mappings?targetId=0oa1",
                "okta.profileMappings.read",
            ),
            (
                "POST",
                "https://a/api/v1/mappings/prm1",
                "okta.profileMappings.manage",
            ),
            (
                "PUT",
                "https://a/api/v1/apps/0oa1/groups/00g1",
                "okta.apps.manage",
            ),
            (
                "GET",
                "https://a/api/v1/meta/types/user",
                "okta.userTypes.read",
            ),
        ];
        for (method, url, scope) in cases {
            let hint = api(403, method, url).hint().unwrap_or_default();
            assert!(hint.contains(scope), "{method} {url}: {hint}");
        }
    }

    #[test]
    fn not_found_on_a_directory_names_it() {
        let hint = api(404, "GET", "https://a/api/v1/apps/0oa9/groups")
            .hint()
            .unwrap_or_default();
        assert!(hint.contains("`0oa9`"), "{hint}");
        assert!(api(404, "GET", "https://a/x").is_not_found());
    }

    #[test]
    fn path_of_strips_host_and_query() {
        assert_eq!(
            path_of("https://a.okta.com/api/v1/apps?x=1"),
            "/api/v1/apps"
        );
        assert_eq!(path_of("https://a.okta.com"), "/");
        assert_eq!(path_of("/api/v1/x"), "/api/v1/x");
    }
}
