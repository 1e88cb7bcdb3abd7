//! `ouguard plan`: read the state (a snapshot, or the org), evaluate, plan, print, save.

use std::io::Write;

use anyhow::Context;

use super::{make_plan, read_input_file, session, write_plan, Global, PlanFormat};
use crate::cli::PlanArgs;
use crate::exit::Outcome;
use crate::plan::Plan;
use crate::prompt::is_interactive;
use crate::state::OrgState;

pub fn run(global: &Global, args: PlanArgs) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    // Offline there is no session to catch Ctrl-C at the `ask` selection: this one shows the
    // cursor again and exits 130, as online.
    let _interrupts = (args.from_snapshot.is_some() && is_interactive())
        .then(crate::prompt::restore_terminal_on_interrupt_standalone)
        .flatten();
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
            session::Tuning::new(&args.connection, &config),
            crate::okta::ScopeSet::Read,
        )?;
        let state = session.read_state(global)?;
        (state, Some(session.client.org_url().to_string()))
    };
    // Did the last apply here end? (The state just read re-reads what it left unknown.)
    let against = match (&args.from_snapshot, &org_url) {
        (None, Some(url)) => crate::runrecord::Against::State(&state, url),
        _ => crate::runrecord::Against::Nothing("planned from a snapshot"),
    };
    if let Some(notice) = crate::runrecord::last_run_notice(std::path::Path::new("."), &against) {
        eprintln!("warning: {notice}");
    }
    let mut state = state;
    let plan = make_plan(&config, &args.planning, &mut state, org_url)?;
    let format = PlanFormat::from_args(args.format, args.json);
    emit_plan(global, &plan, format, args.out.as_deref())?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

/// Saves the plan when asked, then prints it on stdout in `format`.
fn emit_plan(
    global: &Global,
    plan: &Plan,
    format: PlanFormat,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(path) = out {
        crate::files::write_atomically(path, plan.to_json().as_bytes(), false)?;
    }
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    write_plan(&mut stdout, plan, format, out, global.color)?;
    if format == PlanFormat::Text {
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
