//! `apply` end to end: the real binary against the in-process simulated org, asserting on
//! what the simulator saw (request log, whole state, provisioning check) and on what a
//! person sees (report, exit codes, run record, prompts in a real pseudo-terminal).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ouguard::sim::seed::{self, DEMO_CONFIG};
use ouguard::sim::{
    BlockingSimOrg, Fault, FaultKind, ProvisioningOutcome, RecordedRequest, SimConfig, SimOrg,
};
use serde_json::{json, Value};

use crate::support::{ouguard, ouguard_std, write};

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
        self.command_for(&self.sim)
            .args(args)
            .output()
            .expect("ouguard runs")
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
    assert!(org.run_records().is_empty());
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
    let changes: Vec<&Value> = lines.iter().filter(|l| l["type"] == "change").collect();
    let planned = plan["resource_changes"].as_array().expect("changes");
    assert_eq!(changes.len(), planned.len());

    let writes = org.writes_since(mark);
    for change in &changes {
        let index = usize::try_from(change["index"].as_u64().expect("index")).expect("index");
        let planned = &planned[index];
        assert_eq!(change["address"], planned["address"]);
        assert_eq!(change["before"], planned["before"]);
        assert_eq!(change["after"], planned["after"]);
        if planned["execution"] == "api" {
            assert_eq!(change["result"]["status"], "applied", "{change:#}");
            let ids: Vec<&str> = change["request_ids"]
                .as_array()
                .expect("ids")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let write = writes
                .iter()
                .find(|w| ids.contains(&w.request_id.as_str()))
                .unwrap_or_else(|| panic!("the write's request id is recorded: {change:#}"));
            assert_eq!(write.status, Some(200));
        } else {
            assert_eq!(change["result"]["status"], "manual_pending", "{change:#}");
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
        let record = std::fs::read_to_string(&records[0]).expect("record");
        let statuses: Vec<String> = record
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .filter(|l| l["type"] == "change")
            .map(|l| {
                l["result"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(
            statuses,
            ["manual_pending", "applied", "applied"],
            "{record}"
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
