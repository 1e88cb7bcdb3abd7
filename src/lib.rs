//! ouguard: find and fix the Okta configurations behind "Target OU is not an import OU".
//!
//! The pipeline (see ARCHITECTURE.md): config + credentials → okta client → `OrgState` →
//! rules → findings → planner → `Plan` → render / save / apply.

pub mod dn;
pub mod sim;
pub mod state;
