//! ouguard: find and fix the Okta configurations behind "Target OU is not an import OU".
//!
//! The pipeline (see ARCHITECTURE.md): config + credentials → okta client → `OrgState` →
//! rules → findings → planner → `Plan` → render / save / apply.

pub mod apply;
pub mod apply_plan;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dn;
pub mod evidence;
pub mod exit;
pub mod files;
#[doc(hidden)]
pub mod fixtures;
pub mod guard;
pub mod okta;
pub mod plan;
pub mod planner;
pub mod prompt;
pub mod recheck;
pub mod redact;
pub mod render;
pub mod rules;
pub mod runrecord;
pub mod sim;
pub mod state;
pub mod text;
pub mod undo;
pub mod undo_record;
