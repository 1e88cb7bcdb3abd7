//! Thin commands: each turns clap's structs into plain options and calls an operation.
//! clap types stop here.

mod apply;
mod demo;
mod evidence;
mod export;
mod guard;
mod guard_tour;
mod import_ous;
mod plan;
pub mod session;
mod show;
mod sim;
mod undo;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{Cli, Command, FormatArg, GlobalArgs, PlanningArgs, StrategyArg};
use crate::config::Config;
use crate::exit::Outcome;
use crate::planner::{PlanOptions, RetargetPin, Selector, Strategy};

/// Runs one command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = Global::from_args(&cli.global);
    match cli.command {
        Command::Plan(args) => plan::run(&global, args),
        Command::Show(args) => show::run(&global, &args),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "ouguard", &mut std::io::stdout());
            Ok(Outcome::Success)
        }
        Command::ImportOus(args) => import_ous::run(&global, &args),
        Command::Export(args) => export::run(&global, &args),
        Command::Apply(args) => apply::run(&global, &args),
        Command::Sim(args) => sim::run(&global, &args),
        Command::Demo(args) => demo::run(&global, &args),
        Command::Undo(args) => undo::run(&global, &args),
        Command::Guard(args) => guard::run(&global, args),
    }
}

/// The global options, as plain data.
#[derive(Debug, Clone)]
pub struct Global {
    pub config_path: PathBuf,
    pub config_explicit: bool,
    pub org_url: Option<String>,
    /// Colors on stdout.
    pub color: bool,
    pub verbose: u8,
    pub quiet: bool,
}

impl Global {
    fn from_args(args: &GlobalArgs) -> Self {
        let no_color = args.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Global {
            config_path: args
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from("ouguard.toml")),
            config_explicit: args.config.is_some(),
            org_url: args.org_url.clone(),
            color: !no_color && std::io::stdout().is_terminal(),
            verbose: args.verbose,
            quiet: args.quiet,
        }
    }

    /// Reads the config file.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config_path, self.config_explicit)?)
    }
}

/// Turns the planning flags and the config into planner options. The strategy is the flag,
/// else the config's, else `ask` when a person can answer, else `add-ou`.
pub fn plan_options(
    args: &PlanningArgs,
    config: &Config,
    interactive: bool,
) -> anyhow::Result<PlanOptions> {
    let strategy = match args.strategy {
        Some(StrategyArg::Ask) => Strategy::Ask,
        Some(StrategyArg::AddOu) => Strategy::AddOu,
        Some(StrategyArg::Retarget) => Strategy::Retarget,
        None => config.strategy.unwrap_or(if interactive {
            Strategy::Ask
        } else {
            Strategy::AddOu
        }),
    };
    // Pins from the command line win over the config's: they come first.
    let mut pins = args
        .retarget
        .iter()
        .map(|text| RetargetPin::parse_flag(text).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    pins.extend(config.retargets.iter().cloned());
    Ok(PlanOptions {
        strategy,
        pins,
        targets: args.target.iter().cloned().map(Selector).collect(),
        excludes: args.exclude.iter().cloned().map(Selector).collect(),
        org_url: None,
        created_at: now_rfc3339(),
    })
}

/// How a plan is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

impl PlanFormat {
    /// `--format`, or `--json` (its short form), or text.
    #[must_use]
    pub fn from_args(format: Option<FormatArg>, json: bool) -> Self {
        match (format, json) {
            (_, true) | (Some(FormatArg::Json), _) => PlanFormat::Json,
            (Some(FormatArg::Markdown), _) => PlanFormat::Markdown,
            (Some(FormatArg::Text) | None, false) => PlanFormat::Text,
        }
    }
}

/// Prints a plan in `format`. `plan_file` is where it is saved, for the Markdown's apply
/// command.
pub fn write_plan(
    out: &mut dyn std::io::Write,
    plan: &crate::plan::Plan,
    format: PlanFormat,
    plan_file: Option<&std::path::Path>,
    color: bool,
) -> std::io::Result<()> {
    match format {
        PlanFormat::Text => crate::render::render_plan(plan, out, color),
        PlanFormat::Json => out.write_all(plan.to_json().as_bytes()),
        PlanFormat::Markdown => {
            let path = plan_file.map(|p| p.display().to_string());
            crate::render::markdown::render_markdown(plan, path.as_deref(), out)
        }
    }
}

/// The current time as RFC 3339 UTC, to the second.
#[must_use]
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a file a person named, with the error saying which file.
pub fn read_input_file(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the {what} `{}`", path.display()))
}

/// Declares the config's import OUs into `state`, evaluates the rules and plans.
pub fn make_plan(
    config: &crate::config::Config,
    planning: &PlanningArgs,
    state: &mut crate::state::OrgState,
    org_url: Option<String>,
) -> anyhow::Result<crate::plan::Plan> {
    config.declare_import_ous(state)?;
    let interactive = crate::prompt::is_interactive();
    let mut options = plan_options(planning, config, interactive)?;
    options.org_url = org_url;
    let evaluation = crate::rules::evaluate(state);
    let mut terminal = crate::prompt::TerminalChooser::default();
    let mut refuse = crate::planner::NoChooser;
    let chooser: &mut dyn crate::planner::Chooser =
        if options.strategy == Strategy::Ask && interactive {
            &mut terminal
        } else {
            &mut refuse
        };
    Ok(crate::planner::plan(state, evaluation, &options, chooser)?)
}

/// Reads and verifies a saved plan file.
pub fn load_plan(path: &std::path::Path) -> anyhow::Result<crate::plan::Plan> {
    let text = read_input_file(path, "plan file")?;
    crate::plan::Plan::from_json(&text)
        .with_context(|| format!("refused the plan file `{}`", path.display()))
}
