//! Exit codes and error reporting, decided in one place (product.md §8): `error: …`, then
//! its causes, then a hint when one exists.

use std::io::Write;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `plan --detailed-exitcode` or `show --detailed-exitcode` with changes: exit 2.
    ChangesPresent,
    /// `apply` succeeded but manual steps are still pending: exit 2.
    ManualStepsPending,
    /// `apply` finished but at least one change failed: exit 1 (the report says which).
    ChangesFailed,
    /// Ctrl-C during the writes: they were finished, reported and recorded; exit 130.
    Interrupted,
}

impl Outcome {
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::ChangesFailed => 1,
            Outcome::ChangesPresent | Outcome::ManualStepsPending => 2,
            Outcome::Interrupted => INTERRUPTED_CODE,
        }
    }
}

/// The exit code of an error.
pub const ERROR_CODE: i32 = 1;

/// The exit code after Ctrl-C at a terminal: the shell's own for SIGINT (128 + 2).
pub const INTERRUPTED_CODE: i32 = 130;

/// An error a person can act on, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    /// A hinted error, ready to return (`anyhow::Error`, not `Hinted`: callers `?` it).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Hinted {
            message: message.into(),
            hint: hint.into(),
        })
    }
}

/// Finds the hint for an error: the first cause that knows one.
#[must_use]
pub fn hint_of(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(hinted) = cause.downcast_ref::<Hinted>() {
            return Some(hinted.hint.clone());
        }
        crate::exit::extra_hint(cause)
    })
}

/// Hints that other error types know (the Okta client's).
fn extra_hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    cause
        .downcast_ref::<crate::okta::OktaError>()
        .and_then(crate::okta::OktaError::hint)
}

/// The exit code when the reader of our output went away (`ouguard plan | head`): what a
/// process killed by SIGPIPE reports (128 + 13), so `set -o pipefail` still sees it.
pub const BROKEN_PIPE_CODE: i32 = 141;

/// `true` when the error is only that stdout or stderr was closed by its reader: nothing to
/// report (there is nobody to read it), and the command stops there.
#[must_use]
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The `error:` line of an `apply` whose report lists failed changes (exit 1 always says
/// why on stderr, even when stdout went to a file).
pub fn report_changes_failed(
    failed: usize,
    total: usize,
    record: &std::path::Path,
    out: &mut dyn Write,
) {
    let _ = writeln!(
        out,
        "error: {failed} of {total} change(s) failed; see the report above (run record `{}`)",
        record.display()
    );
    let _ = writeln!(
        out,
        "hint: run `ouguard plan` to see what is left; the report gives each failure's okta error and request id"
    );
}

/// The longest line of an error report, in characters: messages quote outside text
/// already shortened, so only a runaway message (a library's error quoting a whole body)
/// reaches it.
const REPORT_LINE_MAX_CHARS: usize = 2_000;

/// Writes `error: …`, its causes and its hint, every line redacted (no secret the process
/// holds is printed, whatever a server put in its answer) and bounded in length.
pub fn report_error(error: &anyhow::Error, out: &mut dyn Write) {
    let clean = |text: &str| {
        // Redact the whole text (a cut first could leave half a secret) unless it is huge.
        let redacted = if text.len() <= 1 << 20 {
            crate::redact::redact(text)
        } else {
            crate::redact::redact(&crate::redact::truncate(text, REPORT_LINE_MAX_CHARS * 4))
        };
        redacted
            .lines()
            .map(|line| crate::redact::truncate(line, REPORT_LINE_MAX_CHARS))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut chain = error.chain();
    if let Some(top) = chain.next() {
        let _ = writeln!(out, "error: {}", clean(&top.to_string()));
    }
    for cause in chain {
        let text = cause.to_string();
        if !text.is_empty() {
            let _ = writeln!(out, "  caused by: {}", clean(&text));
        }
    }
    if let Some(hint) = hint_of(error) {
        let _ = writeln!(out, "hint: {}", clean(&hint));
    }
}
