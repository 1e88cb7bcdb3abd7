//! The apply operation: the re-check of every change against the rules, preconditions on
//! fresh reads, the writes, the manual steps (confirmed through the `Approver` seam and
//! recorded in `ouguard.toml`), the run record and the report. Commands only gather its
//! inputs; the Okta work itself is in `apply` (the executor).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::apply::{
    check_preconditions, execute, stale_manual_steps, ChangeOutcome, ChangeResult, Fresh,
};
use crate::exit::{Hinted, Outcome};
use crate::okta::OktaClient;
use crate::plan::{ChangeDetails, ChangeKind, Execution, Plan};
use crate::prompt::{defer_interrupts, Approver, InterruptsDeferred};
use crate::recheck::{recheck, recheck_undo, Refusal, RefusalKind};
use crate::render::import_ou_console_path;
use crate::runrecord::{ConfigRecord, RunEnding, RunRecorder, RunStart, Tally};
use crate::state::OrgState;

/// How to apply, besides the plan and the org.
#[derive(Debug, Clone)]
pub struct ApplyOptions<'a> {
    /// The config file a confirmed import OU is recorded in.
    pub config_path: &'a Path,
    /// Where `.ouguard/runs/` is.
    pub records_dir: &'a Path,
    pub quiet: bool,
    /// Ask the person to confirm each manual step (at a terminal, without `--auto-approve`).
    pub confirm_manual: bool,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Applies an approved plan: the re-check of every change against the rules on `state` (the
/// org as read, with the config's import OUs declared), the precondition check on fresh reads
/// (refusing a stale plan before any write), the writes, the manual steps, the report and the
/// run record.
pub fn apply_approved(
    runtime: &tokio::runtime::Runtime,
    client: &OktaClient,
    plan: &Plan,
    state: &OrgState,
    options: &ApplyOptions<'_>,
    approver: &mut dyn Approver,
    stdout: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let org_url = client.org_url().to_string();
    let confirm_manual = options.confirm_manual;
    if !plan.has_changes() {
        writeln!(stdout, "Nothing to apply.")?;
        return Ok(Outcome::Success);
    }
    let started_at = now_rfc3339();
    let run_start = RunStart {
        org_url: org_url.clone(),
        started_at: started_at.clone(),
        config_path: options.config_path.to_path_buf(),
    };
    let refusals = match &plan.undo_of {
        // An undo plan is held against the record of the run it undoes: only the reversals
        // that record shows, back to exactly what it holds.
        Some(undo_of) => {
            let run =
                crate::undo_record::load(Path::new(&undo_of.run_record)).with_context(|| {
                    format!(
                        "the plan undoes the run recorded in `{}`, and apply re-checks every \
                         reversal against that record; nothing was written",
                        undo_of.run_record
                    )
                })?;
            recheck_undo(state, plan, &run)
        }
        None => recheck(state, plan),
    };
    if !refusals.is_empty() {
        // Refused before any write; still recorded, like a stale plan (every apply that
        // reached the org leaves a record).
        let reasons: Vec<String> = refusals
            .iter()
            .map(|r| format!("{}: {}", r.address, r.reason))
            .collect();
        let ending = if refusals.iter().all(|r| r.kind == RefusalKind::Stale) {
            RunEnding::RefusedStale(reasons)
        } else {
            RunEnding::Refused(reasons)
        };
        RunRecorder::start(options.records_dir, plan, &run_start)?
            .finish(&Tally::default(), &ending)?;
        return Err(refusal_error(&refusals));
    }

    let fresh = runtime
        .block_on(check_preconditions(client, plan))
        .context("failed to check the plan against the org; nothing was written")?;
    let stale_manual = runtime
        .block_on(stale_manual_steps(client, plan))
        .context("failed to check the plan against the org; nothing was written")?;
    let stale: Vec<&String> = fresh
        .iter()
        .filter_map(|(_, f)| match f {
            Fresh::Stale(reason) => Some(reason),
            _ => None,
        })
        .chain(&stale_manual)
        .collect();
    // The record starts before the first write; a stale plan's refusal is recorded too
    // (every apply that got this far leaves a record).
    let recorder = RunRecorder::start(options.records_dir, plan, &run_start)?;
    if !stale.is_empty() {
        let reasons: Vec<String> = stale.iter().map(|s| (*s).clone()).collect();
        recorder.finish(&Tally::default(), &RunEnding::RefusedStale(reasons))?;
        let list: Vec<String> = stale.iter().map(|s| format!("  {s}")).collect();
        return Err(Hinted::new(
            format!(
                "the plan is stale: the org changed since it was made; nothing was written\n{}",
                list.join("\n")
            ),
            "make a new plan with `ouguard plan --out FILE` and review it",
        ));
    }
    let record_path = recorder.path().to_path_buf();

    let api_changes = fresh.len();
    let writes_ahead = fresh.iter().any(|(_, f)| matches!(f, Fresh::Ready(_)));
    if let (Some(loud), true) = (undo_warning(plan), writes_ahead) {
        writeln!(stdout, "\n{loud}")?;
    }
    if !options.quiet && api_changes > 0 {
        writeln!(
            stdout,
            "\nApplying {api_changes} change(s) through the Okta API…"
        )?;
    }
    // Ctrl-C from here on lets the writes finish and be recorded (then exits 130).
    let mut deferred = Some(defer_interrupts());
    let mut outcomes = runtime.block_on(execute(client, plan, fresh, &recorder));
    let interrupted = deferred
        .as_ref()
        .is_some_and(InterruptsDeferred::interrupted);
    let confirm_manual = confirm_manual && !interrupted;
    let has_manual_steps = plan
        .resource_changes
        .iter()
        .any(|c| c.execution() == Execution::Manual);
    if confirm_manual && has_manual_steps {
        // The API writes are recorded: record the manual steps as pending before asking, so
        // an interrupted or failed confirmation leaves them pending in the record.
        for outcome in manual_steps_pending(plan) {
            if let Some(change) = plan.resource_changes.get(outcome.index) {
                recorder.result_blocking(change, &outcome, None)?;
            }
        }
        // Ctrl-C at a confirmation ends the program at once: the record is up to date.
        deferred = None;
    }
    let manual = manual_steps(
        options.config_path,
        plan,
        confirm_manual,
        approver,
        stdout,
        &recorder,
    );
    let manual = match manual {
        Ok(manual) => manual,
        Err(error) => {
            let mut so_far = outcomes.clone();
            so_far.extend(manual_steps_pending(plan));
            let _ = recorder.finish(&Tally::of(&so_far), &RunEnding::Error(format!("{error:#}")));
            return Err(error.context(format!(
                "the API changes were made and recorded in `{}`; the manual steps are still pending",
                record_path.display()
            )));
        }
    };
    outcomes.extend(manual);
    outcomes.sort_by_key(|o| o.index);

    // Who to retry in Dashboard > Tasks, now that the fixes are in (from the plan's evidence).
    let retry_lists = crate::evidence::retry_lists_after(plan, &outcomes, &started_at);
    for list in &retry_lists {
        recorder.retry_blocking(list)?;
    }
    // The record first: it must be complete even when stdout is gone (`apply … | head`).
    let ending = if interrupted {
        RunEnding::CtrlC
    } else {
        RunEnding::Completed
    };
    recorder
        .finish(&Tally::of(&outcomes), &ending)
        .with_context(|| {
            format!(
                "failed to finish the run record `{}`; the changes were made as reported below",
                record_path.display()
            )
        })?;
    report(&outcomes, stdout)?;
    crate::evidence::print_retry_lists(&retry_lists, stdout)?;
    drop(deferred);
    if !options.quiet {
        writeln!(stdout, "Run record: `{}`", record_path.display())?;
    }

    let tally = Tally::of(&outcomes);
    Ok(if interrupted {
        Outcome::Interrupted
    } else if tally.failed > 0 {
        crate::exit::report_changes_failed(
            tally.failed,
            outcomes.len(),
            &record_path,
            &mut std::io::stderr().lock(),
        );
        Outcome::ChangesFailed
    } else if tally.manual_pending > 0 {
        Outcome::ManualStepsPending
    } else {
        Outcome::Success
    })
}

/// For an undo plan that re-creates the misconfiguration, the loud warning to show before
/// any write and in the approval prompt.
#[must_use]
pub fn undo_warning(plan: &Plan) -> Option<String> {
    plan.undo_of.as_ref()?;
    plan.warnings
        .iter()
        .find(|w| w.id == crate::undo::RECREATES_WARNING_ID)
        .map(|w| format!("!! {}", w.message))
}

/// The error refusing the whole plan when the re-check refused any change, listing each.
fn refusal_error(refusals: &[Refusal]) -> anyhow::Error {
    let list: Vec<String> = refusals
        .iter()
        .map(|r| format!("  {}: {}", r.address, r.reason))
        .collect();
    let not_plannable = refusals
        .iter()
        .filter(|r| r.kind == RefusalKind::NotPlannable)
        .count();
    let title = if not_plannable == 0 {
        "the plan is stale: the org changed since it was made; nothing was written".to_string()
    } else {
        format!(
            "the plan is refused: {not_plannable} of its changes {} not what ouguard would plan \
             from the org and `ouguard.toml` now; nothing was written",
            if not_plannable == 1 { "is" } else { "are" },
        )
    };
    Hinted::new(
        format!("{title}\n{}", list.join("\n")),
        "make a new plan with `ouguard plan --out FILE` and review it (a plan file's checksum \
         only catches accidental edits; apply re-checks every change against the rules)",
    )
}

/// Shows each manual step; at a terminal the person confirms it and the OU is recorded in
/// the config (diff shown). Otherwise the steps stay pending.
fn manual_steps(
    config_path: &Path,
    plan: &Plan,
    confirm: bool,
    approver: &mut dyn Approver,
    out: &mut dyn Write,
    recorder: &RunRecorder,
) -> anyhow::Result<Vec<ChangeOutcome>> {
    let mut outcomes = Vec::new();
    let steps: Vec<(usize, &crate::plan::ResourceChange)> = plan
        .resource_changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.execution() == Execution::Manual)
        .collect();
    if steps.is_empty() {
        return Ok(outcomes);
    }
    writeln!(out, "\nManual steps (Okta has no API for import OUs):")?;
    for (index, change) in steps {
        let ChangeDetails::ImportOuAdd(add) = &change.details else {
            continue;
        };
        let ou = add.ou.clone();
        writeln!(
            out,
            "  [ ] In the admin console, open {} and tick `{ou}`.",
            import_ou_console_path(&change.directory.domain)
        )?;
        let mut result = ChangeResult::ManualPending;
        let mut config = None;
        if confirm {
            out.flush()?;
            let done = approver
                .approve("Type `yes` once it is ticked and saved (anything else leaves it pending)")
                .map_err(anyhow::Error::msg)?;
            if done {
                let mut edit = ConfigRecord {
                    path: config_path.display().to_string(),
                    directory: change.directory.domain.clone(),
                    ou: ou.clone(),
                    added: None,
                };
                recorder.manual_intent_blocking(index, change, &edit)?;
                edit.added = Some(record_import_ou(
                    config_path,
                    &change.directory.domain,
                    &ou,
                    out,
                )?);
                config = Some(edit);
                result = ChangeResult::ManualConfirmed;
            }
        }
        let outcome = manual_outcome(index, change, result);
        recorder.result_blocking(change, &outcome, config.as_ref())?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Every manual step of the plan, as still pending.
fn manual_steps_pending(plan: &Plan) -> Vec<ChangeOutcome> {
    plan.resource_changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.execution() == Execution::Manual)
        .map(|(index, change)| manual_outcome(index, change, ChangeResult::ManualPending))
        .collect()
}

fn manual_outcome(
    index: usize,
    change: &crate::plan::ResourceChange,
    result: ChangeResult,
) -> ChangeOutcome {
    ChangeOutcome {
        index,
        address: change.address.clone(),
        kind: ChangeKind::ImportOu,
        result,
        request_ids: Vec::new(),
        observed_before: None,
        elapsed_ms: 0,
        left: None,
    }
}

/// Adds a confirmed import OU to the config file, showing the diff. `false` when the file
/// already declared it.
fn record_import_ou(
    path: &Path,
    domain: &str,
    ou: &str,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let by_directory =
        std::collections::BTreeMap::from([(domain.to_string(), vec![ou.to_string()])]);
    let edit = crate::config::add_import_ous_to_file(path, &by_directory)?;
    if edit.added == 0 {
        writeln!(out, "  `{}` already declares it.", path.display())?;
        return Ok(false);
    }
    write!(out, "{}", edit.diff)?;
    Ok(true)
}

/// Prints one line per change and the summary.
fn report(outcomes: &[ChangeOutcome], out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out)?;
    for outcome in outcomes {
        let ids = if outcome.request_ids.is_empty() {
            String::new()
        } else {
            format!(" (request ids: {})", outcome.request_ids.join(", "))
        };
        let detail = match &outcome.result {
            ChangeResult::Failed {
                error_code,
                error_summary,
                request_id,
                message,
                ..
            } => match (error_code, error_summary) {
                (Some(code), Some(summary)) => format!(
                    ": `{code}` {summary} (request id `{}`)",
                    request_id.as_deref().unwrap_or("none")
                ),
                _ => format!(": {message}"),
            },
            ChangeResult::Skipped { reason } => format!(": {reason}"),
            ChangeResult::Applied { note: Some(note) } => format!(": {note}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {}: {}{detail}{ids}",
            outcome.address,
            outcome.result.label()
        )?;
        if let ChangeResult::Failed {
            hint: Some(hint), ..
        } = &outcome.result
        {
            writeln!(out, "      hint: {hint}")?;
        }
    }
    let tally = Tally::of(outcomes);
    writeln!(
        out,
        "\nApply finished: {} applied, {} already applied, {} failed, {} skipped, {} manual step(s) pending, {} done.",
        tally.applied, tally.already_applied, tally.failed, tally.skipped, tally.manual_pending, tally.manual_done
    )?;
    if tally.failed > 0 {
        writeln!(
            out,
            "Run `ouguard plan` to see what is left, and `ouguard apply` again once the cause is fixed."
        )?;
    }
    if tally.manual_pending > 0 {
        writeln!(
            out,
            "Once the OUs are ticked in the console, declare them in `ouguard.toml` (or run \
             `ouguard import-ous --from-csv FILE` with the console's export); `ouguard plan` then \
             shows what is left."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_shows_a_failure_with_its_code_request_id_and_hint() {
        let outcome = ChangeOutcome {
            index: 0,
            address: "directory[\"corp.example.com\"].group[\"Marketing\"].target_ou".into(),
            kind: ChangeKind::GroupTargetOu,
            result: ChangeResult::Failed {
                error_code: Some("E0000006".into()),
                error_summary: Some("You do not have permission".into()),
                request_id: Some("req-403".into()),
                message: "okta returned 403".into(),
                hint: Some("this needs the `okta.apps.manage` scope".into()),
            },
            request_ids: vec!["req-read".into(), "req-403".into()],
            observed_before: None,
            elapsed_ms: 1,
            left: None,
        };
        let mut out = Vec::new();
        report(&[outcome], &mut out).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains(
                "target_ou: failed: `E0000006` You do not have permission (request id `req-403`)"
            ),
            "{text}"
        );
        assert!(
            text.contains("      hint: this needs the `okta.apps.manage` scope"),
            "{text}"
        );
        assert!(text.contains("1 failed"), "{text}");
    }
}
