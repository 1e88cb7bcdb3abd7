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
