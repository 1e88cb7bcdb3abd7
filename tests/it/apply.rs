//! `apply` end to end: the real binary against the in-process simulated org, asserting on
//! what the simulator saw (request log, whole state, provisioning check) and on what a
//! person sees (report, exit codes, run record, prompts in a real pseudo-terminal).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ouguard::plan::ChangeKind;
use ouguard::runrecord::{BeforeState, RecordedChange, RecordedOutcome, RunRecord};
use ouguard::sim::seed::{self, DEMO_CONFIG};
use ouguard::sim::{
    BlockingSimOrg, Fault, FaultKind, ProvisioningOutcome, RecordedRequest, SimConfig, SimOrg,
};
use serde_json::{json, Value};

use crate::support::{check_plans_made_by, ouguard, ouguard_std, write};

const CORP: &str = "corp.example.com";
const EMEA: &str = "emea.example.com";
/// Corp's `Marketing` group targets this unimported OU: `add-ou` makes it a manual step.
const MARKETING_OU: &str = "OU=Marketing,DC=corp,DC=example,DC=com";
/// `DEMO_CONFIG` pins `EMEA Marketing` to this destination.
const EMEA_DESTINATION: &str = "OU=Marketing,OU=Users,DC=emea,DC=example,DC=com";
const STAFF_OU: &str = "OU=Staff,DC=corp,DC=example,DC=com";
/// Pins corp's `Marketing` too, so the plan has two retargets, one mapping delete and no
/// manual step.
const RETARGET_MARKETING: &str = "--retarget=Marketing=OU=Staff,DC=corp,DC=example,DC=com";

fn app_id(domain: &str) -> String {
    seed::demo()
        .directory(domain)
        .expect("demo directory")
        .app_id
        .clone()
}

fn group_id(domain: &str, name: &str) -> String {
    seed::demo()
        .directory(domain)
        .expect("demo directory")
        .assignments
        .iter()
        .find(|a| a.group_name == name)
        .expect("demo group")
        .group_id
        .clone()
}

fn assignment_path(domain: &str, group: &str) -> String {
    format!(
        "/api/v1/apps/{}/groups/{}",
        app_id(domain),
        group_id(domain, group)
    )
}

/// The id of the `dn` mapping of the demo org (emea, default user type).
fn dn_mapping_id() -> String {
    seed::demo()
        .directory(EMEA)
        .expect("emea")
        .mappings
        .iter()
        .find(|m| m.properties.contains_key("dn"))
        .expect("a dn mapping")
        .id
        .clone()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
    assert!(!stderr(output).contains("panicked"), "{}", stderr(output));
}

/// A simulated org with the demo seed, and a working directory whose `ouguard.toml` is the
/// demo org's config.
struct Org {
    sim: BlockingSimOrg,
    dir: tempfile::TempDir,
}

impl Org {
    fn demo() -> Org {
        Org::with(SimConfig::default())
    }

    fn with(config: SimConfig) -> Org {
        let sim = SimOrg::start_blocking(config).expect("the simulated org starts");
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "ouguard.toml", DEMO_CONFIG);
        Org { sim, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary, in the org's directory, connected to `sim`.
    fn command_for(&self, sim: &BlockingSimOrg) -> assert_cmd::Command {
        let mut command = ouguard(self.path());
        command
            .env("OKTA_CLIENT_ORGURL", sim.url())
            .env("OKTA_CLIENT_TOKEN", sim.token())
            .timeout(Duration::from_secs(60));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self
            .command_for(&self.sim)
            .args(args)
            .output()
            .expect("ouguard runs");
        check_plans_made_by(self.path(), args, &output.stdout);
        output
    }

    /// Where the request log stands now.
    fn mark(&self) -> usize {
        self.sim.requests().len()
    }

    /// The writes (PUT / POST / …) the simulator received since `mark`.
    fn writes_since(&self, mark: usize) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .skip(mark)
            .filter(|r| r.write)
            .collect()
    }

    fn assert_no_write_since(&self, mark: usize) {
        let writes = self.writes_since(mark);
        assert!(writes.is_empty(), "unexpected writes: {writes:#?}");
    }

    fn read_plan(&self, relative: &str) -> Value {
        let text = std::fs::read_to_string(self.path().join(relative)).expect("plan file");
        serde_json::from_str(&text).expect("plan JSON")
    }

    /// `plan --out plans/NAME.json [extra]`, asserting it succeeded.
    fn save_plan(&self, name: &str, extra: &[&str]) -> Value {
        let file = format!("plans/{name}.json");
        let mut args = vec!["plan", "--out", file.as_str()];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert_code(&out, 0);
        self.read_plan(&file)
    }

    fn ou_of(&self, domain: &str, group: &str) -> Option<String> {
        self.sim
            .state()
            .directory(domain)
            .expect("directory")
            .assignments
            .iter()
            .find(|a| a.group_name == group)
            .expect("assignment")
            .organizational_unit
            .clone()
    }

    fn run_records(&self) -> Vec<PathBuf> {
        let dir = self.path().join(".ouguard/runs");
        let mut records: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        records.sort();
        records
    }
}

fn count(requests: &[RecordedRequest], method: &str, path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path_only() == path)
        .count()
}

/// One request as another admin would send it, straight to the simulated Okta API.
fn admin_request(sim: &BlockingSimOrg, method: reqwest::Method, path: &str, body: &Value) {
    let url = format!("{}{path}", sim.url());
    let token = sim.token().to_string();
    let body = body.clone();
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            reqwest::Client::new()
                .request(method, url)
                .header("Authorization", format!("SSWS {token}"))
                .json(&body)
                .send()
                .await
                .expect("the admin's request is answered")
                .status()
        });
    assert!(status.is_success(), "{status}");
}

fn kinds(plan: &Value) -> Vec<(String, String)> {
    plan["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_string(),
                c["address"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn demo_apply_fixes_exactly_the_plan_and_leaves_only_manual_steps() {
    let org = Org::demo();
    let plan = org.save_plan("demo", &[]);
    let mut planned: Vec<String> = kinds(&plan).into_iter().map(|(k, _)| k).collect();
    planned.sort();
    assert_eq!(
        planned,
        ["group_target_ou", "import_ou", "mapping_property"],
        "{plan:#}"
    );
    let before = org.sim.state();
    let failing_before: Vec<String> = org
        .sim
        .provisioning_check()
        .failing()
        .iter()
        .map(|c| c.group_name.clone())
        .collect();
    assert!(failing_before.contains(&"EMEA Marketing".to_string()));
    assert!(failing_before.contains(&"Marketing".to_string()));

    let mark = org.mark();
    let out = org.run(&["apply", "--auto-approve"]);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("Manual steps"), "{text}");
    assert!(
        text.contains(&format!("tick `{MARKETING_OU}`")),
        "the manual step names the OU: {text}"
    );
    assert!(
        text.contains("Directory > Directory Integrations"),
        "the manual step names the console path: {text}"
    );
    assert!(text.contains("manual step pending"), "{text}");

    // The planned retargets now provision; the dn mapping is gone.
    let check = org.sim.provisioning_check();
    for change in plan["resource_changes"].as_array().expect("changes") {
        if change["kind"] == "group_target_ou" {
            let domain = change["directory"]["domain"].as_str().expect("domain");
            let group = change["group"]["name"].as_str().expect("group");
            let result = check.find(domain, group).expect("checked");
            assert_eq!(result.outcome, ProvisioningOutcome::Succeeds, "{result:?}");
        }
    }

    // Nothing but the planned changes: the retarget (and its `lastUpdated`) and the mapping.
    let after = org.sim.state();
    let mut expected = before.clone();
    let emea = expected.directory_mut(EMEA).expect("emea");
    let retargeted = emea
        .assignments
        .iter_mut()
        .find(|a| a.group_name == "EMEA Marketing")
        .expect("EMEA Marketing");
    let new_stamp = after
        .directory(EMEA)
        .and_then(|d| {
            d.assignments
                .iter()
                .find(|a| a.group_name == "EMEA Marketing")
        })
        .map(|a| a.last_updated.clone())
        .expect("still assigned");
    assert!(new_stamp > retargeted.last_updated, "lastUpdated moved on");
    retargeted.organizational_unit = Some(EMEA_DESTINATION.to_string());
    retargeted.last_updated = new_stamp;
    let mapping = emea
        .mappings
        .iter_mut()
        .find(|m| m.id == dn_mapping_id())
        .expect("dn mapping");
    assert!(mapping.properties.remove("dn").is_some());
    assert_eq!(after, expected, "only the planned changes were made");

    let writes = org.writes_since(mark);
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert_eq!(
        count(&writes, "PUT", &assignment_path(EMEA, "EMEA Marketing")),
        1
    );
    assert_eq!(
        count(
            &writes,
            "POST",
            &format!("/api/v1/mappings/{}", dn_mapping_id())
        ),
        1
    );

    // The admin ticks the OU in the console and records it in ouguard.toml.
    assert!(org.sim.tick_import_ou(CORP, MARKETING_OU).expect("ticks"));
    write(
        org.path(),
        "ous.csv",
        &format!("OU,type\n\"{MARKETING_OU}\",user\n"),
    );
    let out = org.run(&["import-ous", "--from-csv", "ous.csv"]);
    assert_code(&out, 0);
    assert_eq!(
        org.sim
            .provisioning_check()
            .find(CORP, "Marketing")
            .map(|c| c.outcome),
        Some(ProvisioningOutcome::Succeeds)
    );

    let out = org.run(&["plan", "--detailed-exitcode"]);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("No changes."), "{}", stdout(&out));
}

#[test]
fn a_stale_plan_is_refused_and_nothing_is_written() {
    let org = Org::demo();
    org.save_plan("p", &[]);

    // Another admin retargets the planned group, and edits the planned mapping.
    let path = assignment_path(EMEA, "EMEA Marketing");
    admin_request(
        &org.sim,
        reqwest::Method::PUT,
        &path,
        &json!({"priority": 2, "profile": {"organizationalUnit": "OU=Sales,DC=emea,DC=example,DC=com"}}),
    );
    admin_request(
        &org.sim,
        reqwest::Method::POST,
        &format!("/api/v1/mappings/{}", dn_mapping_id()),
        &json!({"properties": {"dn": {"expression": "user.login", "pushStatus": "PUSH"}}}),
    );
    let mark = org.mark();
    let state = org.sim.state();

    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("error: the plan is stale"), "{err}");
    assert!(
        err.contains("EMEA Marketing") && err.contains("OU=Sales,DC=emea,DC=example,DC=com"),
        "names the retarget and its new OU: {err}"
    );
    assert!(
        err.contains("user.login"),
        "names the mapping's new expression: {err}"
    );
    assert!(err.contains("ouguard plan --out"), "says what to do: {err}");
    org.assert_no_write_since(mark);
    assert_eq!(org.sim.state(), state);
}

#[test]
fn a_manual_step_whose_group_moved_makes_the_plan_stale() {
    let org = Org::demo();
    let plan = org.save_plan("p", &[]);
    // Another admin retargets corp's Marketing: adding its old OU is no longer wanted.
    admin_request(
        &org.sim,
        reqwest::Method::PUT,
        &assignment_path(CORP, "Marketing"),
        &json!({"priority": 3, "profile": {"organizationalUnit": STAFF_OU}}),
    );
    let mark = org.mark();
    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("error: the plan is stale"), "{err}");
    assert!(
        err.contains(&address_of(&plan, "import_ou", None)),
        "names the manual step: {err}"
    );
    assert!(
        err.contains(&format!("group `Marketing` now targets `{STAFF_OU}`")),
        "{err}"
    );
    org.assert_no_write_since(mark);
    // The refusal is recorded (every apply that reaches the org leaves a record), with no
    // write in it.
    let records = org.run_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = RunRecord::load(&records[0]).expect("the record reads");
    let summary = record.summary.expect("it ended");
    assert_eq!(summary.end.as_deref(), Some("refused_stale"));
    assert!(
        summary
            .stale
            .iter()
            .any(|s| s.contains("group `Marketing` now targets")),
        "{:?}",
        summary.stale
    );
    assert!(record.changes.is_empty(), "{:?}", record.changes);
    let out = org.run(&["plan"]);
    assert!(
        !stderr(&out).contains("interrupted run"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn apply_killed_right_after_its_first_write_leaves_a_record_naming_it() {
    // Every write reaches the org and takes effect, but its answer is held: the run stops
    // right after its first write, deterministically (one request in flight at a time).
    let org = Org::with(SimConfig {
        faults: vec![
            Fault::always(FaultKind::StalledResponse).matching(Some("PUT"), Some("/api/v1/apps")),
            Fault::always(FaultKind::StalledResponse)
                .matching(Some("POST"), Some("/api/v1/mappings")),
        ],
        ..SimConfig::default()
    });
    org.save_plan("p", &[RETARGET_MARKETING]);
    let mark = org.mark();
    let mut child = ouguard_std(org.path())
        .env("OKTA_CLIENT_ORGURL", org.sim.url())
        .env("OKTA_CLIENT_TOKEN", org.sim.token())
        .args(["apply", "plans/p.json", "--concurrency", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    let started = Instant::now();
    let first = loop {
        if let Some(write) = org.writes_since(mark).into_iter().next() {
            break write;
        }
        if let Some(status) = child.try_wait().expect("waits") {
            panic!("apply ended before its first write: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no write reached the simulator"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(first.status, Some(200), "the write took effect: {first:?}");
    assert_eq!(
        org.writes_since(mark).len(),
        1,
        "exactly one write was sent"
    );

    let records = org.run_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = RunRecord::load(&records[0]).expect("the record reads");
    assert!(record.is_interrupted(), "no summary: the run was killed");
    assert_eq!(record.run.planned_changes, Some(3));
    let named: Vec<&RecordedChange> = record
        .changes
        .iter()
        .filter(|c| {
            c.write
                .as_ref()
                .is_some_and(|w| w.method == first.method && w.path == first.path_only())
        })
        .collect();
    assert_eq!(
        named.len(),
        1,
        "the record names the write: {:#?}",
        record.changes
    );
    let change = named[0];
    assert_eq!(
        change.outcome,
        RecordedOutcome::Unknown,
        "its answer never came"
    );
    assert!(change.missing.is_empty(), "{:?}", change.missing);
    // What a reversal needs: the whole before-state.
    match (&change.before, change.kind) {
        (Some(BeforeState::Assignment(before)), ChangeKind::GroupTargetOu) => {
            let whole = before.whole.as_ref().expect("priority and profile");
            assert!(whole.profile.contains_key("organizationalUnit"));
            assert!(before.last_updated.is_some());
        }
        (Some(BeforeState::MappingProperty(before)), ChangeKind::MappingProperty) => {
            assert_eq!(before.push_status.as_deref(), Some("PUSH"));
        }
        other => panic!("unexpected before-state {other:?}"),
    }
    // Every write the record announces beyond the sent one was never sent: the re-read
    // says so.
    let unknown = record.unknown_outcomes().count();
    assert!(unknown >= 1);

    let out = org.run(&["plan"]);
    assert_code(&out, 0);
    let err = stderr(&out);
    let path = records[0]
        .strip_prefix(org.path())
        .expect("under the folder")
        .display()
        .to_string();
    assert!(
        err.contains(&format!("warning: interrupted run `./{path}`"))
            || err.contains(&format!("warning: interrupted run `{path}`")),
        "{err}"
    );
    if unknown == 1 {
        assert!(
            err.contains("1 write's outcome unknown, re-read shows it applied"),
            "{err}"
        );
    } else {
        assert!(
            err.contains(&format!(
                "{unknown} writes' outcomes unknown, re-read shows 1 applied, {} not applied",
                unknown - 1
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("\n  {}: applied", change.address)),
            "{err}"
        );
    }

    // With the org answering again, `apply` says it too, then finishes the job.
    org.sim.clear_faults();
    let mark = org.mark();
    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("warning: interrupted run"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 already applied"),
        "{}",
        stdout(&out)
    );
    assert_eq!(org.writes_since(mark).len(), 2);
    let out = org.run(&["plan"]);
    assert!(
        !stderr(&out).contains("interrupted run"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_plan_for_another_org_or_a_tampered_plan_is_refused() {
    let org = Org::demo();
    let other = SimOrg::start_blocking(SimConfig::default()).expect("second org");
    org.save_plan("p", &[]);
    let mark = org.mark();

    let out = org
        .command_for(&other)
        .args(["apply", "plans/p.json"])
        .output()
        .expect("runs");
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("was made for `{}`", org.sim.url())),
        "{err}"
    );
    assert!(err.contains(&other.url()), "{err}");
    assert!(other.requests().iter().all(|r| !r.write));
    org.assert_no_write_since(mark);

    let saved = std::fs::read_to_string(org.path().join("plans/p.json")).expect("plan");
    assert!(saved.contains(EMEA_DESTINATION));
    write(
        org.path(),
        "plans/tampered.json",
        &saved.replace(EMEA_DESTINATION, "OU=Evil,DC=emea,DC=example,DC=com"),
    );
    let out = org.run(&["apply", "plans/tampered.json"]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("refused the plan file `plans/tampered.json`"),
        "{err}"
    );
    assert!(err.contains("checksum does not match"), "{err}");
    org.assert_no_write_since(mark);
    assert_eq!(org.sim.state(), seed::demo());

    // Planning options cannot change a saved plan: refused, not silently ignored.
    let mark = org.mark();
    let out = org.run(&["apply", "plans/p.json", RETARGET_MARKETING]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("error: `--retarget` cannot change a saved plan"),
        "{err}"
    );
    assert_eq!(org.sim.requests().len(), mark, "refused before any request");
}

/// The report line of the change at `address`.
fn report_line<'a>(text: &'a str, address: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{address}: ")))
        .unwrap_or_else(|| panic!("no report line for {address} in:\n{text}"))
}

fn address_of(plan: &Value, kind: &str, group: Option<&str>) -> String {
    plan["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["kind"] == kind && group.is_none_or(|g| c["group"]["name"] == g))
        .and_then(|c| c["address"].as_str())
        .expect("planned")
        .to_string()
}

#[test]
fn failed_writes_are_reported_with_request_ids_and_a_second_apply_finishes() {
    let org = Org::demo();
    let plan = org.save_plan("p", &[RETARGET_MARKETING]);
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 2, "delete": 1, "manual": 0})
    );
    let marketing = assignment_path(CORP, "Marketing");
    let mapping = format!("/api/v1/mappings/{}", dn_mapping_id());
    org.sim.inject(
        Fault::always(FaultKind::ServerError { status: 500 })
            .matching(Some("PUT"), Some(&marketing)),
    );
    org.sim.inject(
        Fault::always(FaultKind::ServerError { status: 500 })
            .matching(Some("POST"), Some(&mapping)),
    );
    let mark = org.mark();

    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 1);
    let text = stdout(&out);
    let writes = org.writes_since(mark);
    for (method, path, kind, group) in [
        (
            "PUT",
            marketing.as_str(),
            "group_target_ou",
            Some("Marketing"),
        ),
        ("POST", mapping.as_str(), "mapping_property", None),
    ] {
        let failed: Vec<&RecordedRequest> = writes
            .iter()
            .filter(|r| r.method == method && r.path_only() == path)
            .collect();
        assert!(
            !failed.is_empty() && failed.iter().all(|r| r.status == Some(500)),
            "{failed:#?}"
        );
        let line = report_line(&text, &address_of(&plan, kind, group));
        assert!(line.contains(": failed"), "{line}");
        assert!(line.contains("E0000009"), "Okta's errorCode: {line}");
        let last = failed.last().expect("a failed write");
        assert!(
            line.contains(&last.request_id),
            "the failed write's request id `{}`: {line}",
            last.request_id
        );
    }
    let emea_line = report_line(
        &text,
        &address_of(&plan, "group_target_ou", Some("EMEA Marketing")),
    );
    assert!(emea_line.contains(": applied"), "{emea_line}");
    assert!(text.contains("1 applied"), "{text}");
    assert!(text.contains("2 failed"), "{text}");
    // Exit 1 says why on stderr too, with the run record.
    let errors = String::from_utf8_lossy(&out.stderr);
    let line = errors
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("an `error:` line on stderr: {errors}"));
    assert!(
        line.starts_with("error: 2 of 3 change(s) failed; see the report above (run record `")
            && line.contains(".ouguard/runs/"),
        "{line}"
    );
    assert_eq!(
        org.ou_of(EMEA, "EMEA Marketing").as_deref(),
        Some(EMEA_DESTINATION)
    );
    assert_eq!(org.ou_of(CORP, "Marketing").as_deref(), Some(MARKETING_OU));

    // Okta recovers: `plan` shows exactly what is left, and a second apply finishes.
    org.sim.clear_faults();
    let left = org.save_plan("left", &[RETARGET_MARKETING]);
    assert_eq!(
        left["summary"],
        json!({"add": 0, "change": 1, "delete": 1, "manual": 0})
    );
    let mut left_addresses: Vec<String> = kinds(&left).into_iter().map(|(_, a)| a).collect();
    left_addresses.sort();
    let mut expected = vec![
        address_of(&plan, "group_target_ou", Some("Marketing")),
        address_of(&plan, "mapping_property", None),
    ];
    expected.sort();
    assert_eq!(left_addresses, expected);

    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 0);
    assert_eq!(org.ou_of(CORP, "Marketing").as_deref(), Some(STAFF_OU));
    assert!(org
        .sim
        .provisioning_check()
        .failing()
        .iter()
        .all(|c| c.domain != EMEA));
    let out = org.run(&["plan", "--detailed-exitcode", RETARGET_MARKETING]);
    assert_code(&out, 0);
}

#[test]
fn a_single_server_error_is_resent_only_after_a_read_shows_it_did_not_happen() {
    let org = Org::demo();
    let marketing = assignment_path(CORP, "Marketing");
    let mapping = format!("/api/v1/mappings/{}", dn_mapping_id());
    org.sim.inject(
        Fault::on_nth(1, FaultKind::ServerError { status: 503 })
            .matching(Some("PUT"), Some(&marketing)),
    );
    org.sim.inject(
        Fault::on_nth(1, FaultKind::ServerError { status: 502 })
            .matching(Some("POST"), Some(&mapping)),
    );
    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 0);
    let writes = org.writes_since(0);
    assert_eq!(count(&writes, "PUT", &marketing), 2, "{writes:#?}");
    assert_eq!(count(&writes, "POST", &mapping), 2, "{writes:#?}");
    assert_eq!(org.ou_of(CORP, "Marketing").as_deref(), Some(STAFF_OU));
    assert!(stdout(&out).contains("3 applied"), "{}", stdout(&out));
}

#[test]
fn a_lost_response_is_resolved_by_a_read_and_written_exactly_once() {
    let org = Org::demo();
    let plan = org.save_plan("p", &[RETARGET_MARKETING]);
    let mapping = format!("/api/v1/mappings/{}", dn_mapping_id());
    org.sim
        .inject(Fault::on_nth(1, FaultKind::LostResponse).matching(Some("PUT"), None));
    org.sim
        .inject(Fault::on_nth(1, FaultKind::LostResponse).matching(Some("POST"), None));
    let mark = org.mark();

    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    let all = org.sim.requests();
    assert_eq!(
        all.iter().filter(|r| r.dropped).count(),
        2,
        "two responses were lost"
    );
    let writes = org.writes_since(mark);
    assert_eq!(
        count(&writes, "PUT", &assignment_path(CORP, "Marketing")),
        1
    );
    assert_eq!(
        count(&writes, "PUT", &assignment_path(EMEA, "EMEA Marketing")),
        1
    );
    assert_eq!(count(&writes, "POST", &mapping), 1);
    assert_eq!(writes.len(), 3, "{writes:#?}");
    for (kind, _) in kinds(&plan) {
        assert_ne!(kind, "import_ou");
    }
    assert!(text.contains("3 applied"), "{text}");
    assert!(text.contains("response was lost"), "{text}");
    assert_eq!(org.ou_of(CORP, "Marketing").as_deref(), Some(STAFF_OU));
    assert_eq!(
        org.ou_of(EMEA, "EMEA Marketing").as_deref(),
        Some(EMEA_DESTINATION)
    );
}

#[test]
fn applying_twice_writes_nothing_the_second_time() {
    let org = Org::demo();
    org.save_plan("p", &[]);
    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 2);
    let state = org.sim.state();

    let mark = org.mark();
    let out = org.run(&["apply", "plans/p.json"]);
    assert_code(&out, 2);
    org.assert_no_write_since(mark);
    assert!(
        stdout(&out).contains("2 already applied"),
        "{}",
        stdout(&out)
    );
    assert_eq!(org.sim.state(), state);

    let mark = org.mark();
    let out = org.run(&["apply", "--auto-approve"]);
    assert_code(&out, 2);
    org.assert_no_write_since(mark);
    assert_eq!(org.sim.state(), state);

    // And `apply --auto-approve` twice from scratch.
    let org = Org::demo();
    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 0);
    let state = org.sim.state();
    let mark = org.mark();
    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 0);
    org.assert_no_write_since(mark);
    assert_eq!(org.sim.state(), state);
}

#[test]
fn without_a_terminal_apply_refuses_at_once() {
    let org = Org::demo();
    let mut child = ouguard_std(org.path())
        .env("OKTA_CLIENT_ORGURL", org.sim.url())
        .env("OKTA_CLIENT_TOKEN", org.sim.token())
        .arg("apply")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    // stdin stays open: a prompt would wait forever.
    let _stdin = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("apply waited for input");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("error: apply needs approval"), "{err}");
    assert!(err.contains("--auto-approve"), "{err}");
    assert!(err.contains("ouguard apply FILE"), "{err}");
    assert!(org.sim.requests().is_empty(), "not even a read");
}

#[test]
fn the_run_record_is_private_complete_and_holds_no_secret() {
    let org = Org::with(SimConfig {
        token: Some("00SuperSecretTokenValueThatMustNeverLeak0123".to_string()),
        ..SimConfig::default()
    });
    let token = org.sim.token().to_string();
    let plan = org.save_plan("p", &[]);
    let mark = org.mark();
    let out = org.run(&["-vv", "apply", "plans/p.json"]);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("Run record: `"), "{text}");

    let records = org.run_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(record)
            .expect("record")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let contents = std::fs::read_to_string(record).expect("record");
    let lines: Vec<Value> = contents
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["type"], "run");
    assert_eq!(lines[0]["plan_checksum"], plan["checksum"]);
    assert_eq!(lines[0]["org_url"], org.sim.url());
    assert_eq!(lines.last().expect("summary")["type"], "summary");
    let read = RunRecord::load(record).expect("the record reads");
    let planned = plan["resource_changes"].as_array().expect("changes");
    assert_eq!(read.changes.len(), planned.len());

    let writes = org.writes_since(mark);
    for change in &read.changes {
        let planned = &planned[change.index];
        assert_eq!(
            change.address,
            planned["address"].as_str().expect("address")
        );
        assert_eq!(
            change.planned_before.as_ref(),
            Some(&planned["before"]).filter(|v| !v.is_null())
        );
        assert_eq!(
            change.planned_after.as_ref(),
            Some(&planned["after"]).filter(|v| !v.is_null())
        );
        let RecordedOutcome::Known {
            result,
            request_ids,
            ..
        } = &change.outcome
        else {
            panic!("every outcome is known: {change:#?}");
        };
        if planned["execution"] == "api" {
            assert_eq!(result.label(), "applied", "{change:#?}");
            let write = writes
                .iter()
                .find(|w| request_ids.contains(&w.request_id))
                .unwrap_or_else(|| panic!("the write's request id is recorded: {change:#?}"));
            assert_eq!(write.status, Some(200));
            let sent = change.write.as_ref().expect("the write is recorded");
            assert_eq!(
                (sent.method.as_str(), sent.path.as_str()),
                (write.method.as_str(), write.path_only())
            );
        } else {
            assert_eq!(result.label(), "manual step pending", "{change:#?}");
        }
    }

    for (what, haystack) in [
        ("the run record", contents),
        ("stdout", text),
        ("stderr", stderr(&out)),
        (
            "the plan file",
            std::fs::read_to_string(org.path().join("plans/p.json")).expect("plan"),
        ),
        (
            "ouguard.toml",
            std::fs::read_to_string(org.path().join("ouguard.toml")).expect("config"),
        ),
    ] {
        assert!(!haystack.contains(&token), "the token leaked into {what}");
        assert!(
            !haystack.contains("SuperSecret"),
            "part of the token leaked into {what}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// In a real pseudo-terminal: the prompts as a person meets them.

mod terminal {
    use rexpect::process::WaitStatus;
    use rexpect::session::PtySession;

    use super::*;

    const APPROVAL: &str = "Only `yes` will be accepted";
    /// The last item of the selection.
    const SKIP: &str = "skip (leave it for now)";

    /// The binary in a pseudo-terminal, connected to the org; every expectation times out
    /// after a few seconds.
    fn spawn(org: &Org, args: &[&str]) -> PtySession {
        let mut command = ouguard_std(org.path());
        command
            .env("OKTA_CLIENT_ORGURL", org.sim.url())
            .env("OKTA_CLIENT_TOKEN", org.sim.token())
            .env("TERM", "xterm")
            .args(args);
        rexpect::session::spawn_command(command, Some(15_000)).expect("spawns in a pty")
    }

    /// Waits for the end of output and the exit code.
    fn finish(mut session: PtySession) -> (String, i32) {
        let rest = session.exp_eof().expect("the program ends");
        let code = match session.process().wait().expect("waits") {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
            other => panic!("unexpected status {other:?}"),
        };
        (rest, code)
    }

    #[test]
    fn typing_no_cancels_and_writes_nothing() {
        let org = Org::demo();
        let mut session = spawn(&org, &["apply", "--strategy", "add-ou"]);
        session.exp_string(APPROVAL).expect("asks");
        session.send_line("no").expect("types");
        session
            .exp_string("error: apply cancelled: only `yes` approves the plan")
            .expect("cancels");
        let (_, code) = finish(session);
        assert_eq!(code, 1, "declining is not a success");
        org.assert_no_write_since(0);
        assert!(org.run_records().is_empty());
    }

    #[test]
    fn typing_yes_applies_and_a_confirmed_manual_step_is_recorded() {
        let org = Org::demo();
        let mut session = spawn(&org, &["apply", "--strategy", "add-ou"]);
        session.exp_string(APPROVAL).expect("asks");
        session.send_line("yes").expect("types");
        session
            .exp_string("once it is ticked")
            .expect("asks to confirm the manual step");
        assert!(org.sim.tick_import_ou(CORP, MARKETING_OU).expect("ticks"));
        session.send_line("yes").expect("types");
        let shown = session.exp_string("Apply finished").expect("reports");
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with('+') && l.contains(MARKETING_OU)),
            "the config diff is shown: {shown:?}"
        );
        assert!(shown.contains("manual step done"), "{shown:?}");
        let (_, code) = finish(session);
        assert_eq!(code, 0);
        assert_eq!(
            org.ou_of(EMEA, "EMEA Marketing").as_deref(),
            Some(EMEA_DESTINATION)
        );
        let config = std::fs::read_to_string(org.path().join("ouguard.toml")).expect("config");
        assert!(config.contains(MARKETING_OU), "{config}");
        // Only the findings no tool can fix (a bad DN, another domain) still fail.
        let check = org.sim.provisioning_check();
        let failing: Vec<&str> = check
            .failing()
            .iter()
            .map(|c| c.group_name.as_str())
            .collect();
        assert_eq!(failing, ["EMEA Sales", "Finance"]);
        let out = org.run(&["plan", "--detailed-exitcode"]);
        assert_code(&out, 0);
    }

    #[test]
    fn ctrl_c_at_a_manual_step_still_leaves_a_run_record_of_the_writes() {
        let org = Org::demo();
        let mut session = spawn(&org, &["apply", "--strategy", "add-ou"]);
        session.exp_string(APPROVAL).expect("asks");
        session.send_line("yes").expect("types");
        session
            .exp_string("once it is ticked")
            .expect("asks to confirm the manual step");
        session.send_control('c').expect("ctrl-c");
        let (_, code) = finish(session);
        assert_eq!(code, 130);
        assert_eq!(
            org.ou_of(EMEA, "EMEA Marketing").as_deref(),
            Some(EMEA_DESTINATION)
        );
        assert_eq!(
            std::fs::read_to_string(org.path().join("ouguard.toml")).expect("config"),
            DEMO_CONFIG
        );
        let records = org.run_records();
        assert_eq!(records.len(), 1, "{records:?}");
        let record = RunRecord::load(&records[0]).expect("record");
        let statuses: Vec<&str> = record
            .changes
            .iter()
            .map(|c| match &c.outcome {
                RecordedOutcome::Known { result, .. } => result.label(),
                RecordedOutcome::Unknown => "unknown",
            })
            .collect();
        assert_eq!(
            statuses,
            ["manual step pending", "applied", "applied"],
            "{record:#?}"
        );
    }

    #[test]
    fn ctrl_c_during_the_writes_lets_them_finish_and_records_them() {
        let org = Org::demo();
        // Slow writes, so that Ctrl-C comes while they are in flight.
        org.sim.inject(
            Fault::always(FaultKind::Latency {
                fixed_ms: 1_500,
                jitter_ms: 0,
            })
            .matching(Some("PUT"), None),
        );
        let mut session = spawn(&org, &["apply", "--strategy", "add-ou"]);
        session.exp_string(APPROVAL).expect("asks");
        session.send_line("yes").expect("types");
        session.exp_string("through the Okta API").expect("writes");
        std::thread::sleep(Duration::from_millis(300));
        session.send_control('c').expect("ctrl-c");
        session
            .exp_string("interrupt received")
            .expect("says it finishes the writes");
        let (rest, code) = finish(session);
        assert_eq!(code, 130, "{rest:?}");
        assert!(rest.contains("Apply finished: 2 applied"), "{rest:?}");
        assert_eq!(
            org.ou_of(EMEA, "EMEA Marketing").as_deref(),
            Some(EMEA_DESTINATION)
        );
        let records = org.run_records();
        assert_eq!(records.len(), 1, "{records:?}");
        let record = std::fs::read_to_string(&records[0]).expect("record");
        assert!(record.contains("\"applied\""), "{record}");
        assert!(
            !rest.contains("once it is ticked"),
            "no more questions: {rest:?}"
        );
    }

    #[test]
    fn choosing_a_retarget_destination_in_the_selection_applies_it() {
        let org = Org::demo();
        let mut session = spawn(&org, &["apply"]);
        session
            .exp_string("which is not an import OU")
            .expect("asks how to fix Marketing");
        // Keys go in once the selection is drawn (and so reading in raw mode).
        session.exp_string(SKIP).expect("offers the choices");
        session.send("\x1b[B").expect("arrow down");
        session.flush().expect("sends");
        session.exp_string(SKIP).expect("redraws the choices");
        session.send("\r").expect("enter");
        session.flush().expect("sends");
        session.exp_string(APPROVAL).expect("asks for approval");
        session.send_line("yes").expect("types");
        session.exp_string("Apply finished").expect("reports");
        let (_, code) = finish(session);
        assert_eq!(code, 0, "no manual step was chosen");
        let ou = org.ou_of(CORP, "Marketing").expect("an OU");
        assert!(
            ou == STAFF_OU || ou == "OU=Contractors,DC=corp,DC=example,DC=com",
            "retargeted to an import OU: {ou}"
        );
        assert_eq!(
            org.sim
                .provisioning_check()
                .find(CORP, "Marketing")
                .map(|c| c.outcome),
            Some(ProvisioningOutcome::Succeeds)
        );
    }

    #[test]
    fn ctrl_c_at_a_prompt_writes_nothing_and_shows_the_cursor_again() {
        let org = Org::demo();
        let mut session = spawn(&org, &["apply", "--strategy", "add-ou"]);
        session.exp_string(APPROVAL).expect("asks");
        session.send_control('c').expect("ctrl-c");
        let (rest, code) = finish(session);
        assert_eq!(code, 130, "{rest:?}");
        assert!(rest.contains("error: interrupted"), "{rest:?}");
        org.assert_no_write_since(0);

        let mut session = spawn(&org, &["apply"]);
        session
            .exp_string("which is not an import OU")
            .expect("asks how to fix Marketing");
        session.exp_string(SKIP).expect("offers the choices");
        session.send_control('c').expect("ctrl-c");
        let (rest, code) = finish(session);
        assert_eq!(code, 130, "{rest:?}");
        // The selection hid the cursor; the terminal gets it back.
        assert!(rest.contains("\x1b[?25h"), "{rest:?}");
        org.assert_no_write_since(0);
        assert_eq!(org.sim.state(), seed::demo());
        assert!(org.run_records().is_empty());
    }

    /// `ouguard demo ARGS` in a pseudo-terminal, answering `yes`: what it says at the end.
    fn demo_applied(args: &[&str]) -> (String, i32) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut command = ouguard_std(dir.path());
        command.env("TERM", "xterm").arg("demo").args(args);
        let mut session =
            rexpect::session::spawn_command(command, Some(15_000)).expect("spawns in a pty");
        session
            .exp_string("Apply this plan to the simulated org?")
            .expect("offers to apply");
        session.send_line("yes").expect("types");
        session
            .exp_string("Provisioning check of the simulated org")
            .expect("checks provisioning");
        finish(session)
    }

    #[test]
    fn demo_says_what_the_remaining_failures_wait_for() {
        // API changes only: what is left waits for the findings the plan does not fix.
        let (rest, code) = demo_applied(&[
            "--strategy",
            "retarget",
            "--retarget",
            "Marketing=OU=Marketing,OU=Staff,DC=corp,DC=example,DC=com",
        ]);
        assert_eq!(code, 0, "{rest:?}");
        let rest = rest.replace("\r\n", " ").replace('\n', " ");
        assert!(!rest.contains("manual step"), "{rest}");
        assert!(
            rest.contains("(the rest wait for the findings this plan does not fix)"),
            "{rest}"
        );

        // With a manual step, both.
        let (rest, code) = demo_applied(&["--strategy", "add-ou"]);
        assert_eq!(code, 2, "the manual step is pending: {rest:?}");
        let rest = rest.replace("\r\n", " ").replace('\n', " ");
        assert!(
            rest.contains(
                "(the rest wait for the manual steps, and for the findings this plan does not fix)"
            ),
            "{rest}"
        );
    }

    #[test]
    fn ctrl_c_at_the_offline_selection_shows_the_cursor_again() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let snapshot = dir.path().join("demo.json");
        std::fs::write(&snapshot, seed::demo().to_json()).expect("writes the snapshot");
        let config = dir.path().join("ouguard.toml");
        std::fs::write(&config, seed::DEMO_CONFIG).expect("writes the config");
        let mut command = ouguard_std(dir.path());
        command
            .env("TERM", "xterm")
            .args(["plan", "--strategy", "ask", "--from-snapshot"])
            .arg(&snapshot);
        let mut session =
            rexpect::session::spawn_command(command, Some(15_000)).expect("spawns in a pty");
        session.exp_string(SKIP).expect("offers the choices");
        session.send_control('c').expect("ctrl-c");
        let (rest, code) = finish(session);
        assert_eq!(code, 130, "{rest:?}");
        assert!(rest.contains("error: interrupted"), "{rest:?}");
        assert!(rest.contains("\x1b[?25h"), "{rest:?}");
    }
}

/// Resealed plans: a saved plan edited on purpose and given a fresh checksum (plain SHA-256,
/// anyone can). Each is refused with exit 1 before any write; the committed example plans
/// still apply.
mod resealed {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Recomputes the checksum as anyone can: SHA-256 over the compact JSON of every other
    /// field, in the document's order.
    fn reseal(plan: &mut Value) {
        let object = plan.as_object_mut().expect("a plan object");
        object.remove("checksum");
        let body = serde_json::to_string(object).expect("JSON");
        let digest = Sha256::digest(body.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        object.insert("checksum".into(), format!("sha256:{hex}").into());
    }

    fn change_mut<'a>(plan: &'a mut Value, kind: &str) -> &'a mut Value {
        plan["resource_changes"]
            .as_array_mut()
            .expect("changes")
            .iter_mut()
            .find(|c| c["kind"] == kind)
            .expect("a change of that kind")
    }

    /// Applies `plan` (after `edit` and a reseal) and asserts: exit 1, nothing written, the
    /// org unchanged, and stderr containing every `expected` text.
    fn assert_refused(edit: impl FnOnce(&mut Value), expected: &[&str]) {
        let org = Org::demo();
        let mut plan = org.save_plan("p", &[]);
        edit(&mut plan);
        reseal(&mut plan);
        write(org.path(), "resealed.json", &plan.to_string());
        let mark = org.mark();
        let out = org.run(&["apply", "resealed.json"]);
        assert_code(&out, 1);
        let err = stderr(&out);
        assert!(
            !err.contains("checksum does not match"),
            "the reseal is valid: {err}"
        );
        for text in expected {
            assert!(err.contains(text), "expected `{text}` in:\n{err}");
        }
        assert!(
            err.contains("nothing was written") || err.contains("refused the plan file"),
            "{err}"
        );
        org.assert_no_write_since(mark);
        assert_eq!(org.sim.state(), seed::demo(), "the org is unchanged");
        // A plan file refused at load leaves no record (nothing reached the org); one the
        // re-check refused leaves a record of the refusal, with no write in it.
        for path in org.run_records() {
            let record = RunRecord::load(&path).expect("the record reads");
            assert!(record.changes.is_empty(), "{record:?}");
            let summary = record.summary.expect("it ended");
            assert!(
                matches!(summary.end.as_deref(), Some("refused" | "refused_stale")),
                "{summary:?}"
            );
        }
    }

    fn retarget_to(ou: &'static str) -> impl FnOnce(&mut Value) {
        move |plan| {
            change_mut(plan, "group_target_ou")["after"]["organizationalUnit"] = ou.into();
        }
    }

    #[test]
    fn a_retarget_to_an_ou_no_import_ou_covers() {
        assert_refused(
            retarget_to("OU=Evil,DC=emea,DC=example,DC=com"),
            &[
                "the plan is refused",
                "group[\"EMEA Marketing\"].target_ou: the destination `OU=Evil,DC=emea,DC=example,DC=com` is not an import OU of `emea.example.com`",
            ],
        );
    }

    #[test]
    fn a_retarget_to_another_domain() {
        assert_refused(
            retarget_to("OU=Users,DC=corp,DC=example,DC=com"),
            &["is outside the domain `emea.example.com`"],
        );
    }

    #[test]
    fn a_retarget_to_nothing_or_to_text_that_is_not_a_dn() {
        assert_refused(
            retarget_to(""),
            &["`after.organizationalUnit` is empty", "EMEA Marketing"],
        );
        assert_refused(
            retarget_to("Marketing"),
            &["`after.organizationalUnit` `Marketing` is not a valid DN"],
        );
    }

    #[test]
    fn a_retarget_of_a_group_without_a_finding() {
        let staff = group_id(EMEA, "EMEA Staff");
        assert_refused(
            move |plan| {
                let change = change_mut(plan, "group_target_ou");
                change["address"] =
                    r#"directory["emea.example.com"].group["EMEA Staff"].target_ou"#.into();
                change["finding"] = format!("R1:emea.example.com:{staff}").into();
                change["group"] = json!({"id": staff, "name": "EMEA Staff"});
                // Made consistent with the org, as a careful forger would.
                let users = "OU=Users,DC=emea,DC=example,DC=com";
                change["before"]["organizationalUnit"] = users.into();
                change["precondition"]["organizationalUnit"] = users.into();
            },
            &[
                "the plan is refused",
                "group[\"EMEA Staff\"].target_ou: the org has no finding",
                "which needs no fix",
            ],
        );
    }

    #[test]
    fn a_dn_delete_naming_another_key() {
        // The exact edit of the issue: the address still says `dn`.
        assert_refused(
            |plan| {
                let change = change_mut(plan, "mapping_property");
                change["before"]["key"] = "firstName".into();
                change["precondition"]["key"] = "firstName".into();
            },
            &["`address` does not name the directory and property key of the change"],
        );
        // Address made to match: the re-check refuses the key itself.
        assert_refused(
            |plan| {
                let change = change_mut(plan, "mapping_property");
                change["address"] =
                    r#"directory["emea.example.com"].mapping["user"].property["firstName"]"#.into();
                change["before"]["key"] = "firstName".into();
                change["precondition"]["key"] = "firstName".into();
            },
            &["`firstName` is not `dn` nor a `dn`-equivalent key"],
        );
    }

    /// The id of the AD → Okta ("To Okta") mapping of `emea.example.com`, as Okta lists it.
    fn to_okta_mapping_id(sim: &BlockingSimOrg) -> String {
        let url = format!("{}/api/v1/mappings?sourceId={}", sim.url(), app_id(EMEA));
        let token = sim.token().to_string();
        let list: Value = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move {
                reqwest::Client::new()
                    .get(url)
                    .header("Authorization", format!("SSWS {token}"))
                    .send()
                    .await
                    .expect("answered")
                    .json()
                    .await
                    .expect("JSON")
            });
        list[0]["id"]
            .as_str()
            .expect("a To Okta mapping")
            .to_string()
    }

    #[test]
    fn a_dn_delete_on_a_to_okta_mapping() {
        let org = Org::demo();
        let to_okta = to_okta_mapping_id(&org.sim);
        assert_ne!(to_okta, dn_mapping_id());
        assert_refused(
            move |plan| change_mut(plan, "mapping_property")["mapping_id"] = to_okta.into(),
            &["is not a To-App mapping of `emea.example.com` in this org"],
        );
    }

    #[test]
    fn a_dn_delete_on_a_mapping_of_no_ad_directory() {
        // corp's To-App mapping claimed for emea, and an id that is no AD mapping at all
        // (e.g. a To-App mapping of a SaaS app: the reader never lists those).
        let corp_mapping = seed::demo().directory(CORP).expect("corp").mappings[0]
            .id
            .clone();
        assert_refused(
            move |plan| change_mut(plan, "mapping_property")["mapping_id"] = corp_mapping.into(),
            &["is not a To-App mapping of `emea.example.com`"],
        );
        assert_refused(
            |plan| {
                change_mut(plan, "mapping_property")["mapping_id"] = "prm0salesforce0000001".into()
            },
            &["`prm0salesforce0000001` is not a To-App mapping"],
        );
    }

    #[test]
    fn an_unknown_kind() {
        assert_refused(
            |plan| change_mut(plan, "group_target_ou")["kind"] = "group_membership".into(),
            &["`kind` `group_membership` with action `update` is not a change this ouguard knows"],
        );
    }

    #[test]
    fn a_missing_or_empty_precondition() {
        assert_refused(
            |plan| change_mut(plan, "group_target_ou")["precondition"] = Value::Null,
            &["`precondition` is missing"],
        );
        assert_refused(
            |plan| change_mut(plan, "mapping_property")["precondition"] = json!({}),
            &["`precondition` is empty"],
        );
        assert_refused(
            |plan| change_mut(plan, "group_target_ou")["precondition"]["lastUpdated"] = "".into(),
            &["`precondition.lastUpdated` is empty"],
        );
        assert_refused(
            |plan| {
                change_mut(plan, "group_target_ou")["precondition"]
                    .as_object_mut()
                    .expect("object")
                    .remove("lastUpdated");
            },
            &["`precondition.lastUpdated` is missing"],
        );
    }

    #[test]
    fn an_import_ou_no_group_targets() {
        assert_refused(
            |plan| {
                let change = change_mut(plan, "import_ou");
                change["after"]["ou"] = "OU=Evil,DC=corp,DC=example,DC=com".into();
                change["address"] =
                    r#"directory["corp.example.com"].import_ou["OU=Evil,DC=corp,DC=example,DC=com"]"#
                        .into();
            },
            &["does not target `OU=Evil,DC=corp,DC=example,DC=com` nor below it now"],
        );
    }

    /// The committed example plans, re-addressed to this run's simulated org (they name
    /// `127.0.0.1:8089`), apply as they always did.
    #[test]
    fn the_committed_plans_still_apply() {
        for (name, code) in [("demo-retarget.json", 0), ("demo-add-ou.json", 2)] {
            let org = Org::demo();
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("plans")
                .join(name);
            let mut plan: Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("plan")).expect("JSON");
            plan["org_url"] = org.sim.url().into();
            reseal(&mut plan);
            write(org.path(), "committed.json", &plan.to_string());
            let out = org.run(&["apply", "committed.json"]);
            assert_code(&out, code);
            assert_eq!(
                org.ou_of(EMEA, "EMEA Marketing").as_deref(),
                Some(EMEA_DESTINATION),
                "{name}"
            );
        }
    }
}

/// Item 8 end to end: pinned destinations fix `group-ou-invalid`, `-other-domain` and
/// `-missing`, through a saved plan the re-check accepts.
#[test]
fn pinned_destinations_fix_invalid_other_domain_and_missing_ous() {
    let org = Org::demo();
    let plan = org.save_plan(
        "pinned",
        &[
            "--retarget=Finance=OU=Finance,OU=Staff,DC=corp,DC=example,DC=com",
            "--retarget=EMEA Sales=OU=Sales,OU=Staff,DC=corp,DC=example,DC=com",
            "--retarget=All Staff (no OU)=OU=Staff,DC=corp,DC=example,DC=com",
        ],
    );
    let fixed: Vec<&str> = plan["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["finding"].as_str())
        .collect();
    for prefix in ["R1-invalid:", "R1-other-domain:", "R1-missing:"] {
        assert!(
            fixed.iter().any(|f| f.starts_with(prefix)),
            "{prefix} {fixed:?}"
        );
    }
    let out = org.run(&["apply", "plans/pinned.json"]);
    assert_code(&out, 2); // the Marketing import OU stays a manual step
    assert_eq!(
        org.ou_of(CORP, "All Staff (no OU)").as_deref(),
        Some(STAFF_OU)
    );
    assert_eq!(
        org.ou_of(CORP, "Finance").as_deref(),
        Some("OU=Finance,OU=Staff,DC=corp,DC=example,DC=com")
    );
    assert_eq!(
        org.ou_of(CORP, "EMEA Sales").as_deref(),
        Some("OU=Sales,OU=Staff,DC=corp,DC=example,DC=com")
    );
    // Without the pins, the plan says how to pin them.
    let fresh = Org::demo();
    let out = fresh.run(&["plan"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("pin a destination: `--retarget 'All Staff (no OU)'=DN`"),
        "{}",
        stdout(&out)
    );
}
