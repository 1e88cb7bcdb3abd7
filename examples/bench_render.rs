//! Benchmark: rendering a plan whose group targets an OU of 40,000 and of 100,000 RDNs
//! (`OU=x,OU=x,…`), as text and as JSON. Text rendering must be linear in the value's
//! length: within 2× of JSON. Prints a table; not part of `cargo test`.
//!
//! Run: `cargo run --release --example bench_render`

use std::time::Instant;

use ouguard::fixtures::{assignment, directory, org};
use ouguard::planner::{plan, NoChooser, PlanOptions, RetargetPin, Strategy};
use ouguard::rules::evaluate;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

fn main() {
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>7}  target",
        "RDNs", "value", "text ms", "JSON ms", "ratio"
    );
    for rdns in [40_000usize, 100_000] {
        let deep = format!("{}DC=corp,DC=example,DC=com", "OU=x,".repeat(rdns));
        let mut corp = directory(
            "corp.example.com",
            Some(&["OU=Staff,DC=corp,DC=example,DC=com"]),
        );
        corp.assignments = vec![assignment("00g1", "Deep", Some(&deep))];
        let state = org(vec![corp]);
        let options = PlanOptions {
            strategy: Strategy::Retarget,
            pins: vec![RetargetPin {
                directory: None,
                group: "Deep".to_string(),
                to: "OU=Staff,DC=corp,DC=example,DC=com".to_string(),
                origin: "bench".to_string(),
            }],
            org_url: Some("https://acme.okta.com".to_string()),
            created_at: "2026-11-29T00:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        let planned =
            plan(&state, evaluate(&state), &options, &mut NoChooser).expect("a retarget plan");
        let best = |render: &dyn Fn() -> usize| {
            (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    let bytes = render();
                    assert!(bytes > deep.len());
                    started.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        let text_ms = best(&|| ouguard::render::render_to_string(&planned, false).len());
        let json_ms = best(&|| planned.to_json().len());
        println!(
            "{rdns:>8} {:>8} KB {text_ms:>10.1} {json_ms:>10.1} {:>7.2}  text ≤ 2× JSON",
            deep.len() / 1024,
            text_ms / json_ms
        );
    }
    println!("\nbest of {RUNS} runs each; the plan holds one retarget of the deep OU");
}
