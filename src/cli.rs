//! The command line, as clap structs. Only `commands` reads these; they are turned into plain
//! option structs there and travel no further.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find and fix the Okta configurations behind "Target OU is not an import OU".
#[derive(Debug, Parser)]
#[command(name = "ouguard", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The config file (default `./ouguard.toml`; a missing default file declares nothing).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The Okta org URL (wins over `OKTA_CLIENT_ORGURL`, okta.yaml and ouguard.toml).
    #[arg(long, global = true, value_name = "URL")]
    pub org_url: Option<String>,
    /// No colors (also `NO_COLOR`).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More output on stderr: `-v` requests, `-vv` retries and pacing.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less output: errors and the result only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the org, evaluate the rules and print the plan.
    Plan(PlanArgs),
    /// Plan, show, ask and apply; or apply exactly a saved plan FILE.
    Apply(ApplyArgs),
    /// Render a saved plan, offline.
    Show(ShowArgs),
    /// Merge the `user` rows of an `OU,type` CSV into ouguard.toml.
    ImportOus(ImportOusArgs),
    /// Write a snapshot of the Okta state ouguard reads (JSON).
    Export(ExportArgs),
    /// Serve a simulated Okta org on loopback.
    Sim(SimArgs),
    /// The no-setup tour: plan against a built-in simulated org.
    Demo(DemoArgs),
    /// Make a plan that reverses what an apply applied, from its run record.
    Undo(UndoArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Judge every group-assignment change as it happens: an Okta Event Hook receiver.
    Guard(GuardArgs),
}

/// How R1 findings are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    Ask,
    AddOu,
    Retarget,
}

/// How `plan` and `show` print a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Terraform-style text.
    Text,
    /// The plan document (`format_version` "1").
    Json,
    /// For a pull/merge request comment: summary, table of changes, checklist, folded text.
    Markdown,
}

/// Options shared by `plan` and `apply` without FILE.
#[derive(Debug, Args, Clone, Default)]
pub struct PlanningArgs {
    /// How to fix R1 findings (default: `ask` at a terminal, else `add-ou`).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Pin a destination: `GROUP=DN` (GROUP is a name or id; split at the first `=`).
    #[arg(long, value_name = "GROUP=DN")]
    pub retarget: Vec<String>,
    /// Only plan for findings matching: a directory domain, `group:NAME`, or a finding id.
    #[arg(long, value_name = "SELECTOR")]
    pub target: Vec<String>,
    /// Leave out findings matching: a directory domain, `group:NAME`, or a finding id.
    #[arg(long, value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// Read evidence from the org: who fails because of each finding, declared import OUs
    /// checked against imported users (also `[plan] evidence = true`).
    #[arg(long)]
    pub evidence: bool,
    /// How far back the System Log is read for `--evidence`: `7d` (default), `36h`, at most `90d`.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

/// Connection options for commands that talk to Okta.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    /// API token (prefer `OKTA_CLIENT_TOKEN`: flags can be seen in the process list).
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Requests in flight at most (stay under the org's concurrent-request limit).
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub concurrency: usize,
    /// The most of each of the org's rate-limit windows ouguard uses, in percent (the rest
    /// is left to the org's other integrations); default `[okta] max_api_share`, else 50.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub max_api_share: Option<u8>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub planning: PlanningArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Save the plan (JSON) to FILE, e.g. `plans/2026-11-29.json`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to print the plan on stdout (`--out` always saves JSON).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<FormatArg>,
    /// Short for `--format json`.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan offline from a snapshot made by `ouguard export`.
    #[arg(long, value_name = "FILE")]
    pub from_snapshot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A saved plan to apply exactly (the file counts as approval).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub planning: PlanningArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Apply without asking; manual steps stay pending.
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan.
    pub file: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<FormatArg>,
    /// Short for `--format json`.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the saved plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from_csv", "discover"])))]
pub struct ImportOusArgs {
    /// The CSV (header `OU,type`), e.g. the rockstar extension's export.
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<PathBuf>,
    /// Propose import OUs from the OUs imported users live in (reads the AD app users).
    #[arg(long, conflicts_with = "from_csv")]
    pub discover: bool,
    /// The directory (domain or app id) the OUs belong to (default: each OU's own domain;
    /// with `--discover`: every directory).
    #[arg(long, value_name = "DOMAIN")]
    pub directory: Option<String>,
    /// With `--discover`: write the proposal without asking.
    #[arg(long, requires = "discover")]
    pub write: bool,
    /// With `--discover`: print the proposal as JSON (writes nothing unless `--write`).
    #[arg(long, requires = "discover")]
    pub json: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (loopback unless `--allow-remote`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8089")]
    pub listen: String,
    /// Seed file (snapshot format plus import OUs); default: the demo org.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Added latency per request, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests per minute per endpoint family.
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub rate_limit: u32,
    /// Concurrent requests at most before 429.
    #[arg(long, value_name = "N", default_value_t = 75)]
    pub concurrency_limit: u32,
    /// Listen on a non-loopback address too (the simulator has no real security).
    #[arg(long)]
    pub allow_remote: bool,
    /// OAuth service apps the org accepts: a JSON array of
    /// `{client_id, jwks: [public JWK with kid], scopes_granted: [..], require_dpop}`.
    #[arg(long, value_name = "FILE")]
    pub oauth_clients: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub planning: PlanningArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run record of the apply to undo (`.ouguard/runs/….jsonl`).
    pub run_record: PathBuf,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Save the undo plan (JSON) to FILE, e.g. `plans/undo.json`; apply it with `ouguard apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to print the undo plan on stdout (`--out` always saves JSON).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<FormatArg>,
    /// Short for `--format json`.
    #[arg(long)]
    pub json: bool,
    /// Refuse the whole undo when any change the run applied has drifted since.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GuardArgs {
    #[command(subcommand)]
    pub action: Option<GuardAction>,
    #[command(flatten)]
    pub run: GuardRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum GuardAction {
    /// Create (or update) the Event Hook in Okta and have Okta verify it.
    Register(GuardRegisterArgs),
}

/// Options of the running guard.
#[derive(Debug, Args)]
pub struct GuardRunArgs {
    /// Address to listen on, behind a TLS reverse proxy (loopback unless `--allow-remote`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// Listen on a non-loopback address (still plain HTTP: put TLS in front).
    #[arg(long)]
    pub allow_remote: bool,
    /// Poll the System Log instead of receiving Event Hooks (no inbound HTTPS needed).
    #[arg(long)]
    pub from_logs: bool,
    /// `--from-logs`: wait this long after an empty page.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub log_interval: String,
    /// Read the whole org (the `dn` mappings, which Okta cannot hook) this often.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub poll_mappings: String,
    /// Save a plan for every new fixable finding in DIR (what `plan --target ID --out` makes).
    #[arg(long, value_name = "DIR")]
    pub plan_dir: Option<PathBuf>,
    /// Also POST every alert as `{"text": …}` to URL (a Slack or Teams incoming webhook).
    #[arg(long, value_name = "URL")]
    pub notify_url: Option<String>,
    /// The journal and checkpoint folder.
    #[arg(long, value_name = "DIR", default_value = ".ouguard/guard")]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct GuardRegisterArgs {
    /// The public HTTPS URL of the guard (its reverse proxy), e.g. `https://guard.example.com/okta`.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The Event Hook's name in Okta (an existing hook of that name or URL is updated).
    #[arg(long, value_name = "NAME", default_value = "ouguard guard")]
    pub name: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}
