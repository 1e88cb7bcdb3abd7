//! The simulated org's authorization server: `POST /oauth2/v1/token` for client credentials
//! with `private_key_jwt` (signature, `iss`/`sub`, `aud`, `exp`, ±60 s skew, `jti` replay),
//! DPoP (RFC 9449: proof checks, nonces, `jti` replay, `ath`, key binding), access tokens
//! with scopes and a configurable lifetime, and their checks on API calls. Written from
//! Okta's and the RFCs' documentation, sharing no code with ouguard's client.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::auth::Scope;
use super::ids::random_base62;
use super::server::lock;

/// Clock skew allowed on `iat`/`exp` of assertions and proofs.
const SKEW_SECONDS: i64 = 60;
/// Longest client assertion life Okta accepts.
const MAX_ASSERTION_LIFE_SECONDS: i64 = 3600;

/// A registered OAuth service app (API Services app with public-key client authentication).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    /// Public keys as JWKs (`kty` `RSA` or `EC` P-256, with a `kid`), as in the app's
    /// "Public keys" list.
    pub jwks: Vec<Value>,
    /// The Okta API scopes granted to the app (its "Okta API Scopes" tab).
    pub scopes_granted: Vec<String>,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests".
    pub require_dpop: bool,
}

/// An issued access token.
#[derive(Debug, Clone)]
struct IssuedToken {
    scopes: Vec<Scope>,
    /// Epoch milliseconds (sim clock).
    expires_at_ms: i64,
    /// The JWK thumbprint the token is bound to (DPoP tokens).
    jkt: Option<String>,
}

/// Why an API call's OAuth credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// 401 `invalid_token` (unknown, expired, or sent with the wrong scheme).
    InvalidToken(&'static str),
    /// 401 `invalid_dpop_proof`.
    InvalidProof(&'static str),
    /// 401 `use_dpop_nonce`, with the nonce to use.
    UseNonce,
}

/// The authorization server of one simulated org.
#[derive(Debug)]
pub(crate) struct AuthorizationServer {
    clients: Vec<OAuthClient>,
    token_lifetime: Duration,
    announced_expires_in: Option<u64>,
    clock_offset_seconds: i64,
    nonce: String,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    used_assertion_jtis: Mutex<HashSet<String>>,
    used_proof_jtis: Mutex<HashSet<String>>,
}

/// An OAuth error answer: `{"error", "error_description"}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl AuthorizationServer {
    pub(crate) fn new(
        clients: Vec<OAuthClient>,
        token_lifetime: Duration,
        announced_expires_in: Option<u64>,
        clock_offset_seconds: i64,
    ) -> AuthorizationServer {
        AuthorizationServer {
            clients,
            token_lifetime,
            announced_expires_in,
            clock_offset_seconds,
            nonce: random_base62(&mut rand::thread_rng(), 32),
            tokens: Mutex::new(HashMap::new()),
            used_assertion_jtis: Mutex::new(HashSet::new()),
            used_proof_jtis: Mutex::new(HashSet::new()),
        }
    }

    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset_seconds
    }

    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.clock_offset_seconds.saturating_mul(1000)
    }

    /// Every access token issued so far (for tests that search output for secrets).
    pub(crate) fn issued_tokens(&self) -> Vec<String> {
        lock(&self.tokens).keys().cloned().collect()
    }

    /// `POST /oauth2/v1/token`. `base_url` is `http://host:port` as the client addressed us.
    pub(crate) fn token(&self, headers: &HeaderMap, body: &[u8], base_url: &str) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let token_url = format!("{base_url}/oauth2/v1/token");
        let field = |k: &str| form.get(k).map_or("", String::as_str);
        if field("grant_type") != "client_credentials" {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            );
        }
        if field("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed: a client_assertion of type jwt-bearer is required.",
            );
        }
        // Like Okta, a client that requires DPoP has its proof checked before its assertion.
        let claimed = Jwt::parse(field("client_assertion"))
            .and_then(|jwt| {
                jwt.claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .and_then(|iss| self.clients.iter().find(|c| c.client_id == iss));
        let jkt = match claimed {
            Some(client) if client.require_dpop => {
                match self.check_proof(headers, "POST", &token_url, None) {
                    Ok(jkt) => Some(jkt),
                    Err(TokenFailure::UseNonce) => return self.use_nonce_response(),
                    Err(TokenFailure::InvalidProof(d) | TokenFailure::InvalidToken(d)) => {
                        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", d)
                    }
                }
            }
            _ => None,
        };
        let client = match self.authenticate_client(field("client_assertion"), &token_url) {
            Ok(client) => client,
            Err(description) => {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
            }
        };
        let requested: Vec<&str> = field("scope").split_whitespace().collect();
        if requested.is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
            );
        }
        let missing: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|s| !client.scopes_granted.iter().any(|g| g == s))
            .collect();
        if !missing.is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!(
                    "The following scopes are not granted to the client: {}",
                    missing.join(" ")
                ),
            );
        }
        let mut scopes = Vec::new();
        for name in &requested {
            match Scope::parse(name) {
                Some(scope) => scopes.push(scope),
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        &format!("The scope `{name}` is unknown."),
                    )
                }
            }
        }
        let access_token = random_base62(&mut rand::thread_rng(), 64);
        let lifetime_ms = i64::try_from(self.token_lifetime.as_millis()).unwrap_or(i64::MAX);
        let expires_in = self
            .announced_expires_in
            .unwrap_or_else(|| self.token_lifetime.as_secs().max(1));
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        lock(&self.tokens).insert(
            access_token.clone(),
            IssuedToken {
                scopes,
                expires_at_ms: self.now_ms().saturating_add(lifetime_ms),
                jkt,
            },
        );
        Json(json!({
            "token_type": token_type,
            "expires_in": expires_in,
            "access_token": access_token,
            "scope": requested.join(" "),
        }))
        .into_response()
    }

    fn use_nonce_response(&self) -> Response {
        let mut resp = oauth_error(
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof.",
        );
        if let Ok(v) = HeaderValue::from_str(&self.nonce) {
            resp.headers_mut().insert("dpop-nonce", v);
        }
        resp
    }

    /// The nonce API callers must put in their proofs.
    pub(crate) fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Verifies a client assertion; the error is the `error_description`.
    fn authenticate_client(
        &self,
        assertion: &str,
        token_url: &str,
    ) -> Result<&OAuthClient, &'static str> {
        if assertion.is_empty() {
            return Err("The client_assertion parameter is missing.");
        }
        let jwt = Jwt::parse(assertion).ok_or("The client_assertion is not a well-formed JWT.")?;
        let iss = jwt
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let sub = jwt
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss != sub {
            return Err(
                "The client_assertion token's 'iss' and 'sub' claims must both be the client_id.",
            );
        }
        let client =
            self.clients.iter().find(|c| c.client_id == iss).ok_or(
                "The client_assertion token has an invalid 'iss' claim: no such client_id.",
            )?;
        let kid = jwt.header.get("kid").and_then(Value::as_str);
        let keys: Vec<&Value> = client
            .jwks
            .iter()
            .filter(|k| kid.is_none_or(|kid| k.get("kid").and_then(Value::as_str) == Some(kid)))
            .collect();
        if keys.is_empty() {
            return Err("The client_assertion token has a 'kid' which does not match any key registered for the client.");
        }
        if !keys.iter().any(|k| jwt.verify(k)) {
            return Err("The client_assertion signature is invalid.");
        }
        if jwt.claims.get("aud").and_then(Value::as_str) != Some(token_url) {
            return Err("The audience claim for client_assertion must be the endpoint invoking the client_assertion.");
        }
        let now = self.now();
        let exp = jwt
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or("The client_assertion token must have an 'exp' claim.")?;
        let iat = jwt.claims.get("iat").and_then(Value::as_i64).unwrap_or(now);
        if exp < now - SKEW_SECONDS {
            return Err("The client_assertion token is expired.");
        }
        if iat > now + SKEW_SECONDS {
            return Err("The client_assertion token has an issued-at time in the future.");
        }
        if exp - iat > MAX_ASSERTION_LIFE_SECONDS {
            return Err("The client_assertion token has an expiration too far in the future.");
        }
        let jti = jwt
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or("The client_assertion token must have a 'jti' claim.")?;
        if !lock(&self.used_assertion_jtis).insert(format!("{iss}/{jti}")) {
            return Err(
                "The client_assertion token has already been used (its 'jti' was seen before).",
            );
        }
        Ok(client)
    }

    /// Verifies a DPoP proof for `method url`; returns the key's thumbprint. `access_token`
    /// is given for API calls (then `ath` must match).
    fn check_proof(
        &self,
        headers: &HeaderMap,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, TokenFailure> {
        let mut proofs = headers.get_all("dpop").iter();
        let proof = proofs.next().ok_or(TokenFailure::InvalidProof(
            "The DPoP proof JWT header is missing.",
        ))?;
        if proofs.next().is_some() {
            return Err(TokenFailure::InvalidProof(
                "Only one DPoP header is allowed.",
            ));
        }
        let proof = proof
            .to_str()
            .map_err(|_| TokenFailure::InvalidProof("The DPoP proof is not a JWT."))?;
        let jwt =
            Jwt::parse(proof).ok_or(TokenFailure::InvalidProof("The DPoP proof is not a JWT."))?;
        if jwt.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'typ' must be 'dpop+jwt'.",
            ));
        }
        let jwk = jwt.header.get("jwk").ok_or(TokenFailure::InvalidProof(
            "The DPoP proof has no 'jwk' header.",
        ))?;
        if jwk.get("d").is_some() || jwk.get("p").is_some() {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'jwk' must be a public key.",
            ));
        }
        if !jwt.verify(jwk) {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof signature is invalid.",
            ));
        }
        let claim = |k: &str| jwt.claims.get(k).and_then(Value::as_str);
        if claim("htm") != Some(method) {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'htm' does not match the request method.",
            ));
        }
        if claim("htu") != Some(url) {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'htu' does not match the request URL.",
            ));
        }
        let iat = jwt
            .claims
            .get("iat")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN);
        if (iat - self.now()).abs() > SKEW_SECONDS {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'iat' is outside the acceptable window.",
            ));
        }
        if let Some(token) = access_token {
            let want = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
            if claim("ath") != Some(want.as_str()) {
                return Err(TokenFailure::InvalidProof(
                    "The DPoP proof 'ath' does not match the access token.",
                ));
            }
        }
        if claim("nonce") != Some(self.nonce.as_str()) {
            return Err(TokenFailure::UseNonce);
        }
        let jti = claim("jti").ok_or(TokenFailure::InvalidProof("The DPoP proof has no 'jti'."))?;
        if !lock(&self.used_proof_jtis).insert(jti.to_string()) {
            return Err(TokenFailure::InvalidProof(
                "The DPoP proof 'jti' has already been used.",
            ));
        }
        thumbprint(jwk).ok_or(TokenFailure::InvalidProof(
            "The DPoP proof 'jwk' is not a supported key.",
        ))
    }

    /// Checks an API call's `Authorization: Bearer|DPoP <token>`; returns the token's scopes.
    pub(crate) fn authenticate(
        &self,
        scheme: &str,
        token: &str,
        headers: &HeaderMap,
        method: &str,
        url: &str,
    ) -> Result<Vec<Scope>, TokenFailure> {
        let issued = lock(&self.tokens)
            .get(token)
            .cloned()
            .ok_or(TokenFailure::InvalidToken("The access token is invalid."))?;
        if issued.expires_at_ms <= self.now_ms() {
            return Err(TokenFailure::InvalidToken("The access token has expired."));
        }
        match (&issued.jkt, scheme.eq_ignore_ascii_case("DPoP")) {
            (Some(jkt), true) => {
                let got = self.check_proof(headers, method, url, Some(token))?;
                if &got != jkt {
                    return Err(TokenFailure::InvalidProof(
                        "The DPoP proof key is not the key the access token is bound to.",
                    ));
                }
            }
            (Some(_), false) => {
                return Err(TokenFailure::InvalidToken("The access token is DPoP-bound: it must be sent with the DPoP scheme and a proof."));
            }
            (None, true) => {
                return Err(TokenFailure::InvalidToken(
                    "The access token is not DPoP-bound: send it with the Bearer scheme.",
                ));
            }
            (None, false) => {}
        }
        Ok(issued.scopes)
    }
}

/// A parsed, not yet verified, compact JWS.
struct Jwt<'a> {
    header: Value,
    claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jwt<'a> {
    fn parse(text: &'a str) -> Option<Jwt<'a>> {
        let (signing_input, signature) = text.rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        let json = |part: &str| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        Some(Jwt {
            header: json(header).filter(Value::is_object)?,
            claims: json(claims).filter(Value::is_object)?,
            signing_input,
            signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
        })
    }

    /// Verifies the signature with a JWK, for `alg` RS256 or ES256 only.
    fn verify(&self, jwk: &Value) -> bool {
        let alg = self.header.get("alg").and_then(Value::as_str);
        let member = |k: &str| {
            jwk.get(k)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        match (alg, jwk.get("kty").and_then(Value::as_str)) {
            (Some("RS256"), Some("RSA")) => {
                use rsa::signature::Verifier as _;
                let (Some(n), Some(e)) = (member("n"), member("e")) else {
                    return false;
                };
                let Ok(key) = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                ) else {
                    return false;
                };
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice())
                else {
                    return false;
                };
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                    .verify(self.signing_input.as_bytes(), &signature)
                    .is_ok()
            }
            (Some("ES256"), Some("EC")) => {
                use p256::ecdsa::signature::Verifier as _;
                // Only the key members: `kid`, `use` and the like are not part of the key.
                let bare = json!({
                    "kty": "EC",
                    "crv": jwk.get("crv"),
                    "x": jwk.get("x"),
                    "y": jwk.get("y"),
                });
                let Ok(key) = p256::PublicKey::from_jwk_str(&bare.to_string()) else {
                    return false;
                };
                let Ok(signature) = p256::ecdsa::Signature::from_slice(&self.signature) else {
                    return false;
                };
                p256::ecdsa::VerifyingKey::from(key)
                    .verify(self.signing_input.as_bytes(), &signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA or EC public key.
fn thumbprint(jwk: &Value) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv")?,
            s("x")?,
            s("y")?
        ),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// A `WWW-Authenticate` challenge for a refused OAuth API call.
pub(crate) fn challenge(scheme: &str, error: &str, description: &str) -> String {
    let scheme = if scheme.eq_ignore_ascii_case("DPoP") {
        "DPoP algs=\"ES256 RS256\","
    } else {
        "Bearer realm=\"IdP\","
    };
    format!("{scheme} error=\"{error}\", error_description=\"{description}\"")
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Signer as _;

    use super::*;

    struct Key(p256::ecdsa::SigningKey);

    impl Key {
        fn new() -> Key {
            Key(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
        }
        fn jwk(&self, kid: &str) -> Value {
            let mut jwk: Value = serde_json::from_str(
                &p256::PublicKey::from(self.0.verifying_key()).to_jwk_string(),
            )
            .unwrap();
            jwk["kid"] = Value::from(kid);
            jwk
        }
        fn sign(&self, header: Value, claims: Value) -> String {
            let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            let input = format!("{}.{}", enc(&header), enc(&claims));
            let sig: p256::ecdsa::Signature = self.0.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
        }
    }

    const TOKEN_URL: &str = "http://127.0.0.1:1/oauth2/v1/token";

    fn server(key: &Key, require_dpop: bool) -> AuthorizationServer {
        AuthorizationServer::new(
            vec![OAuthClient {
                client_id: "0oa1".into(),
                jwks: vec![key.jwk("k1")],
                scopes_granted: vec!["okta.apps.read".into()],
                require_dpop,
            }],
            Duration::from_secs(3600),
            None,
            0,
        )
    }

    fn assertion(key: &Key, kid: &str, iat: i64, exp: i64, jti: &str) -> String {
        key.sign(
            json!({"alg": "ES256", "kid": kid}),
            json!({"iss": "0oa1", "sub": "0oa1", "aud": TOKEN_URL, "iat": iat, "exp": exp, "jti": jti}),
        )
    }

    #[test]
    fn client_assertions_are_verified() {
        let key = Key::new();
        let other = Key::new();
        let s = server(&key, false);
        let now = chrono::Utc::now().timestamp();
        assert!(s
            .authenticate_client(&assertion(&key, "k1", now, now + 300, "a"), TOKEN_URL)
            .is_ok());
        let cases = [
            (
                assertion(&key, "k1", now, now + 300, "a"),
                "already been used",
            ),
            (assertion(&key, "k9", now, now + 300, "b"), "'kid'"),
            (assertion(&other, "k1", now, now + 300, "c"), "signature"),
            (assertion(&key, "k1", now - 1000, now - 700, "d"), "expired"),
            (assertion(&key, "k1", now + 600, now + 900, "e"), "future"),
            (assertion(&key, "k1", now, now + 7200, "f"), "too far"),
            ("x.y.z".to_string(), "well-formed"),
        ];
        for (jwt, want) in cases {
            let e = s.authenticate_client(&jwt, TOKEN_URL).expect_err(want);
            assert!(e.contains(want), "{want}: {e}");
        }
        // Within the ±60 s skew.
        assert!(s
            .authenticate_client(&assertion(&key, "k1", now + 30, now - 30, "g"), TOKEN_URL)
            .is_ok());
        let e = s
            .authenticate_client(
                &assertion(&key, "k1", now, now + 300, "h"),
                "http://other/oauth2/v1/token",
            )
            .expect_err("aud");
        assert!(e.contains("audience"), "{e}");
    }

    #[test]
    fn dpop_proofs_are_verified() {
        let key = Key::new();
        let s = server(&key, true);
        let dpop = Key::new();
        let now = chrono::Utc::now().timestamp();
        let proof = |claims: Value| {
            let mut h = HeaderMap::new();
            let jwt = dpop.sign(
                json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": dpop.jwk("x")}),
                claims,
            );
            h.insert("dpop", HeaderValue::from_str(&jwt).unwrap());
            h
        };
        let nonce = s.nonce().to_string();
        assert_eq!(
            s.check_proof(&HeaderMap::new(), "POST", TOKEN_URL, None),
            Err(TokenFailure::InvalidProof(
                "The DPoP proof JWT header is missing."
            ))
        );
        assert_eq!(
            s.check_proof(
                &proof(json!({"htm": "POST", "htu": TOKEN_URL, "iat": now, "jti": "1"})),
                "POST",
                TOKEN_URL,
                None
            ),
            Err(TokenFailure::UseNonce)
        );
        let good =
            proof(json!({"htm": "POST", "htu": TOKEN_URL, "iat": now, "jti": "2", "nonce": nonce}));
        assert!(s.check_proof(&good, "POST", TOKEN_URL, None).is_ok());
        assert!(
            matches!(s.check_proof(&good, "POST", TOKEN_URL, None), Err(TokenFailure::InvalidProof(d)) if d.contains("already"))
        );
        for (claims, want) in [
            (
                json!({"htm": "GET", "htu": TOKEN_URL, "iat": now, "jti": "3", "nonce": nonce}),
                "htm",
            ),
            (
                json!({"htm": "POST", "htu": "http://x/", "iat": now, "jti": "4", "nonce": nonce}),
                "htu",
            ),
            (
                json!({"htm": "POST", "htu": TOKEN_URL, "iat": now - 600, "jti": "5", "nonce": nonce}),
                "iat",
            ),
        ] {
            assert!(
                matches!(s.check_proof(&proof(claims), "POST", TOKEN_URL, None), Err(TokenFailure::InvalidProof(d)) if d.contains(want)),
                "{want}"
            );
        }
        let api = "http://127.0.0.1:1/api/v1/apps";
        let wrong_ath = proof(
            json!({"htm": "GET", "htu": api, "iat": now, "jti": "6", "nonce": nonce, "ath": "nope"}),
        );
        assert!(
            matches!(s.check_proof(&wrong_ath, "GET", api, Some("tok")), Err(TokenFailure::InvalidProof(d)) if d.contains("ath"))
        );
    }

    #[test]
    fn thumbprint_matches_rfc_7638() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }
}
