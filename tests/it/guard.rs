//! `ouguard guard` end to end: the real binary against the simulated org, which delivers
//! Event Hooks like Okta (batched, sometimes twice). Register → verified; an admin's bad
//! assignment → one alert with its event, and a saved plan `apply` takes; duplicates → one
//! alert; a wrong secret → 401 and nothing judged; killed mid-stream and restarted → no
//! event lost or judged twice; a `dn` mapping → alerted by the poll; `--from-logs` catches
//! the same. Waits are bounded and generous; assertions are on content and counts, never
//! on time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ouguard::sim::seed::DEMO_CONFIG;
use ouguard::sim::{BlockingSimOrg, SimConfig, SimOrg};
use serde_json::{json, Value};

use crate::support::{ouguard, ouguard_std};

const SECRET: &str = "test-secret-0123456789abcdef";
/// The longest any wait may take before the test fails (a hang, not a slow machine).
const WAIT: Duration = Duration::from_secs(60);
const BAD_OU: &str = "OU=Nowhere,DC=corp,DC=example,DC=com";

/// The demo config, plus a pinned destination for the group the tests assign badly, so the
/// saved plan is an API retarget that `apply` performs.
fn config() -> String {
    format!(
        "{DEMO_CONFIG}\n[[retarget]]\ndirectory = \"corp.example.com\"\ngroup = \"New Team\"\nto = \"OU=Staff,DC=corp,DC=example,DC=com\"\n"
    )
}

struct Guard {
    child: Child,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    addr: Option<String>,
}

impl Guard {
    fn start(sim: &BlockingSimOrg, dir: &Path, extra: &[&str]) -> Guard {
        let mut command = ouguard_std(dir);
        command
            .env("OKTA_CLIENT_ORGURL", sim.url())
            .env("OKTA_CLIENT_TOKEN", sim.token())
            .env("OUGUARD_GUARD_SECRET", SECRET)
            .args(["guard", "--listen", "127.0.0.1:0", "--plan-dir", "plans"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the guard starts");
        let (tx, stdout) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = channel();
        let err = child.stderr.take().expect("stderr");
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.starts_with("guard: listening on http://")
                    || line.starts_with("guard: polling the System Log")
                    || line.starts_with("error:")
                {
                    let _ = ready_tx.send(line.clone());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let ready = ready_rx
            .recv_timeout(WAIT)
            .expect("the guard says it is ready");
        assert!(!ready.starts_with("error:"), "{ready}");
        let addr = ready
            .strip_prefix("guard: listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string);
        Guard {
            child,
            stdout,
            stderr,
            addr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/okta", self.addr.as_deref().expect("listening"))
    }

    /// The next stdout alert, parsed (fails after `WAIT`).
    fn next_alert(&self) -> Value {
        let line = self
            .stdout
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no alert; stderr: {:#?}", self.stderr.lock().unwrap()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"))
    }

    /// Every alert already printed, without waiting.
    fn drain(&self) -> Vec<Value> {
        self.stdout
            .try_iter()
            .map(|l| serde_json::from_str(&l).expect("JSON line"))
            .collect()
    }

    /// SIGTERM, then the exit status and the stderr lines.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>, Vec<Value>) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                started.elapsed() < WAIT,
                "the guard did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers finish once the pipes close.
        std::thread::sleep(Duration::from_millis(100));
        let rest = self.drain();
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr, rest)
    }
}

/// A loopback stand-in for a Slack incoming webhook: each POSTed JSON body, answered 200.
fn notify_receiver() -> (String, Receiver<Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = stream.read(&mut buf) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break Some(data[end + 4..end + 4 + length].to_vec());
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            if let Some(body) = body {
                if let Ok(v) = serde_json::from_slice(&body) {
                    let _ = tx.send(v);
                }
            }
        }
    });
    (url, rx)
}

fn post(url: &str, auth: &str, body: &Value) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("Authorization", auth)
            .json(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

fn delivery(events: &[Value]) -> Value {
    json!({"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "data": {"events": events}})
}

/// The org's System Log events of assignment changes (what Okta would deliver).
fn logged_assignment_events(sim: &BlockingSimOrg) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/logs?limit=1000", sim.url()))
            .header("Authorization", format!("SSWS {}", sim.token()))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e["eventType"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("group.application_assignment"))
            })
            .collect()
    })
}

#[test]
fn guard_register_alert_plan_apply_duplicates_and_wrong_secret() {
    let sim = SimOrg::start_blocking(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ouguard.toml"), config()).unwrap();
    let (notify_url, notified) = notify_receiver();
    let guard = Guard::start(
        &sim,
        dir.path(),
        &["-v", "--poll-mappings", "1s", "--notify-url", &notify_url],
    );

    // Register: created, and verified by the org calling the guard.
    let out = ouguard(dir.path())
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .env("OUGUARD_GUARD_SECRET", SECRET)
        .args(["guard", "register", "--url", &guard.url()])
        .timeout(WAIT)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ACTIVE, VERIFIED"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET));
    let hooks = sim.event_hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].2.as_str(), hooks[0].3.as_str()),
        ("ACTIVE", "VERIFIED")
    );

    // Every delivery now comes twice.
    sim.set_event_hook_duplicates(1);
    // A wrong secret is refused before anything is read or judged.
    let bogus = json!({"uuid": "bogus-1", "published": "2026-01-01T00:00:00.000Z",
        "eventType": "group.application_assignment.add",
        "target": [{"id": "00gnope", "type": "UserGroup"}, {"id": "0oanope", "type": "AppInstance"}]});
    assert_eq!(
        post(
            &guard.url(),
            "not-the-secret-7f3a",
            &delivery(std::slice::from_ref(&bogus))
        ),
        401
    );
    assert_eq!(post(&guard.url(), "", &delivery(&[bogus])), 401);

    // An admin assigns a group to an OU no import OU covers.
    let group_id = sim
        .console_assign("corp.example.com", "New Team", Some(BAD_OU))
        .unwrap();
    let alert = guard.next_alert();
    let finding = format!("R1:corp.example.com:{group_id}");
    assert_eq!(alert["alert"], "new-finding", "{alert}");
    assert_eq!(alert["finding"], finding.as_str());
    assert_eq!(alert["rule"], "group-ou-not-imported");
    assert_eq!(alert["group"]["name"], "New Team");
    assert_eq!(alert["ou"], BAD_OU);
    assert_eq!(alert["source"], "event");
    assert_eq!(
        alert["event"]["eventType"],
        "group.application_assignment.add"
    );
    assert_eq!(alert["actor"]["alternateId"], "admin@example.com");
    let logged = logged_assignment_events(&sim);
    assert_eq!(alert["event"]["uuid"], logged.last().unwrap()["uuid"]);

    // The delivery came twice (both answered 204).
    let started = Instant::now();
    loop {
        let attempts = sim.event_hook_deliveries();
        let copies: Vec<_> = attempts
            .iter()
            .filter(|a| a.event_uuids.iter().any(|u| *u == alert["event"]["uuid"]))
            .collect();
        if copies.len() >= 2 {
            assert!(copies.iter().all(|a| a.status == Some(204)), "{copies:?}");
            assert!(copies.iter().any(|a| a.duplicate));
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "no duplicate delivery: {attempts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The webhook got the same alert as text.
    let text = notified
        .recv_timeout(WAIT)
        .expect("the notify url was called");
    assert!(text["text"].as_str().unwrap().contains(&finding), "{text}");

    // The saved plan is the one `plan --target` makes, and `apply` applies it.
    let plan_path = alert["plan"]
        .as_str()
        .expect("a plan was saved")
        .to_string();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(&plan_path)).unwrap())
            .unwrap();
    let planned = ouguard(dir.path())
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .args(["plan", "--json", "--target", &finding])
        .timeout(WAIT)
        .output()
        .unwrap();
    let planned: Value = serde_json::from_slice(&planned.stdout).unwrap();
    let strip = |mut v: Value| {
        let obj = v.as_object_mut().unwrap();
        obj.remove("created_at");
        obj.remove("checksum");
        v
    };
    assert_eq!(strip(saved.clone()), strip(planned));
    assert_eq!(saved["resource_changes"][0]["kind"], "group_target_ou");
    let applied = ouguard(dir.path())
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .args(["apply", &plan_path])
        .timeout(WAIT)
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    // The retarget is an assignment change too: the guard reports the fix.
    let fixed = guard.next_alert();
    assert_eq!(fixed["alert"], "fixed", "{fixed}");
    assert_eq!(fixed["finding"], finding.as_str());
    assert_eq!(
        fixed["event"]["eventType"],
        "group.application_assignment.update"
    );

    // A provisioning failure on the directory is reported with the findings it may belong to.
    let corp_app = sim
        .state()
        .directory("corp.example.com")
        .unwrap()
        .app_id
        .clone();
    let failure = json!({"uuid": "prov-1", "published": "2026-12-01T00:00:00.000Z",
        "eventType": "application.provision.user.sync",
        "outcome": {"result": "FAILURE", "reason": "Error provisioning AD user: Target OU is not an import OU"},
        "target": [{"id": "00uintern", "type": "User", "alternateId": "intern@example.com", "displayName": "Intern"},
                   {"id": corp_app, "type": "AppInstance", "alternateId": "corp.example.com", "displayName": "corp"}]});
    assert_eq!(
        post(
            &guard.url(),
            SECRET,
            &delivery(std::slice::from_ref(&failure))
        ),
        204
    );
    assert_eq!(post(&guard.url(), SECRET, &delivery(&[failure])), 204);
    let impact = guard.next_alert();
    assert_eq!(impact["alert"], "provisioning-failure", "{impact}");
    assert_eq!(impact["user"]["alternateId"], "intern@example.com");
    assert_eq!(impact["directory"], "corp.example.com");
    assert!(impact["reason"].as_str().unwrap().contains("import OU"));
    assert!(!impact["findings"].as_array().unwrap().is_empty());

    // A `dn` mapping cannot be hooked: the poll finds it.
    let state = sim.state();
    let corp = state.directory("corp.example.com").unwrap();
    let mapping = corp.mappings[0].id.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/mappings/{mapping}", sim.url()))
            .header("Authorization", format!("SSWS {}", sim.token()))
            .json(&json!({"properties": {"dn": {"expression": "user.dn", "pushStatus": "PUSH"}}}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let dn = guard.next_alert();
    assert_eq!(dn["alert"], "new-finding", "{dn}");
    assert_eq!(
        dn["finding"],
        format!("R2:corp.example.com:{mapping}:dn").as_str()
    );
    assert_eq!(dn["source"], "poll");
    assert!(dn["plan"].is_string());

    let (status, stderr, rest) = guard.stop();
    assert!(status.success(), "{stderr:#?}");
    // Nothing else was alerted: not the duplicate, not the refused delivery.
    assert!(rest.is_empty(), "{rest:#?}");
    let summary = stderr
        .iter()
        .find(|l| l.starts_with("guard: stopped:"))
        .unwrap();
    assert!(summary.contains("2 unauthorized"), "{summary}");
    assert!(
        summary.contains("duplicates dropped") && !summary.contains(" 0 duplicates"),
        "{summary}"
    );
    let journal = std::fs::read_to_string(dir.path().join(".ouguard/guard/journal.jsonl")).unwrap();
    assert!(!journal.contains("bogus-1"));
    assert!(stderr.iter().all(|l| !l.contains(SECRET)));
    // `-v` logged each delivery, the refused ones too, without a header value.
    assert!(
        stderr.iter().any(|l| l.contains("delivery accepted: 204")),
        "{stderr:#?}"
    );
    assert!(stderr.iter().any(|l| l.contains("delivery refused: 401")));
    assert!(stderr
        .iter()
        .all(|l| !l.contains("not-the-secret-7f3a") && !l.contains("Authorization: ")));
}

#[test]
fn guard_killed_mid_stream_loses_and_repeats_nothing() {
    let sim = SimOrg::start_blocking(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ouguard.toml"), DEMO_CONFIG).unwrap();
    let first = Guard::start(&sim, dir.path(), &[]);
    // The test plays Okta: the org records 30 bad assignments; their events are delivered by
    // hand, in batches of 3, each batch twice.
    let groups: Vec<String> = (0..30)
        .map(|i| {
            sim.console_assign("corp.example.com", &format!("Team {i}"), Some(BAD_OU))
                .unwrap()
        })
        .collect();
    let events = logged_assignment_events(&sim);
    assert_eq!(events.len(), 30);
    let batches: Vec<Value> = events.chunks(3).map(delivery).collect();
    let url = first.url();
    for batch in &batches[..5] {
        assert_eq!(post(&url, SECRET, batch), 204);
        assert_eq!(post(&url, SECRET, batch), 204);
    }
    let mut alerted: Vec<String> = Vec::new();
    // Wait for one alert, then kill it without warning, mid-stream.
    alerted.push(first.next_alert()["finding"].as_str().unwrap().to_string());
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    alerted.extend(
        first
            .drain()
            .iter()
            .map(|a| a["finding"].as_str().unwrap().to_string()),
    );

    // Restarted: what was accepted but not judged is judged; Okta's retries and the rest
    // arrive (everything again, as at-least-once allows).
    let second = Guard::start(&sim, dir.path(), &[]);
    let url = second.url();
    for batch in &batches {
        assert_eq!(post(&url, SECRET, batch), 204);
    }
    while alerted.len() < 30 {
        let alert = second.next_alert();
        assert_eq!(alert["alert"], "new-finding", "{alert}");
        alerted.push(alert["finding"].as_str().unwrap().to_string());
    }
    let (status, stderr, rest) = second.stop();
    assert!(status.success(), "{stderr:#?}");
    alerted.extend(
        rest.iter()
            .map(|a| a["finding"].as_str().unwrap().to_string()),
    );
    let mut expected: Vec<String> = groups
        .iter()
        .map(|g| format!("R1:corp.example.com:{g}"))
        .collect();
    expected.sort();
    let mut got = alerted.clone();
    got.sort();
    assert_eq!(
        got, expected,
        "each finding alerted exactly once: {alerted:#?}"
    );
    // Every event was journaled once and judged.
    let journal = std::fs::read_to_string(dir.path().join(".ouguard/guard/journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 30);
    let checkpoint: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".ouguard/guard/checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(checkpoint["processed"], 30);
}

#[test]
fn guard_from_logs_catches_the_same_changes() {
    let sim = SimOrg::start_blocking(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ouguard.toml"), DEMO_CONFIG).unwrap();
    let guard = Guard::start(
        &sim,
        dir.path(),
        &["--from-logs", "--log-interval", "100ms"],
    );
    let group_id = sim
        .console_assign("corp.example.com", "Late Team", Some(BAD_OU))
        .unwrap();
    let alert = guard.next_alert();
    assert_eq!(
        alert["finding"],
        format!("R1:corp.example.com:{group_id}").as_str()
    );
    assert_eq!(alert["source"], "event");
    assert_eq!(
        alert["event"]["eventType"],
        "group.application_assignment.add"
    );
    let (status, stderr, rest) = guard.stop();
    assert!(status.success(), "{stderr:#?}");
    assert!(rest.is_empty(), "{rest:#?}");
    // The polling position is saved, on the org.
    let checkpoint: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".ouguard/guard/checkpoint.json")).unwrap(),
    )
    .unwrap();
    let next = checkpoint["log_next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/api/v1/logs?", sim.url())),
        "{next}"
    );
    // Polled with the documented query: no `until`, ascending.
    let logs: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/logs"))
        .collect();
    assert!(logs
        .iter()
        .all(|r| !r.path.contains("until=") && r.path.contains("sortOrder=ASCENDING")));
}

#[test]
fn guard_refuses_bad_setups_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], secret: Option<&str>| {
        let mut command = ouguard(dir.path());
        command
            .env("OKTA_CLIENT_ORGURL", "http://127.0.0.1:9")
            .env("OKTA_CLIENT_TOKEN", "00token")
            .args(args)
            .timeout(WAIT);
        if let Some(secret) = secret {
            command.env("OUGUARD_GUARD_SECRET", secret);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["guard"], None);
    assert!(
        e.contains("error: `OUGUARD_GUARD_SECRET` is not set") && e.contains("hint:"),
        "{e}"
    );
    let e = run(&["guard"], Some("short"));
    assert!(e.contains("at least 16"), "{e}");
    let e = run(&["guard", "--listen", "0.0.0.0:8090"], Some(SECRET));
    assert!(
        e.contains("non-loopback") && e.contains("--allow-remote"),
        "{e}"
    );
    let e = run(&["guard", "--listen", "nope"], Some(SECRET));
    assert!(e.contains("`--listen` `nope` is not an address"), "{e}");
    let e = run(&["guard", "--poll-mappings", "5"], Some(SECRET));
    assert!(e.contains("`5` is not a duration"), "{e}");
    let e = run(
        &["guard", "--notify-url", "http://hooks.example.com/x"],
        Some(SECRET),
    );
    assert!(e.contains("`--notify-url` must be `https://`"), "{e}");
    let e = run(
        &[
            "guard",
            "register",
            "--url",
            "http://guard.example.com/okta",
        ],
        Some(SECRET),
    );
    assert!(
        e.contains("Okta calls only `https://` URLs") && e.contains("hint:"),
        "{e}"
    );
    assert!(!e.contains(SECRET));
}
