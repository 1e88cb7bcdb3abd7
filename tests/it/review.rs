//! Dry-run review, as a pipeline and a reviewer meet it, offline: `show`/`plan --format
//! markdown` (through a real Markdown renderer, hostile names included), `--format json`
//! and `--json`, `show --detailed-exitcode`, and the plan format's JSON Schema against every
//! committed plan and the plans the binary makes.

use std::path::{Path, PathBuf};
use std::process::Output;

use ouguard::fixtures::{assignment, directory, mapping, org};
use ouguard::plan::Plan;
use ouguard::state::OrgState;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use crate::support::{
    assert_plan_matches_schema, check_plans_made_by, error_lines, ouguard, plan_schema_errors,
    write,
};

/// The name of the issue: closes the fold, injects HTML, breaks the table, opens code.
const HOSTILE: &str = "</details><img src=x onerror=alert(1)> | `x` ";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";

fn plans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")
}

/// Every plan committed under `plans/` (the schema itself aside).
fn committed_plans() -> Vec<PathBuf> {
    let mut plans: Vec<PathBuf> = std::fs::read_dir(plans_dir())
        .expect("plans/")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "plan.schema.json")
        })
        .collect();
    plans.sort();
    assert!(plans.len() >= 2, "{plans:?}");
    plans
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = ouguard(dir).args(args).output().expect("ouguard runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    check_plans_made_by(dir, args, &output.stdout);
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn events(text: &str) -> Vec<Event<'_>> {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    Parser::new_ext(text, options).collect()
}

/// What a renderer makes of the Markdown: table rows (header aside), HTML pieces, task list
/// items, links and images.
#[derive(Debug, Default)]
struct Rendered {
    rows: usize,
    cells_per_row: Vec<usize>,
    html: Vec<String>,
    tasks: usize,
    links: usize,
    code: Vec<String>,
}

fn rendered(text: &str) -> Rendered {
    let mut seen = Rendered::default();
    let mut in_head = false;
    let mut cells = 0;
    for event in events(text) {
        match event {
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableRow) if !in_head => {
                seen.rows += 1;
                seen.cells_per_row.push(cells);
            }
            Event::Html(html) | Event::InlineHtml(html) => seen.html.push(html.into_string()),
            Event::TaskListMarker(_) => seen.tasks += 1,
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => seen.links += 1,
            Event::Code(code) => seen.code.push(code.into_string()),
            _ => {}
        }
    }
    seen
}

/// The only HTML ouguard's Markdown has: its own marker, fold and summary.
fn assert_only_our_html(html: &[String]) {
    for piece in html {
        let piece = piece.trim_end();
        assert!(
            [
                "<!-- ouguard-plan -->",
                "<details><summary>Full plan (text)</summary>",
                "</details>"
            ]
            .contains(&piece),
            "HTML from data reached the output: {piece:?}"
        );
    }
}

#[test]
fn show_renders_the_demo_plan_as_markdown_for_a_pull_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = plans_dir().join("demo-add-ou.json");
    let out = run(
        dir.path(),
        &["show", path.to_str().unwrap(), "--format", "markdown"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let markdown = stdout(&out).replace(path.to_str().unwrap(), "plans/demo-add-ou.json");
    let plan = Plan::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let seen = rendered(&markdown);
    assert_eq!(seen.rows, plan.resource_changes.len(), "one row per change");
    assert!(seen.cells_per_row.iter().all(|&c| c == 5), "{seen:?}");
    assert_eq!(
        seen.tasks, plan.summary.manual,
        "manual steps are a checklist"
    );
    assert_eq!(seen.links, 0);
    assert_only_our_html(&seen.html);
    // The summary comes before the fold; the checksum, the date and the command at the end.
    let fold = markdown.find("<details>").unwrap();
    assert!(
        markdown
            .find("**Plan: 1 to add, 1 to change, 1 to delete (1 manual step).**")
            .unwrap()
            < fold
    );
    assert!(markdown.contains(&plan.checksum));
    assert!(markdown.contains(&plan.created_at));
    assert!(markdown
        .trim_end()
        .ends_with("Apply exactly this plan with `ouguard apply plans/demo-add-ou.json`."));
    insta::assert_snapshot!(markdown);
}

#[test]
fn json_and_format_json_print_the_plan_document_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for path in committed_plans() {
        let file = std::fs::read_to_string(&path).unwrap();
        let path = path.to_str().unwrap();
        let short = run(dir.path(), &["show", path, "--json"]);
        let long = run(dir.path(), &["show", path, "--format", "json"]);
        assert_eq!(short.status.code(), Some(0));
        assert_eq!(stdout(&short), file, "the JSON format is unchanged");
        assert_eq!(stdout(&long), file);
        let text = run(dir.path(), &["show", path, "--format", "text"]);
        let plain = run(dir.path(), &["show", path]);
        assert_eq!(stdout(&text), stdout(&plain));
    }
    let both = run(
        dir.path(),
        &["show", "x.json", "--json", "--format", "markdown"],
    );
    assert_ne!(
        both.status.code(),
        Some(0),
        "`--json` is short for `--format json`"
    );
    let bad = run(dir.path(), &["show", "x.json", "--format", "html"]);
    assert_ne!(bad.status.code(), Some(0));
}

#[test]
fn show_detailed_exitcode_tells_whether_a_saved_plan_has_changes() {
    let dir = tempfile::tempdir().unwrap();
    for path in committed_plans() {
        let out = run(
            dir.path(),
            &["show", path.to_str().unwrap(), "--detailed-exitcode"],
        );
        assert_eq!(out.status.code(), Some(2), "{path:?} has changes");
        let plain = run(dir.path(), &["show", path.to_str().unwrap()]);
        assert_eq!(plain.status.code(), Some(0), "without the flag: 0");
    }
    let empty = Plan::new(
        Some("https://acme.okta.com".into()),
        "2026-11-29T18:00:00Z".into(),
        vec![],
        vec![],
        vec![],
    );
    let file = write(dir.path(), "empty.json", &empty.to_json());
    for format in ["text", "json", "markdown"] {
        let out = run(
            dir.path(),
            &[
                "show",
                file.to_str().unwrap(),
                "--detailed-exitcode",
                "--format",
                format,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "an empty plan: 0");
    }
    // A refused plan is an error, whatever the flag.
    let tampered = write(
        dir.path(),
        "tampered.json",
        &empty.to_json().replace("acme", "evil"),
    );
    let out = run(
        dir.path(),
        &["show", tampered.to_str().unwrap(), "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error_lines(&out.stderr).len(), 1);
}

/// A snapshot with every kind of change and unfixed finding, `name` as group names, in an
/// OU and in the `dn` expression.
fn snapshot_named(name: &str) -> OrgState {
    let mut corp = directory("corp.example.com", Some(&[STAFF]));
    let mut escaped = String::new();
    for (i, ch) in name.chars().enumerate() {
        let edge = i == 0 || i + 1 == name.chars().count();
        if matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || (edge && ch == ' ') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    corp.assignments.push(assignment(
        "00g1",
        name,
        Some(&format!("OU={escaped},DC=corp,DC=example,DC=com")),
    ));
    corp.assignments.push(assignment(
        "00g2",
        name,
        Some("OU=Web,DC=corp,DC=example,DC=com"),
    ));
    corp.assignments
        .push(assignment("00g3", name, Some(&format!("{name},,"))));
    let app_id = corp.app_id.clone();
    corp.mappings.push(mapping(
        "prm1",
        &app_id,
        &[("dn", Some(&format!("\"{name}\" + user.login")))],
    ));
    org(vec![corp])
}

#[test]
fn a_hostile_group_name_renders_as_text_through_a_markdown_renderer() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &snapshot_named(HOSTILE).to_json());
    let out = run(
        dir.path(),
        &[
            "plan",
            "--format",
            "markdown",
            "--retarget",
            &format!("00g2={STAFF}"),
            "--out",
            "plans/review.json",
            "--detailed-exitcode",
            "--from-snapshot",
            snapshot.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "changes present");
    let markdown = stdout(&out);
    let plan =
        Plan::from_json(&std::fs::read_to_string(dir.path().join("plans/review.json")).unwrap())
            .unwrap();
    assert_eq!(plan.resource_changes.len(), 3, "{plan:#?}");

    let seen = rendered(&markdown);
    assert_eq!(seen.rows, 3, "one row per change:\n{markdown}");
    assert!(
        seen.cells_per_row.iter().all(|&c| c == 5),
        "{seen:?}\n{markdown}"
    );
    assert_only_our_html(&seen.html);
    assert_eq!(seen.links, 0, "no link or image:\n{markdown}");
    assert_eq!(
        seen.html
            .iter()
            .filter(|h| h.contains("</details>"))
            .count(),
        1,
        "the fold is closed once, by ouguard"
    );
    assert!(
        seen.code
            .iter()
            .any(|c| c.contains("</details><img src=x onerror=alert(1)> | `x`")),
        "the name is shown as it is: {:?}",
        seen.code
    );
    assert!(markdown.contains("`ouguard apply plans/review.json`"));
}

#[test]
fn plan_format_markdown_without_out_says_how_to_save_it() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &snapshot_named("Marketing").to_json());
    let out = run(
        dir.path(),
        &[
            "plan",
            "--format",
            "markdown",
            "--from-snapshot",
            snapshot.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let markdown = stdout(&out);
    assert!(markdown.starts_with("<!-- ouguard-plan -->\n### ouguard plan for "));
    assert!(
        markdown.contains("Save it with `ouguard plan --out FILE`"),
        "{markdown}"
    );
    assert!(
        !markdown.contains("Saved the plan to"),
        "the text-only note stays out"
    );
}

#[test]
fn plans_all_left_out_say_so_and_exit_0_with_detailed_exitcode() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &snapshot_named("Marketing").to_json());
    for format in ["text", "markdown"] {
        let out = run(
            dir.path(),
            &[
                "plan",
                "--target",
                "group:Nobody",
                "--detailed-exitcode",
                "--format",
                format,
                "--from-snapshot",
                snapshot.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "nothing is planned");
        let text = stdout(&out);
        assert!(!text.contains("Okta matches the rules"), "{text}");
        assert!(
            text.contains("No changes planned: every finding was left out by --target/--exclude"),
            "{text}"
        );
    }
}

#[test]
fn every_committed_plan_matches_the_schema() {
    for path in committed_plans() {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_plan_matches_schema(&value);
    }
}

#[test]
fn the_schema_catches_a_wrong_type_a_missing_field_and_unknown_values() {
    let path = plans_dir().join("demo-add-ou.json");
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let retarget = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["kind"] == "group_target_ou")
        .unwrap();
    let mapping = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["kind"] == "mapping_property")
        .unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "a number as OU",
            Box::new(move |p| {
                p["resource_changes"][retarget]["after"]["organizationalUnit"] = 5.into()
            }),
        ),
        (
            "no precondition",
            Box::new(move |p| {
                p["resource_changes"][retarget]
                    .as_object_mut()
                    .unwrap()
                    .remove("precondition");
            }),
        ),
        (
            "an empty precondition",
            Box::new(move |p| {
                p["resource_changes"][retarget]["precondition"] = serde_json::json!({})
            }),
        ),
        (
            "an empty lastUpdated",
            Box::new(move |p| {
                p["resource_changes"][retarget]["precondition"]["lastUpdated"] = "".into()
            }),
        ),
        (
            "an empty destination",
            Box::new(move |p| {
                p["resource_changes"][retarget]["after"]["organizationalUnit"] = "".into()
            }),
        ),
        (
            "an unknown kind",
            Box::new(move |p| p["resource_changes"][retarget]["kind"] = "user".into()),
        ),
        (
            "a kind with another action",
            Box::new(move |p| p["resource_changes"][retarget]["action"] = "delete".into()),
        ),
        (
            "a retarget done by hand",
            Box::new(move |p| p["resource_changes"][retarget]["execution"] = "manual".into()),
        ),
        (
            "a delete with an after",
            Box::new(move |p| {
                p["resource_changes"][mapping]["after"] = serde_json::json!({"key": "dn"})
            }),
        ),
        (
            "a delete without mapping id",
            Box::new(move |p| p["resource_changes"][mapping]["mapping_id"] = Value::Null),
        ),
        (
            "an unknown field",
            Box::new(|p| p["resource_changes"][0]["surprise"] = true.into()),
        ),
        (
            "an unknown top-level field",
            Box::new(|p| p["surprise"] = true.into()),
        ),
        (
            "another version",
            Box::new(|p| p["format_version"] = "2".into()),
        ),
        (
            "no checksum",
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("checksum");
            }),
        ),
        (
            "a negative count",
            Box::new(|p| p["summary"]["add"] = (-1).into()),
        ),
        (
            "a string count",
            Box::new(|p| p["summary"]["add"] = "1".into()),
        ),
        (
            "an unknown rule",
            Box::new(|p| p["findings"][0]["rule"] = "R3".into()),
        ),
        (
            "a finding without message",
            Box::new(|p| {
                p["findings"][0].as_object_mut().unwrap().remove("message");
            }),
        ),
        (
            "a group without id",
            Box::new(|p| {
                p["findings"][0]["group"]
                    .as_object_mut()
                    .unwrap()
                    .remove("id");
            }),
        ),
        (
            "an import OU as a list",
            Box::new(|p| p["resource_changes"][0]["after"]["ou"] = serde_json::json!(["OU=X"])),
        ),
    ];
    for (what, edit) in cases {
        let mut edited = plan.clone();
        edit(&mut edited);
        assert!(
            !plan_schema_errors(&edited).is_empty(),
            "the schema accepts {what}"
        );
    }
    // Additive fields this version allows: evidence on a finding.
    let mut with_evidence = plan.clone();
    with_evidence["findings"][0]["evidence"] = serde_json::json!({"failing_users": 3});
    assert_plan_matches_schema(&with_evidence);
}

#[test]
fn plans_the_binary_makes_in_every_strategy_match_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = write(dir.path(), "s.json", &snapshot_named(HOSTILE).to_json());
    let snapshot = snapshot.to_str().unwrap();
    let pin = format!("00g2={STAFF}");
    let runs: Vec<Vec<&str>> = vec![
        vec!["plan", "--json", "--from-snapshot", snapshot],
        vec![
            "plan",
            "--format",
            "json",
            "--strategy",
            "add-ou",
            "--from-snapshot",
            snapshot,
        ],
        vec![
            "plan",
            "--out",
            "a.json",
            "--retarget",
            &pin,
            "--from-snapshot",
            snapshot,
        ],
        vec![
            "plan",
            "--out",
            "b.json",
            "--exclude",
            "corp.example.com",
            "--from-snapshot",
            snapshot,
        ],
        vec![
            "plan",
            "--out",
            "c.json",
            "--target",
            "R1:corp.example.com:00g2",
            "--retarget",
            &pin,
            "--from-snapshot",
            snapshot,
        ],
    ];
    let mut checked = 0;
    for args in &runs {
        let out = ouguard(dir.path()).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += check_plans_made_by(dir.path(), args, &out.stdout);
    }
    assert_eq!(
        checked,
        runs.len(),
        "each run made one plan, each was checked"
    );
}
