//! Who is calling the simulated org, and what each route needs: SSWS API tokens, and
//! OAuth 2.0 access tokens (Bearer or DPoP) issued by `oauth::AuthorizationServer`, limited
//! to their scopes. Never logs or echoes a token.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::oauth::{AuthorizationServer, TokenFailure};

/// An OAuth scope an Okta management endpoint requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    AppsRead,
    AppsManage,
    ProfileMappingsRead,
    ProfileMappingsManage,
    UserTypesRead,
    LogsRead,
    EventHooksRead,
    EventHooksManage,
}

impl Scope {
    /// The scope's name as Okta spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AppsRead => "okta.apps.read",
            Scope::AppsManage => "okta.apps.manage",
            Scope::ProfileMappingsRead => "okta.profileMappings.read",
            Scope::ProfileMappingsManage => "okta.profileMappings.manage",
            Scope::UserTypesRead => "okta.userTypes.read",
            Scope::LogsRead => "okta.logs.read",
            Scope::EventHooksRead => "okta.eventHooks.read",
            Scope::EventHooksManage => "okta.eventHooks.manage",
        }
    }

    /// The scope named `name`, if the simulator knows it.
    #[must_use]
    pub fn parse(name: &str) -> Option<Scope> {
        [
            Scope::AppsRead,
            Scope::AppsManage,
            Scope::ProfileMappingsRead,
            Scope::ProfileMappingsManage,
            Scope::UserTypesRead,
            Scope::LogsRead,
            Scope::EventHooksRead,
            Scope::EventHooksManage,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// `true` when holding `self` also grants `other` (a `.manage` scope implies `.read`).
    #[must_use]
    pub fn implies(self, other: Scope) -> bool {
        self == other
            || matches!(
                (self, other),
                (Scope::AppsManage, Scope::AppsRead)
                    | (Scope::ProfileMappingsManage, Scope::ProfileMappingsRead)
                    | (Scope::EventHooksManage, Scope::EventHooksRead)
            )
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `Authorization: SSWS <token>`: an API token acts as its admin, with every scope.
    ApiToken,
    /// An OAuth 2.0 access token, limited to its scopes; `dpop` when DPoP-bound.
    OAuth { scopes: Vec<Scope>, dpop: bool },
}

impl Principal {
    /// Whether this caller may use an endpoint that requires `scope`.
    #[must_use]
    pub fn grants(&self, scope: Scope) -> bool {
        match self {
            Principal::ApiToken => true,
            Principal::OAuth { scopes, .. } => scopes.iter().any(|s| s.implies(scope)),
        }
    }
}

/// Why a request was not authenticated (every case answers 401 `E0000011`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
    /// An OAuth token or its DPoP proof was refused; `scheme` is the one the caller used.
    OAuth {
        scheme: String,
        failure: TokenFailure,
    },
}

/// The credentials the simulated org accepts.
#[derive(Debug, Clone)]
pub struct Authenticator {
    api_token: String,
    oauth: Option<Arc<AuthorizationServer>>,
}

impl Authenticator {
    #[must_use]
    pub fn new(api_token: String) -> Authenticator {
        Authenticator {
            api_token,
            oauth: None,
        }
    }

    /// Also accepts the access tokens of `server`.
    #[must_use]
    pub(crate) fn with_oauth(mut self, server: Arc<AuthorizationServer>) -> Authenticator {
        self.oauth = Some(server);
        self
    }

    /// Checks the `Authorization` header of `method url` (`url` without the query, for DPoP's
    /// `htu`).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        method: &str,
        url: &str,
    ) -> Result<Principal, AuthFailure> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(AuthFailure::Missing)?
            .to_str()
            .map_err(|_| AuthFailure::Invalid)?;
        // Okta's own Python SDK (3.4.x) sends `SSWS<token>` without the space, so the
        // separator is optional here [inferred: real orgs must accept it].
        let scheme_len = "SSWS".len();
        let is_ssws = value
            .get(..scheme_len)
            .is_some_and(|s| s.eq_ignore_ascii_case("SSWS"));
        if is_ssws {
            let credential = value[scheme_len..].trim();
            if constant_time_eq(credential.as_bytes(), self.api_token.as_bytes()) {
                return Ok(Principal::ApiToken);
            }
        }
        let (scheme, credential) = value.split_once(' ').ok_or(AuthFailure::Invalid)?;
        let oauth_scheme =
            scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("DPoP");
        if let (true, Some(server)) = (oauth_scheme, &self.oauth) {
            return server
                .authenticate(scheme, credential.trim(), headers, method, url)
                .map(|scopes| Principal::OAuth {
                    scopes,
                    dpop: scheme.eq_ignore_ascii_case("DPoP"),
                })
                .map_err(|failure| AuthFailure::OAuth {
                    scheme: scheme.to_string(),
                    failure,
                });
        }
        Err(AuthFailure::Invalid)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn ssws_token_is_checked() {
        let auth = Authenticator::new("abc".into());
        assert_eq!(
            auth.authenticate(&headers("SSWS abc"), "GET", "u"),
            Ok(Principal::ApiToken)
        );
        assert_eq!(
            auth.authenticate(&headers("SSWS abd"), "GET", "u"),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            auth.authenticate(&headers("Bearer abc"), "GET", "u"),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), "GET", "u"),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn oauth_scopes_are_enforced() {
        let p = Principal::OAuth {
            scopes: vec![Scope::AppsManage],
            dpop: false,
        };
        assert!(p.grants(Scope::AppsRead));
        assert!(!p.grants(Scope::LogsRead));
        assert!(Principal::ApiToken.grants(Scope::LogsRead));
    }
}
