//! OAuth 2.0 service-app auth end to end: the real binary with `PrivateKey` settings against
//! the simulated org's authorization server (private_key_jwt, DPoP, expiring tokens,
//! scopes), every refusal as one `error:` line with a `hint:`, and no secret in any output.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ouguard::sim::{BlockingSimOrg, OAuthClient, RecordedRequest, SimConfig, SimOrg};
use serde_json::Value;

use crate::support::{error_lines, ouguard, write};

const CLIENT_ID: &str = "0oaouguardservice";
/// `ouguard demo`'s config (import OUs and a pinned retarget), planning with `add-ou`.
const DEMO_CONFIG: &str = r#"
[directory."corp.example.com"]
import_ous = ["OU=Staff,DC=corp,DC=example,DC=com", "OU=Contractors,DC=corp,DC=example,DC=com"]

[directory."emea.example.com"]
import_ous = ["OU=Users,DC=emea,DC=example,DC=com"]

[[retarget]]
directory = "emea.example.com"
group = "EMEA Marketing"
to = "OU=Marketing,OU=Users,DC=emea,DC=example,DC=com"

[plan]
strategy = "add-ou"
"#;
const RSA_FIXTURE: &str = include_str!("../fixtures/test-only-rsa-pkcs1.pem");

/// A test-only P-256 key: its PKCS#8 PEM and its public JWK with `kid`.
fn ec_key(kid: &str) -> (String, Value) {
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();
    jwk["kid"] = Value::from(kid);
    (pem, jwk)
}

/// The public JWK of the committed test-only RSA key.
fn rsa_jwk(kid: &str) -> Value {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_FIXTURE).unwrap();
    serde_json::json!({
        "kty": "RSA",
        "kid": kid,
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
    })
}

fn all_scopes() -> Vec<String> {
    [
        "okta.apps.read",
        "okta.apps.manage",
        "okta.profileMappings.read",
        "okta.profileMappings.manage",
        "okta.userTypes.read",
    ]
    .map(str::to_string)
    .to_vec()
}

fn client(jwk: Value, require_dpop: bool) -> OAuthClient {
    OAuthClient {
        client_id: CLIENT_ID.into(),
        jwks: vec![jwk],
        scopes_granted: all_scopes(),
        require_dpop,
    }
}

fn sim(clients: Vec<OAuthClient>, tweak: impl FnOnce(&mut SimConfig)) -> BlockingSimOrg {
    let mut cfg = SimConfig {
        oauth_clients: clients,
        ..SimConfig::default()
    };
    tweak(&mut cfg);
    SimOrg::start_blocking(cfg).unwrap()
}

/// The demo org's `ouguard.toml`, planning with `add-ou` so no question is asked.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ouguard.toml", DEMO_CONFIG);
    dir
}

/// Runs `ouguard -vv ARGS` with `PrivateKey` settings for `sim`.
fn run(
    dir: &Path,
    sim: &BlockingSimOrg,
    key: &str,
    kid: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut command = ouguard(dir);
    command
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey")
        .env("OKTA_CLIENT_CLIENTID", CLIENT_ID)
        .env("OKTA_CLIENT_KID", kid)
        .env("OKTA_CLIENT_PRIVATEKEY", key)
        .arg("-vv")
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn token_requests(sim: &BlockingSimOrg) -> Vec<RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path == "/oauth2/v1/token")
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `hay` holds something shaped like a JWT: `eyJ`, base64url, then a `.`.
fn contains_jwt(hay: &str) -> bool {
    hay.match_indices("eyJ").any(|(at, _)| {
        hay[at..]
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            == Some('.')
    })
}

#[test]
fn jwt_shapes_are_told_from_random_ids() {
    assert!(contains_jwt("x eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig y"));
    assert!(!contains_jwt(
        "request_id=\"NahS7ieyJUq1DrDm8dKFdYgyK1y\" elapsed_ms=71"
    ));
}

/// No access token, key material, JWT (assertion or proof) or `Authorization` value in
/// stdout, stderr, or any file the run left under `dir` (plans, run records).
fn assert_no_secrets(output: &Output, dir: &Path, sim: &BlockingSimOrg, key_pem: &str) {
    let mut haystacks = vec![
        ("stdout", text(&output.stdout)),
        ("stderr", text(&output.stderr)),
    ];
    for entry in walk(dir) {
        if let Ok(content) = std::fs::read_to_string(&entry) {
            haystacks.push(("file", content));
        }
    }
    let tokens = sim.oauth_access_tokens();
    assert!(!tokens.is_empty(), "the run got no token");
    let key_lines: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect();
    for (name, hay) in &haystacks {
        for token in &tokens {
            assert!(
                !hay.contains(token.as_str()),
                "an access token in {name}:\n{hay}"
            );
        }
        for line in &key_lines {
            assert!(!hay.contains(line), "key material in {name}");
        }
        // Every JWT (client assertion, DPoP proof) starts with base64url of `{"` and has a
        // `.` after its header (a random request id may contain `eyJ` by chance).
        assert!(!contains_jwt(hay), "a JWT in {name}:\n{hay}");
        let lower = hay.to_ascii_lowercase();
        assert!(
            !lower.contains("bearer "),
            "a bearer credential in {name}:\n{hay}"
        );
        assert!(
            !lower.contains("authorization:"),
            "an authorization header in {name}:\n{hay}"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn assert_api_calls_ok(sim: &BlockingSimOrg) {
    let api: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    assert!(!api.is_empty());
    assert!(
        api.iter().any(|r| r.status == Some(200)),
        "{:?}",
        api.iter().map(|r| (&r.path, r.status)).collect::<Vec<_>>()
    );
}

#[test]
fn plan_and_apply_with_private_key_jwt_and_scopes_per_command() {
    let (pem, jwk) = ec_key("k1");
    let sim = sim(vec![client(jwk, false)], |_| {});
    let dir = project();

    let plan = run(
        dir.path(),
        &sim,
        &pem,
        "k1",
        &[],
        &["plan", "--out", "review.json"],
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert!(
        text(&plan.stdout).contains("Plan:"),
        "{}",
        text(&plan.stdout)
    );
    let tokens = token_requests(&sim);
    assert_eq!(tokens.len(), 1, "one token for the whole run");
    let form = tokens[0].request_body.clone().unwrap_or_default();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(
        form.contains("okta.apps.read") && !form.contains("manage"),
        "plan asks for read scopes only: {form}"
    );
    assert!(form.contains("client_assertion=%5Bredacted%5D"), "{form}");
    assert_api_calls_ok(&sim);
    assert_no_secrets(&plan, dir.path(), &sim, &pem);

    sim.clear_requests();
    let apply = run(
        dir.path(),
        &sim,
        &pem,
        "k1",
        &[],
        &["apply", "--auto-approve"],
    );
    assert!(
        matches!(apply.status.code(), Some(0 | 2)),
        "{}",
        text(&apply.stderr)
    );
    let form = token_requests(&sim)[0]
        .request_body
        .clone()
        .unwrap_or_default();
    assert!(
        form.contains("okta.apps.manage") && form.contains("okta.profileMappings.manage"),
        "{form}"
    );
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.write && r.path.starts_with("/api/"))
        .collect();
    assert!(
        !writes.is_empty() && writes.iter().all(|w| w.status == Some(200)),
        "{writes:?}"
    );
    assert_no_secrets(&apply, dir.path(), &sim, &pem);
}

#[test]
fn a_token_request_rides_out_a_server_error() {
    use ouguard::sim::{Fault, FaultKind};
    let (pem, jwk) = ec_key("k1");
    let sim = sim(vec![client(jwk, false)], |cfg| {
        cfg.faults = vec![Fault::next(1, FaultKind::ServerError { status: 503 })
            .matching(Some("POST"), Some("/oauth2/"))];
    });
    let dir = project();
    let out = run(dir.path(), &sim, &pem, "k1", &[], &["plan"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let statuses: Vec<_> = token_requests(&sim).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(503), Some(200)]);
    assert_no_secrets(&out, dir.path(), &sim, &pem);
}

#[test]
fn an_rsa_key_from_a_pem_file_signs_rs256() {
    let sim = sim(vec![client(rsa_jwk("rsa1"), false)], |_| {});
    let dir = project();
    let keys = tempfile::tempdir().unwrap();
    let key_path = write(keys.path(), "key.pem", RSA_FIXTURE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = run(
        dir.path(),
        &sim,
        key_path.to_str().unwrap(),
        "rsa1",
        &[],
        &["plan"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    #[cfg(unix)]
    assert!(
        text(&out.stderr).contains("warning:") && text(&out.stderr).contains("chmod 600"),
        "a world-readable key file is warned about: {}",
        text(&out.stderr)
    );
    assert_api_calls_ok(&sim);
    assert_no_secrets(&out, dir.path(), &sim, RSA_FIXTURE);
}

#[test]
fn dpop_is_detected_and_used_for_plan_and_apply() {
    let (pem, jwk) = ec_key("k1");
    let sim = sim(vec![client(jwk, true)], |_| {});
    let dir = project();
    let plan = run(dir.path(), &sim, &pem, "k1", &[], &["plan"]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let statuses: Vec<_> = token_requests(&sim).iter().map(|r| r.status).collect();
    // No proof → invalid_dpop_proof; a proof without nonce → use_dpop_nonce; then the token.
    assert_eq!(statuses, vec![Some(400), Some(400), Some(200)]);
    let bodies: Vec<_> = token_requests(&sim)
        .iter()
        .map(|r| r.response_body.clone().unwrap_or_default())
        .collect();
    assert!(
        bodies[0].contains("invalid_dpop_proof") && bodies[1].contains("use_dpop_nonce"),
        "{bodies:?}"
    );
    assert!(bodies[2].contains("\"DPoP\""), "{}", bodies[2]);
    // The resource server asks for its nonce on the first calls (the apps list and the user
    // types go out together), each is resent once with it, then every call succeeds.
    let api: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    let refused: Vec<&str> = api
        .iter()
        .filter(|r| r.status == Some(401))
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        (1..=2).contains(&refused.len()),
        "{:?}",
        api.iter().map(|r| (&r.path, r.status)).collect::<Vec<_>>()
    );
    for path in &refused {
        assert!(
            api.iter().any(|r| r.path == *path && r.status == Some(200)),
            "`{path}` was resent with the nonce"
        );
    }
    assert_api_calls_ok(&sim);
    assert_no_secrets(&plan, dir.path(), &sim, &pem);

    let apply = run(
        dir.path(),
        &sim,
        &pem,
        "k1",
        &[],
        &["apply", "--auto-approve"],
    );
    assert!(
        matches!(apply.status.code(), Some(0 | 2)),
        "{}",
        text(&apply.stderr)
    );
    assert_no_secrets(&apply, dir.path(), &sim, &pem);
}

#[test]
fn a_token_that_expires_mid_run_is_replaced_once() {
    let (pem, jwk) = ec_key("k1");
    for dpop in [false, true] {
        let sim = sim(vec![client(jwk.clone(), dpop)], |cfg| {
            cfg.oauth_token_lifetime = Duration::from_millis(300);
            cfg.oauth_announced_expires_in = Some(3600);
            cfg.latency = Duration::from_millis(60);
        });
        let dir = project();
        let out = run(
            dir.path(),
            &sim,
            &pem,
            "k1",
            &[],
            &["plan", "--concurrency", "1"],
        );
        assert!(out.status.success(), "dpop {dpop}: {}", text(&out.stderr));
        let issued = token_requests(&sim)
            .iter()
            .filter(|r| r.status == Some(200))
            .count();
        assert!(
            issued >= 2,
            "dpop {dpop}: a new token after expiry ({issued})"
        );
        let expired = sim
            .requests()
            .iter()
            .filter(|r| {
                r.status == Some(401)
                    && r.response_body
                        .as_deref()
                        .unwrap_or_default()
                        .contains("E0000011")
            })
            .count();
        assert!(
            expired >= 1,
            "dpop {dpop}: the expired token was refused first"
        );
        assert_no_secrets(&out, dir.path(), &sim, &pem);
    }
}

/// One refusal: exit 1, exactly one `error:` line, a `hint:` containing `hint`, no secrets.
fn assert_refused(out: &Output, dir: &Path, sim: &BlockingSimOrg, pem: &str, hint: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(error_lines(&out.stderr).len(), 1, "{stderr}");
    let hints: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hint:")).collect();
    assert_eq!(hints.len(), 1, "{stderr}");
    assert!(hints[0].contains(hint), "want `{hint}` in: {stderr}");
    for line in pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!stderr.contains(line));
    }
    assert!(!contains_jwt(&stderr), "{stderr}");
    for token in sim.oauth_access_tokens() {
        assert!(!stderr.contains(&token));
    }
    assert!(
        walk(dir)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".jsonl")),
        "no run record"
    );
}

#[test]
fn refusals_give_one_error_and_a_hint_with_the_fix() {
    let (pem, jwk) = ec_key("k1");
    let (other_pem, _) = ec_key("k1");
    let dir = project();

    let s = sim(vec![client(jwk.clone(), false)], |_| {});
    let out = run(dir.path(), &s, &other_pem, "k1", &[], &["plan"]);
    assert_refused(
        &out,
        dir.path(),
        &s,
        &other_pem,
        "does not match a public key",
    );
    assert!(
        text(&out.stderr).contains("invalid_client"),
        "{}",
        text(&out.stderr)
    );

    let out = run(dir.path(), &s, &pem, "k2", &[], &["plan"]);
    assert_refused(&out, dir.path(), &s, &pem, "OKTA_CLIENT_KID `k2`");

    let out = run(
        dir.path(),
        &s,
        &pem,
        "k1",
        &[("OKTA_CLIENT_CLIENTID", "0oanobody")],
        &["plan"],
    );
    assert_refused(&out, dir.path(), &s, &pem, "OKTA_CLIENT_CLIENTID");

    // A scope the token was not asked for: 403 with Okta's insufficient_scope challenge.
    let scopes = [(
        "OKTA_CLIENT_SCOPES",
        "okta.profileMappings.read okta.userTypes.read",
    )];
    let out = run(dir.path(), &s, &pem, "k1", &scopes, &["plan"]);
    assert_refused(
        &out,
        dir.path(),
        &s,
        &pem,
        "lacks the `okta.apps.read` scope",
    );
    assert!(
        text(&out.stderr).contains("E0000006"),
        "{}",
        text(&out.stderr)
    );

    // A scope the app was never granted: the token request is refused.
    let mut read_only = client(jwk.clone(), false);
    read_only.scopes_granted.retain(|s| s.ends_with(".read"));
    let s = sim(vec![read_only], |_| {});
    let out = run(
        dir.path(),
        &s,
        &pem,
        "k1",
        &[],
        &["apply", "--auto-approve"],
    );
    assert_refused(&out, dir.path(), &s, &pem, "okta.apps.manage");
    assert!(
        text(&out.stderr).contains("invalid_scope"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        s.requests()
            .iter()
            .all(|r| !(r.write && r.path.starts_with("/api/"))),
        "nothing written"
    );

    // This machine's clock an hour behind the org's: the assertion is expired.
    let s = sim(vec![client(jwk.clone(), false)], |cfg| {
        cfg.oauth_clock_offset_seconds = 3600
    });
    let out = run(dir.path(), &s, &pem, "k1", &[], &["plan"]);
    assert_refused(&out, dir.path(), &s, &pem, "clock");
    assert!(
        text(&out.stderr).contains("expired"),
        "{}",
        text(&out.stderr)
    );

    // DPoP required, and the proofs are refused (the clock again).
    let s = sim(vec![client(jwk, true)], |cfg| {
        cfg.oauth_clock_offset_seconds = -3600
    });
    let out = run(dir.path(), &s, &pem, "k1", &[], &["plan"]);
    assert_refused(&out, dir.path(), &s, &pem, "requires DPoP");
    assert!(
        text(&out.stderr).contains("invalid_dpop_proof"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_keys_and_insecure_urls_are_refused_before_any_request() {
    let (pem, jwk) = ec_key("k1");
    let s = sim(vec![client(jwk, false)], |_| {});
    let dir = project();
    let garbage =
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETnotakeyTOPSECRET\n-----END PRIVATE KEY-----\n";
    let out = run(dir.path(), &s, garbage, "k1", &[], &["plan"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error_lines(&out.stderr).len(), 1, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("hint:"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("TOPSECRET"));

    let out = run(
        dir.path(),
        &s,
        "/nonexistent/ouguard-key.pem",
        "k1",
        &[],
        &["plan"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        error_lines(&out.stderr)[0].contains("/nonexistent/ouguard-key.pem"),
        "{}",
        text(&out.stderr)
    );
    assert!(s.requests().is_empty(), "nothing was sent");

    let out = ouguard(dir.path())
        .env("OKTA_CLIENT_ORGURL", "http://acme.okta.example")
        .env("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey")
        .env("OKTA_CLIENT_CLIENTID", CLIENT_ID)
        .env("OKTA_CLIENT_PRIVATEKEY", &pem)
        .args(["plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out.stderr);
    assert_eq!(errors.len(), 1, "{}", text(&out.stderr));
    assert!(errors[0].contains("insecure"), "{errors:?}");
}
