//! Helpers shared by the integration tests: the real binary with a clean environment.

use std::path::Path;

use assert_cmd::Command;

/// The `ouguard` binary, run in `dir`, with the developer's own Okta settings, HOME and
/// colors cleared so tests see what a fresh user sees.
pub fn ouguard(dir: &Path) -> Command {
    Command::from_std(ouguard_std(dir))
}

/// [`ouguard`] as a plain `std::process::Command`, for tests that need the child itself
/// (open stdin, a pseudo-terminal).
pub fn ouguard_std(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ouguard"));
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str() {
            if key.starts_with("OKTA_") {
                command.env_remove(key);
            }
        }
    }
    command.env("HOME", dir);
    command.env("NO_COLOR", "1");
    command.env_remove("CLICOLOR_FORCE");
    command
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path
}

/// The lines of stderr that start with `error:`.
pub fn error_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect()
}

/// The plan format's JSON Schema, `plans/plan.schema.json`, compiled once.
fn plan_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/plan.schema.json");
        let text = std::fs::read_to_string(&path).expect("reads plans/plan.schema.json");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the schema is a valid 2020-12 schema")
    })
}

/// The schema's complaints about a plan document (empty: it conforms).
pub fn plan_schema_errors(plan: &serde_json::Value) -> Vec<String> {
    plan_schema()
        .iter_errors(plan)
        .map(|error| format!("{} at `{}`", error, error.instance_path))
        .collect()
}

/// Fails unless the plan document conforms to `plans/plan.schema.json`.
pub fn assert_plan_matches_schema(plan: &serde_json::Value) {
    let errors = plan_schema_errors(plan);
    assert!(
        errors.is_empty(),
        "the plan does not match plans/plan.schema.json:\n{}\n{plan:#}",
        errors.join("\n")
    );
}

/// After a run of `ouguard ARGS` in `dir`: every plan it printed as JSON on stdout or saved
/// with `--out FILE` must conform to the schema. Returns how many plans it checked.
pub fn check_plans_made_by(dir: &Path, args: &[&str], stdout: &[u8]) -> usize {
    let mut checked = 0;
    // Snapshots (`export`) have a `format_version` too, and `directories`.
    let is_plan =
        |v: &serde_json::Value| v.get("format_version").is_some() && v.get("directories").is_none();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(stdout) {
        if is_plan(&value) {
            assert_plan_matches_schema(&value);
            checked += 1;
        }
    }
    if let Some(position) = args.iter().position(|a| *a == "--out") {
        let saved = args
            .get(position + 1)
            .and_then(|file| std::fs::read_to_string(dir.join(file)).ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        if let Some(value) = saved.filter(is_plan) {
            assert_plan_matches_schema(&value);
            checked += 1;
        }
    }
    checked
}
