//! `ouguard show FILE`: render a saved plan offline, after checking it.

use std::io::Write;

use super::{load_plan, Global};
use crate::cli::ShowArgs;
use crate::exit::Outcome;

pub fn run(global: &Global, args: &ShowArgs) -> anyhow::Result<Outcome> {
    let plan = load_plan(&args.file)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        stdout.write_all(plan.to_json().as_bytes())?;
    } else {
        crate::render::render_plan(&plan, &mut stdout, global.color)?;
    }
    Ok(Outcome::Success)
}
