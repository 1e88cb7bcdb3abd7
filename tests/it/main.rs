//! The one integration-test binary: modules named after features.

mod cli;
mod support;
