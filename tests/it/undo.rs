//! `ouguard undo RUN_RECORD` end to end: the real binary against the in-process simulated
//! org. apply → undo → apply puts the org back byte for byte (timestamps aside); drift is left
//! out (or refused with `--strict`); only applied changes are undone; an undo of an undo puts
//! the fix back; a resealed undo plan that "undoes" to another OU is refused by the re-check.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ouguard::plan::{ChangeDetails, Plan};
use ouguard::sim::seed::DEMO_CONFIG;
use ouguard::sim::{BlockingSimOrg, Fault, FaultKind, RecordedRequest, SimConfig, SimOrg};
use ouguard::state::OrgState;
use serde_json::{json, Value};

use crate::support::{ouguard, write};

const CORP: &str = "corp.example.com";
const EMEA: &str = "emea.example.com";
/// `DEMO_CONFIG` pins `EMEA Marketing` to this destination.
const EMEA_DESTINATION: &str = "OU=Marketing,OU=Users,DC=emea,DC=example,DC=com";
/// Pins corp's `Marketing` too: two retargets, one mapping delete, no manual step.
const RETARGET_MARKETING: &str = "--retarget=Marketing=OU=Staff,DC=corp,DC=example,DC=com";

struct Org {
    sim: BlockingSimOrg,
    dir: tempfile::TempDir,
}

impl Org {
    /// The demo org, with extra profile fields on every assignment (so "the whole profile"
    /// is more than the OU) and the demo's `ouguard.toml`.
    fn demo() -> Org {
        Org::with(SimConfig::default())
    }

    fn with(config: SimConfig) -> Org {
        let sim = SimOrg::start_blocking(config).expect("the simulated org starts");
        let mut state = sim.state();
        for directory in &mut state.directories {
            for (n, assignment) in directory.assignments.iter_mut().enumerate() {
                assignment
                    .other_profile
                    .insert("samAccountName".into(), json!(format!("grp{n}")));
                assignment
                    .other_profile
                    .insert("groupScope".into(), json!("GLOBAL"));
                assignment
                    .other_profile
                    .insert("description".into(), Value::Null);
            }
        }
        sim.set_state(&state).expect("the seed is accepted");
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "ouguard.toml", DEMO_CONFIG);
        Org { sim, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        ouguard(self.path())
            .env("OKTA_CLIENT_ORGURL", self.sim.url())
            .env("OKTA_CLIENT_TOKEN", self.sim.token())
            .timeout(Duration::from_secs(60))
            .args(args)
            .output()
            .expect("ouguard runs")
    }

    fn mark(&self) -> usize {
        self.sim.requests().len()
    }

    fn writes_since(&self, mark: usize) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .skip(mark)
            .filter(|r| r.write)
            .collect()
    }

    /// The run records, oldest first (their names start with the time they started).
    fn run_records(&self) -> Vec<PathBuf> {
        let dir = self.path().join(".ouguard/runs");
        let mut records: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        records.sort();
        records
    }

    /// The newest run record, relative to the working directory (as a person names it).
    fn last_record(&self) -> String {
        let last = self.run_records().pop().expect("a run record");
        last.strip_prefix(self.path())
            .expect("under the working directory")
            .display()
            .to_string()
    }

    fn read_plan(&self, relative: &str) -> Value {
        let text = std::fs::read_to_string(self.path().join(relative)).expect("plan file");
        serde_json::from_str(&text).expect("plan JSON")
    }

    fn findings(&self) -> Vec<Value> {
        let out = self.run(&["plan", "--json"]);
        assert_code(&out, 0);
        let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
        plan["findings"].as_array().expect("findings").clone()
    }

    fn failing(&self) -> Vec<(String, String)> {
        self.sim
            .provisioning_check()
            .failing()
            .iter()
            .map(|c| (c.domain.clone(), c.group_name.clone()))
            .collect()
    }
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

/// The org's state as JSON with every `lastUpdated` blanked: what must match byte for byte.
fn normalized(state: &OrgState) -> String {
    let mut state = state.clone();
    for directory in &mut state.directories {
        for assignment in &mut directory.assignments {
            assignment.last_updated = String::new();
        }
    }
    serde_json::to_string_pretty(&state).expect("state JSON")
}

fn assignment_path(org: &Org, domain: &str, group: &str) -> String {
    let state = org.sim.state();
    let directory = state.directory(domain).expect("directory");
    let assignment = directory
        .assignments
        .iter()
        .find(|a| a.group_name == group)
        .expect("assigned");
    format!(
        "/api/v1/apps/{}/groups/{}",
        directory.app_id, assignment.group_id
    )
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

#[test]
fn apply_then_undo_puts_the_org_back_exactly_and_undo_of_undo_restores_the_fix() {
    let org = Org::demo();
    let before = org.sim.state();
    let failing_before = org.failing();
    let findings_before = org.findings();
    assert!(!failing_before.is_empty());

    let out = org.run(&["apply", "--auto-approve"]);
    assert_code(&out, 2); // the demo's import-OU step stays pending
    let fixed = org.sim.state();
    assert_ne!(normalized(&fixed), normalized(&before));
    let record = org.last_record();

    let mark = org.mark();
    let out = org.run(&["undo", &record, "--out", "plans/undo.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("UNDOING RE-CREATES THE MISCONFIGURATION"),
        "{text}"
    );
    assert!(
        text.contains("users in the 1 group(s)") && text.contains("AD moves their accounts"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 1 to add, 1 to change, 0 to delete."),
        "{text}"
    );
    assert!(
        text.contains("never removes an import OU") || text.contains("manual step pending"),
        "the pending manual step is accounted for: {text}"
    );
    assert!(org.writes_since(mark).is_empty(), "undo writes nothing");
    let undo = org.read_plan("plans/undo.json");
    crate::support::assert_plan_matches_schema(&undo);
    assert_eq!(undo["format_version"], "1.1");
    assert_eq!(undo["undo_of"]["run_record"], json!(record));
    let kinds: Vec<(&str, &str)> = undo["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default(),
                c["action"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("group_target_ou", "revert"),
            ("mapping_property", "restore")
        ]
    );
    // `show` renders it offline, loudly too, as text and as Markdown.
    let out = org.run(&["show", "plans/undo.json"]);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("This plan UNDOES the run recorded in"));
    let out = org.run(&["show", "plans/undo.json", "--format", "markdown"]);
    assert_code(&out, 0);
    let markdown = stdout(&out);
    assert!(markdown.contains("### ouguard undo plan for"), "{markdown}");
    assert!(
        markdown.contains("> [!CAUTION]\n> **UNDOING RE\\-CREATES THE MISCONFIGURATION"),
        "{markdown}"
    );
    assert!(markdown.contains("| revert (undo) |"), "{markdown}");
    // The schema knows "1" plans undo nothing.
    let mut as_v1 = undo.clone();
    as_v1["format_version"] = json!("1");
    assert!(!crate::support::plan_schema_errors(&as_v1).is_empty());
    let mut orphan = undo.clone();
    orphan.as_object_mut().expect("object").remove("undo_of");
    assert!(!crate::support::plan_schema_errors(&orphan).is_empty());

    let mark = org.mark();
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("!! UNDOING RE-CREATES THE MISCONFIGURATION"),
        "{}",
        stdout(&out)
    );
    let writes = org.writes_since(mark);
    assert_eq!(writes.len(), 2, "{writes:#?}");
    let put = writes.iter().find(|w| w.method == "PUT").expect("a PUT");
    assert_eq!(
        put.path_only(),
        assignment_path(&org, EMEA, "EMEA Marketing")
    );
    let post = writes.iter().find(|w| w.method == "POST").expect("a POST");
    let sent: Value =
        serde_json::from_str(post.request_body.as_deref().unwrap_or_default()).expect("JSON body");
    let dn_before = before
        .directory(EMEA)
        .expect("emea")
        .mappings
        .iter()
        .find_map(|m| m.properties.get("dn"))
        .expect("the demo maps dn")
        .clone();
    assert_eq!(
        sent,
        json!({"properties": {"dn": {
            "expression": dn_before.expression,
            "pushStatus": dn_before.push_status,
        }}}),
        "exactly the property as it was, nothing else"
    );

    // Applying the undo twice writes nothing the second time.
    let again = org.mark();
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("2 already applied"),
        "{}",
        stdout(&out)
    );
    assert!(org.writes_since(again).is_empty());
    // Byte for byte as before the first apply, timestamps aside; failing and found as before.
    let undone = org.sim.state();
    assert_eq!(normalized(&undone), normalized(&before));
    assert_eq!(org.failing(), failing_before);
    assert_eq!(org.findings(), findings_before);

    // Undo of the undo: the fix comes back (the undo's own run, not the second, empty one).
    let records = org.run_records();
    let record = records[records.len() - 2]
        .strip_prefix(org.path())
        .expect("under the working directory")
        .display()
        .to_string();
    let out = org.run(&["undo", &record, "--out", "plans/redo.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        !text.contains("UNDOING RE-CREATES"),
        "putting the fix back re-creates nothing: {text}"
    );
    let redo = org.read_plan("plans/redo.json");
    crate::support::assert_plan_matches_schema(&redo);
    let kinds: Vec<&str> = redo["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["revert", "delete"]);
    let out = org.run(&["apply", "plans/redo.json"]);
    assert_code(&out, 0);
    assert_eq!(normalized(&org.sim.state()), normalized(&fixed));
    let emea = org.sim.state();
    let emea = emea.directory(EMEA).expect("emea");
    assert_eq!(
        emea.assignments
            .iter()
            .find(|a| a.group_name == "EMEA Marketing")
            .and_then(|a| a.organizational_unit.as_deref()),
        Some(EMEA_DESTINATION)
    );
}

#[test]
fn a_drifted_change_is_left_out_and_strict_refuses_the_whole_undo() {
    let org = Org::demo();
    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 0);
    let record = org.last_record();
    // Another admin moves corp's Marketing on after the run.
    let marketing = assignment_path(&org, CORP, "Marketing");
    admin_request(
        &org.sim,
        reqwest::Method::PUT,
        &marketing,
        &json!({"priority": 0, "profile": {"organizationalUnit": "OU=Contractors,DC=corp,DC=example,DC=com"}}),
    );

    let out = org.run(&["undo", &record, "--strict", "--out", "plans/strict.json"]);
    assert_code(&out, 1);
    let error = stderr(&out);
    assert!(error.contains("error: `--strict`"), "{error}");
    assert!(
        error.contains("Marketing") && error.contains("now targets"),
        "{error}"
    );
    assert!(
        !org.path().join("plans/strict.json").exists(),
        "nothing saved"
    );

    let out = org.run(&["undo", &record, "--out", "plans/undo.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("left out, drifted since the run")
            && text.contains("group `Marketing` now targets `OU=Contractors"),
        "{text}"
    );
    let undo = org.read_plan("plans/undo.json");
    let groups: Vec<&str> = undo["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["group"]["name"].as_str())
        .collect();
    assert_eq!(groups, ["EMEA Marketing"], "the drifted group is left out");

    let mark = org.mark();
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 0);
    let writes = org.writes_since(mark);
    assert!(
        writes.iter().all(|w| w.path_only() != marketing),
        "nothing written for the drifted group: {writes:#?}"
    );
    assert_eq!(writes.len(), 2, "{writes:#?}");
}

#[test]
fn a_run_with_a_failed_change_is_undone_only_where_it_applied() {
    let org = Org::demo();
    let marketing = assignment_path(&org, CORP, "Marketing");
    org.sim.inject(
        Fault::always(FaultKind::ServerError { status: 500 })
            .matching(Some("PUT"), Some(&marketing)),
    );
    let out = org.run(&["apply", "--auto-approve", RETARGET_MARKETING]);
    assert_code(&out, 1);
    org.sim.clear_faults();
    let record = org.last_record();

    let out = org.run(&["undo", &record, "--strict", "--out", "plans/undo.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("the run did not apply it (failed): nothing to undo"),
        "{text}"
    );
    let undo = org.read_plan("plans/undo.json");
    let groups: Vec<&str> = undo["resource_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["group"]["name"].as_str())
        .collect();
    assert_eq!(groups, ["EMEA Marketing"]);
    let mark = org.mark();
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 0);
    assert!(org
        .writes_since(mark)
        .iter()
        .all(|w| w.path_only() != marketing));
}

#[test]
fn a_resealed_undo_plan_to_another_ou_is_refused_by_the_recheck() {
    let org = Org::demo();
    let out = org.run(&["apply", "--auto-approve"]);
    assert_code(&out, 2);
    let record = org.last_record();
    let out = org.run(&["undo", &record, "--out", "plans/undo.json"]);
    assert_code(&out, 0);

    // Edit the revert to "undo" to an OU that is neither an import OU nor what the group had,
    // and reseal the checksum as anyone can.
    let text = std::fs::read_to_string(org.path().join("plans/undo.json")).expect("plan");
    let mut plan = Plan::from_json(&text).expect("loads");
    let evil = "OU=Evil,DC=emea,DC=example,DC=com";
    for change in &mut plan.resource_changes {
        if let ChangeDetails::GroupTargetOuRevert(revert) = &mut change.details {
            revert.after.organizational_unit = Some(evil.into());
            revert
                .after
                .profile
                .insert("organizationalUnit".into(), json!(evil));
        }
    }
    plan.checksum = plan.compute_checksum();
    write(org.path(), "plans/evil.json", &plan.to_json());

    let mark = org.mark();
    let out = org.run(&["apply", "plans/evil.json"]);
    assert_code(&out, 1);
    let error = stderr(&out);
    assert!(error.contains("the plan is refused"), "{error}");
    assert!(
        error.contains("an undo only goes back to what the record holds"),
        "{error}"
    );
    assert!(org.writes_since(mark).is_empty(), "nothing written");

    // Without its run record, an undo plan cannot be checked and is refused.
    std::fs::remove_file(org.path().join(&record)).expect("removes");
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("re-checks every reversal against that record"),
        "{}",
        stderr(&out)
    );
    assert!(org.writes_since(mark).is_empty(), "nothing written");
}

/// In a real pseudo-terminal: `apply` of an undo plan says loudly what undoing does and asks.
#[test]
fn at_a_terminal_applying_an_undo_asks_again_and_no_writes_nothing() {
    use rexpect::process::WaitStatus;
    let org = Org::demo();
    let out = org.run(&["apply", "--auto-approve"]);
    assert_code(&out, 2);
    let record = org.last_record();
    let out = org.run(&["undo", &record, "--out", "plans/undo.json"]);
    assert_code(&out, 0);

    let mark = org.mark();
    let mut command = crate::support::ouguard_std(org.path());
    command
        .env("OKTA_CLIENT_ORGURL", org.sim.url())
        .env("OKTA_CLIENT_TOKEN", org.sim.token())
        .env("TERM", "xterm")
        .args(["apply", "plans/undo.json"]);
    let mut session =
        rexpect::session::spawn_command(command, Some(15_000)).expect("spawns in a pty");
    session
        .exp_string("!! UNDOING RE-CREATES THE MISCONFIGURATION")
        .expect("says it loudly");
    session
        .exp_string("Undo the run and re-create the misconfiguration? Only `yes` will be accepted")
        .expect("asks");
    session.send_line("no").expect("types");
    session
        .exp_string("error: undo cancelled: only `yes` approves it; nothing was written")
        .expect("cancels");
    session.exp_eof().expect("ends");
    let code = match session.process().wait().expect("waits") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected status {other:?}"),
    };
    assert_eq!(code, 1);
    assert!(org.writes_since(mark).is_empty(), "nothing written");
}

#[test]
fn an_apply_killed_right_after_its_first_write_is_undone_from_its_record() {
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
    let before = org.sim.state();
    let out = org.run(&["plan", "--out", "plans/p.json", RETARGET_MARKETING]);
    assert_code(&out, 0);
    let mark = org.mark();
    let mut child = crate::support::ouguard_std(org.path())
        .env("OKTA_CLIENT_ORGURL", org.sim.url())
        .env("OKTA_CLIENT_TOKEN", org.sim.token())
        .args(["apply", "plans/p.json", "--concurrency", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    let started = std::time::Instant::now();
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
    // While that apply still runs (its record locked), undo refuses: nothing is known yet.
    let running = org.last_record();
    let out = org.run(&["undo", &running, "--out", "plans/early.json"]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("is still running"),
        "{}",
        stderr(&out)
    );
    assert!(!org.path().join("plans/early.json").exists());
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(
        org.writes_since(mark).len(),
        1,
        "exactly one write was sent"
    );
    assert_ne!(normalized(&org.sim.state()), normalized(&before));
    org.sim.clear_faults();

    let record = org.last_record();
    let out = org.run(&["undo", &record, "--strict", "--out", "plans/undo.json"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("ends without its summary"), "{text}");
    let undo = org.read_plan("plans/undo.json");
    let changes = undo["resource_changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "only the write that was sent: {undo:#}");

    let mark = org.mark();
    let out = org.run(&["apply", "plans/undo.json"]);
    assert_code(&out, 0);
    let writes = org.writes_since(mark);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].path_only()),
        (first.method.as_str(), first.path_only()),
        "the undo reverses exactly the write the killed run sent"
    );
    assert_eq!(normalized(&org.sim.state()), normalized(&before));
}
