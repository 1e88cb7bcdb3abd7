//! Evidence from the org, end to end with the real binary against the simulated org:
//! `import-ous --discover` (proposal, `--write`, no false R1 afterwards), declared import
//! OUs checked against imported users, likely-false R1 findings, `plan --evidence --json`
//! listing exactly the users the simulator failed per finding, the retry after `apply`,
//! and a token without `okta.logs.read`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use ouguard::dn::Dn;
use ouguard::plan::Plan;
use ouguard::sim::seed::DEMO_CONFIG;
use ouguard::sim::{BlockingSimOrg, OAuthClient, SimConfig, SimOrg};
use serde_json::Value;

use crate::support::{ouguard, write};

const CORP: &str = "corp.example.com";

fn start() -> (BlockingSimOrg, tempfile::TempDir) {
    (
        SimOrg::start_blocking(SimConfig::default()).unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

fn run(sim: &BlockingSimOrg, dir: &Path, args: &[&str]) -> Output {
    ouguard(dir)
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn normalized(dn: &str) -> String {
    Dn::parse(dn).unwrap().normalized()
}

fn plan_json(sim: &BlockingSimOrg, dir: &Path, extra: &[&str]) -> Plan {
    let mut args = vec!["plan", "--json", "--strategy", "add-ou"];
    args.extend_from_slice(extra);
    Plan::from_json(&ok(&run(sim, dir, &args))).expect("a valid plan")
}

const EMEA_ONLY: &str = r#"# corp.example.com is not declared yet
[directory."emea.example.com"]
import_ous = ["OU=Users,DC=emea,DC=example,DC=com"]
"#;

#[test]
fn discover_proposes_exactly_the_import_ous_and_after_write_no_false_r1_is_left() {
    let (sim, dir) = start();
    write(dir.path(), "ouguard.toml", EMEA_ONLY);
    let out = ok(&run(
        &sim,
        dir.path(),
        &["import-ous", "--discover", "--directory", CORP, "--json"],
    ));
    let doc: Value = serde_json::from_str(&out).unwrap();
    let corp = &doc["directories"][0];
    assert_eq!(corp["domain"], CORP);
    let proposed: BTreeSet<String> = corp["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["covered_by_declared"].is_null());
            normalized(c["ou"].as_str().unwrap())
        })
        .collect();
    let hidden: BTreeSet<String> = sim
        .state()
        .directory(CORP)
        .unwrap()
        .import_ous
        .as_ref()
        .unwrap()
        .ous
        .iter()
        .map(|o| normalized(o))
        .collect();
    assert_eq!(proposed, hidden, "exactly the OUs imported users live in");
    // Failed pushes leave app users without a DN: counted, never guessed from.
    assert!(corp["users_without_dn"].as_u64().unwrap() > 0);
    // `--json` alone writes nothing; without a terminal nothing is written either.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ouguard.toml")).unwrap(),
        EMEA_ONLY
    );
    let out = ok(&run(
        &sim,
        dir.path(),
        &["import-ous", "--discover", "--directory", CORP],
    ));
    assert!(out.contains("pass `--write`"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ouguard.toml")).unwrap(),
        EMEA_ONLY
    );

    let out = ok(&run(
        &sim,
        dir.path(),
        &["import-ous", "--discover", "--directory", CORP, "--write"],
    ));
    assert!(out.contains("Added 2 import OU(s)"), "{out}");
    let written = std::fs::read_to_string(dir.path().join("ouguard.toml")).unwrap();
    assert!(
        written.starts_with("# corp.example.com is not declared yet"),
        "comments kept"
    );

    // The plan's R1 findings in corp are now exactly the groups the simulator fails for
    // "not an import OU".
    let plan = plan_json(&sim, dir.path(), &[]);
    let r1: BTreeSet<String> = plan
        .findings
        .iter()
        .filter(|f| f.id.starts_with("R1:corp.example.com:"))
        .map(|f| f.group.as_ref().unwrap().id.clone())
        .collect();
    let truth: BTreeSet<String> = sim
        .provisioning_check()
        .results
        .into_iter()
        .filter(|r| r.domain == CORP && r.reasons.iter().any(|m| m.contains("is not an import OU")))
        .map(|r| r.group_id)
        .collect();
    assert_eq!(r1, truth);
    // Again: nothing to add.
    let out = ok(&run(
        &sim,
        dir.path(),
        &["import-ous", "--discover", "--directory", CORP],
    ));
    assert!(out.contains("Nothing to add"), "{out}");
}

#[test]
fn declarations_are_checked_against_imported_users_and_likely_false_r1_is_marked() {
    let (sim, dir) = start();
    // Contractors is ticked in the org but not declared; `OU=Empty` is declared but holds
    // nobody.
    write(
        dir.path(),
        "ouguard.toml",
        r#"[directory."corp.example.com"]
import_ous = ["OU=Staff,DC=corp,DC=example,DC=com", "OU=Empty,DC=corp,DC=example,DC=com"]
"#,
    );
    let plan = plan_json(&sim, dir.path(), &["--evidence"]);
    let warning = |prefix: &str| plan.warnings.iter().find(|w| w.id.starts_with(prefix));
    let empty =
        warning("evidence-import-ou-without-users:corp.example.com:OU=Empty").expect("warned");
    assert!(
        empty.message.contains("is it still ticked?"),
        "{}",
        empty.message
    );
    assert!(warning("evidence-import-ou-undeclared:corp.example.com:").is_some());
    let finding = |group: &str| {
        plan.findings
            .iter()
            .find(|f| f.id.starts_with("R1:") && f.group.as_ref().is_some_and(|g| g.name == group))
            .unwrap_or_else(|| panic!("an R1 finding for {group}"))
    };
    let contractors = finding("Contractors").evidence.as_ref().unwrap();
    let why = contractors.likely_false.as_deref().expect("likely false");
    assert!(
        why.contains("import-ous --discover --directory corp.example.com"),
        "{why}"
    );
    assert!(finding("Marketing")
        .evidence
        .as_ref()
        .unwrap()
        .likely_false
        .is_none());
    // And in text, marked next to the finding.
    let text = ok(&run(
        &sim,
        dir.path(),
        &["plan", "--evidence", "--strategy", "add-ou"],
    ));
    assert!(text.contains("likely false"), "{text}");
}

/// Finding id → the user ids its evidence lists.
fn users_per_finding(plan: &Plan) -> Vec<(String, BTreeSet<String>)> {
    plan.findings
        .iter()
        .filter_map(|f| {
            let e = f.evidence.as_ref()?;
            Some((f.id.clone(), e.users.iter().map(|u| u.id.clone()).collect()))
        })
        .collect()
}

#[test]
fn plan_evidence_lists_exactly_the_failed_users_per_finding_and_after_apply_and_retry_they_provisioned(
) {
    let (sim, dir) = start();
    write(dir.path(), "ouguard.toml", DEMO_CONFIG);
    let plan = plan_json(&sim, dir.path(), &["--evidence"]);
    let truth = sim.failed_provisioning();
    assert!(!truth.is_empty());
    let evidence = plan
        .evidence
        .as_ref()
        .expect("the plan says what evidence cost");
    assert!(evidence.requests > 0);
    for (id, users) in users_per_finding(&plan) {
        let f = plan.findings.iter().find(|f| f.id == id).unwrap();
        let expected: BTreeSet<String> = truth
            .iter()
            .filter(|(app, group, _)| {
                *app == f.directory.app_id && f.group.as_ref().is_none_or(|g| g.id == *group)
            })
            .map(|(_, _, user)| user.clone())
            .collect();
        assert_eq!(users, expected, "{id}");
        assert_eq!(f.evidence.as_ref().unwrap().failing_users, expected.len());
    }
    // Clean groups have no finding, hence no users; every failing user is accounted for.
    let listed: BTreeSet<String> = users_per_finding(&plan)
        .into_iter()
        .flat_map(|(_, u)| u)
        .collect();
    let failing: BTreeSet<String> = truth.iter().map(|(_, _, u)| u.clone()).collect();
    assert_eq!(listed, failing);

    // Apply (the manual step stays pending), retry as the admin would, plan again.
    let out = run(
        &sim,
        dir.path(),
        &[
            "apply",
            "--auto-approve",
            "--evidence",
            "--strategy",
            "add-ou",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Dashboard > Tasks"), "{stdout}");
    let records: Vec<_> = std::fs::read_dir(dir.path().join(".ouguard/runs"))
        .unwrap()
        .collect();
    let record = std::fs::read_to_string(records[0].as_ref().unwrap().path()).unwrap();
    assert!(
        record.lines().any(|l| l.contains("\"type\":\"retry\"")),
        "{record}"
    );
    let retried = sim.retry_provisioning("emea.example.com", None).unwrap();
    assert!(
        retried.still_failing.is_empty(),
        "both emea fixes were applied"
    );

    let plan = plan_json(&sim, dir.path(), &["--evidence"]);
    let after_fix = &plan.evidence.as_ref().unwrap().after_fix;
    let fixed: BTreeSet<&str> = after_fix.iter().map(|a| a.finding.as_str()).collect();
    assert!(
        fixed.iter().any(|f| f.starts_with("R2:emea.example.com:")),
        "{fixed:?}"
    );
    assert!(
        fixed.iter().any(|f| f.starts_with("R1:emea.example.com:")),
        "{fixed:?}"
    );
    for a in after_fix {
        assert_eq!(a.failing, 0, "{a:?}");
        assert!(a.provisioned > 0 && a.users.iter().all(|u| u.state == "provisioned"));
        assert!(a.users.iter().all(|u| retried.provisioned.contains(&u.id)));
    }
    // The corp manual step is still pending: Marketing's users are still failing.
    assert!(plan
        .findings
        .iter()
        .any(|f| f.group.as_ref().is_some_and(|g| g.name == "Marketing")
            && f.evidence.as_ref().is_some_and(|e| e.failing_users == 2)));
}

#[test]
fn a_token_without_the_logs_scope_still_plans_with_a_warning_naming_it() {
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();
    jwk["kid"] = Value::from("k1");
    let scopes = "okta.apps.read okta.profileMappings.read okta.userTypes.read okta.groups.read okta.users.read";
    let sim = SimOrg::start_blocking(SimConfig {
        oauth_clients: vec![OAuthClient {
            client_id: "0oaevidenceclient".into(),
            jwks: vec![jwk],
            scopes_granted: scopes.split(' ').map(str::to_string).collect(),
            require_dpop: false,
        }],
        ..SimConfig::default()
    })
    .unwrap();
    // With the scopes configured to what the app has, and with ouguard's own request: Okta
    // refuses that one whole (`invalid_scope`), and ouguard asks again without the
    // evidence scopes the app lacks.
    for configured in [Some(scopes), None] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ouguard.toml", DEMO_CONFIG);
        let mut command = ouguard(dir.path());
        command
            .env("OKTA_CLIENT_ORGURL", sim.url())
            .env("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey")
            .env("OKTA_CLIENT_CLIENTID", "0oaevidenceclient")
            .env("OKTA_CLIENT_KID", "k1")
            .env("OKTA_CLIENT_PRIVATEKEY", &pem)
            .args(["plan", "--json", "--evidence", "--strategy", "add-ou"])
            .timeout(std::time::Duration::from_secs(60));
        match configured {
            Some(scopes) => command.env("OKTA_CLIENT_SCOPES", scopes),
            None => command.env_remove("OKTA_CLIENT_SCOPES"),
        };
        let out = command.output().unwrap();
        let plan = Plan::from_json(&ok(&out)).unwrap();
        let warning = plan
            .warnings
            .iter()
            .find(|w| w.id == "evidence-unavailable:okta.logs.read")
            .unwrap_or_else(|| panic!("a warning for the System Log ({configured:?})"));
        assert!(
            warning.message.contains("`okta.logs.read`"),
            "{}",
            warning.message
        );
        // Only the scope the app lacks is missed: group members and users still read.
        assert_eq!(
            plan.warnings
                .iter()
                .filter(|w| w.id.starts_with("evidence-unavailable"))
                .count(),
            1,
            "{:?}",
            plan.warnings
        );
        assert!(!plan.resource_changes.is_empty(), "the plan is still made");
        // App users still give evidence: failing users in ERROR are listed.
        assert!(plan
            .findings
            .iter()
            .any(|f| f.evidence.as_ref().is_some_and(|e| e.failing_users > 0)));
    }
}

#[test]
fn bad_since_and_evidence_from_a_snapshot_are_clear_errors() {
    let (sim, dir) = start();
    for (args, expected) in [
        (vec!["plan", "--evidence", "--since", "100d"], "90 days"),
        (
            vec!["plan", "--evidence", "--since", "soon"],
            "is not a duration",
        ),
    ] {
        let out = run(&sim, dir.path(), &args);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
    write(
        dir.path(),
        "snap.json",
        &serde_json::to_string(&sim.state()).unwrap(),
    );
    let out = run(
        &sim,
        dir.path(),
        &["plan", "--evidence", "--from-snapshot", "snap.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with `--from-snapshot`"));
}
