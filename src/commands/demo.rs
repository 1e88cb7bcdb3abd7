//! `ouguard demo`: the no-setup tour. Starts the simulated org in-process with the demo seed
//! (the support article's scenario), declares its import OUs the way an admin would in
//! `ouguard.toml`, runs `plan` against it over HTTP, and at a terminal offers to apply.
//! Never reads or writes the person's own `ouguard.toml` or Okta settings.

use std::io::Write;

use super::{make_plan, session, Global};
use crate::apply_plan::{apply_approved, ApplyOptions};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::okta::{ConnectionSettings, Credentials, Secret, SettingSource};
use crate::prompt::{is_interactive, Approver, TerminalApprover};
use crate::render::render_plan;
use crate::sim::seed::{self, DEMO_CONFIG};
use crate::sim::{SimConfig, SimOrg};

pub fn run(global: &Global, args: &DemoArgs) -> anyhow::Result<Outcome> {
    let runtime = session::runtime()?;
    let sim = runtime.block_on(SimOrg::start(SimConfig {
        seed: seed::demo(),
        ..SimConfig::default()
    }))?;
    let config = Config::parse(DEMO_CONFIG, std::path::Path::new("demo ouguard.toml"))?;
    let settings = ConnectionSettings {
        org_url: sim.url(),
        org_url_source: SettingSource::Flag,
        credentials: Credentials::ApiToken(Secret::new(sim.token())),
        warnings: Vec::new(),
    };
    let interactive = is_interactive();
    let mut stdout = std::io::stdout().lock();
    if !global.quiet {
        writeln!(
            stdout,
            "Started a simulated Okta org at {} with the demo org: three AD directories,\n\
             {} group assignments, and the misconfigurations of Okta's support article.\n\
             Its import OUs are declared as an admin would in ouguard.toml:\n",
            sim.url(),
            sim.state()
                .directories
                .iter()
                .map(|d| d.assignments.len())
                .sum::<usize>()
        )?;
        for line in DEMO_CONFIG.lines() {
            writeln!(stdout, "    {line}")?;
        }
        writeln!(stdout, "\n$ ouguard plan --evidence\n")?;
    }
    let session = session::connect(
        global,
        &settings,
        8,
        crate::okta::ScopeSet::ApplyWithEvidence,
    )?;
    let mut state = session.read_state(global)?;
    let mut plan = make_plan(&config, &args.planning, &mut state, Some(sim.url()))?;
    // The demo org has users, and pushes that failed over the last days: show them.
    let until = chrono::Utc::now();
    let mut evidence = super::evidence::read(
        &session,
        &state,
        super::evidence::finding_groups(&plan),
        Some((until - chrono::Duration::days(7), until)),
    );
    super::evidence::place_users(&session, &mut plan, &mut evidence);
    super::evidence::seal(&mut plan, &state, &evidence, &[]);
    render_plan(&plan, &mut stdout, global.color)?;
    let failing_before = sim.provisioning_check().failing().len();

    if interactive && plan.has_changes() {
        writeln!(stdout)?;
        stdout.flush()?;
        let go = TerminalApprover
            .approve("Apply this plan to the simulated org? Only `yes` will be accepted")
            .map_err(anyhow::Error::msg)?;
        if go {
            drop(stdout);
            // Manual steps stay pending here: the demo's config is not a file of yours.
            let demo_global = Global {
                config_path: std::env::temp_dir().join("ouguard-demo-unused.toml"),
                ..global.clone()
            };
            let options = ApplyOptions {
                config_path: &demo_global.config_path,
                records_dir: std::path::Path::new("."),
                quiet: demo_global.quiet,
                confirm_manual: false,
            };
            let outcome = apply_approved(
                &session.runtime,
                &session.client,
                &plan,
                &state,
                &options,
                &mut TerminalApprover,
                &mut std::io::stdout().lock(),
            )?;
            let failing_after = sim.provisioning_check().failing().len();
            let mut stdout = std::io::stdout().lock();
            writeln!(
                stdout,
                "\nProvisioning check of the simulated org: {failing_before} group(s) failed \
                 with \"Target OU is not an import OU\" before, {failing_after} now{}.",
                what_remains(&plan, failing_after)
            )?;
            super::guard_tour::demo_tour(&session, &sim.url(), &config, &mut stdout)?;
            next_steps(&mut stdout)?;
            return Ok(outcome);
        }
    }
    if !global.quiet {
        writeln!(
            stdout,
            "\nProvisioning check of the simulated org: {failing_before} group(s) fail with \
             \"Target OU is not an import OU\" today."
        )?;
        super::guard_tour::demo_tour(&session, &sim.url(), &config, &mut stdout)?;
        next_steps(&mut stdout)?;
    }
    Ok(Outcome::Success)
}

/// Why groups still fail after the demo applied `plan`: its pending manual steps, the
/// findings it does not fix, or both (never a reason the plan does not have).
fn what_remains(plan: &crate::plan::Plan, failing_after: usize) -> &'static str {
    if failing_after == 0 {
        return "";
    }
    let manual = plan.summary.manual > 0;
    let unfixed = !crate::render::unfixed_findings(plan).is_empty();
    match (manual, unfixed) {
        (true, true) => {
            " (the rest wait for the manual steps, and for the findings this plan does not fix)"
        }
        (true, false) => " (the rest wait for the manual steps)",
        (false, true) => " (the rest wait for the findings this plan does not fix)",
        (false, false) => "",
    }
}

fn next_steps(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "\nNext, on your own org:\n  \
         1. export OKTA_CLIENT_ORGURL=https://<your-org>.okta.com OKTA_CLIENT_TOKEN=<API token>\n  \
         2. declare each directory's import OUs in ouguard.toml (or `ouguard import-ous --from-csv FILE`)\n  \
         3. ouguard plan --out plans/review.json   (review it; `ouguard show plans/review.json`)\n  \
         4. ouguard apply plans/review.json\n\
         Rehearse first on a copy: `ouguard export --out org.json` then `ouguard sim --seed org.json`."
    )
}
