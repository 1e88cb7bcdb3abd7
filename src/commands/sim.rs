//! `ouguard sim`: serve a simulated Okta org on loopback until Ctrl-C.

use anyhow::Context;

use super::{session, Global};
use crate::cli::SimArgs;
use crate::exit::Outcome;
use crate::sim::{load_oauth_clients, serve, SimServeOptions};

pub fn run(_global: &Global, args: &SimArgs) -> anyhow::Result<Outcome> {
    let listen = args.listen.parse().with_context(|| {
        format!(
            "`{}` is not an address to listen on: write it like `127.0.0.1:8089`",
            args.listen
        )
    })?;
    let oauth_clients = match &args.oauth_clients {
        Some(path) => load_oauth_clients(path)?,
        None => Vec::new(),
    };
    let options = SimServeOptions {
        oauth_clients,
        listen,
        seed: args.seed.clone(),
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        concurrency_limit: Some(args.concurrency_limit as usize),
        allow_remote: args.allow_remote,
        ..SimServeOptions::default()
    };
    session::runtime()?.block_on(serve(options))?;
    Ok(Outcome::Success)
}
