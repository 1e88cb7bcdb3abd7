//! The real binary against the simulated org over HTTP: `plan` (text, JSON, pagination,
//! faults, errors, `-vv`, request counts), `export` / `plan --from-snapshot` / `sim --seed`,
//! `import-ous`, `demo`, and the example plans under `plans/`. Every run is bounded by a
//! timeout, so a hang fails the test instead of stalling it.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ouguard::plan::Plan;
use ouguard::sim::seed::DEMO_CONFIG;
use ouguard::sim::{
    large_org, seed, BlockingSimOrg, Fault, FaultKind, GeneratorParams, SimConfig, SimOrg,
};
use ouguard::state::OrgState;
use serde_json::Value;

use crate::support::{check_plans_made_by, error_lines, ouguard, write};

/// No run of the binary may take longer than this.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The fixed `created_at` of the example plans under `plans/`.
const EXAMPLE_CREATED_AT: &str = "2026-11-29T00:00:00Z";
/// The default address of `ouguard sim`, which the example plans are addressed to.
const EXAMPLE_ORG_URL: &str = "http://127.0.0.1:8089";

/// A simulated org on its own thread and a working directory for the binary.
struct Live {
    sim: BlockingSimOrg,
    dir: tempfile::TempDir,
}

impl Live {
    fn start(cfg: SimConfig) -> Live {
        Live {
            sim: SimOrg::start_blocking(cfg).expect("the simulated org starts"),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The demo org, with the demo's `ouguard.toml` in the working directory.
    fn demo() -> Live {
        let live = Live::start(SimConfig::default());
        live.write("ouguard.toml", DEMO_CONFIG);
        live
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        write(self.path(), name, contents)
    }

    /// `ouguard ARGS` pointed at the simulated org by Okta's SDK variables.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_token(args, self.sim.token())
    }

    fn run_with_token(&self, args: &[&str], token: &str) -> Output {
        let started = Instant::now();
        let output = ouguard(self.path())
            .env("OKTA_CLIENT_ORGURL", self.sim.url())
            .env("OKTA_CLIENT_TOKEN", token)
            .args(args)
            .timeout(RUN_TIMEOUT)
            .output()
            .expect("ouguard runs");
        assert!(
            started.elapsed() < RUN_TIMEOUT,
            "`ouguard {}` hung and was killed after {RUN_TIMEOUT:?}",
            args.join(" ")
        );
        assert_no_panic(&output);
        check_plans_made_by(self.path(), args, &output.stdout);
        output
    }

    /// `ouguard plan --json ARGS`, which must succeed, as JSON.
    fn plan_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["plan", "--json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("plan --json prints JSON")
    }

    /// Replaces the random port and the plan's timestamp, for snapshots.
    fn normalize(&self, text: &str) -> String {
        redact_timestamps(&text.replace(&self.sim.url(), "http://127.0.0.1:PORT"))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(output: &Output) {
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

fn assert_success(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Exit 1, one `error:` line containing `expected`, a `hint:` containing `hint`, and no
/// plan on stdout.
fn assert_one_error(output: &Output, expected: &str, hint: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(expected), "{stderr}");
    let hints: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hint: ")).collect();
    assert_eq!(hints.len(), 1, "{stderr}");
    assert!(hints[0].contains(hint), "{stderr}");
    assert!(
        !text(&output.stdout).contains("Plan:"),
        "no plan on an error"
    );
}

/// Replaces RFC 3339 timestamps to the second (`2026-11-29T19:01:11Z`) by a placeholder.
fn redact_timestamps(text: &str) -> String {
    let pattern = b"dddd-dd-ddTdd:dd:ddZ";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let fits = bytes.len() - i >= pattern.len()
            && pattern.iter().zip(&bytes[i..]).all(|(p, b)| match p {
                b'd' => b.is_ascii_digit(),
                other => other == b,
            });
        if fits {
            out.push_str("[created_at]");
            i += pattern.len();
        } else {
            let c = text[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A plan document without the fields that differ between two runs on the same state.
fn comparable(mut plan: Value, fields: &[&str]) -> Value {
    if let Value::Object(object) = &mut plan {
        for field in fields {
            object.remove(*field);
        }
    }
    plan
}

/// How many pages a list of `items` takes at `limit` (an empty list is one page).
fn pages(items: usize, limit: usize) -> usize {
    items.div_ceil(limit).max(1)
}

/// The requests reading `state` must take: pages(apps) + 1 (user types) + Σ_dir
/// [pages(assignments at 200) + pages(mappings list at 200) + user-source mappings].
fn minimum_requests(state: &OrgState) -> usize {
    pages(state.directories.len(), 200)
        + 1
        + state
            .directories
            .iter()
            .map(|d| {
                pages(d.assignments.len(), 200) + pages(d.mappings.len(), 200) + d.mappings.len()
            })
            .sum::<usize>()
}

// ---------------------------------------------------------------------------------------
// The plan of the demo org

#[test]
fn demo_plan_has_every_change_finding_and_warning() {
    let live = Live::demo();
    let output = live.run(&["plan"]);
    assert_success(&output);
    let stdout = text(&output.stdout);
    for expected in [
        "+ import_ou",
        "~ group_target_ou \"EMEA Marketing\"",
        "- mapping_property \"dn\"",
        "R1-other-domain:corp.example.com:",
        "R1-invalid:corp.example.com:",
        "R1-missing:corp.example.com:",
        "directory `lab.example.com` is inactive",
        "import OUs of `lab.example.com` are not declared",
        "existing members to the new OU in AD",
        "Plan: 1 to add, 1 to change, 1 to delete (1 manual step).",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    insta::assert_snapshot!("demo_plan_text", live.normalize(&stdout));
}

#[test]
fn demo_plan_json_has_the_documented_shape() {
    let live = Live::demo();
    let plan = live.plan_json(&[]);
    assert_eq!(plan["format_version"], "1");
    assert_eq!(plan["org_url"], Value::String(live.sim.url()));
    assert!(plan["checksum"]
        .as_str()
        .is_some_and(|c| c.starts_with("sha256:")));
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 1, "change": 1, "delete": 1, "manual": 1})
    );
    let changes = plan["resource_changes"].as_array().expect("a list");
    let kinds: Vec<(&str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default(),
                c["action"].as_str().unwrap_or_default(),
                c["execution"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("import_ou", "add", "manual"),
            ("group_target_ou", "update", "api"),
            ("mapping_property", "delete", "api"),
        ]
    );
    for change in changes {
        for key in [
            "address",
            "kind",
            "action",
            "execution",
            "finding",
            "directory",
            "group",
            "mapping_id",
            "before",
            "after",
            "precondition",
        ] {
            assert!(change.get(key).is_some(), "`{key}` missing in {change}");
        }
    }
    // The text and the JSON say the same: the saved plan renders to the printed one.
    let saved = live.write("plan.json", &plan.to_string());
    let shown = live.run(&["show", &saved.display().to_string()]);
    assert_success(&shown);
    let printed = live.run(&["plan"]);
    assert_eq!(
        live.normalize(&text(&shown.stdout)),
        live.normalize(&text(&printed.stdout))
    );

    let mut redacted = plan.clone();
    redacted["created_at"] = "[created_at]".into();
    redacted["org_url"] = "[org_url]".into();
    redacted["checksum"] = "[checksum]".into();
    insta::assert_json_snapshot!("demo_plan_json", redacted);
}

#[test]
fn reading_the_demo_org_takes_the_minimum_number_of_requests() {
    let live = Live::demo();
    let output = live.run(&["plan", "--json"]);
    assert_success(&output);
    let requests = live.sim.requests();
    let expected = minimum_requests(&seed::demo());
    // 1 apps page + 1 user types + corp (3 + 1 + 2) + emea (1 + 1 + 2) + lab (1 + 1 + 1).
    assert_eq!(expected, 15);
    assert_eq!(
        requests.len(),
        expected,
        "{:#?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(requests
        .iter()
        .all(|r| r.method == "GET" && r.status == Some(200)));
    // No per-group GETs: every assignment request is a list.
    assert!(requests
        .iter()
        .filter(|r| r.path_only().contains("/groups"))
        .all(|r| r.path_only().ends_with("/groups")));
}

#[test]
fn pagination_across_many_pages_gives_the_right_plan() {
    let state = large_org(GeneratorParams {
        directories: 1,
        groups: 1_000,
        import_ous: 3,
        user_types: 1,
        skew: 1.0,
        seed: 7,
    });
    let live = Live::start(SimConfig {
        seed: state.clone(),
        ..SimConfig::default()
    });
    let config = "[directory.\"d000.example.com\"]\nimport_ous = [\n  \"OU=Unit0,DC=d000,DC=example,DC=com\",\n  \"OU=Unit1,DC=d000,DC=example,DC=com\",\n  \"OU=Unit2,DC=d000,DC=example,DC=com\",\n]\n";
    live.write("ouguard.toml", config);
    let plan = live.plan_json(&[]);

    let requests = live.sim.requests();
    let assignment_pages = requests
        .iter()
        .filter(|r| r.path_only().ends_with("/groups"))
        .count();
    assert_eq!(assignment_pages, 5, "1,000 assignments at limit 200");
    assert_eq!(requests.len(), minimum_requests(&state));
    assert_eq!(requests.len(), 9);

    // The same state, planned offline from a snapshot, gives the same plan.
    let mut offline = state.clone();
    offline.org_url = Some(live.sim.url());
    for directory in &mut offline.directories {
        directory.import_ous = None;
    }
    let snapshot = live.write("gen.json", &offline.to_json());
    let from_snapshot = live.plan_json(&["--from-snapshot", &snapshot.display().to_string()]);
    assert_eq!(
        comparable(plan.clone(), &["created_at", "checksum"]),
        comparable(from_snapshot, &["created_at", "checksum"])
    );
    let findings = plan["findings"].as_array().expect("findings").len();
    let changes = plan["resource_changes"].as_array().expect("changes").len();
    assert!(
        findings > 100 && changes > 5,
        "{findings} findings, {changes} changes"
    );
}

// ---------------------------------------------------------------------------------------
// Faults and errors: the right plan, or one clear error with a hint

/// The plan of the demo org without faults, to compare against.
fn clean_demo_plan() -> Value {
    comparable(
        Live::demo().plan_json(&[]),
        &["created_at", "checksum", "org_url"],
    )
}

fn demo_with_fault(fault: Fault) -> Live {
    let live = Live::start(SimConfig {
        rate_limit_window: Duration::from_secs(1),
        faults: vec![fault],
        ..SimConfig::default()
    });
    live.write("ouguard.toml", DEMO_CONFIG);
    live
}

fn corp_groups_path() -> String {
    let demo = seed::demo();
    let corp = demo.directory("corp.example.com").expect("corp");
    format!("/api/v1/apps/{}/groups", corp.app_id)
}

#[test]
fn transient_faults_in_the_middle_of_a_read_still_give_the_right_plan() {
    let expected = clean_demo_plan();
    let cases = [
        (
            "a 429 on the second page of a directory's groups",
            Fault::on_nth(2, FaultKind::RateLimited)
                .matching(Some("GET"), Some(&corp_groups_path())),
        ),
        (
            "a burst of three 503s",
            Fault::next(3, FaultKind::ServerError { status: 503 }),
        ),
        (
            "a connection reset",
            Fault::on_nth(2, FaultKind::ConnectionReset),
        ),
    ];
    for (what, fault) in cases {
        let live = demo_with_fault(fault);
        let plan = live.plan_json(&[]);
        assert_eq!(
            comparable(plan, &["created_at", "checksum", "org_url"]),
            expected,
            "{what}"
        );
        let requests = live.sim.requests();
        let disrupted = requests
            .iter()
            .filter(|r| r.dropped || r.status != Some(200))
            .count();
        assert!(disrupted >= 1, "{what}: the fault fired");
        assert_eq!(
            requests.len(),
            minimum_requests(&seed::demo()) + disrupted,
            "{what}: one resend per disrupted request"
        );
    }
}

#[test]
fn a_slow_body_is_read_to_the_end() {
    let expected = clean_demo_plan();
    let live = demo_with_fault(
        Fault::always(FaultKind::SlowBody {
            chunk_bytes: 8_192,
            delay_ms: 20,
        })
        .matching(Some("GET"), Some(&corp_groups_path())),
    );
    let plan = live.plan_json(&[]);
    assert_eq!(
        comparable(plan, &["created_at", "checksum", "org_url"]),
        expected
    );
    assert_eq!(live.sim.requests().len(), minimum_requests(&seed::demo()));
}

#[test]
fn a_malformed_json_body_is_one_clear_error() {
    let live = demo_with_fault(
        Fault::on_nth(1, FaultKind::MalformedBody).matching(Some("GET"), Some(&corp_groups_path())),
    );
    let output = live.run(&["plan", "--out", "plans/never.json"]);
    assert_one_error(
        &output,
        "failed to read the org",
        "report it to okta support with the request id",
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("unexpected response from okta for `GET /api/v1/apps/"),
        "{stderr}"
    );
    assert!(stderr.contains("request id `"), "{stderr}");
    assert!(!live.path().join("plans").exists(), "nothing is written");
}

#[test]
fn a_bad_token_is_one_clear_error_and_never_shown() {
    let live = Live::demo();
    let bad = "00ThisIsNotTheRightTokenAtAll0123456789abc";
    let output = live.run_with_token(&["plan"], bad);
    assert_one_error(
        &output,
        "failed to read the org",
        "create a new one under Security > API > Tokens",
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("401 `E0000011`"), "{stderr}");
    assert!(!stderr.contains(bad) && !text(&output.stdout).contains(bad));
    let requests = live.sim.requests();
    let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    let count = paths.len();
    paths.dedup();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), count, "no retries of a 401: {requests:?}");
    assert!(
        count <= 2,
        "the first reads (apps, user types) only: {requests:?}"
    );
}

#[test]
fn a_missing_scope_is_one_clear_error_naming_the_scope() {
    let live = demo_with_fault(
        Fault::always(FaultKind::Forbidden).matching(Some("GET"), Some("/api/v1/mappings")),
    );
    let output = live.run(&["plan"]);
    assert_one_error(
        &output,
        "failed to read the org",
        "`okta.profileMappings.read` scope",
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("403 `E0000006`"), "{stderr}");
    assert!(stderr.contains("for `GET /api/v1/mappings`"), "{stderr}");
}

#[test]
fn mappings_unavailable_is_a_warning_not_an_error() {
    let live = Live::start(SimConfig {
        mappings_unavailable: true,
        ..SimConfig::default()
    });
    live.write("ouguard.toml", DEMO_CONFIG);
    let output = live.run(&["plan"]);
    assert_success(&output);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("profile mappings are unavailable"),
        "{stderr}"
    );
    assert!(text(&output.stdout).contains("Plan: 1 to add, 1 to change, 0 to delete"));
}

#[test]
fn connection_settings_come_from_okta_yaml_and_the_environment_wins() {
    let live = Live::demo();
    std::fs::create_dir_all(live.path().join(".okta")).expect("~/.okta");
    live.write(
        ".okta/okta.yaml",
        &format!(
            "okta:\n  client:\n    orgUrl: {}\n    token: {}\n",
            live.sim.url(),
            live.sim.token()
        ),
    );
    // Only ~/.okta/okta.yaml (HOME is the working directory).
    let output = ouguard(live.path())
        .args(["plan", "--json"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_success(&output);
    // The environment wins over the file: a bad token there is used, and refused.
    let output = ouguard(live.path())
        .env("OKTA_CLIENT_TOKEN", "00bad")
        .args(["plan"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_one_error(&output, "failed to read the org", "Security > API > Tokens");
    // A flag wins over both: `--org-url` to a closed port is where it fails.
    let output = ouguard(live.path())
        .args(["plan", "--org-url", "http://127.0.0.1:1"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_one_error(
        &output,
        "failed to read the org `http://127.0.0.1:1`",
        "check the org url",
    );
}

// ---------------------------------------------------------------------------------------
// -vv and secrets

#[test]
fn verbose_logs_show_requests_and_never_the_token() {
    let live = Live::demo();
    let output = live.run(&["-vv", "plan", "--out", "plans/p.json"]);
    assert_success(&output);
    let stderr = text(&output.stderr);
    let request_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("okta request"))
        .collect();
    assert_eq!(request_lines.len(), 15, "{stderr}");
    let first = request_lines
        .iter()
        .find(|l| l.contains("path=/api/v1/apps?filter="))
        .expect("the apps list is logged");
    for expected in [
        "method=GET",
        "path=/api/v1/apps?filter=",
        "status=200",
        "request_id=",
        "elapsed_ms=",
    ] {
        assert!(first.contains(expected), "{expected}: {first}");
    }
    assert!(
        live.sim
            .requests()
            .iter()
            .all(|r| stderr.contains(&r.request_id)),
        "every request id is logged"
    );

    let token = live.sim.token();
    let saved = std::fs::read_to_string(live.path().join("plans/p.json")).expect("saved");
    for (name, content) in [
        ("stdout", text(&output.stdout)),
        ("stderr", stderr.clone()),
        ("the plan file", saved),
    ] {
        assert!(!content.contains(token), "the token leaked into {name}");
        assert!(
            !content.contains("SSWS"),
            "an Authorization header leaked into {name}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// export, plan --from-snapshot, sim --seed

#[test]
fn export_then_plan_from_snapshot_gives_the_live_plan() {
    let live = Live::demo();
    let live_plan = live.plan_json(&[]);
    let output = live.run(&["export", "--out", "org.json"]);
    assert_success(&output);
    assert!(text(&output.stderr).contains("Wrote `org.json`: 3 directories, 461 group assignments"));
    let exported = std::fs::read_to_string(live.path().join("org.json")).expect("exported");
    assert!(!exported.contains(live.sim.token()));
    let offline = live.plan_json(&["--from-snapshot", "org.json"]);
    assert_eq!(
        comparable(offline, &["created_at", "checksum"]),
        comparable(live_plan.clone(), &["created_at", "checksum"])
    );

    // `export` without `--out` prints the same snapshot.
    let printed = live.run(&["export"]);
    assert_success(&printed);
    assert_eq!(text(&printed.stdout), exported);

    // The exported snapshot seeds a simulated org (in-process) with the same plan.
    let seeded = Live::start(SimConfig {
        seed: ouguard::sim::load_seed(&live.path().join("org.json")).expect("a seed"),
        ..SimConfig::default()
    });
    seeded.write("ouguard.toml", DEMO_CONFIG);
    assert_eq!(
        comparable(
            seeded.plan_json(&[]),
            &["created_at", "checksum", "org_url"]
        ),
        comparable(live_plan, &["created_at", "checksum", "org_url"])
    );
}

/// `ouguard sim --seed FILE --listen 127.0.0.1:0` as a child process; killed on drop.
struct SimProcess {
    child: std::process::Child,
    url: String,
    token: String,
}

impl SimProcess {
    fn start(dir: &Path, seed: &Path) -> SimProcess {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ouguard"))
            .current_dir(dir)
            .env("HOME", dir)
            .args(["sim", "--listen", "127.0.0.1:0", "--seed"])
            .arg(seed)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ouguard sim starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut url = None;
        let mut token = None;
        while url.is_none() || token.is_none() {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) else {
                let _ = child.kill();
                panic!("`ouguard sim` printed no url and token in 10 s");
            };
            if let Some(rest) = line.strip_prefix("Simulated Okta org listening on ") {
                url = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.strip_prefix("API token for this run (SSWS): ") {
                token = Some(rest.trim().to_string());
            }
        }
        SimProcess {
            child,
            url: url.unwrap_or_default(),
            token: token.unwrap_or_default(),
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sim_seed_serves_an_exported_snapshot() {
    let live = Live::demo();
    assert_success(&live.run(&["export", "--out", "org.json"]));
    let live_plan = live.plan_json(&[]);
    let process = SimProcess::start(live.path(), &live.path().join("org.json"));
    let output = ouguard(live.path())
        .env("OKTA_CLIENT_ORGURL", &process.url)
        .env("OKTA_CLIENT_TOKEN", &process.token)
        .args(["plan", "--json"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_success(&output);
    let rehearsed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(rehearsed["org_url"], Value::String(process.url.clone()));
    assert_eq!(
        comparable(rehearsed, &["created_at", "checksum", "org_url"]),
        comparable(live_plan, &["created_at", "checksum", "org_url"])
    );

    let garbage = live.write("garbage.json", "{\"directories\": 7}");
    let output = ouguard(live.path())
        .args(["sim", "--listen", "127.0.0.1:0", "--seed"])
        .arg(&garbage)
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_eq!(output.status.code(), Some(1));
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{}", text(&output.stderr));
    assert!(
        errors[0].contains("is not an ouguard snapshot"),
        "{errors:?}"
    );
}

// ---------------------------------------------------------------------------------------
// import-ous

const CONFIG_WITH_COMMENTS: &str = r#"# Our AD domains. Keep this file reviewed.
[org]
url = "https://acme.okta.com"   # the production org

[directory."corp.example.com"]
# Staff only; contractors come from the CSV.
import_ous = [
  "OU=Staff,DC=corp,DC=example,DC=com",   # everyone
]
"#;

#[test]
fn import_ous_merges_user_rows_keeping_comments_and_shows_the_diff() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "ouguard.toml", CONFIG_WITH_COMMENTS);
    write(
        dir.path(),
        "ous.csv",
        "OU,type\n\
         \"ou=staff, dc=corp,dc=example,dc=com\",user\n\
         \"OU=Contractors,DC=corp,DC=example,DC=com\",user\n\
         \"OU=Groups,DC=corp,DC=example,DC=com\",group\n\
         \"OU=Users,DC=emea,DC=example,DC=com\",user\n",
    );
    let output = ouguard(dir.path())
        .args(["import-ous", "--from-csv", "ous.csv"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("Left out 1 `group` row(s)"), "{stdout}");
    assert!(
        stdout.contains("Added 2 import OU(s) to `ouguard.toml`."),
        "{stdout}"
    );
    let diff_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        diff_lines.iter().any(|l| l.contains("OU=Contractors")),
        "{stdout}"
    );
    assert!(
        !diff_lines.iter().any(|l| l.contains("OU=Groups")),
        "group rows are not import OUs"
    );
    let new = std::fs::read_to_string(dir.path().join("ouguard.toml")).expect("config");
    for kept in [
        "# Our AD domains. Keep this file reviewed.",
        "url = \"https://acme.okta.com\"   # the production org",
        "# Staff only; contractors come from the CSV.",
        "\"OU=Staff,DC=corp,DC=example,DC=com\",   # everyone",
    ] {
        assert!(new.contains(kept), "lost {kept:?}:\n{new}");
    }
    assert!(
        new.contains("OU=Contractors,DC=corp,DC=example,DC=com"),
        "{new}"
    );
    assert!(new.contains("[directory.\"emea.example.com\"]"), "{new}");
    assert!(!new.contains("OU=Groups"), "{new}");
    assert_eq!(
        new.matches("OU=Staff").count(),
        1,
        "no duplicate of a DN-equal OU"
    );
    insta::assert_snapshot!("import_ous_result", new);

    // Running it again adds nothing.
    let again = ouguard(dir.path())
        .args(["import-ous", "--from-csv", "ous.csv"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_success(&again);
    assert!(text(&again.stdout).contains("Nothing to add"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ouguard.toml")).expect("config"),
        new
    );
}

#[test]
fn import_ous_rejects_malformed_rows_with_line_numbers_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "ouguard.toml", CONFIG_WITH_COMMENTS);
    write(
        dir.path(),
        "bad.csv",
        "OU,type\n\
         \"OU=Contractors,DC=corp,DC=example,DC=com\",user\n\
         \"OU=Broken,,DC=corp,DC=example,DC=com\",user\n\
         \"OU=Lab,DC=lab,DC=example,DC=com\",computer\n\
         \"OU=Alone,DC=corp,DC=example,DC=com\"\n",
    );
    let output = ouguard(dir.path())
        .args(["import-ous", "--from-csv", "bad.csv"])
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("`bad.csv` has 3 malformed row(s); nothing was written"),
        "{stderr}"
    );
    for expected in [
        "line 3: ",
        "line 4: type `computer`",
        "line 5: expected 2 fields",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(stderr.contains("hint: "), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ouguard.toml")).expect("config"),
        CONFIG_WITH_COMMENTS,
        "nothing was written"
    );
}

// ---------------------------------------------------------------------------------------
// demo

#[test]
fn demo_prints_the_plan_and_exits_0_without_a_terminal() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = ouguard(dir.path())
        .arg("demo")
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("ouguard runs");
    assert_success(&output);
    let stdout = text(&output.stdout);
    for expected in [
        "$ ouguard plan",
        "Plan: 1 to add, 1 to change, 1 to delete (1 manual step).",
        "Provisioning check of the simulated org: 6 group(s) fail",
        "Created the Event Hook `ouguard guard (demo)`: ACTIVE, VERIFIED.",
        "guard: new finding `R1:corp.example.com:",
        "Next, on your own org:",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "the demo writes nothing in the working directory"
    );
}

// ---------------------------------------------------------------------------------------
// The example plans under plans/

/// The repository's `plans/` directory.
fn plans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")
}

/// The example plans: file name, and the extra `plan` arguments against the demo org with
/// the demo's `ouguard.toml`.
const EXAMPLE_PLANS: &[(&str, &[&str])] = &[
    ("demo-add-ou.json", &["--strategy", "add-ou"]),
    (
        "demo-retarget.json",
        &[
            "--strategy",
            "retarget",
            "--retarget",
            "Marketing=OU=Marketing,OU=Staff,DC=corp,DC=example,DC=com",
        ],
    ),
];

/// A plan made for one org, re-addressed to another (and re-dated), with its checksum
/// recomputed.
fn readdress(plan: &Plan, org_url: &str, created_at: &str) -> Plan {
    Plan::new(
        Some(org_url.to_string()),
        created_at.to_string(),
        plan.findings.clone(),
        plan.warnings.clone(),
        plan.resource_changes.clone(),
    )
}

/// Makes the example plan `args` describes against a fresh demo org, addressed to
/// `ouguard sim`'s default address.
fn example_plan(args: &[&str]) -> Plan {
    let live = Live::demo();
    let mut all = vec!["plan", "--out", "made.json"];
    all.extend_from_slice(args);
    assert_success(&live.run(&all));
    let made = std::fs::read_to_string(live.path().join("made.json")).expect("saved");
    let plan = Plan::from_json(&made).expect("a valid plan");
    assert_eq!(plan.org_url.as_deref(), Some(live.sim.url().as_str()));
    let example = readdress(&plan, EXAMPLE_ORG_URL, EXAMPLE_CREATED_AT);
    let port = live.sim.addr().port().to_string();
    assert!(
        !example.to_json().contains(&format!(":{port}")),
        "no trace of the random port"
    );
    example
}

#[test]
fn example_plans_are_up_to_date() {
    let update = std::env::var_os("OUGUARD_UPDATE_PLANS").is_some_and(|v| v == "1");
    let mut drifted = Vec::new();
    for (name, args) in EXAMPLE_PLANS {
        let plan = example_plan(args);
        let json = plan.to_json();
        // Re-addressing keeps the plan loadable: the checksum was recomputed.
        let reloaded = Plan::from_json(&json).expect("a re-addressed plan loads");
        assert_eq!(reloaded.org_url.as_deref(), Some(EXAMPLE_ORG_URL));
        assert_eq!(reloaded.created_at, EXAMPLE_CREATED_AT);
        let path = plans_dir().join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != json {
            if update {
                std::fs::create_dir_all(plans_dir()).expect("plans/");
                // Atomically: the other example-plan test may be reading it.
                let temp = path.with_extension("json.tmp");
                std::fs::write(&temp, &json).expect("write the example plan");
                std::fs::rename(&temp, &path).expect("move the example plan into place");
            } else {
                drifted.push(name.to_string());
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "the example plans {drifted:?} are out of date: regenerate them with \
         `OUGUARD_UPDATE_PLANS=1 cargo test --test it example_plans` and review the diff"
    );
}

#[test]
fn example_plans_show_and_apply_to_the_demo_org() {
    for (name, _) in EXAMPLE_PLANS {
        let path = plans_dir().join(name);
        let text_of_plan = std::fs::read_to_string(&path).expect("the example plan exists");
        let plan = Plan::from_json(&text_of_plan).expect("the example plan loads");
        assert_eq!(plan.org_url.as_deref(), Some(EXAMPLE_ORG_URL));

        let live = Live::demo();
        let shown = live.run(&["show", &path.display().to_string()]);
        assert_success(&shown);
        assert!(text(&shown.stdout).contains(EXAMPLE_ORG_URL));

        // Against another address it is refused as a plan for another org.
        let copy = live.write("example.json", &text_of_plan);
        let refused = live.run(&["apply", &copy.display().to_string()]);
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        assert_eq!(
            error_lines(&refused.stderr).len(),
            1,
            "{}",
            text(&refused.stderr)
        );
        assert!(
            live.sim.requests().iter().all(|r| !r.write),
            "nothing written"
        );

        // Re-addressed to this org, it applies: what `ouguard sim` + `ouguard apply` does.
        let here = readdress(&plan, &live.sim.url(), &plan.created_at);
        let copy = live.write("here.json", &here.to_json());
        let failing_before = live.sim.provisioning_check().failing().len();
        let applied = live.run(&["apply", &copy.display().to_string()]);
        let manual = plan.summary.manual > 0;
        assert_eq!(
            applied.status.code(),
            Some(if manual { 2 } else { 0 }),
            "{name}: {}\n{}",
            text(&applied.stdout),
            text(&applied.stderr)
        );
        let failing_after = live.sim.provisioning_check().failing().len();
        assert!(
            failing_after < failing_before,
            "{name}: {failing_before} -> {failing_after}"
        );
    }
}
