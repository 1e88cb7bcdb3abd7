//! `ouguard show FILE`: render a saved plan offline, after checking it.

use std::io::Write;

use anyhow::Context;

use super::{read_input_file, Global};
use crate::cli::ShowArgs;
use crate::exit::Outcome;
use crate::plan::Plan;

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

/// Reads and verifies a saved plan file.
pub fn load_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
    let text = read_input_file(path, "plan file")?;
    Plan::from_json(&text).with_context(|| format!("refused the plan file `{}`", path.display()))
}
