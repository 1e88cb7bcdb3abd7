//! DPoP (RFC 9449) proofs: a per-run EC P-256 key, and one fresh proof JWT per request with
//! `htm`, `htu` (no query), `iat`, `jti`, the server's `nonce` once it sent one, and `ath`
//! for resource requests. Pure apart from the key and `jti` randomness; the caller passes
//! the clock. Proofs are credentials: never log or return them in errors.

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use url::Url;

use super::keys::{b64url, random_jti, SigningKey};

/// The DPoP key of this run (ephemeral: generated once per client, never stored).
#[derive(Debug)]
pub(crate) struct DpopKey {
    key: SigningKey,
}

impl DpopKey {
    pub(crate) fn generate() -> DpopKey {
        DpopKey {
            key: SigningKey::generate_ec(),
        }
    }

    /// A proof for `method url`, at `now` (epoch seconds). `access_token` binds the proof to
    /// a token (`ath`); `nonce` is the last `DPoP-Nonce` the server sent.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &Url,
        now: i64,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), Value::from("dpop+jwt"));
        header.insert("jwk".into(), self.key.public_jwk());
        let mut claims = json!({
            "htm": method,
            "htu": htu(url),
            "iat": now,
            "jti": random_jti(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = Value::from(nonce);
        }
        if let Some(token) = access_token {
            claims["ath"] = Value::from(ath(token));
        }
        let proof = self.key.sign_jwt(header, &claims);
        crate::redact::register_ephemeral(&proof);
        proof
    }
}

/// The `htu` of a URL: without query and fragment.
pub(crate) fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// `ath`: base64url(SHA-256(access token)).
pub(crate) fn ath(access_token: &str) -> String {
    b64url(Sha256::digest(access_token.as_bytes()))
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
    fn proofs_carry_the_claims_and_are_fresh() {
        let key = DpopKey::generate();
        let url = Url::parse("https://a.okta.com/api/v1/apps?limit=200&filter=x").expect("url");
        let one = key.proof("GET", &url, 1_700_000_000, Some("n1"), Some("tok"));
        let two = key.proof("GET", &url, 1_700_000_000, Some("n1"), Some("tok"));
        let header = part(&one, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none(), "no private part");
        let claims = part(&one, 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://a.okta.com/api/v1/apps");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["nonce"], "n1");
        // RFC 9449's example: ath of "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(claims["ath"], Value::from(ath("tok")));
        assert_ne!(claims["jti"], part(&two, 1)["jti"]);
        let bare = key.proof("POST", &url, 1, None, None);
        assert!(part(&bare, 1).get("nonce").is_none());
        assert!(part(&bare, 1).get("ath").is_none());
    }
}
