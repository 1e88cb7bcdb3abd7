//! The one integration-test binary: each module tests one feature end to end.

mod apply;
mod cli;
mod evidence;
mod guard;
mod hostile;
mod live;
mod oauth;
mod review;
mod sim;
mod sim_contract;
mod support;
mod undo;
