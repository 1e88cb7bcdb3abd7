//! The terminal side of the prompt seams: `dialoguer` selections and the `yes` approval.
//! Only this file knows `dialoguer`; everything else goes through `planner::Chooser` and
//! `Approver`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, Select};

use crate::exit::INTERRUPTED_CODE;

use crate::planner::{Candidate, Choice, Chooser};
use crate::rules::Finding;

/// `true` when a person can answer prompts: stdin and stderr are terminals.
#[must_use]
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Set while writes are in flight: Ctrl-C then waits for them (see [`defer_interrupts`]).
static WRITES_IN_FLIGHT: AtomicBool = AtomicBool::new(false);
/// Set when Ctrl-C came while writes were in flight.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C at a terminal leave it usable: the selection hides the cursor and, killed
/// by SIGINT, would never show it again. With this, SIGINT shows the cursor, says so and
/// exits with 130 (at a prompt, during a read); during writes it lets them finish first.
/// Call it once, at a terminal, with the runtime that outlives the prompts.
pub fn restore_terminal_on_interrupt(runtime: &tokio::runtime::Runtime) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered now (not on the task's first poll), so no prompt comes before it.
        let _entered = runtime.enter();
        if let Ok(mut interrupt) = signal(SignalKind::interrupt()) {
            runtime.spawn(async move {
                while interrupt.recv().await.is_some() {
                    if !WRITES_IN_FLIGHT.load(Ordering::SeqCst) {
                        exit_interrupted();
                    }
                    INTERRUPTED.store(true, Ordering::SeqCst);
                    eprintln!(
                        "\ninterrupt received: finishing the writes in flight, then reporting and recording them"
                    );
                }
            });
        }
    }
    #[cfg(not(unix))]
    let _ = runtime;
}

/// [`restore_terminal_on_interrupt`] for a command that has no runtime of its own (`plan
/// --from-snapshot`): a one-worker runtime listens for Ctrl-C while the main thread sits in
/// a prompt. Keep the returned runtime alive as long as prompts may come; `None` when it
/// could not be built (Ctrl-C then ends the program as usual).
#[must_use]
pub fn restore_terminal_on_interrupt_standalone() -> Option<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("ouguard-interrupts")
        .enable_all()
        .build()
        .ok()?;
    restore_terminal_on_interrupt(&runtime);
    Some(runtime)
}

/// While the guard lives, Ctrl-C does not end the program: writes already sent finish and
/// can be reported and recorded. Ask the guard whether Ctrl-C came.
pub fn defer_interrupts() -> InterruptsDeferred {
    WRITES_IN_FLIGHT.store(true, Ordering::SeqCst);
    InterruptsDeferred(())
}

/// See [`defer_interrupts`].
pub struct InterruptsDeferred(());

impl InterruptsDeferred {
    /// `true` when Ctrl-C came while the guard lived.
    #[must_use]
    pub fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for InterruptsDeferred {
    fn drop(&mut self) {
        WRITES_IN_FLIGHT.store(false, Ordering::SeqCst);
    }
}

fn exit_interrupted() -> ! {
    let _ = console::Term::stderr().show_cursor();
    eprintln!("\nerror: interrupted");
    std::process::exit(INTERRUPTED_CODE);
}

/// A failed prompt: Ctrl-C (console turns it into an `Interrupted` read) exits as SIGINT
/// would, with the cursor shown; anything else is an error for the caller.
fn prompt_failed(error: &dialoguer::Error) -> String {
    let dialoguer::Error::IO(io) = error;
    if io.kind() == std::io::ErrorKind::Interrupted {
        exit_interrupted();
    }
    let _ = console::Term::stderr().show_cursor();
    format!("the prompt failed: {error}")
}

/// Asks at the terminal how to fix each R1 finding.
pub struct TerminalChooser {
    /// How many ranked destinations to offer.
    pub shown_candidates: usize,
}

impl Default for TerminalChooser {
    fn default() -> Self {
        TerminalChooser {
            shown_candidates: 8,
        }
    }
}

impl Chooser for TerminalChooser {
    fn choose(&mut self, finding: &Finding, candidates: &[Candidate]) -> Result<Choice, String> {
        let group = finding.group.as_ref().map_or("?", |g| g.name.as_str());
        let ou = finding.ou.as_deref().unwrap_or_default();
        let mut items = vec![format!(
            "add `{ou}` to the import OUs of {} (manual step in the console)",
            finding.directory.domain
        )];
        let shown: Vec<&Candidate> = candidates.iter().take(self.shown_candidates).collect();
        items.extend(shown.iter().map(|c| format!("retarget to `{}`", c.ou)));
        items.push("skip (leave it for now)".to_string());
        let prompt = format!(
            "group `{group}` in {} targets `{ou}`, which is not an import OU. Fix",
            finding.directory.domain
        );
        let picked = Select::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .items(&items)
            .default(0)
            .interact_opt()
            .map_err(|e| prompt_failed(&e))?;
        match picked {
            None => Err("no choice was made".to_string()),
            Some(0) => Ok(Choice::AddOu),
            Some(i) if i <= shown.len() => Ok(Choice::Retarget(shown[i - 1].ou.clone())),
            Some(_) => Ok(Choice::Skip),
        }
    }
}

/// The seam through which a person approves a plan or confirms a manual step.
pub trait Approver {
    /// Shows `question`; `true` only when the person typed exactly `yes`.
    fn approve(&mut self, question: &str) -> Result<bool, String>;
}

/// Asks at the terminal; only the exact word `yes` approves.
pub struct TerminalApprover;

impl Approver for TerminalApprover {
    fn approve(&mut self, question: &str) -> Result<bool, String> {
        let answer: String = Input::with_theme(&ColorfulTheme::default())
            .with_prompt(question)
            .allow_empty(true)
            .interact_text()
            .map_err(|e| prompt_failed(&e))?;
        Ok(answer == "yes")
    }
}
