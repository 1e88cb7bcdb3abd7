//! Who is calling the simulated org, and what each route needs. SSWS API tokens today; the
//! `Principal`/`Scope` split is there so OAuth 2.0 bearer and DPoP tokens with scope
//! enforcement can be added without touching the routes. Never logs or echoes a token.

use axum::http::HeaderMap;

/// An OAuth scope an Okta management endpoint requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    AppsRead,
    AppsManage,
    ProfileMappingsRead,
    ProfileMappingsManage,
    UserTypesRead,
    LogsRead,
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
        }
    }

    /// `true` when holding `self` also grants `other` (a `.manage` scope implies `.read`).
    #[must_use]
    pub fn implies(self, other: Scope) -> bool {
        self == other
            || matches!(
                (self, other),
                (Scope::AppsManage, Scope::AppsRead)
                    | (Scope::ProfileMappingsManage, Scope::ProfileMappingsRead)
            )
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `Authorization: SSWS <token>`: an API token acts as its admin, with every scope.
    ApiToken,
    /// An OAuth 2.0 access token (not issued by the simulator yet), limited to its scopes.
    OAuth { scopes: Vec<Scope> },
}

impl Principal {
    /// Whether this caller may use an endpoint that requires `scope`.
    #[must_use]
    pub fn grants(&self, scope: Scope) -> bool {
        match self {
            Principal::ApiToken => true,
            Principal::OAuth { scopes } => scopes.iter().any(|s| s.implies(scope)),
        }
    }
}

/// Why a request was not authenticated (every case answers 401 `E0000011`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
}

/// The credentials the simulated org accepts.
#[derive(Debug, Clone)]
pub struct Authenticator {
    api_token: String,
}

impl Authenticator {
    #[must_use]
    pub fn new(api_token: String) -> Authenticator {
        Authenticator { api_token }
    }

    /// Checks the `Authorization` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthFailure> {
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
            auth.authenticate(&headers("SSWS abc")),
            Ok(Principal::ApiToken)
        );
        assert_eq!(
            auth.authenticate(&headers("SSWS abd")),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            auth.authenticate(&headers("Bearer abc")),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            auth.authenticate(&HeaderMap::new()),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn oauth_scopes_are_enforced() {
        let p = Principal::OAuth {
            scopes: vec![Scope::AppsManage],
        };
        assert!(p.grants(Scope::AppsRead));
        assert!(!p.grants(Scope::LogsRead));
        assert!(Principal::ApiToken.grants(Scope::LogsRead));
    }
}
