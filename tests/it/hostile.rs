//! Hostile upstreams and inputs (issue 12): the real binary against misbehaving servers on
//! `127.0.0.1:0` written here (endless lists, decompression bombs, huge pages, echoed
//! secrets, absurd rate-limit resets, silence), and against hand-made bad files. Each run's
//! own peak RSS is read with `wait4`, so memory is measured, not timed; a watchdog kills a
//! run that would hang. The run is launched by a fresh copy of this test binary
//! ([`child_launcher`]): a child forked straight from this (large, busy) process would
//! inherit its high-water mark, which Linux keeps across `exec`.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ouguard::sim::{large_org, GeneratorParams, SimConfig, SimOrg};

use crate::support::{error_lines, ouguard_std, write};

/// The API token of every run here; it must never be seen again.
const TOKEN: &str = "00HOSTILEtoken_never_print_me_7f3a9c";

/// Peak RSS any run may reach.
const MAX_RSS_BYTES: u64 = 256 << 20;

/// A run that has not ended after this is killed (and the test fails): the acceptance bound.
const WATCHDOG: Duration = Duration::from_secs(60);

const RSA_FIXTURE: &str = include_str!("../fixtures/test-only-rsa-pkcs1.pem");

/// What a child run left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    peak_rss_bytes: u64,
}

impl Run {
    fn errors(&self) -> Vec<String> {
        error_lines(self.stderr.as_bytes())
    }

    fn assert_failed_with(&self, want: &str) {
        assert_eq!(self.code, 1, "exit 1 expected\n{}", self.describe());
        let errors = self.errors();
        assert_eq!(errors.len(), 1, "one `error:` line\n{}", self.describe());
        assert!(
            self.stderr.contains(want),
            "stderr should say `{want}`\n{}",
            self.describe()
        );
        self.assert_sane();
    }

    /// No panic, bounded memory, no secret.
    fn assert_sane(&self) {
        // Seen with `--nocapture`: the figures of the report.
        eprintln!("peak RSS {} MB", self.peak_rss_bytes >> 20);
        assert!(
            !self.stderr.contains("panicked"),
            "no panic\n{}",
            self.describe()
        );
        assert!(
            self.peak_rss_bytes < MAX_RSS_BYTES,
            "peak RSS {} MB\n{}",
            self.peak_rss_bytes >> 20,
            self.describe()
        );
        for text in [&self.stdout, &self.stderr] {
            assert!(
                !text.contains(TOKEN),
                "the token leaked\n{}",
                self.describe()
            );
        }
    }

    fn describe(&self) -> String {
        let cut = |t: &str| t.chars().take(4000).collect::<String>();
        format!(
            "exit {}, peak RSS {} MB\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.peak_rss_bytes >> 20,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// Runs the binary in `dir` against `org_url` with the test token.
fn run(dir: &Path, org_url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all_env = vec![
        ("OKTA_CLIENT_ORGURL", org_url),
        ("OKTA_CLIENT_TOKEN", TOKEN),
    ];
    all_env.extend_from_slice(env);
    run_measured(dir, args, &all_env)
}

/// Runs `ouguard ARGS` in `dir` with `env` through [`child_launcher`] and reads what it
/// left: exit code, stdout, stderr and the run's own peak RSS.
fn run_measured(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let report = dir.join(".measured");
    let _ = std::fs::remove_file(&report);
    let job = serde_json::json!({
        "dir": dir,
        "args": args,
        "env": env,
        "report": report,
    });
    let launcher = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "hostile::child_launcher",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(LAUNCH_JOB, job.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the launcher runs");
    let measured: serde_json::Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            panic!(
                "the launcher reported nothing: {}\n{}",
                String::from_utf8_lossy(&launcher.stdout),
                String::from_utf8_lossy(&launcher.stderr)
            )
        });
    assert!(
        !measured["killed"].as_bool().unwrap_or(true),
        "`ouguard {}` hung and was killed after {WATCHDOG:?}",
        args.join(" ")
    );
    let text = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Run {
        code: measured["code"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(-1),
        stdout: text(".stdout"),
        stderr: text(".stderr"),
        peak_rss_bytes: measured["peak_rss_bytes"].as_u64().unwrap_or(u64::MAX),
    }
}

/// The environment variable that hands [`child_launcher`] its job.
const LAUNCH_JOB: &str = "OUGUARD_TEST_LAUNCH_JOB";

/// Not a test: the launcher of [`run_measured`], run in a fresh copy of this binary. It
/// starts `ouguard` with the job's arguments and environment (stdout and stderr to files),
/// kills it after [`WATCHDOG`], reaps it with `wait4` and writes the exit code and the peak
/// RSS as JSON. Without a job it does nothing.
#[test]
#[ignore = "the launcher of `run_measured`, started by the tests themselves"]
fn child_launcher() {
    let Ok(job) = std::env::var(LAUNCH_JOB) else {
        return;
    };
    let job: serde_json::Value = serde_json::from_str(&job).expect("a job");
    let dir = Path::new(job["dir"].as_str().expect("dir"));
    let mut command = ouguard_std(dir);
    command.env_remove(LAUNCH_JOB);
    for arg in job["args"].as_array().expect("args") {
        command.arg(arg.as_str().expect("arg"));
    }
    for pair in job["env"].as_array().expect("env") {
        command.env(
            pair[0].as_str().expect("key"),
            pair[1].as_str().expect("value"),
        );
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join(".stdout")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join(".stderr")).expect("stderr file"));
    let (code, peak_rss_bytes, killed) = wait_measured(command);
    let report = serde_json::json!({
        "code": code,
        "peak_rss_bytes": peak_rss_bytes,
        "killed": killed,
    });
    std::fs::write(job["report"].as_str().expect("report"), report.to_string())
        .expect("write the report");
}

/// Spawns `command`, kills it after [`WATCHDOG`], reaps it: (exit code, peak RSS, killed).
fn wait_measured(mut command: std::process::Command) -> (i32, u64, bool) {
    let child = command.spawn().expect("ouguard starts");
    let pid = i32::try_from(child.id()).expect("pid");
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let step = Duration::from_millis(100);
            let mut waited = Duration::ZERO;
            while waited < WATCHDOG {
                if done.load(Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(step);
                waited += step;
            }
            // SAFETY: `pid` is our own child, not yet reaped (`done` is unset).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value; `wait4` fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; the pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, Ordering::SeqCst);
    assert_eq!(reaped, pid, "wait4");
    let killed = watchdog.join().expect("watchdog");
    // Reaped by `wait4` already: `Child` must not wait for it again.
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports kilobytes.
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    (code, peak, killed)
}

/// A scripted server on `127.0.0.1:0`, on its own runtime thread, counting requests.
struct Hostile {
    url: String,
    requests: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct Shared {
    requests: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    /// Serves `answer(request number from 1, request)` for every request.
    fn start<F, Fut>(answer: F) -> Hostile
    where
        F: Fn(u64, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Response> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let shared = Shared {
            requests: Arc::new(AtomicU64::new(0)),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = shared.clone();
        let app = Router::new()
            .fallback(move |State(shared): State<Shared>, request: Request| {
                let answer = answer.clone();
                async move {
                    let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Ok(mut seen) = shared.seen.lock() {
                        seen.push(format!("{} {}", request.method(), request.uri()));
                    }
                    answer(n, request).await
                }
            })
            .with_state(state);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hostile {
            url,
            requests: shared.requests,
            seen: shared.seen,
            _runtime: runtime,
        }
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests so far whose path (without the query) is `path`.
    fn requests_to(&self, path: &str) -> usize {
        self.seen
            .lock()
            .map(|seen| {
                seen.iter()
                    .filter(|r| r.split(' ').nth(1).and_then(|u| u.split('?').next()) == Some(path))
                    .count()
            })
            .unwrap_or(0)
    }
}

fn json(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// A body of `start`, then `total` bytes of `unit` repeated (sent 256 KiB at a time), then
/// `end`.
fn streamed(start: &'static str, unit: &'static str, total: usize, end: &'static str) -> Body {
    const CHUNK: usize = 256 << 10;
    let chunk = axum::body::Bytes::from(unit.repeat(CHUNK / unit.len()));
    let parts = std::iter::once(axum::body::Bytes::from_static(start.as_bytes()))
        .chain(std::iter::repeat_n(chunk.clone(), total / chunk.len()))
        .chain(std::iter::once(axum::body::Bytes::from_static(
            end.as_bytes(),
        )))
        .map(Ok::<_, std::io::Error>);
    Body::from_stream(futures_util::stream::iter(parts))
}

fn project() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

// --- the table of issue 12, one test per row -------------------------------------------

#[test]
fn a_list_of_empty_pages_that_link_on_forever_is_refused() {
    let server = Hostile::start(|n, _request| async move {
        let mut response = json(StatusCode::OK, "[]");
        let link = format!("</api/v1/apps?after={n}&limit=200>; rel=\"next\"");
        response
            .headers_mut()
            .insert("link", link.parse().expect("link"));
        response
    });
    let dir = project();
    for command in ["plan", "export"] {
        let before = server.requests_to("/api/v1/apps");
        let out = run(dir.path(), &server.url, &[command], &[]);
        out.assert_failed_with("the list `GET /api/v1/apps` goes on without end");
        assert!(
            out.stderr.contains("2 empty pages in a row"),
            "{}",
            out.describe()
        );
        assert!(out.stderr.contains("after 2 pages"), "{}", out.describe());
        // The first page, the second, and at most the third already on its way.
        let pages = server.requests_to("/api/v1/apps") - before;
        assert!((2..=3).contains(&pages), "{pages} pages requested");
    }
}

#[test]
fn a_gzip_bomb_is_refused_past_the_limit_in_bounded_memory() {
    // 512 MiB of spaces, then `[]`: about half a megabyte compressed.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..512 {
        encoder.write_all(&spaces).expect("compress");
    }
    encoder.write_all(b"[]").expect("compress");
    let bomb = Arc::new(encoder.finish().expect("compress"));
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let server = Hostile::start(move |_, _| {
        let bomb = Arc::clone(&bomb);
        async move {
            (
                StatusCode::OK,
                [
                    (axum::http::header::CONTENT_TYPE, "application/json"),
                    (axum::http::header::CONTENT_ENCODING, "gzip"),
                ],
                bomb.as_ref().clone(),
            )
                .into_response()
        }
    });
    let dir = project();
    let out = run(dir.path(), &server.url, &["plan"], &[]);
    out.assert_failed_with("the answer to `GET /api/v1/apps` is larger than 64 MiB; refused");
    assert_eq!(server.requests_to("/api/v1/apps"), 1, "not retried");
}

#[test]
fn a_huge_page_or_a_huge_string_is_refused_in_bounded_memory() {
    // A 500 MB JSON array as one page, sent as fast as it is read.
    let array = Hostile::start(|_, _| async {
        let mut response = streamed("[", "1,", 500 << 20, "1]").into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            "application/json".parse().expect("type"),
        );
        response
    });
    let dir = project();
    let out = run(dir.path(), &array.url, &["plan"], &[]);
    out.assert_failed_with("is larger than 64 MiB; refused");

    // A 2 GB string where a page should be.
    let string =
        Hostile::start(|_, _| async { streamed("\"", "a", 2 << 30, "\"").into_response() });
    let out = run(dir.path(), &string.url, &["plan"], &[]);
    out.assert_failed_with("is larger than 64 MiB; refused");

    // A 40 MB string under the limit, as the page: refused as not a list, unquoted.
    let under =
        Hostile::start(|_, _| async { streamed("\"", "a", 40 << 20, "\"").into_response() });
    let out = run(dir.path(), &under.url, &["plan"], &[]);
    out.assert_failed_with("a list page must be a JSON array, found a JSON string");
    assert!(
        out.stderr.len() < 2_000,
        "{} bytes of stderr",
        out.stderr.len()
    );

    // …and as an item of the page: the parser's message quotes a few hundred characters.
    let item =
        Hostile::start(|_, _| async { streamed("[\"", "a", 40 << 20, "\"]").into_response() });
    let out = run(dir.path(), &item.url, &["plan"], &[]);
    out.assert_failed_with("unexpected response from okta for `GET /api/v1/apps`");
    assert!(
        out.stderr.len() < 2_000,
        "{} bytes of stderr",
        out.stderr.len()
    );
    assert!(out.stderr.contains("bytes in all"), "{}", out.describe());
}

/// Echoes the request's credentials back everywhere an error can carry text.
fn echoing_401(request: &Request) -> Response {
    let headers: &HeaderMap = request.headers();
    let echo = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let authorization = echo("authorization");
    let dpop = echo("dpop");
    let body = serde_json::json!({
        "errorCode": format!("E0000011 {authorization}"),
        "errorSummary": format!("Invalid token provided: {authorization} (proof {dpop})"),
        "errorId": authorization,
        "errorCauses": [
            {"errorSummary": format!("header was {authorization}")},
            {"errorSummary": format!("proof was {dpop}")},
        ],
    });
    let mut response = json(StatusCode::UNAUTHORIZED, body.to_string());
    if let Ok(value) = format!("{authorization}-{dpop}").parse() {
        response.headers_mut().insert("x-okta-request-id", value);
    }
    response
}

#[test]
fn an_error_echoing_the_api_token_prints_no_token_even_at_vv() {
    let server = Hostile::start(|_, request| async move { echoing_401(&request) });
    let dir = project();
    for args in [&["plan"][..], &["-vv", "plan"][..], &["export"][..]] {
        let out = run(dir.path(), &server.url, args, &[]);
        out.assert_failed_with("okta returned 401");
        assert!(out.stderr.contains("[redacted]"), "{}", out.describe());
    }
}

#[test]
fn an_oauth_server_echoing_every_secret_gets_none_of_them_printed() {
    // The token endpoint asks for DPoP once, echoing the client assertion it was sent; then
    // it issues a DPoP token; the API echoes the access token and the proof, and a cause
    // quotes a line of the private key (as if a proxy had logged it).
    let assertions = Arc::new(Mutex::new(Vec::<String>::new()));
    let key_line = RSA_FIXTURE.lines().nth(3).expect("a key line").to_string();
    let access_token = "eyJraWQiOiJob3N0aWxlIn0.eyJzdWIiOiIwb2Fob3N0aWxlIn0.hostileACCESStokenSIGNATURE_0123456789abcdef";
    let issued = access_token.to_string();
    let seen = Arc::clone(&assertions);
    let server = Hostile::start(move |_, request| {
        let seen = Arc::clone(&seen);
        let key_line = key_line.clone();
        let issued = issued.clone();
        async move {
            let path = request.uri().path().to_string();
            let has_dpop = request.headers().contains_key("dpop");
            if path == "/oauth2/v1/token" {
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let form = String::from_utf8_lossy(&body).to_string();
                let assertion = form
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("client_assertion="))
                    .unwrap_or_default()
                    .to_string();
                if let Ok(mut seen) = seen.lock() {
                    seen.push(assertion.clone());
                }
                if !has_dpop {
                    let refusal = serde_json::json!({
                        "error": "invalid_dpop_proof",
                        "error_description": format!("DPoP proof required; you sent {assertion}"),
                    });
                    return json(StatusCode::BAD_REQUEST, refusal.to_string());
                }
                let token = serde_json::json!({
                    "access_token": issued,
                    "token_type": "DPoP",
                    "expires_in": 3600,
                    "scope": "okta.apps.read okta.profileMappings.read okta.userTypes.read",
                });
                return json(StatusCode::OK, token.to_string());
            }
            let mut response = echoing_401(&request);
            let body = serde_json::json!({
                "errorCode": "E0000011",
                "errorSummary": format!("Invalid token: {}", request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default()),
                "errorCauses": [
                    {"errorSummary": format!("proof {}", request.headers().get("dpop").and_then(|v| v.to_str().ok()).unwrap_or_default())},
                    {"errorSummary": format!("your key {key_line}")},
                ],
            });
            *response.body_mut() = Body::from(body.to_string());
            response
        }
    });
    let dir = project();
    let key_path = write(dir.path(), "key.pem", RSA_FIXTURE);
    let key = key_path.display().to_string();
    let env = [
        ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"),
        ("OKTA_CLIENT_CLIENTID", "0oahostile"),
        ("OKTA_CLIENT_KID", "hostile"),
        ("OKTA_CLIENT_PRIVATEKEY", key.as_str()),
    ];
    for args in [&["plan"][..], &["-vv", "plan"][..]] {
        let out = run(dir.path(), &server.url, args, &env);
        out.assert_failed_with("okta returned 401");
        let sent = assertions.lock().expect("assertions").clone();
        assert!(!sent.is_empty());
        let mut secrets: Vec<String> = sent;
        secrets.push(access_token.to_string());
        secrets.extend(
            RSA_FIXTURE
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
        for secret in &secrets {
            for text in [&out.stdout, &out.stderr] {
                assert!(
                    !text.contains(secret.as_str()),
                    "`{}…` leaked\n{}",
                    &secret[..20.min(secret.len())],
                    out.describe()
                );
            }
        }
        assert!(out.stderr.contains("[redacted]"), "{}", out.describe());
    }
}

#[test]
fn a_reset_a_day_ahead_is_an_error_with_a_hint_not_a_silent_sleep() {
    let server = Hostile::start(|_, _| async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut response = json(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
        );
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", "600".parse().expect("hv"));
        headers.insert("x-rate-limit-remaining", "0".parse().expect("hv"));
        headers.insert(
            "x-rate-limit-reset",
            (now + 86_400).to_string().parse().expect("hv"),
        );
        response
    });
    let dir = project();
    let out = run(dir.path(), &server.url, &["plan"], &[]);
    out.assert_failed_with("the rate-limit window of `/api/v1/apps` resets in");
    assert!(
        out.stderr.contains("more than 300 s ahead"),
        "{}",
        out.describe()
    );
    assert!(out.stderr.contains("hint: "), "{}", out.describe());
    assert_eq!(
        server.requests_to("/api/v1/apps"),
        1,
        "no resend into a window a day away"
    );
}

#[test]
fn a_wait_for_the_window_is_announced_without_v_and_then_the_run_succeeds() {
    let limited = Arc::new(AtomicBool::new(false));
    let server = Hostile::start(move |_, request| {
        let limited = Arc::clone(&limited);
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            if request.uri().path() == "/api/v1/apps" && !limited.swap(true, Ordering::SeqCst) {
                let mut response = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
                );
                let headers = response.headers_mut();
                headers.insert("x-rate-limit-limit", "600".parse().expect("hv"));
                headers.insert("x-rate-limit-remaining", "0".parse().expect("hv"));
                headers.insert(
                    "x-rate-limit-reset",
                    (now + 3).to_string().parse().expect("hv"),
                );
                return response;
            }
            json(StatusCode::OK, "[]")
        }
    });
    let dir = project();
    let out = run(dir.path(), &server.url, &["plan"], &[]);
    assert_eq!(out.code, 0, "{}", out.describe());
    assert!(
        out.stderr
            .contains("okta is rate limiting `/api/v1/apps`: waiting"),
        "{}",
        out.describe()
    );
    assert!(out.stderr.contains("(resets "), "{}", out.describe());
    out.assert_sane();
    // The 429, its resend, the user types.
    assert_eq!(
        server.requests(),
        3,
        "{:?}",
        server.seen.lock().expect("seen")
    );
}

#[test]
fn a_server_that_never_answers_is_said_retried_once_and_given_up() {
    let server = Hostile::start(|_, _| async {
        std::future::pending::<()>().await;
        json(StatusCode::OK, "[]")
    });
    let dir = project();
    let out = run(
        dir.path(),
        &server.url,
        &["plan"],
        &[("OKTA_CLIENT_REQUESTTIMEOUT", "4")],
    );
    out.assert_failed_with("okta did not answer `GET /api/v1/apps` in time");
    assert!(
        out.stderr
            .contains("waiting for okta to answer `GET /api/v1/apps` (no answer for 3 s"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(
            "no answer from okta for `GET /api/v1/apps` in 4 s: trying again (attempt 2 of 2)"
        ),
        "{}",
        out.describe()
    );
    assert_eq!(
        server.requests_to("/api/v1/apps"),
        2,
        "the first try and one more"
    );
    // A bad timeout setting is one clear error.
    let out = run(
        dir.path(),
        &server.url,
        &["plan"],
        &[("OKTA_CLIENT_REQUESTTIMEOUT", "soon")],
    );
    out.assert_failed_with("`OKTA_CLIENT_REQUESTTIMEOUT` is `soon`");
}

#[test]
fn a_dn_of_40k_rdns_renders_as_text_and_json() {
    use ouguard::fixtures::{assignment, directory, org};
    let deep = format!("{}DC=corp,DC=example,DC=com", "OU=x,".repeat(40_000));
    let mut corp = directory("corp.example.com", None);
    corp.assignments = vec![assignment("00g1", "Deep", Some(&deep))];
    let state = org(vec![corp]);
    let dir = project();
    write(dir.path(), "snapshot.json", &state.to_json());
    write(
        dir.path(),
        "ouguard.toml",
        "[directory.\"corp.example.com\"]\nimport_ous = [\"OU=Staff,DC=corp,DC=example,DC=com\"]\n\n[[retarget]]\ndirectory = \"corp.example.com\"\ngroup = \"Deep\"\nto = \"OU=Staff,DC=corp,DC=example,DC=com\"\n\n[plan]\nstrategy = \"retarget\"\n",
    );
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec![
            "plan",
            "--from-snapshot",
            "snapshot.json",
            "--out",
            "p.json",
        ];
        args.extend_from_slice(extra);
        let out = run(dir.path(), "http://127.0.0.1:9", &args, &[]);
        assert_eq!(out.code, 0, "{}", out.describe());
        out.assert_sane();
        if extra.is_empty() {
            // Every RDN of the old OU is listed once, removed.
            assert_eq!(out.stdout.matches("- OU=x,").count(), 40_000);
            assert!(out.stdout.contains("+ OU=Staff,"), "{}", out.describe());
        }
    }
    let out = run(dir.path(), "http://127.0.0.1:9", &["show", "p.json"], &[]);
    assert_eq!(out.code, 0, "{}", out.describe());
    assert_eq!(out.stdout.matches("- OU=x,").count(), 40_000);
}

#[test]
fn import_ous_never_writes_a_config_ouguard_refuses() {
    let dir = project();
    let config = dir.path().join("ouguard.toml");
    let cases = [
        (
            "OU,type\n\"OU=Staff,DC=corp,DC=example,DC=com.x\",user\n",
            "line 2: `OU=Staff,DC=corp,DC=example,DC=com.x` does not name its domain",
        ),
        (
            "OU,type\n\"OU=A,DC=corp,DC=com\",user\n\"OU=Staff,DC=corp,DC=example,DC=com\"junk,user\n",
            "line 3: text `junk` after a field's closing quote",
        ),
    ];
    for (csv, want) in cases {
        write(dir.path(), "ous.csv", csv);
        let out = run(
            dir.path(),
            "http://127.0.0.1:9",
            &["import-ous", "--from-csv", "ous.csv"],
            &[],
        );
        out.assert_failed_with(want);
        assert!(
            out.stderr.contains("nothing was written"),
            "{}",
            out.describe()
        );
        assert!(!config.exists(), "no config was written");
    }
    // A good file is written, and loads.
    write(
        dir.path(),
        "ous.csv",
        "OU,type\n\"OU=Staff,DC=corp,DC=example,DC=com\",user\n",
    );
    let out = run(
        dir.path(),
        "http://127.0.0.1:9",
        &["import-ous", "--from-csv", "ous.csv"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.describe());
    let text = std::fs::read_to_string(&config).expect("written");
    ouguard::config::Config::parse(&text, &config).expect("the written config loads");
}

#[test]
fn a_snapshot_must_be_a_snapshot() {
    let dir = project();
    for (text, want) in [
        ("{}", "it has no `format_version`"),
        ("[]", "a snapshot is a JSON object"),
        (
            "{\"format_version\": \"1\", \"org_url\": \"https://acme.okta.com\"}",
            "it has no `directories`",
        ),
        (
            "{\"format_version\": \"1\", \"directories\": []}",
            "it has no `org_url`",
        ),
    ] {
        write(dir.path(), "s.json", text);
        let out = run(
            dir.path(),
            "http://127.0.0.1:9",
            &["plan", "--from-snapshot", "s.json"],
            &[],
        );
        out.assert_failed_with(want);
        assert!(!out.stdout.contains("No changes"), "{}", out.describe());
    }
}

// --- the rate share, counted at the simulator ---------------------------------------------

/// Requests of each window, per endpoint family, as the simulator saw them: a window starts
/// with the first request after the previous one ended.
fn requests_per_window(
    requests: &[ouguard::sim::RecordedRequest],
    window: Duration,
) -> Vec<(String, usize)> {
    let mut by_family: std::collections::BTreeMap<
        String,
        Vec<chrono::DateTime<chrono::FixedOffset>>,
    > = std::collections::BTreeMap::new();
    for request in requests {
        let family = ouguard::sim::EndpointFamily::of_path(request.path_only())
            .map_or_else(|| "other".to_string(), |f| format!("{f:?}"));
        let at = chrono::DateTime::parse_from_rfc3339(&request.timestamp).expect("timestamp");
        by_family.entry(family).or_default().push(at);
    }
    let window = chrono::Duration::from_std(window).expect("window");
    let mut counts = Vec::new();
    for (family, mut times) in by_family {
        times.sort();
        let mut start = None;
        let mut count = 0;
        for at in times {
            match start {
                Some(s) if at < s + window => count += 1,
                _ => {
                    if start.is_some() {
                        counts.push((family.clone(), count));
                    }
                    start = Some(at);
                    count = 1;
                }
            }
        }
        counts.push((family, count));
    }
    counts
}

#[test]
fn max_api_share_caps_the_requests_of_each_window_at_the_simulator() {
    // 30 pages of group assignments on one family, 20 requests per 2 s window.
    let state = large_org(GeneratorParams {
        directories: 3,
        groups: 6_000,
        import_ous: 2,
        user_types: 1,
        skew: 0.34,
        seed: 12,
    });
    let window = Duration::from_secs(2);
    let dir = project();
    let plan = |share: &str| {
        // A fresh org each time: its windows start with this run's first request.
        let sim = SimOrg::start_blocking(SimConfig {
            seed: state.clone(),
            rate_limit_per_minute: 20,
            rate_limit_window: window,
            ..SimConfig::default()
        })
        .expect("sim starts");
        let url = sim.url();
        let out = run_measured(
            dir.path(),
            &["plan", "--max-api-share", share],
            &[
                ("OKTA_CLIENT_ORGURL", &url),
                ("OKTA_CLIENT_TOKEN", sim.token()),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.describe());
        let requests = sim.requests();
        assert!(
            requests.iter().all(|r| r.status == Some(200)),
            "no 429: {:?}",
            requests
                .iter()
                .filter(|r| r.status != Some(200))
                .collect::<Vec<_>>()
        );
        (requests_per_window(&requests, window), out)
    };
    let (at_half, out) = plan("50");
    let most = at_half.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(most <= 10, "at most half of 20 per window: {at_half:?}");
    assert!(
        at_half.iter().filter(|(f, _)| f == "AppGroups").count() >= 3,
        "30 assignment pages at 10 a window need 3 windows: {at_half:?}"
    );
    assert!(
        !out.stderr.contains("waiting") || out.stderr.contains("ouguard uses at most 50%"),
        "{}",
        out.describe()
    );
    // The same run at 100% spends more than half of a window: the share is what held it.
    let (at_full, _) = plan("100");
    let most = at_full.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(most > 10 && most <= 20, "{at_full:?}");
    // The flag is checked.
    let out = ouguard_std(dir.path())
        .args(["plan", "--max-api-share", "0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "clap refuses it");
}
