//! The binary as a user runs it, offline: `plan --from-snapshot`, `show`, exit codes, and bad
//! input of every kind giving one clear `error:` line and writing nothing.

use ouguard::fixtures::{assignment, directory, mapping, org};
use ouguard::state::OrgState;

use crate::support::{error_lines, ouguard, write};

fn demo_like_snapshot() -> OrgState {
    let mut corp = directory(
        "corp.example.com",
        Some(&["OU=Staff,DC=corp,DC=example,DC=com"]),
    );
    corp.assignments.push(assignment(
        "00g1",
        "Staff",
        Some("OU=Staff,DC=corp,DC=example,DC=com"),
    ));
    corp.assignments.push(assignment(
        "00g2",
        "Marketing",
        Some("OU=Marketing,DC=corp,DC=example,DC=com"),
    ));
    let app_id = corp.app_id.clone();
    corp.mappings
        .push(mapping("prm1", &app_id, &[("dn", Some("user.dn"))]));
    org(vec![corp])
}

fn clean_snapshot() -> OrgState {
    let mut corp = directory(
        "corp.example.com",
        Some(&["OU=Staff,DC=corp,DC=example,DC=com"]),
    );
    corp.assignments.push(assignment(
        "00g1",
        "Staff",
        Some("OU=Staff,DC=corp,DC=example,DC=com"),
    ));
    org(vec![corp])
}

/// Runs the binary and asserts exit 1 with exactly one `error:` line containing `expected`.
fn assert_one_error(output: &std::process::Output, expected: &str) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let errors = error_lines(&output.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(expected), "{errors:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.len() < 4_000,
        "error output is short: {} bytes",
        stderr.len()
    );
}

#[test]
fn plan_from_snapshot_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let dirty = write(dir.path(), "dirty.json", &demo_like_snapshot().to_json());
    let clean = write(dir.path(), "clean.json", &clean_snapshot().to_json());

    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot"])
        .arg(&dirty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Plan: 1 to add, 0 to change, 1 to delete (1 manual step)."),
        "{stdout}"
    );

    let out = ouguard(dir.path())
        .args(["plan", "--detailed-exitcode", "--from-snapshot"])
        .arg(&dirty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = ouguard(dir.path())
        .args(["plan", "--detailed-exitcode", "--from-snapshot"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes. Okta matches the rules."));
}

#[test]
fn saved_plans_show_and_refuse_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &demo_like_snapshot().to_json());
    let out = ouguard(dir.path())
        .args(["plan", "--json", "--out", "plans/p.json", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let saved = std::fs::read_to_string(dir.path().join("plans/p.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        saved,
        "--json prints what --out saves"
    );
    let document: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(document["format_version"], "1");
    assert_eq!(document["summary"]["manual"], 1);

    let out = ouguard(dir.path())
        .args(["show", "plans/p.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 manual step"));

    let tampered = saved.replace("OU=Marketing", "OU=Evil");
    write(dir.path(), "plans/t.json", &tampered);
    let out = ouguard(dir.path())
        .args(["show", "plans/t.json"])
        .output()
        .unwrap();
    assert_one_error(&out, "refused the plan file `plans/t.json`");
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum does not match"));

    write(
        dir.path(),
        "plans/v9.json",
        &saved.replace("\"format_version\": \"1\"", "\"format_version\": \"9\""),
    );
    let out = ouguard(dir.path())
        .args(["show", "plans/v9.json"])
        .output()
        .unwrap();
    assert_one_error(&out, "refused the plan file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`9`"));
}

#[test]
fn bad_input_gives_one_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let full = demo_like_snapshot().to_json();
    let truncated = write(dir.path(), "truncated.json", &full[..full.len() / 2]);
    let out = ouguard(dir.path())
        .args(["plan", "--out", "plans/never.json", "--from-snapshot"])
        .arg(&truncated)
        .output()
        .unwrap();
    assert_one_error(&out, "failed to read the snapshot");
    assert!(
        !dir.path().join("plans").exists(),
        "nothing is written on bad input"
    );

    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot", "missing.json"])
        .output()
        .unwrap();
    assert_one_error(&out, "failed to read the snapshot `missing.json`");

    let snapshot = write(dir.path(), "s.json", &full);
    write(
        dir.path(),
        "ouguard.toml",
        "[directory.\"corp.example.com\"]\nimport_ous = \"OU=Staff\"\n",
    );
    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_one_error(&out, "failed to read `ouguard.toml`: line 2");

    let huge_dn = format!("OU={},DC=corp,DC=example,DC=com", "x\\,".repeat(33_000));
    write(
        dir.path(),
        "ouguard.toml",
        &format!(
            "[directory.\"corp.example.com\"]\nimport_ous = [\"{}\"]\n",
            huge_dn.replace('\\', "\\\\")
        ),
    );
    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a 100 KB DN is a valid, if odd, import OU"
    );

    write(
        dir.path(),
        "ouguard.toml",
        "[directory.\"corp.example.com\"]\nimport_ous = [\"OU=a\\\\\"]\n",
    );
    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_one_error(&out, "is not a valid DN");

    let mut state = demo_like_snapshot();
    state.directories[0].assignments[1].organizational_unit =
        Some(format!("OU={}", "y,".repeat(50_000)));
    let hostile = write(dir.path(), "hostile.json", &state.to_json());
    std::fs::remove_file(dir.path().join("ouguard.toml")).unwrap();
    let out = ouguard(dir.path())
        .args(["plan", "--from-snapshot"])
        .arg(&hostile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.len() < 10_000,
        "hostile values are shortened in output"
    );

    let out = ouguard(dir.path())
        .args(["plan", "--strategy", "retarget", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_one_error(&out, "1 finding has no usable retarget destination");

    let out = ouguard(dir.path())
        .args(["plan", "--retarget", "Marketing", "--from-snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_one_error(&out, "is not `GROUP=DN`");
}

#[test]
fn retarget_pins_from_flags_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &demo_like_snapshot().to_json());
    let out = ouguard(dir.path())
        .args([
            "plan",
            "--strategy",
            "retarget",
            "--retarget",
            "Marketing=OU=Team,OU=Staff,DC=corp,DC=example,DC=com",
            "--from-snapshot",
        ])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Plan: 0 to add, 1 to change, 1 to delete."),
        "{stdout}"
    );
}

#[test]
fn completions_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = ouguard(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ouguard"));
}

#[test]
fn a_closed_stdout_ends_quietly_like_sigpipe() {
    // `ouguard plan --json --from-snapshot big.json | head -c0`: the reader is gone. The JSON
    // is far larger than a pipe's buffer, so writing it must meet the closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let state = ouguard::sim::large_org(ouguard::sim::GeneratorParams {
        directories: 2,
        groups: 2_000,
        import_ous: 5,
        user_types: 1,
        skew: 0.0,
        seed: 3,
    });
    let snapshot = write(dir.path(), "big.json", &state.to_json());
    let mut child = crate::support::ouguard_std(dir.path())
        .args(["plan", "--json", "--from-snapshot"])
        .arg(&snapshot)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141));
    assert!(
        output.stderr.is_empty(),
        "nothing to report: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
