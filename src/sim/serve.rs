//! `ouguard sim`: run a simulated org in the foreground until Ctrl-C, printing its URL and a
//! per-run API token. Plain options in, no clap types; loopback only unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::{seed, SimConfig, SimOrg};
use crate::state::OrgState;

/// Options of `ouguard sim`.
#[derive(Debug, Clone)]
pub struct SimServeOptions {
    /// Address to listen on, e.g. `127.0.0.1:8089`.
    pub listen: SocketAddr,
    /// An `OrgState` JSON file (e.g. from `ouguard export`); `None`: the demo org.
    pub seed: Option<PathBuf>,
    pub latency_ms: u64,
    pub latency_jitter_ms: u64,
    /// Requests per endpoint family per minute.
    pub rate_limit: u32,
    pub concurrency_limit: Option<usize>,
    pub mappings_unavailable: bool,
    /// Allow listening on a non-loopback address.
    pub allow_remote: bool,
    /// OAuth service apps that may get access tokens.
    pub oauth_clients: Vec<super::OAuthClient>,
}

impl Default for SimServeOptions {
    fn default() -> SimServeOptions {
        SimServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8089)),
            seed: None,
            latency_ms: 0,
            latency_jitter_ms: 0,
            rate_limit: 600,
            concurrency_limit: None,
            mappings_unavailable: false,
            allow_remote: false,
            oauth_clients: Vec::new(),
        }
    }
}

/// Reads `ouguard sim --oauth-clients FILE`: a JSON array of service apps.
pub fn load_oauth_clients(path: &std::path::Path) -> anyhow::Result<Vec<super::OAuthClient>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not a JSON array of `{{client_id, jwks, scopes_granted, require_dpop}}`",
            path.display()
        )
    })
}

/// Reads a seed file (`OrgState` JSON).
pub fn load_seed(path: &std::path::Path) -> anyhow::Result<OrgState> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read seed `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not an ouguard snapshot (OrgState JSON)",
            path.display()
        )
    })
}

/// Serves a simulated org until Ctrl-C.
pub async fn serve(opts: SimServeOptions) -> anyhow::Result<()> {
    let seed = match &opts.seed {
        Some(path) => load_seed(path)?,
        None => seed::demo(),
    };
    let sim = SimOrg::start(SimConfig {
        seed,
        listen: opts.listen,
        allow_remote: opts.allow_remote,
        latency: Duration::from_millis(opts.latency_ms),
        latency_jitter: Duration::from_millis(opts.latency_jitter_ms),
        rate_limit_per_minute: opts.rate_limit,
        concurrency_limit: opts.concurrency_limit,
        mappings_unavailable: opts.mappings_unavailable,
        oauth_clients: opts.oauth_clients.clone(),
        ..SimConfig::default()
    })
    .await?;
    println!("Simulated Okta org listening on {}", sim.url());
    println!("API token for this run (SSWS): {}", sim.token());
    println!();
    println!("  export OKTA_CLIENT_ORGURL={}", sim.url());
    println!("  export OKTA_CLIENT_TOKEN={}", sim.token());
    println!();
    for client in &opts.oauth_clients {
        println!(
            "OAuth service app `{}`{}: OKTA_CLIENT_AUTHORIZATIONMODE=PrivateKey OKTA_CLIENT_CLIENTID={}",
            client.client_id,
            if client.require_dpop { " (DPoP required)" } else { "" },
            client.client_id
        );
    }
    if !opts.oauth_clients.is_empty() {
        println!();
    }
    println!(
        "Admin surface (not Okta): {}/sim  — Ctrl-C to stop.",
        sim.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_load_from_files_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("seed.json");
        std::fs::write(&good, serde_json::to_string(&seed::demo()).unwrap()).unwrap();
        assert_eq!(load_seed(&good).unwrap(), seed::demo());

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"directories\": 1}").unwrap();
        let err = format!("{:#}", load_seed(&bad).unwrap_err());
        assert!(
            err.contains("bad.json") && err.contains("OrgState"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            load_seed(&dir.path().join("missing.json")).unwrap_err()
        );
        assert!(err.contains("failed to read seed"), "{err}");
    }

    #[tokio::test]
    async fn serve_refuses_remote_addresses() {
        let err = serve(SimServeOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            ..SimServeOptions::default()
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("non-loopback"), "{err}");
    }
}
