//! `ouguard undo RUN_RECORD`: read the run record and the org, plan the reversal of what the
//! run applied (an ordinary saved plan with `undo_of`), print it and save it. Writes nothing
//! to Okta: the plan is applied with `ouguard apply FILE`, like any other.

use std::io::Write;

use super::{now_rfc3339, session, write_plan, Global, PlanFormat};
use crate::cli::UndoArgs;
use crate::exit::{Hinted, Outcome};
use crate::undo::{plan_undo, UndoError, UndoOptions};

pub fn run(global: &Global, args: &UndoArgs) -> anyhow::Result<Outcome> {
    let recorded = crate::undo_record::load(&args.run_record)?;
    if recorded.interrupted {
        if let crate::runrecord::LastRun::Running(running) =
            crate::runrecord::last_run(std::path::Path::new("."))
        {
            let same = |p: &std::path::Path| std::fs::canonicalize(p).ok();
            if same(&running).is_some() && same(&running) == same(&args.run_record) {
                return Err(Hinted::new(
                    format!(
                        "the apply writing `{}` is still running: what it changes is not known                          yet; nothing was saved",
                        args.run_record.display()
                    ),
                    "run `ouguard undo` again once that apply has finished",
                ));
            }
        }
    }
    let config = global.config()?;
    let settings = session::settings(global, &args.connection, &config)?;
    let session = session::connect(
        global,
        &settings,
        args.connection.concurrency,
        crate::okta::ScopeSet::Read,
    )?;
    // The org as it is now, with the import OUs `ouguard.toml` declares: what each reversal's
    // precondition (the state the run left) is checked against.
    let mut state = session.read_state(global)?;
    config.declare_import_ous(&mut state)?;
    // Did the last apply here end? (The state just read re-reads what it left unknown.)
    let org_url = session.client.org_url().to_string();
    let against = crate::runrecord::Against::State(&state, &org_url);
    if let Some(notice) = crate::runrecord::last_run_notice(std::path::Path::new("."), &against) {
        eprintln!("warning: {notice}");
    }
    let options = UndoOptions {
        org_url: Some(session.client.org_url().to_string()),
        created_at: now_rfc3339(),
        strict: args.strict,
    };
    let undo = plan_undo(&recorded, &state, &options).map_err(|error| match error {
        UndoError::Drifted(_) => Hinted::new(
            format!("{error}\nnothing was saved"),
            "without `--strict`, `ouguard undo` leaves the drifted changes out and undoes the \
             rest; or put those resources back as the run left them first",
        ),
        UndoError::OtherOrg { .. } => Hinted::new(
            format!("{error}; nothing was saved"),
            "connect to the org the run wrote to (`--org-url` or `OKTA_CLIENT_ORGURL`)",
        ),
    })?;
    let plan = &undo.plan;
    if let Some(path) = &args.out {
        crate::files::write_atomically(path, plan.to_json().as_bytes(), false)?;
    }
    let mut stdout = std::io::stdout().lock();
    let format = PlanFormat::from_args(args.format, args.json);
    write_plan(&mut stdout, plan, format, args.out.as_deref(), global.color)?;
    if let (PlanFormat::Text, Some(path), false) = (format, &args.out, global.quiet) {
        writeln!(
            stdout,
            "\nSaved the undo plan to `{}`. Review it with `ouguard show {0}`; apply exactly it \
             with `ouguard apply {0}` (from this folder: it names the run record `{}`, which \
             apply reads again).",
            path.display(),
            recorded.record
        )?;
    }
    Ok(Outcome::Success)
}
