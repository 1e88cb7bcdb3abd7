//! `ouguard show FILE`: render a saved plan offline (text, JSON or Markdown), after checking
//! it; `--detailed-exitcode` tells whether it has changes.

use super::{load_plan, write_plan, Global, PlanFormat};
use crate::cli::ShowArgs;
use crate::exit::Outcome;

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
