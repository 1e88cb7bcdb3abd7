//! `ouguard plan`: read the state (a snapshot, or the org), evaluate, plan, print, save.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{plan_options, read_input_file, session, Global};
use crate::cli::PlanArgs;
use crate::exit::Outcome;
use crate::plan::Plan;
use crate::planner::{self, Chooser, NoChooser, Strategy};
use crate::prompt::{is_interactive, TerminalChooser};
use crate::state::OrgState;

pub fn run(global: &Global, args: PlanArgs) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    // Offline there is no session to catch Ctrl-C at the `ask` selection: this one shows the
    // cursor again and exits 130, as online.
    let _interrupts = (args.from_snapshot.is_some() && is_interactive())
        .then(crate::prompt::restore_terminal_on_interrupt_standalone)
        .flatten();
    let window = super::evidence::window(&args.planning, &config)?;
    if window.is_some() && args.from_snapshot.is_some() {
        return Err(crate::exit::Hinted::new(
            "`--evidence` reads the org, so it cannot be used with `--from-snapshot`",
            "plan against the org, or leave out `--evidence` (and `[plan] evidence` in the config)",
        ));
    }
    let mut session_for_evidence = None;
    let (state, org_url) = if let Some(snapshot) = &args.from_snapshot {
        let text = read_input_file(snapshot, "snapshot")?;
        let state = OrgState::from_json(&text)
            .with_context(|| format!("failed to read the snapshot `{}`", snapshot.display()))?;
        let org_url = global.org_url.clone().or_else(|| state.org_url.clone());
        (state, org_url)
    } else {
        let settings = session::settings(global, &args.connection, &config)?;
        let session = session::connect(
            global,
            &settings,
            args.connection.concurrency,
            if window.is_some() {
                crate::okta::ScopeSet::Evidence
            } else {
                crate::okta::ScopeSet::Read
            },
        )?;
        let state = session.read_state(global)?;
        let org_url = Some(session.client.org_url().to_string());
        session_for_evidence = Some(session);
        (state, org_url)
    };
    let evidence_state = session_for_evidence.as_ref().map(|_| state.clone());
    let mut plan = make_plan(&config, &args.planning, state, org_url)?;
    if let (Some(session), Some(mut state), Some(window)) =
        (&session_for_evidence, evidence_state, window)
    {
        config.declare_import_ous(&mut state)?;
        let mut evidence = super::evidence::read(
            session,
            &state,
            super::evidence::finding_groups(&plan),
            Some(window),
        );
        super::evidence::place_users(session, &mut plan, &mut evidence);
        let lists = super::evidence::retry_lists(Path::new("."));
        super::evidence::seal(&mut plan, &state, &evidence, &lists);
    }
    emit_plan(global, &plan, args.json, args.out.as_deref())?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

/// Declares the config's import OUs into `state`, evaluates the rules and plans.
pub fn make_plan(
    config: &crate::config::Config,
    planning: &crate::cli::PlanningArgs,
    mut state: OrgState,
    org_url: Option<String>,
) -> anyhow::Result<Plan> {
    config.declare_import_ous(&mut state)?;
    let interactive = is_interactive();
    let mut options = plan_options(planning, config, interactive)?;
    options.org_url = org_url;
    let evaluation = crate::rules::evaluate(&state);
    let mut terminal = TerminalChooser::default();
    let mut refuse = NoChooser;
    let chooser: &mut dyn Chooser = if options.strategy == Strategy::Ask && interactive {
        &mut terminal
    } else {
        &mut refuse
    };
    Ok(planner::plan(&state, evaluation, &options, chooser)?)
}

/// Saves the plan when asked, then prints it as text or JSON on stdout.
pub fn emit_plan(
    global: &Global,
    plan: &Plan,
    json: bool,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(path) = out {
        crate::files::write_atomically(path, plan.to_json().as_bytes(), false)?;
    }
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    if json {
        stdout.write_all(plan.to_json().as_bytes())?;
    } else {
        crate::render::render_plan(plan, &mut stdout, global.color)?;
        if let Some(path) = out {
            if !global.quiet {
                writeln!(
                    stdout,
                    "\nSaved the plan to `{}`. Review it with `ouguard show {0}`; apply exactly it \
                     with `ouguard apply {0}`.",
                    path.display()
                )?;
            }
        }
    }
    Ok(())
}
