//! Reading a run record for `undo`: the record of an apply (`runrecord::RunRecord`) turned into
//! the [`RecordedRun`] the undo planner and the undo re-check take.

use std::path::Path;

use crate::undo::RecordedRun;

/// Reads the run record at `path` (named in the plan's `undo_of` as given).
///
/// # Errors
/// The record cannot be read or is not a run record.
pub fn load(path: &Path) -> anyhow::Result<RecordedRun> {
    anyhow::bail!(
        "reading `{}`: the run record reader is not merged yet",
        path.display()
    )
}

/// Markdown of an undo plan.
///
/// # Errors
/// Writing fails.
pub fn render_markdown(
    plan: &crate::plan::Plan,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let _ = (plan, out);
    anyhow::bail!("markdown is not merged yet")
}
