//! The terminal side of the prompt seams: `dialoguer` selections and the `yes` approval.
//! Only this file knows `dialoguer`; everything else goes through `planner::Chooser` and
//! `Approver`.

use std::io::IsTerminal;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, Select};

use crate::planner::{Candidate, Choice, Chooser};
use crate::rules::Finding;

/// `true` when a person can answer prompts: stdin and stderr are terminals.
#[must_use]
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
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
            .map_err(|e| format!("the prompt failed: {e}"))?;
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
            .map_err(|e| format!("the prompt failed: {e}"))?;
        Ok(answer == "yes")
    }
}
