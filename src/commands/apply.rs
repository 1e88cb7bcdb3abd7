//! `ouguard apply [FILE] [--auto-approve]`: plan (or load a saved plan and read the org),
//! approve, then hand over to the apply operation (`apply_plan::apply_approved`). Nothing is
//! written before approval.

use std::io::Write;

use super::{load_plan, make_plan, session, Global};
use crate::apply_plan::{apply_approved, ApplyOptions};
use crate::cli::{ApplyArgs, PlanningArgs};
use crate::exit::{Hinted, Outcome};
use crate::plan::Plan;
use crate::prompt::{is_interactive, Approver, TerminalApprover};
use crate::render::render_plan;

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
        session::Tuning::new(&args.connection, &config),
        if window.is_some() {
            crate::okta::ScopeSet::ApplyWithEvidence
        } else {
            crate::okta::ScopeSet::Apply
        },
    )?;
    let org_url = session.client.org_url().to_string();
    // Before anything else: did the last apply here end?
    let against = crate::runrecord::Against::Client(&session.client, &session.runtime);
    if let Some(notice) = crate::runrecord::last_run_notice(std::path::Path::new("."), &against) {
        eprintln!("warning: {notice}");
    }
    let mut stdout = std::io::stdout().lock();

    let (plan, state) = match &args.file {
        Some(path) => {
            let plan = load_plan(path)?;
            check_same_org(&plan, &org_url, path)?;
            if !global.quiet {
                render_plan(&plan, &mut stdout, global.color)?;
            }
            // The org as it is now, with the import OUs `ouguard.toml` declares now: what the
            // re-check holds every change of the saved plan against.
            let mut state = session.read_state(global)?;
            config.declare_import_ous(&mut state)?;
            if let (Some(loud), true, false) = (
                crate::apply_plan::undo_warning(&plan),
                interactive,
                args.auto_approve,
            ) {
                // Undoing re-creates what the run fixed: at a terminal, the person says so once
                // more (a script or pipeline applies the reviewed file as any other).
                writeln!(stdout, "\n{loud}\n")?;
                stdout.flush()?;
                let approved = TerminalApprover
                    .approve(
                        "Undo the run and re-create the misconfiguration? Only `yes` will be \
                         accepted",
                    )
                    .map_err(anyhow::Error::msg)?;
                if !approved {
                    anyhow::bail!("undo cancelled: only `yes` approves it; nothing was written");
                }
            }
            (plan, state)
        }
        None => {
            if !args.auto_approve && !interactive {
                return Err(Hinted::new(
                    "apply needs approval, and there is no terminal to ask at",
                    "pass `--auto-approve`, or save a plan with `ouguard plan --out FILE`, \
                     have it reviewed, and run `ouguard apply FILE`",
                ));
            }
            let mut state = session.read_state(global)?;
            // `make_plan` declares the config's import OUs into `state`: evidence reads it
            // as planned.
            let mut plan = make_plan(&config, &args.planning, &mut state, Some(org_url.clone()))?;
            if let Some(window) = window {
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
            (plan, state)
        }
    };
    let options = ApplyOptions {
        config_path: &global.config_path,
        records_dir: std::path::Path::new("."),
        quiet: global.quiet,
        confirm_manual: interactive && !args.auto_approve,
    };
    apply_approved(
        &session.runtime,
        &session.client,
        &plan,
        &state,
        &options,
        &mut TerminalApprover,
        &mut stdout,
    )
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
