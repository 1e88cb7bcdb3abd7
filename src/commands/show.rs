//! `ouguard show FILE`: render a saved plan offline (text, JSON or Markdown), after checking
//! it; `--detailed-exitcode` tells whether it has changes.

use anyhow::Context;

use super::{read_input_file, write_plan, Global, PlanFormat};
use crate::cli::ShowArgs;
use crate::exit::Outcome;
use crate::plan::Plan;

pub fn run(global: &Global, args: &ShowArgs) -> anyhow::Result<Outcome> {
    let plan = load_plan(&args.file)?;
    let format = PlanFormat::from_args(args.format, args.json);
    let mut stdout = std::io::stdout().lock();
    write_plan(&mut stdout, &plan, format, Some(&args.file), global.color)?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

/// Reads and verifies a saved plan file.
pub fn load_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
    let text = read_input_file(path, "plan file")?;
    Plan::from_json(&text).with_context(|| format!("refused the plan file `{}`", path.display()))
}
