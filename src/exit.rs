//! Exit codes and error reporting, decided in one place (product.md §8): `error: …`, then
//! its causes, then a hint when one exists.

use std::io::Write;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `plan --detailed-exitcode` with changes: exit 2.
    ChangesPresent,
    /// `apply` succeeded but manual steps are still pending: exit 2.
    ManualStepsPending,
    /// `apply` finished but at least one change failed: exit 1 (the report says which).
    ChangesFailed,
}

impl Outcome {
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::ChangesFailed => 1,
            Outcome::ChangesPresent | Outcome::ManualStepsPending => 2,
        }
    }
}

/// The exit code of an error.
pub const ERROR_CODE: i32 = 1;

/// An error a person can act on, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    #[allow(clippy::new_ret_no_self)] // builds the `anyhow::Error` that carries it
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

/// Writes `error: …`, its causes and its hint.
pub fn report_error(error: &anyhow::Error, out: &mut dyn Write) {
    let mut chain = error.chain();
    if let Some(top) = chain.next() {
        let _ = writeln!(out, "error: {top}");
    }
    for cause in chain {
        let text = cause.to_string();
        if !text.is_empty() {
            let _ = writeln!(out, "  caused by: {text}");
        }
    }
    if let Some(hint) = hint_of(error) {
        let _ = writeln!(out, "hint: {hint}");
    }
}
