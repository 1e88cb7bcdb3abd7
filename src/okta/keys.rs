//! Private keys of an OAuth service app and compact JWS signing (RS256, ES256): loads a PEM
//! (PKCS#1, PKCS#8 or SEC1) given as text or as a path, signs JWTs, and gives the public JWK.
//! Must never put key material in an error, a log or a `Debug` output.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::RandomizedSigner as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Map, Value};

use super::error::OktaError;
use super::settings::Secret;

/// A signing key: RSA (RS256) or EC P-256 (ES256).
pub(crate) enum SigningKey {
    Rsa(
        Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>,
        rsa::RsaPublicKey,
    ),
    Ec(p256::ecdsa::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.alg())
    }
}

impl SigningKey {
    /// A fresh P-256 key (DPoP proofs).
    pub(crate) fn generate_ec() -> SigningKey {
        SigningKey::Ec(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The JWS `alg`.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(..) => "RS256",
            SigningKey::Ec(_) => "ES256",
        }
    }

    /// The public key as a JWK (members in the lexicographic order RFC 7638 thumbprints use).
    pub(crate) fn public_jwk(&self) -> Value {
        match self {
            SigningKey::Rsa(_, public) => json!({
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            }),
            SigningKey::Ec(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                let x = point.x().map(|x| URL_SAFE_NO_PAD.encode(x));
                let y = point.y().map(|y| URL_SAFE_NO_PAD.encode(y));
                json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": x.unwrap_or_default(),
                    "y": y.unwrap_or_default(),
                })
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Rsa(key, _) => {
                // Randomized: RSA blinding against timing side channels.
                let signature: rsa::pkcs1v15::Signature =
                    key.sign_with_rng(&mut rand::rngs::OsRng, message);
                rsa::signature::SignatureEncoding::to_vec(&signature)
            }
            SigningKey::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
        }
    }

    /// A compact JWS of `claims` with `header` (`alg` is added).
    pub(crate) fn sign_jwt(&self, mut header: Map<String, Value>, claims: &Value) -> String {
        header.insert("alg".into(), Value::from(self.alg()));
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", encode(&Value::Object(header)), encode(claims));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }
}

/// Loads the configured private key: PEM text, or the path of a PEM file.
///
/// # Errors
/// `Config` when the file cannot be read or the PEM is not an RSA or P-256 private key. The
/// message names the file (never its contents).
pub(crate) fn load_private_key(configured: &Secret) -> Result<SigningKey, OktaError> {
    let text = configured.expose().trim();
    if text.contains("-----BEGIN") {
        return parse_pem(text, "OKTA_CLIENT_PRIVATEKEY");
    }
    let path = Path::new(text);
    let pem = std::fs::read_to_string(path).map_err(|e| {
        OktaError::config_with_hint(
            format!("failed to read the private key file `{}`: {e}", path.display()),
            "set OKTA_CLIENT_PRIVATEKEY to the PEM text of the service app's private key or to the path of a PEM file",
        )
    })?;
    crate::redact::register(&pem);
    parse_pem(&pem, &format!("`{}`", path.display()))
}

fn parse_pem(pem: &str, origin: &str) -> Result<SigningKey, OktaError> {
    let unusable = |what: &str| {
        OktaError::config_with_hint(
            format!("the private key in {origin} is not usable: {what}"),
            "use the PEM of an RSA (RS256) or EC P-256 (ES256) private key: `BEGIN PRIVATE KEY` (PKCS#8), `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`",
        )
    };
    let rsa_key = |key: rsa::RsaPrivateKey| {
        let public = key.to_public_key();
        SigningKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key)), public)
    };
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .map(rsa_key)
            .map_err(|_| unusable("not a valid PKCS#1 RSA key"));
    }
    if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
        return p256::SecretKey::from_sec1_pem(pem)
            .map(|k| SigningKey::Ec(k.into()))
            .map_err(|_| {
                unusable("not a valid SEC1 P-256 key (only the P-256 curve is supported)")
            });
    }
    if pem.contains("-----BEGIN PRIVATE KEY-----") {
        if let Ok(key) = p256::SecretKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Ec(key.into()));
        }
        return rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .map(rsa_key)
            .map_err(|_| unusable("not a valid PKCS#8 RSA or P-256 key"));
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(unusable("it is encrypted; store it without a passphrase"));
    }
    Err(unusable("no `BEGIN … PRIVATE KEY` block"))
}

/// base64url without padding, as JOSE wants.
pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random `jti`.
pub(crate) fn random_jti() -> String {
    let bytes: [u8; 24] = rand::random();
    b64url(bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test-only P-256 key, PKCS#8.
    pub(crate) fn ec_pem() -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    }

    #[test]
    fn ec_pkcs8_and_sec1_load_and_sign_verifiably() {
        use p256::ecdsa::signature::Verifier as _;
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pkcs8 = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        let sec1 = secret
            .to_sec1_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        for pem in [pkcs8.to_string(), sec1.to_string()] {
            let key = load_private_key(&Secret::new(pem)).expect("loads");
            assert_eq!(key.alg(), "ES256");
            let jwt = key.sign_jwt(Map::new(), &json!({"a": 1}));
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(decode_part(parts[0])["alg"], "ES256");
            let sig =
                p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("b64"))
                    .expect("64 bytes");
            let vk = p256::ecdsa::VerifyingKey::from(secret.public_key());
            vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
                .expect("verifies");
        }
    }

    #[test]
    fn a_path_is_read_and_bad_input_names_no_key_material() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, ec_pem()).expect("write");
        let key = load_private_key(&Secret::new(path.display().to_string())).expect("loads");
        assert_eq!(key.public_jwk()["kty"], "EC");
        let missing = load_private_key(&Secret::new("/nonexistent/key.pem")).expect_err("missing");
        assert!(
            missing.to_string().contains("/nonexistent/key.pem"),
            "{missing}"
        );
        let garbage = "-----BEGIN PRIVATE KEY-----\nSECRETgarbage\n-----END PRIVATE KEY-----";
        let e = load_private_key(&Secret::new(garbage)).expect_err("garbage");
        let text = format!("{e} {e:?} {}", e.hint().unwrap_or_default());
        assert!(!text.contains("SECRETgarbage"), "{text}");
        assert!(format!("{key:?}").contains("ES256"));
    }
}
