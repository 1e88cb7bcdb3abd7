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

const RUNS: usize = 25;

/// One way of rendering the plan into a buffer.
type Render<'a> = dyn Fn(&mut Vec<u8>) + 'a;

fn main() {
    println!(
        "{:>8} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>7} {:>8} {:>9}  target",
        "RDNs",
        "value",
        "text",
        "text ms",
        "color ms",
        "JSON",
        "JSON ms",
        "ratio",
        "MD ms",
        "MD ratio"
    );
    let mut shows = Vec::new();
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
        // Each renders into a buffer kept from run to run, so the figures are the renderers'
        // own work and not the allocator's (fresh pages for a fresh megabyte each run).
        let saved = planned.to_json();
        // Each renders into a buffer kept from run to run, so the figures are the renderers'
        // own work and not the allocator's (fresh pages for a fresh megabyte each run). The
        // renderers take turns, round after round, so a change in the machine's speed (a
        // virtual machine's neighbours) reaches all of them alike; each keeps its best.
        let renderers: [&Render; 6] = [
            &|out| ouguard::render::render_plan(&planned, out, false).expect("renders"),
            &|out| ouguard::render::render_plan(&planned, out, true).expect("renders"),
            &|out| {
                ouguard::render::markdown::render_markdown(&planned, Some("plan.json"), out)
                    .expect("renders");
            },
            &|out| serde_json::to_writer_pretty(&mut *out, &planned).expect("serializes"),
            // `ouguard show FILE` as a whole: the plan file loaded and checked, then rendered.
            &|out| {
                let plan = ouguard::plan::Plan::from_json(&saved).expect("the plan loads");
                ouguard::render::render_plan(&plan, out, false).expect("renders");
            },
            &|out| {
                let plan = ouguard::plan::Plan::from_json(&saved).expect("the plan loads");
                serde_json::to_writer_pretty(&mut *out, &plan).expect("serializes");
            },
        ];
        let mut buffer = Vec::<u8>::with_capacity(8 << 20);
        let mut best = [f64::INFINITY; 6];
        for _ in 0..RUNS {
            for (render, best) in renderers.iter().zip(&mut best) {
                buffer.clear();
                let started = Instant::now();
                render(&mut buffer);
                let elapsed = started.elapsed().as_secs_f64() * 1e3;
                assert!(buffer.len() > deep.len());
                *best = best.min(elapsed);
            }
        }
        let [text_ms, color_ms, markdown_ms, json_ms, show_text_ms, show_json_ms] = best;
        shows.push((rdns, show_text_ms, show_json_ms));
        let text_kb = ouguard::render::render_to_string(&planned, false).len() / 1024;
        let json_kb = planned.to_json().len() / 1024;
        println!(
            "{rdns:>8} {:>7} KB {text_kb:>7} KB {text_ms:>8.2} {color_ms:>10.2} {json_kb:>7} KB {json_ms:>8.2} {:>7.2} {markdown_ms:>8.2} {:>9.2}  text ≤ 2× JSON",
            deep.len() / 1024,
            text_ms.max(color_ms) / json_ms,
            markdown_ms / json_ms
        );
    }
    println!("\n`show` (load and check the plan file, then render it):");
    println!(
        "{:>8} {:>12} {:>12} {:>7}",
        "RDNs", "text ms", "JSON ms", "ratio"
    );
    for (rdns, text_ms, json_ms) in shows {
        println!(
            "{rdns:>8} {text_ms:>12.2} {json_ms:>12.2} {:>7.2}",
            text_ms / json_ms
        );
    }
    println!(
        "\nbest of {RUNS} runs each, into a reused buffer; the plan holds one retarget of the deep OU; ratio: the \
         slower of text and colored text to JSON; MD: the Markdown review (it holds the text plan)"
    );
}
