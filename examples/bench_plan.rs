//! Benchmark: planning offline from a snapshot, as `ouguard plan --from-snapshot` does
//! (read + parse the snapshot, evaluate the rules, plan, render text and JSON).
//!
//! Run: `cargo run --release --example bench_plan` (add sizes as arguments, e.g.
//! `-- 10000 100000 1000000`). Each size runs in a fresh child process so its peak RSS
//! (VmHWM, Linux) is its own. Orgs are generated with a fixed seed: 20 directories and
//! 5,000 import OUs in all (250 per directory), whatever the number of assignments.
//! Targets (issue 2): 100,000 assignments in < 300 ms and < 300 MB peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ouguard::planner::{plan, NoChooser, PlanOptions, Strategy};
use ouguard::sim::{large_org, GeneratorParams};
use ouguard::state::OrgState;

/// The same allocator as the `ouguard` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DIRECTORIES: usize = 20;
const IMPORT_OUS_PER_DIRECTORY: usize = 250;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--generate") => generate(&args[1], &args[2]),
        Some("--plan") => measure(Path::new(&args[1])),
        _ => parent(&args),
    }
}

fn parent(args: &[String]) {
    let sizes: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    let exe = std::env::current_exe().expect("the benchmark knows its own path");
    let dir = tempfile::tempdir().expect("a temporary folder");
    println!(
        "planning from a snapshot: {DIRECTORIES} directories, {} import OUs",
        DIRECTORIES * IMPORT_OUS_PER_DIRECTORY
    );
    println!(
        "{:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>9}",
        "assignments",
        "snapshot MB",
        "read ms",
        "eval ms",
        "plan ms",
        "render ms",
        "total ms",
        "peak RSS MB",
        "findings"
    );
    let mut previous: Option<(usize, f64)> = None;
    for size in sizes {
        let snapshot = dir.path().join(format!("org-{size}.json"));
        let status = Command::new(&exe)
            .args([
                "--generate",
                &size.to_string(),
                snapshot.to_str().expect("utf-8 path"),
            ])
            .status()
            .expect("the generator runs");
        assert!(status.success(), "generating {size} failed");
        let output = Command::new(&exe)
            .args(["--plan", snapshot.to_str().expect("utf-8 path")])
            .output()
            .expect("the measurement runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [read, eval, planning, render, total, rss, findings] = fields[..] else {
            panic!("unexpected child output: {line}");
        };
        let mb = std::fs::metadata(&snapshot)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0);
        println!(
            "{size:>12} {mb:>12.1} {read:>10.1} {eval:>10.1} {planning:>10.1} {render:>10.1} {total:>10.1} {rss:>12.1} {findings:>9}"
        );
        if let Some((prev_size, prev_total)) = previous {
            println!(
                "{:>12} growth: {:.1}× the assignments took {:.1}× the time",
                "",
                size as f64 / prev_size as f64,
                total / prev_total
            );
        }
        previous = Some((size, total));
    }
}

fn generate(size: &str, out: &str) {
    let size: usize = size.parse().expect("a size");
    let state = large_org(GeneratorParams {
        directories: DIRECTORIES,
        groups: size,
        import_ous: IMPORT_OUS_PER_DIRECTORY,
        user_types: 2,
        skew: 0.2,
        seed: 42,
    });
    std::fs::write(out, state.to_json()).expect("write the snapshot");
}

fn measure(snapshot: &Path) {
    let start = Instant::now();
    let text = std::fs::read_to_string(snapshot).expect("read the snapshot");
    let state = OrgState::from_json(&text).expect("a valid snapshot");
    drop(text);
    let read = start.elapsed();
    let evaluation = ouguard::rules::evaluate(&state);
    let evaluated = start.elapsed();
    let options = PlanOptions {
        strategy: Strategy::AddOu,
        created_at: "2026-11-29T00:00:00Z".to_string(),
        ..PlanOptions::default()
    };
    let planned = plan(&state, evaluation, &options, &mut NoChooser).expect("a plan");
    let plan_done = start.elapsed();
    let mut sink = std::io::sink();
    ouguard::render::render_plan(&planned, &mut sink, false).expect("render");
    let json = planned.to_json();
    std::hint::black_box(json.len());
    let total = start.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:.1} {:.1} {:.1} {:.1} {:.1} {:.1} {}",
        ms(read),
        ms(evaluated - read),
        ms(plan_done - evaluated),
        ms(total - plan_done),
        ms(total),
        peak_rss_mb(),
        planned.findings.len()
    );
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
