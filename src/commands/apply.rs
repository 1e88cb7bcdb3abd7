//! `ouguard apply [FILE] [--auto-approve]`: plan (or load a saved plan), approve, check
//! preconditions on fresh reads, write, confirm manual steps, report, and keep a run record.
//! Approval and confirmations come through `prompt::Approver`; nothing is written before
//! approval and a clean precondition check.

use std::io::Write;

use anyhow::Context;

use super::{plan::make_plan, session, show::load_plan, Global};
use crate::apply::{
    check_preconditions, execute, stale_manual_steps, ChangeOutcome, ChangeResult, Fresh,
};
use crate::cli::{ApplyArgs, PlanningArgs};
use crate::config::{add_import_ous, file_diff, Config};
use crate::exit::{Hinted, Outcome};
use crate::plan::{ChangeKind, Execution, Plan};
use crate::prompt::{
    defer_interrupts, is_interactive, Approver, InterruptsDeferred, TerminalApprover,
};
use crate::render::{import_ou_console_path, render_plan};
use crate::runrecord::{new_record_path, record_lines, write_record_at, Tally};

pub fn run(global: &Global, args: &ApplyArgs) -> anyhow::Result<Outcome> {
    if args.file.is_some() {
        refuse_planning_options(&args.planning)?;
    }
    let config = global.config()?;
    let interactive = is_interactive();
    let settings = session::settings(global, &args.connection, &config)?;
    let window = if args.file.is_some() {
        None
    } else {
        super::evidence::window(&args.planning, &config)?
    };
    let session = session::connect(
        global,
        &settings,
        args.connection.concurrency,
        if window.is_some() {
            crate::okta::ScopeSet::ApplyWithEvidence
        } else {
            crate::okta::ScopeSet::Apply
        },
    )?;
    let org_url = session.client.org_url().to_string();
    let mut stdout = std::io::stdout().lock();

    let plan = match &args.file {
        Some(path) => {
            let plan = load_plan(path)?;
            check_same_org(&plan, &org_url, path)?;
            if !global.quiet {
                render_plan(&plan, &mut stdout, global.color)?;
            }
            plan
        }
        None => {
            if !args.auto_approve && !interactive {
                return Err(Hinted::new(
                    "apply needs approval, and there is no terminal to ask at",
                    "pass `--auto-approve`, or save a plan with `ouguard plan --out FILE`, \
                     have it reviewed, and run `ouguard apply FILE`",
                ));
            }
            let state = session.read_state(global)?;
            let evidence_state = window.map(|_| state.clone());
            let mut plan = make_plan(&config, &args.planning, state, Some(org_url.clone()))?;
            if let (Some(mut state), Some(window)) = (evidence_state, window) {
                config.declare_import_ous(&mut state)?;
                let mut evidence = super::evidence::read(
                    &session,
                    &state,
                    super::evidence::finding_groups(&plan),
                    Some(window),
                );
                super::evidence::place_users(&session, &mut plan, &mut evidence);
                let lists = super::evidence::retry_lists(std::path::Path::new("."));
                super::evidence::seal(&mut plan, &state, &evidence, &lists);
            }
            render_plan(&plan, &mut stdout, global.color)?;
            if !plan.has_changes() {
                return Ok(Outcome::Success);
            }
            if !args.auto_approve {
                writeln!(stdout)?;
                stdout.flush()?;
                let approved = TerminalApprover
                    .approve("Do you want to perform these actions? Only `yes` will be accepted")
                    .map_err(anyhow::Error::msg)?;
                if !approved {
                    // As Terraform does: declining is not a success a script should carry on
                    // from.
                    anyhow::bail!(
                        "apply cancelled: only `yes` approves the plan; nothing was written"
                    );
                }
            }
            plan
        }
    };
    let confirm_manual = interactive && !args.auto_approve;
    drop(stdout);
    apply_approved(global, &session, &plan, confirm_manual)
}

/// Applies an approved plan: precondition check on fresh reads (refusing a stale plan
/// before any write), the writes, the manual steps, the report and the run record.
pub(crate) fn apply_approved(
    global: &Global,
    session: &session::Session,
    plan: &Plan,
    confirm_manual: bool,
) -> anyhow::Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    let org_url = session.client.org_url().to_string();
    if !plan.has_changes() {
        writeln!(stdout, "Nothing to apply.")?;
        return Ok(Outcome::Success);
    }

    let started_at = super::now_rfc3339();
    let fresh = session
        .runtime
        .block_on(check_preconditions(&session.client, plan))
        .context("failed to check the plan against the org; nothing was written")?;
    let stale_manual = session
        .runtime
        .block_on(stale_manual_steps(&session.client, plan))
        .context("failed to check the plan against the org; nothing was written")?;
    let stale: Vec<&String> = fresh
        .iter()
        .filter_map(|(_, f)| match f {
            Fresh::Stale(reason) => Some(reason),
            _ => None,
        })
        .chain(&stale_manual)
        .collect();
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|s| format!("  {s}")).collect();
        return Err(Hinted::new(
            format!(
                "the plan is stale: the org changed since it was made; nothing was written\n{}",
                list.join("\n")
            ),
            "make a new plan with `ouguard plan --out FILE` and review it",
        ));
    }

    let api_changes = fresh.len();
    if !global.quiet && api_changes > 0 {
        writeln!(
            stdout,
            "\nApplying {api_changes} change(s) through the Okta API…"
        )?;
    }
    // Ctrl-C from here on lets the writes finish and be recorded (then exits 130).
    let mut deferred = Some(defer_interrupts());
    let mut outcomes = session
        .runtime
        .block_on(execute(&session.client, plan, fresh));
    let interrupted = deferred
        .as_ref()
        .is_some_and(InterruptsDeferred::interrupted);
    let confirm_manual = confirm_manual && !interrupted;
    let record_path = new_record_path(std::path::Path::new("."), plan, &started_at)?;
    let record = |outcomes: &[ChangeOutcome]| {
        let finished_at = super::now_rfc3339();
        let mut lines = record_lines(plan, &org_url, &started_at, &finished_at, outcomes);
        for list in super::evidence::retry_lists_after(plan, outcomes, &finished_at) {
            lines.push(crate::runrecord::retry_line(&list));
        }
        write_record_at(&record_path, &lines)
    };
    let has_manual_steps = plan
        .resource_changes
        .iter()
        .any(|c| c.execution == Execution::Manual);
    if confirm_manual && has_manual_steps {
        // The API writes are done: record them before asking, so an interrupted or failed
        // confirmation still leaves a record (with the manual steps pending).
        let mut interim = outcomes.clone();
        interim.extend(manual_steps_pending(plan));
        interim.sort_by_key(|o| o.index);
        record(&interim)?;
        // Ctrl-C at a confirmation ends the program at once: the record is written.
        deferred = None;
    }
    let mut approver = TerminalApprover;
    let manual = manual_steps(global, plan, confirm_manual, &mut approver, &mut stdout)
        .with_context(|| {
            format!(
                "the API changes were made and recorded in `{}`; the manual steps are still pending",
                record_path.display()
            )
        })?;
    outcomes.extend(manual);
    outcomes.sort_by_key(|o| o.index);

    // The record first: it must exist even when stdout is gone (`apply … | head`).
    record(&outcomes)?;
    report(&outcomes, &mut stdout)?;
    super::evidence::print_retry_lists(
        &super::evidence::retry_lists_after(plan, &outcomes, &started_at),
        &mut stdout,
    )?;
    drop(deferred);
    if !global.quiet {
        writeln!(stdout, "Run record: `{}`", record_path.display())?;
    }

    let tally = Tally::of(&outcomes);
    Ok(if interrupted {
        Outcome::Interrupted
    } else if tally.failed > 0 {
        Outcome::ChangesFailed
    } else if tally.manual_pending > 0 {
        Outcome::ManualStepsPending
    } else {
        Outcome::Success
    })
}

/// `apply FILE` applies exactly the saved plan: planning options would be silently ignored,
/// so they are refused instead.
fn refuse_planning_options(planning: &PlanningArgs) -> anyhow::Result<()> {
    let given: Vec<&str> = [
        ("--strategy", planning.strategy.is_some()),
        ("--retarget", !planning.retarget.is_empty()),
        ("--target", !planning.target.is_empty()),
        ("--exclude", !planning.exclude.is_empty()),
        ("--evidence", planning.evidence),
        ("--since", planning.since.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, present)| present.then_some(flag))
    .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(Hinted::new(
        format!(
            "`{}` cannot change a saved plan: `ouguard apply FILE` applies exactly the plan in FILE; nothing was written",
            given.join("`, `")
        ),
        "make a new plan with these options (`ouguard plan --out FILE …`), review it, then apply it",
    ))
}

/// Refuses a plan made for another org (or from a snapshot).
fn check_same_org(plan: &Plan, org_url: &str, path: &std::path::Path) -> anyhow::Result<()> {
    let normalize = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
    match &plan.org_url {
        Some(planned) if normalize(planned) == normalize(org_url) => Ok(()),
        Some(planned) => Err(Hinted::new(
            format!(
                "the plan `{}` was made for `{planned}`, not for `{org_url}`; nothing was written",
                path.display()
            ),
            "apply it with the org it was made for, or make a new plan for this org",
        )),
        None => Err(Hinted::new(
            format!(
                "the plan `{}` was made from a snapshot and names no org; nothing was written",
                path.display()
            ),
            "make the plan against the org with `ouguard plan --out FILE`",
        )),
    }
}

/// Shows each manual step; at a terminal the person confirms it and the OU is recorded in
/// the config (diff shown). Otherwise the steps stay pending.
fn manual_steps(
    global: &Global,
    plan: &Plan,
    confirm: bool,
    approver: &mut dyn Approver,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<ChangeOutcome>> {
    let mut outcomes = Vec::new();
    let steps: Vec<(usize, &crate::plan::ResourceChange)> = plan
        .resource_changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.execution == Execution::Manual)
        .collect();
    if steps.is_empty() {
        return Ok(outcomes);
    }
    writeln!(out, "\nManual steps (Okta has no API for import OUs):")?;
    for (index, change) in steps {
        let ou = change
            .after
            .as_ref()
            .and_then(|a| a.get("ou"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        writeln!(
            out,
            "  [ ] In the admin console, open {} and tick `{ou}`.",
            import_ou_console_path(&change.directory.domain)
        )?;
        let mut result = ChangeResult::ManualPending;
        if confirm {
            out.flush()?;
            let done = approver
                .approve("Type `yes` once it is ticked and saved (anything else leaves it pending)")
                .map_err(anyhow::Error::msg)?;
            if done {
                record_import_ou(global, &change.directory.domain, &ou, out)?;
                result = ChangeResult::ManualConfirmed;
            }
        }
        outcomes.push(manual_outcome(index, change, result));
    }
    Ok(outcomes)
}

/// Every manual step of the plan, as still pending.
fn manual_steps_pending(plan: &Plan) -> Vec<ChangeOutcome> {
    plan.resource_changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.execution == Execution::Manual)
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
    }
}

/// Adds a confirmed import OU to the config file, showing the diff.
fn record_import_ou(
    global: &Global,
    domain: &str,
    ou: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let path = &global.config_path;
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to read `{}`", path.display()))
            )
        }
    };
    if !old.is_empty() {
        Config::parse(&old, path)?;
    }
    let (new, added) = add_import_ous(&old, path, domain, &[ou.to_string()])?;
    if added.is_empty() {
        writeln!(out, "  `{}` already declares it.", path.display())?;
        return Ok(());
    }
    crate::files::write_atomically(path, new.as_bytes(), false)?;
    write!(out, "{}", file_diff(path, &old, &new))?;
    Ok(())
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
