//! Benchmark: ouguard against a large simulated org, next to the lower bound the org's
//! latency, concurrency limit and rate limits allow.
//!
//! Run: `cargo run --release --example bench_org` (options below). The simulated org runs
//! in this process on its own tokio runtime and injects the latency server-side; every
//! measured run is a fresh child process (its own runtime and `OktaClient`, configured as
//! the CLI configures it) so its peak RSS (VmHWM, Linux) is ouguard's alone.
//!
//! The org: 20 AD directories, 10,000 group assignments (4,000 in the first, skew 0.4),
//! 2 user types, 25 import OUs per directory (500), generated with a fixed seed; then every
//! directory made active, `dn` mapped in each directory's default-user mapping (20 `dn`
//! findings), and enough covered groups moved to stray OUs for 1,000+ R1 findings.
//! Latency 45 ms + uniform 0..=10 ms (50 ms ± 5 ms, fixed jitter seed), concurrency limit 15.
//!
//! Scenarios (`--only a,b,…`; default all but `python`):
//! - `plan`: read the whole org, evaluate, plan (as `ouguard plan`), 600 requests/min, at
//!   the default `--max-api-share` of 50%.
//! - `apply`: 1,000 retargets (pinned to a covered import OU) + 20 `dn` deletions:
//!   `apply::check_preconditions` + `apply::execute`, 600 requests/min, share 50%.
//! - `plan-share100`, `apply-share100`: the same with `--max-api-share 100`.
//! - `plan-100`, `apply-100`: 100 requests/min, share 100%.
//! - `discover`: `import-ous --discover` (the apps list, then every directory's app users,
//!   500 a page) on the same org populated with 100,000 app users (20 directories, the
//!   biggest 40,000: 10 members per group, pushed by the simulator's provisioning model),
//!   600 requests/min.
//! - `plan-evidence`: `plan --evidence` on that org: the plan, then app users, the System
//!   Log's provisioning events (bounded, 1,000 a page) and the finding groups' members,
//!   then the groups of each failing member (to place them by priority), 600 requests/min.
//! - `python` (or `--python-sdk`): `examples/python_sdk_reads.py` (Okta's Python SDK, the
//!   same reads one after another) against the same org, when `python3` can import `okta`.
//!
//! `--window-seconds N` shortens the rate-limit window from 60 s to N s, keeping the
//! requests allowed per window: the same number of windows is forced, each shorter.
//!
//! Lower bounds (nominal latency L = 50 ms): `plan` = L × the longest chain of requests that
//! must follow one another (the apps list, then the biggest directory's pages; its mapping
//! list and mapping GETs run alongside), or the windows it forces, whichever is larger;
//! `apply` = the larger of (fewest requests) × L ÷ concurrency limit and, per endpoint
//! family with N requests at `limit` per window, floor((N−1)/limit) full windows + L.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use ouguard::apply::{check_preconditions, execute, ChangeResult, Fresh};
use ouguard::evidence::discover;
use ouguard::okta::{list_directories, read_evidence, read_user_groups, EvidenceRequest};
use ouguard::okta::{
    read_org_state, ClientOptions, ConnectionSettings, Credentials, NoProgress, OktaClient, Secret,
    SettingSource,
};
use ouguard::planner::{plan, NoChooser, PlanOptions, RetargetPin, Selector, Strategy};
use ouguard::rules::{evaluate, Rule};
use ouguard::sim::{large_org, GeneratorParams, Population, SimConfig, SimOrg};
use ouguard::state::{AppStatus, ImportOuSource, ImportOus, MappingProperty, OrgState};

/// The same allocator as the `ouguard` binary: the measured child runs `plan` as the CLI
/// does, and the simulated org runs as `ouguard sim` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DIRECTORIES: usize = 20;
const GROUPS: usize = 10_000;
const IMPORT_OUS_PER_DIRECTORY: usize = 25;
const RETARGETS: usize = 1_000;
const LATENCY: Duration = Duration::from_millis(45);
const LATENCY_JITTER: Duration = Duration::from_millis(10);
const NOMINAL_LATENCY_S: f64 = 0.050;
const CONCURRENCY_LIMIT: usize = 15;
const PAGE_SIZE: usize = 200;
const GENERATOR_SEED: u64 = 7;
const JITTER_SEED: u64 = 11;
const TOKEN_ENV: &str = "OUGUARD_BENCH_TOKEN";
/// Members per group in the evidence scenarios: 10 × 10,000 groups = 100,000 app users.
const MEMBERS_PER_GROUP: usize = 10;
/// Users imported from AD per import OU in the evidence scenarios (500 import OUs): the
/// users `import-ous --discover` finds its candidates by.
const IMPORTED_PER_IMPORT_OU: usize = 4;
const APP_USER_PAGE: usize = 500;
const LOG_PAGE: usize = 1000;
const MEMBER_PAGE: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    parent(&args);
}

// ---------------------------------------------------------------- the org

/// The benchmark org (deterministic).
fn bench_org() -> OrgState {
    let mut state = large_org(GeneratorParams {
        directories: DIRECTORIES,
        groups: GROUPS,
        import_ous: IMPORT_OUS_PER_DIRECTORY,
        user_types: 2,
        skew: 0.4,
        seed: GENERATOR_SEED,
    });
    let default_type = state
        .user_types
        .iter()
        .find(|t| t.default)
        .map(|t| t.id.clone())
        .expect("a default user type");
    for directory in &mut state.directories {
        directory.status = AppStatus::Active;
        for mapping in &mut directory.mappings {
            if mapping.source_user_type.id == default_type {
                mapping.properties.insert(
                    "dn".to_string(),
                    MappingProperty {
                        expression: Some("\"CN=\" + user.login".to_string()),
                        push_status: Some("PUSH".to_string()),
                    },
                );
            }
        }
    }
    // Top up R1 findings: move every fifth covered group (OU=TeamN below an import OU) of
    // each directory to a stray OU of its domain until there are enough.
    let mut r1 = count_r1(&state);
    'top_up: for (d, directory) in state.directories.iter_mut().enumerate() {
        for (i, assignment) in directory.assignments.iter_mut().enumerate() {
            if r1 >= RETARGETS + 100 {
                break 'top_up;
            }
            let covered = assignment
                .organizational_unit
                .as_deref()
                .is_some_and(|ou| ou.starts_with("OU=Team"));
            if covered && i % 5 == 0 {
                assignment.organizational_unit =
                    Some(format!("OU=Stray{i},DC=d{d:03},DC=example,DC=com"));
                r1 += 1;
            }
        }
    }
    state
}

fn count_r1(state: &OrgState) -> usize {
    evaluate(state)
        .findings
        .iter()
        .filter(|f| f.rule == Rule::GroupOuNotImported)
        .count()
}

/// What `ouguard.toml` would declare: each directory's import OUs.
fn declare_import_ous(state: &mut OrgState, org: &OrgState) {
    for directory in &mut state.directories {
        if let Some(truth) = org.directory(&directory.app_id) {
            directory.import_ous = Some(ImportOus {
                source: ImportOuSource::Config {
                    path: "bench ouguard.toml".to_string(),
                },
                ous: truth
                    .import_ous
                    .as_ref()
                    .map(|i| i.ous.clone())
                    .unwrap_or_default(),
            });
        }
    }
}

/// The apply benchmark's plan: 1,000 R1 findings retargeted to their directory's first
/// import OU (pins), and every `dn` mapping.
fn apply_plan(org: &OrgState, org_url: &str) -> ouguard::plan::Plan {
    let evaluation = evaluate(org);
    let mut pins = Vec::new();
    let mut targets = Vec::new();
    for finding in &evaluation.findings {
        match finding.rule {
            Rule::GroupOuNotImported if pins.len() < RETARGETS => {
                let Some(group) = &finding.group else {
                    continue;
                };
                let Some(to) = org
                    .directory(&finding.directory.app_id)
                    .and_then(|d| d.import_ous.as_ref())
                    .and_then(|i| i.ous.first())
                else {
                    continue;
                };
                pins.push(RetargetPin {
                    directory: Some(finding.directory.app_id.clone()),
                    group: group.id.clone(),
                    to: to.clone(),
                    origin: "bench".to_string(),
                });
                targets.push(Selector(finding.id.clone()));
            }
            Rule::DnMapped => targets.push(Selector(finding.id.clone())),
            _ => {}
        }
    }
    let options = PlanOptions {
        strategy: Strategy::Retarget,
        pins,
        targets,
        org_url: Some(org_url.to_string()),
        created_at: "2026-11-29T00:00:00Z".to_string(),
        ..PlanOptions::default()
    };
    plan(org, evaluation, &options, &mut NoChooser).expect("the apply plan")
}

// ---------------------------------------------------------------- the measured child

fn child(args: &[String]) {
    let kind = args[0].as_str();
    let url = args[1].clone();
    let share: u8 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(ouguard::okta::DEFAULT_MAX_API_SHARE);
    let token = std::env::var(TOKEN_ENV).expect("the token in the environment");
    let settings = ConnectionSettings {
        org_url: url.clone(),
        org_url_source: SettingSource::Flag,
        credentials: Credentials::ApiToken(Secret::new(token)),
        warnings: Vec::new(),
    };
    // Configured as the CLI configures it: the defaults, `--concurrency` at its default,
    // `--max-api-share` as the scenario says.
    let options = ClientOptions {
        max_api_share: share,
        ..ClientOptions::default()
    };
    let client = OktaClient::new(&settings, options).expect("a client");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let org = bench_org();
    let mut figures: BTreeMap<&str, String> = BTreeMap::new();
    match kind {
        "plan" => {
            let started = Instant::now();
            let outcome = runtime
                .block_on(read_org_state(&client, &NoProgress))
                .expect("the org reads");
            let read = started.elapsed();
            let mut state = outcome.state;
            declare_import_ous(&mut state, &org);
            let evaluation = evaluate(&state);
            let options = PlanOptions {
                strategy: Strategy::AddOu,
                org_url: Some(url),
                created_at: "2026-11-29T00:00:00Z".to_string(),
                ..PlanOptions::default()
            };
            let planned = plan(&state, evaluation, &options, &mut NoChooser).expect("a plan");
            let wall = started.elapsed();
            let assignments: usize = state.directories.iter().map(|d| d.assignments.len()).sum();
            assert_eq!(assignments, GROUPS, "every assignment was read");
            figures.insert("wall_s", format!("{:.3}", wall.as_secs_f64()));
            figures.insert("read_s", format!("{:.3}", read.as_secs_f64()));
            figures.insert("findings", planned.findings.len().to_string());
            figures.insert("changes", planned.resource_changes.len().to_string());
            figures.insert("failures", "0".to_string());
        }
        "apply" => {
            let planned = apply_plan(&org, &url);
            let retargets = planned
                .resource_changes
                .iter()
                .filter(|c| c.kind() == ouguard::plan::ChangeKind::GroupTargetOu)
                .count();
            let deletions = planned
                .resource_changes
                .iter()
                .filter(|c| c.kind() == ouguard::plan::ChangeKind::MappingProperty)
                .count();
            let started = Instant::now();
            let fresh = runtime
                .block_on(check_preconditions(&client, &planned))
                .expect("the fresh reads");
            let checked = started.elapsed();
            let stale = fresh
                .iter()
                .filter(|(_, f)| matches!(f, Fresh::Stale(_)))
                .count();
            // A real run record (intent and result lines, each fsynced), as `apply` keeps.
            let records = tempfile::tempdir().expect("a folder for the run record");
            let recorder = ouguard::runrecord::RunRecorder::start(
                records.path(),
                &planned,
                &ouguard::runrecord::RunStart {
                    org_url: url.clone(),
                    started_at: String::new(),
                    config_path: "ouguard.toml".into(),
                },
            )
            .expect("the run record starts");
            let outcomes = runtime.block_on(execute(&client, &planned, fresh, &recorder));
            recorder
                .finish(
                    &ouguard::runrecord::Tally::of(&outcomes),
                    &ouguard::runrecord::RunEnding::Completed,
                )
                .expect("the run record ends");
            let wall = started.elapsed();
            let applied = outcomes
                .iter()
                .filter(|o| matches!(o.result, ChangeResult::Applied { .. }))
                .count();
            let failures = outcomes.len() - applied;
            figures.insert("wall_s", format!("{:.3}", wall.as_secs_f64()));
            figures.insert("preconditions_s", format!("{:.3}", checked.as_secs_f64()));
            figures.insert("retargets", retargets.to_string());
            figures.insert("dn_deletions", deletions.to_string());
            figures.insert("stale", stale.to_string());
            figures.insert("applied", applied.to_string());
            figures.insert("failures", failures.to_string());
        }
        "discover" => {
            let started = Instant::now();
            let directories = runtime
                .block_on(list_directories(&client))
                .expect("the directories read");
            let request = EvidenceRequest {
                directories: directories
                    .iter()
                    .map(|d| (d.app_id.clone(), d.domain.clone()))
                    .collect(),
                ..EvidenceRequest::default()
            };
            let evidence = runtime.block_on(read_evidence(&client, &request));
            assert!(
                evidence.unavailable.is_empty(),
                "{:?}",
                evidence.unavailable
            );
            let mut app_users = 0;
            let mut candidates = 0;
            let mut biggest = 0;
            for d in &evidence.directories {
                let users = d.app_users.as_deref().unwrap_or_default();
                app_users += users.len();
                biggest = biggest.max(users.len());
                candidates += discover(&d.domain, &d.app_id, users, &[]).candidates.len();
            }
            let wall = started.elapsed();
            figures.insert("wall_s", format!("{:.3}", wall.as_secs_f64()));
            figures.insert("app_users", app_users.to_string());
            figures.insert("biggest", biggest.to_string());
            figures.insert("candidates", candidates.to_string());
            figures.insert("failures", "0".to_string());
        }
        "plan-evidence" => {
            let started = Instant::now();
            let outcome = runtime
                .block_on(read_org_state(&client, &NoProgress))
                .expect("the org reads");
            let mut state = outcome.state;
            declare_import_ous(&mut state, &org);
            let evaluation = evaluate(&state);
            let options = PlanOptions {
                strategy: Strategy::AddOu,
                org_url: Some(url),
                created_at: "2026-11-29T00:00:00Z".to_string(),
                ..PlanOptions::default()
            };
            let mut planned = plan(&state, evaluation, &options, &mut NoChooser).expect("a plan");
            let planned_at = started.elapsed();
            let mut groups: Vec<String> = planned
                .findings
                .iter()
                .filter_map(|f| f.group.as_ref().map(|g| g.id.clone()))
                .collect();
            groups.sort();
            groups.dedup();
            let until = chrono::Utc::now();
            let request = EvidenceRequest {
                directories: state
                    .directories
                    .iter()
                    .map(|d| (d.app_id.clone(), d.domain.clone()))
                    .collect(),
                groups,
                window: Some((until - chrono::Duration::days(7), until)),
            };
            let mut evidence = runtime.block_on(read_evidence(&client, &request));
            assert!(
                evidence.unavailable.is_empty(),
                "{:?}",
                evidence.unavailable
            );
            let placed = ouguard::evidence::users_to_place(&planned.findings, &evidence, 1000);
            if let Some(users) = &placed {
                runtime.block_on(read_user_groups(&client, users, &mut evidence));
            }
            ouguard::evidence::attach(&mut planned.findings, &state, &evidence);
            let wall = started.elapsed();
            let failing: usize = planned
                .findings
                .iter()
                .filter_map(|f| f.evidence.as_ref())
                .map(|e| e.failing_users)
                .sum();
            let events: usize = evidence
                .directories
                .iter()
                .map(|d| d.events.as_ref().map_or(0, Vec::len))
                .sum();
            figures.insert("wall_s", format!("{:.3}", wall.as_secs_f64()));
            figures.insert("plan_s", format!("{:.3}", planned_at.as_secs_f64()));
            figures.insert("evidence_requests", evidence.requests.to_string());
            figures.insert("failing_attributed", failing.to_string());
            figures.insert("events", events.to_string());
            figures.insert(
                "placed",
                placed.map_or_else(|| "skipped".to_string(), |u| u.len().to_string()),
            );
            figures.insert("failures", "0".to_string());
        }
        other => panic!("unknown child run `{other}`"),
    }
    let stats = client.stats();
    figures.insert("requests", stats.requests.to_string());
    figures.insert("rate_limited", stats.rate_limited.to_string());
    figures.insert("paced", stats.paced.to_string());
    figures.insert("peak_rss_mb", format!("{:.1}", peak_rss_mb()));
    let line: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
}

/// Peak resident set size of this process in MB (Linux `VmHWM`; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------- the parent

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plan,
    Apply,
    Discover,
    PlanEvidence,
    Python,
}

struct Scenario {
    name: &'static str,
    kind: Kind,
    limit: u32,
    /// `--max-api-share`, percent.
    share: u8,
    target: &'static str,
}

const SCENARIOS: [Scenario; 9] = [
    Scenario {
        name: "plan",
        kind: Kind::Plan,
        limit: 600,
        share: 50,
        target: "≤ 1.25× bound, 0 429s",
    },
    Scenario {
        name: "apply",
        kind: Kind::Apply,
        limit: 600,
        share: 50,
        target: "≤ 1.3× bound, 0 fail, 0 429s",
    },
    Scenario {
        name: "plan-share100",
        kind: Kind::Plan,
        limit: 600,
        share: 100,
        target: "≤ 1.25× bound, 0 429s",
    },
    Scenario {
        name: "apply-share100",
        kind: Kind::Apply,
        limit: 600,
        share: 100,
        target: "≤ 1.3× bound, 0 fail, 0 429s",
    },
    Scenario {
        name: "plan-100",
        kind: Kind::Plan,
        limit: 100,
        share: 100,
        target: "0 fail, waits ≈ windows",
    },
    Scenario {
        name: "apply-100",
        kind: Kind::Apply,
        limit: 100,
        share: 100,
        target: "0 fail, waits ≈ windows",
    },
    Scenario {
        name: "discover",
        kind: Kind::Discover,
        limit: 600,
        share: 50,
        target: "≤ 1.3× bound, 0 429s",
    },
    Scenario {
        name: "plan-evidence",
        kind: Kind::PlanEvidence,
        limit: 600,
        share: 50,
        target: "≤ 1.3× bound, 0 429s",
    },
    Scenario {
        name: "python",
        kind: Kind::Python,
        limit: 600,
        share: 100,
        target: "ouguard plan ≥ 5× faster",
    },
];

struct Row {
    scenario: String,
    limit: u32,
    share: u8,
    window_s: u64,
    requests: usize,
    throttled: usize,
    wall_s: f64,
    bound_s: f64,
    paused_s: f64,
    forced_pause_s: f64,
    rss_mb: String,
    target: &'static str,
    notes: String,
}

fn parent(args: &[String]) {
    let mut window_s: u64 = 60;
    let mut only: Option<Vec<String>> = None;
    let mut python = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--window-seconds" => {
                window_s = iter
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--window-seconds N (N ≥ 1)");
            }
            "--only" => {
                only = Some(
                    iter.next()
                        .expect("--only a,b,…")
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                );
            }
            "--python-sdk" => python = true,
            other => panic!(
                "unknown argument `{other}`: use --window-seconds N, --only LIST, --python-sdk"
            ),
        }
    }
    let chosen = |s: &Scenario| match &only {
        Some(list) => list.iter().any(|n| n == s.name),
        None => s.kind != Kind::Python || python,
    };
    let window = Duration::from_secs(window_s);
    let org = bench_org();
    let exe = std::env::current_exe().expect("the benchmark knows its own path");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the simulated org");

    let assignments: usize = org.directories.iter().map(|d| d.assignments.len()).sum();
    let biggest = org
        .directories
        .iter()
        .map(|d| d.assignments.len())
        .max()
        .unwrap_or(0);
    println!(
        "org: {} directories, {assignments} assignments (biggest directory {biggest}), {} user types, {} import OUs, {} R1 findings",
        org.directories.len(),
        org.user_types.len(),
        org.directories
            .iter()
            .map(|d| d.import_ous.as_ref().map_or(0, |i| i.ous.len()))
            .sum::<usize>(),
        count_r1(&org),
    );
    println!(
        "simulated latency {} ms + 0..={} ms, concurrency limit {CONCURRENCY_LIMIT}, rate-limit window {window_s} s{}",
        LATENCY.as_millis(),
        LATENCY_JITTER.as_millis(),
        if window_s == 60 { "" } else { " (scaled: same requests per window, shorter windows)" }
    );
    println!();

    let mut rows = Vec::new();
    let mut plan_wall: Option<f64> = None;
    for scenario in SCENARIOS.iter().filter(|s| chosen(s)) {
        eprintln!("running `{}`…", scenario.name);
        let sim = runtime
            .block_on(SimOrg::start(SimConfig {
                seed: org.clone(),
                latency: LATENCY,
                latency_jitter: LATENCY_JITTER,
                rate_limit_per_minute: scenario.limit,
                rate_limit_window: window,
                concurrency_limit: Some(CONCURRENCY_LIMIT),
                fault_seed: JITTER_SEED,
                population: if matches!(scenario.kind, Kind::Discover | Kind::PlanEvidence) {
                    Population {
                        imported_per_import_ou: IMPORTED_PER_IMPORT_OU,
                        members_per_group: MEMBERS_PER_GROUP,
                    }
                } else {
                    Population::none()
                },
                ..SimConfig::default()
            }))
            .expect("the simulated org starts");
        let row = match scenario.kind {
            Kind::Plan | Kind::Apply | Kind::Discover | Kind::PlanEvidence => {
                let kind = match scenario.kind {
                    Kind::Plan => "plan",
                    Kind::Apply => "apply",
                    Kind::Discover => "discover",
                    _ => "plan-evidence",
                };
                let output = Command::new(&exe)
                    .args(["--child", kind, &sim.url(), &scenario.share.to_string()])
                    .env(TOKEN_ENV, sim.token())
                    .output()
                    .expect("the measured run starts");
                assert!(
                    output.status.success(),
                    "the `{}` run failed: {}",
                    scenario.name,
                    String::from_utf8_lossy(&output.stderr)
                );
                let figures = parse_figures(&String::from_utf8_lossy(&output.stdout));
                let wall_s: f64 = figures["wall_s"].parse().unwrap_or(f64::NAN);
                if scenario.name == "plan" {
                    plan_wall = Some(wall_s);
                }
                // The bound of what ouguard may use: its part of each window.
                let own = own_part(scenario.limit, scenario.share);
                let (bound_s, forced_pause_s) = match scenario.kind {
                    Kind::Plan => plan_bound(&org, own, window),
                    Kind::Discover => discover_bound(&sim, own, window),
                    Kind::PlanEvidence => {
                        let (plan, plan_forced) = plan_bound(&org, own, window);
                        let (evidence, evidence_forced) = evidence_bound(&sim, &org, own, window);
                        let placed = figures["placed"].parse().unwrap_or(0);
                        let (placing, placing_forced) = placement_bound(placed, own, window);
                        (
                            plan + evidence + placing,
                            plan_forced + evidence_forced + placing_forced,
                        )
                    }
                    _ => apply_bound(&org, &sim.url(), own, window),
                };
                let notes = if scenario.kind == Kind::Plan {
                    format!(
                        "findings {}, changes {}, read {} s",
                        figures["findings"], figures["changes"], figures["read_s"]
                    )
                } else if scenario.kind == Kind::Discover {
                    format!(
                        "{} app users (biggest directory {}), {} candidate OUs",
                        figures["app_users"], figures["biggest"], figures["candidates"]
                    )
                } else if scenario.kind == Kind::PlanEvidence {
                    format!(
                        "plan {} s, then evidence: {} requests, {} provisioning events, {} failing users attributed, users placed by their groups: {}",
                        figures["plan_s"],
                        figures["evidence_requests"],
                        figures["events"],
                        figures["failing_attributed"],
                        figures["placed"]
                    )
                } else {
                    format!(
                        "{} retargets + {} dn deletions: applied {}, failed/skipped {}, stale {}; preconditions {} s; provisioning failures after: {}",
                        figures["retargets"],
                        figures["dn_deletions"],
                        figures["applied"],
                        figures["failures"],
                        figures["stale"],
                        figures["preconditions_s"],
                        sim.provisioning_check().failing().len()
                    )
                };
                let log = sim.requests();
                if let Ok(path) = std::env::var("BENCH_ORG_REQUEST_LOG") {
                    let lines: Vec<String> = log
                        .iter()
                        .map(|r| format!("{} {} {} {:?}", r.timestamp, r.method, r.path, r.status))
                        .collect();
                    let _ = std::fs::write(format!("{path}.{}", scenario.name), lines.join("\n"));
                }
                Row {
                    scenario: scenario.name.to_string(),
                    limit: scenario.limit,
                    share: scenario.share,
                    window_s,
                    requests: log.len(),
                    throttled: log.iter().filter(|r| r.status == Some(429)).count(),
                    wall_s,
                    bound_s,
                    paused_s: pauses(&log),
                    forced_pause_s,
                    rss_mb: figures["peak_rss_mb"].clone(),
                    target: scenario.target,
                    notes: format!(
                        "{notes}; client: {} requests, {} 429s, {} paced waits",
                        figures["requests"], figures["rate_limited"], figures["paced"]
                    ),
                }
            }
            Kind::Python => python_row(scenario, &sim, window_s, plan_wall),
        };
        runtime.block_on(sim.shutdown());
        rows.push(row);
    }
    print_table(&rows);
}

fn parse_figures(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// ouguard's part of a window of `limit` at `share` percent (as the client's reserve).
fn own_part(limit: u32, share: u8) -> u32 {
    ((u64::from(limit) * u64::from(share) / 100).max(1)) as u32
}

/// The windows a family with `n` requests at `limit` per window forces to pass.
fn forced_windows(n: usize, limit: u32) -> usize {
    if n == 0 {
        0
    } else {
        (n - 1) / limit.max(1) as usize
    }
}

/// Lower bound of `plan`, and the pause its windows force (seconds).
fn plan_bound(org: &OrgState, limit: u32, window: Duration) -> (f64, f64) {
    let pages = |n: usize| n.div_ceil(PAGE_SIZE).max(1);
    let user_mappings = org.user_types.len();
    let chain = 1 + org
        .directories
        .iter()
        .map(|d| pages(d.assignments.len()).max(1 + usize::from(user_mappings > 0)))
        .max()
        .unwrap_or(0);
    let group_pages: usize = org
        .directories
        .iter()
        .map(|d| pages(d.assignments.len()))
        .sum();
    let mapping_requests = org.directories.len() * (1 + user_mappings);
    let total = 1 + 1 + group_pages + mapping_requests;
    let throughput = total as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let windows = forced_windows(group_pages, limit).max(forced_windows(mapping_requests, limit));
    let forced = windows as f64 * window.as_secs_f64();
    let bound = (chain as f64 * NOMINAL_LATENCY_S)
        .max(throughput)
        .max(forced + NOMINAL_LATENCY_S);
    (bound, forced)
}

/// App users per directory and provisioning events per directory (the push events of its
/// app), as the simulated org holds them.
fn evidence_counts(sim: &SimOrg) -> Vec<(usize, usize)> {
    sim.state()
        .directories
        .iter()
        .map(|d| {
            (
                sim.app_user_count(&d.app_id),
                sim.provisioning_event_count(&d.app_id),
            )
        })
        .collect()
}

/// Lower bound of `import-ous --discover`: the apps list, then the biggest directory's
/// chain of app-user pages; or the requests ÷ concurrency, or the windows they force.
fn discover_bound(sim: &SimOrg, limit: u32, window: Duration) -> (f64, f64) {
    let counts = evidence_counts(sim);
    let pages = |n: usize| n.div_ceil(APP_USER_PAGE).max(1);
    let chain = 1 + counts.iter().map(|(u, _)| pages(*u)).max().unwrap_or(0);
    let total: usize = 1 + counts.iter().map(|(u, _)| pages(*u)).sum::<usize>();
    let throughput = total as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let forced = forced_windows(total - 1, limit) as f64 * window.as_secs_f64();
    let bound = (chain as f64 * NOMINAL_LATENCY_S)
        .max(throughput)
        .max(forced + NOMINAL_LATENCY_S);
    (bound, forced)
}

/// Lower bound of the evidence part of `plan --evidence` (after the plan): the longest
/// chain (a directory's app-user pages, or its System Log pages of one event type), or
/// the requests ÷ concurrency, or the windows each endpoint family forces.
fn evidence_bound(sim: &SimOrg, org: &OrgState, limit: u32, window: Duration) -> (f64, f64) {
    let counts = evidence_counts(sim);
    let user_pages = |n: usize| n.div_ceil(APP_USER_PAGE).max(1);
    let log_pages = |n: usize| n.div_ceil(LOG_PAGE).max(1);
    // Two log queries per directory (push, sync); the sync one is empty here.
    let chain = counts
        .iter()
        .map(|(u, e)| user_pages(*u).max(log_pages(*e)))
        .max()
        .unwrap_or(0);
    let groups = {
        let evaluation = evaluate(&{
            let mut state = org.clone();
            declare_import_ous(&mut state, org);
            state
        });
        let mut g: Vec<String> = evaluation
            .findings
            .iter()
            .filter_map(|f| f.group.as_ref().map(|g| g.id.clone()))
            .collect();
        g.sort();
        g.dedup();
        g.len()
    };
    let member_requests = groups * (MEMBERS_PER_GROUP + 1).div_ceil(MEMBER_PAGE).max(1);
    let app_user_requests: usize = counts.iter().map(|(u, _)| user_pages(*u)).sum();
    let log_requests: usize = counts.iter().map(|(_, e)| log_pages(*e) + 1).sum();
    let total = member_requests + app_user_requests + log_requests;
    let throughput = total as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let windows = forced_windows(member_requests, limit)
        .max(forced_windows(app_user_requests, limit))
        .max(forced_windows(log_requests, limit));
    let forced = windows as f64 * window.as_secs_f64();
    let bound = (chain as f64 * NOMINAL_LATENCY_S)
        .max(throughput)
        .max(forced + NOMINAL_LATENCY_S);
    (bound, forced)
}

/// Lower bound of placing the failing members of finding groups (after the evidence: it
/// needs the failing users): one `GET /api/v1/users/{id}/groups` per user, a family of its
/// own whose first window starts with it.
fn placement_bound(users: usize, limit: u32, window: Duration) -> (f64, f64) {
    if users == 0 {
        return (0.0, 0.0);
    }
    let throughput = users as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let forced = forced_windows(users, limit) as f64 * window.as_secs_f64();
    (
        throughput
            .max(NOMINAL_LATENCY_S)
            .max(forced + NOMINAL_LATENCY_S),
        forced,
    )
}

/// Lower bound of `apply`, and the pause its windows force (seconds).
fn apply_bound(org: &OrgState, url: &str, limit: u32, window: Duration) -> (f64, f64) {
    let planned = apply_plan(org, url);
    let retargets = planned
        .resource_changes
        .iter()
        .filter(|c| c.kind() == ouguard::plan::ChangeKind::GroupTargetOu)
        .count();
    let deletions = planned
        .resource_changes
        .iter()
        .filter(|c| c.kind() == ouguard::plan::ChangeKind::MappingProperty)
        .count();
    // Fewest requests: a fresh read and a write per change.
    let app_groups = 2 * retargets;
    let mappings = 2 * deletions;
    let throughput = (app_groups + mappings) as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let windows = forced_windows(app_groups, limit).max(forced_windows(mappings, limit));
    let forced = windows as f64 * window.as_secs_f64();
    // While the forced windows pass, the requests they admit take time to send anyway.
    let sending = (windows * limit as usize) as f64 * NOMINAL_LATENCY_S / CONCURRENCY_LIMIT as f64;
    let bound = throughput.max(forced + NOMINAL_LATENCY_S);
    (bound, (forced - sending).max(0.0))
}

/// Seconds during which no request arrived for more than a second: pacing pauses.
fn pauses(log: &[ouguard::sim::RecordedRequest]) -> f64 {
    let mut at: Vec<i64> = log
        .iter()
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(&r.timestamp).ok())
        .map(|t| t.timestamp_millis())
        .collect();
    at.sort_unstable();
    at.windows(2)
        .map(|w| w[1] - w[0])
        .filter(|gap| *gap > 1_000)
        .sum::<i64>() as f64
        / 1e3
}

fn python_row(scenario: &Scenario, sim: &SimOrg, window_s: u64, plan_wall: Option<f64>) -> Row {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python_sdk_reads.py");
    let has_sdk = Command::new("python3")
        .args(["-c", "import okta"])
        .output()
        .is_ok_and(|o| o.status.success());
    let skipped = |why: &str| Row {
        scenario: scenario.name.to_string(),
        limit: scenario.limit,
        share: scenario.share,
        window_s,
        requests: 0,
        throttled: 0,
        wall_s: f64::NAN,
        bound_s: f64::NAN,
        paused_s: 0.0,
        forced_pause_s: 0.0,
        rss_mb: "-".to_string(),
        target: scenario.target,
        notes: format!("skipped: {why}"),
    };
    if !has_sdk {
        return skipped("python3 cannot import `okta` (install it with `pip install okta`; the benchmark never installs anything)");
    }
    let started = Instant::now();
    let output = Command::new("python3")
        .arg(script)
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .env("OKTA_CLIENT_AUTHORIZATIONMODE", "SSWS")
        .env("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
        .output()
        .expect("python3 runs");
    let process_s = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return skipped(&format!(
            "the script failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let figures = parse_figures(&String::from_utf8_lossy(&output.stdout));
    let reads_s: f64 = figures
        .get("reads_s")
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    let log = sim.requests();
    let speedup = plan_wall.map_or_else(
        || "run `plan` too for the comparison".to_string(),
        |p| format!("ouguard `plan` is {:.1}× faster", reads_s / p),
    );
    Row {
        scenario: scenario.name.to_string(),
        limit: scenario.limit,
        share: scenario.share,
        window_s,
        requests: log.len(),
        throttled: log.iter().filter(|r| r.status == Some(429)).count(),
        wall_s: reads_s,
        bound_s: f64::NAN,
        paused_s: pauses(&log),
        forced_pause_s: 0.0,
        rss_mb: figures.get("peak_rss_mb").cloned().unwrap_or_default(),
        target: scenario.target,
        notes: format!(
            "{speedup}; reads {reads_s:.2} s ({} assignments, {} mappings), process {process_s:.2} s with interpreter start",
            figures.get("assignments").map_or("?", String::as_str),
            figures.get("mappings").map_or("?", String::as_str),
        ),
    }
}

fn print_table(rows: &[Row]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<14} {:>9} {:>5} {:>8} {:>6} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9}  target",
        "scenario",
        "limit",
        "share",
        "requests",
        "429s",
        "wall s",
        "bound s",
        "ratio",
        "paused s",
        "forced s",
        "RSS MB",
    );
    for r in rows {
        let ratio = r.wall_s / r.bound_s;
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>5} {:>8} {:>6} {:>9.2} {:>9.2} {:>6} {:>9.1} {:>9.1} {:>9}  {}",
            r.scenario,
            format!("{}/{}s", r.limit, r.window_s),
            format!("{}%", r.share),
            r.requests,
            r.throttled,
            r.wall_s,
            r.bound_s,
            if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "-".to_string()
            },
            r.paused_s,
            r.forced_pause_s,
            r.rss_mb,
            r.target
        );
    }
    let _ = writeln!(out);
    for r in rows {
        let _ = writeln!(out, "{}: {}", r.scenario, r.notes);
    }
    let _ = writeln!(
        out,
        "\npaused s: time with no request sent for over a second (pacing); forced s: the pause the rate-limit windows force at least"
    );
}
