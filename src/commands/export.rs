//! `ouguard export [--out FILE]`: write a snapshot of the state ouguard reads, with the
//! import OUs declared in `ouguard.toml`, so `plan --from-snapshot` and `sim --seed` can
//! use it offline. Holds no secrets.

use std::io::Write;

use super::{session, Global};
use crate::cli::ExportArgs;
use crate::exit::Outcome;

pub fn run(global: &Global, args: &ExportArgs) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    let settings = session::settings(global, &args.connection, &config)?;
    let session = session::connect(
        global,
        &settings,
        session::Tuning::new(&args.connection, &config),
        crate::okta::ScopeSet::Read,
    )?;
    let mut state = session.read_state(global)?;
    config.declare_import_ous(&mut state)?;
    let document = state.to_json();
    match &args.out {
        Some(path) => {
            crate::files::write_atomically(path, document.as_bytes(), false)?;
            if !global.quiet {
                let assignments: usize =
                    state.directories.iter().map(|d| d.assignments.len()).sum();
                eprintln!(
                    "Wrote `{}`: {} directories, {assignments} group assignments. Plan from it \
                     with `ouguard plan --from-snapshot {0}`.",
                    path.display(),
                    state.directories.len()
                );
            }
        }
        None => std::io::stdout().lock().write_all(document.as_bytes())?,
    }
    Ok(Outcome::Success)
}
