//! Benchmark: `ouguard guard` under a stream of Event Hook deliveries.
//!
//! The simulated org (the demo org plus `--groups` groups, a fifth of them assigned to an OU
//! no import OU covers) runs in this process; the guard is the real binary in a child
//! process, so its RSS is its own. This program plays Okta: `--rate` deliveries per second
//! of `--events` events each, for `--seconds`, `--duplicates` percent of them re-sent (as
//! Okta's at-least-once delivery does: a delivery of the last second). Each event is an assignment change of a random
//! group, so the guard reads that assignment fresh and judges it.
//!
//! Prints: answers (p50/p99/max), deliveries and events sent, accepted, judged, alerts and
//! findings alerted more than once, the guard's RSS over time.
//!
//!     cargo run --release --example bench_guard
//!     cargo run --release --example bench_guard -- --seconds 10

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ouguard::sim::seed::DEMO_CONFIG;
use ouguard::sim::{SimConfig, SimOrg};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const SECRET: &str = "bench-secret-0123456789abcdef";

struct Args {
    rate: u64,
    events: usize,
    seconds: u64,
    duplicates: u32,
    groups: usize,
    binary: String,
}

fn args() -> Args {
    let mut a = Args {
        rate: 100,
        events: 10,
        seconds: 60,
        duplicates: 10,
        groups: 500,
        binary: default_binary(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--rate" => a.rate = value.parse().expect("--rate N"),
            "--events" => a.events = value.parse().expect("--events N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            "--duplicates" => a.duplicates = value.parse().expect("--duplicates PERCENT"),
            "--groups" => a.groups = value.parse().expect("--groups N"),
            "--binary" => a.binary = value,
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// The `ouguard` binary next to this example (same profile).
fn default_binary() -> String {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    dir.join("ouguard").display().to_string()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let args = args();
    let sim = SimOrg::start_blocking(SimConfig {
        rate_limit_per_minute: 10_000_000,
        ..SimConfig::default()
    })
    .expect("the simulated org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ouguard.toml"), DEMO_CONFIG).expect("config");

    // The guard, as a child process.
    let mut child = Command::new(&args.binary)
        .current_dir(dir.path())
        .env("OKTA_CLIENT_ORGURL", sim.url())
        .env("OKTA_CLIENT_TOKEN", sim.token())
        .env("OUGUARD_GUARD_SECRET", SECRET)
        .env("HOME", dir.path())
        .args(["guard", "--listen", "127.0.0.1:0", "--poll-mappings", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e} (build it first)", args.binary));
    let pid = child.id();
    let alerts: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let alerts = Arc::clone(&alerts);
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["alert"] == "new-finding" {
                        alerts
                            .lock()
                            .unwrap()
                            .push(v["finding"].as_str().unwrap_or_default().to_string());
                    }
                }
            }
        });
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let summary: Arc<Mutex<Option<String>>> = Arc::default();
    {
        let summary = Arc::clone(&summary);
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("guard: listening on http://") {
                    let _ = ready_tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
                } else if line.starts_with("guard: stopped:") {
                    *summary.lock().unwrap() = Some(line);
                } else if line.starts_with("error") || line.starts_with("warning: could not") {
                    eprintln!("guard: {line}");
                }
            }
        });
    }
    let addr = ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the guard is ready");
    let url = format!("http://{addr}/okta");

    // The groups, assigned after the guard's first start: a fifth of them badly.
    let app_id = sim
        .state()
        .directory("corp.example.com")
        .expect("corp")
        .app_id
        .clone();
    let groups: Vec<(String, String)> = (0..args.groups)
        .map(|i| {
            let ou = if i % 5 == 0 {
                "OU=Nowhere,DC=corp,DC=example,DC=com"
            } else {
                "OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"
            };
            let name = format!("Bench {i}");
            let id = sim
                .console_assign("corp.example.com", &name, Some(ou))
                .expect("assign");
            (id, name)
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let total = args.rate * args.seconds;
    let mut rss = vec![(0u64, rss_kb(pid))];
    let (latencies, statuses, sent_events, unique_events, hit_bad) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut sent: Vec<Value> = Vec::new();
        let mut tasks = Vec::new();
        let mut sent_events = 0usize;
        let mut unique_events = 0usize;
        let mut hit_bad = std::collections::HashSet::new();
        let started = Instant::now();
        let every = Duration::from_secs_f64(1.0 / args.rate as f64);
        let mut next_rss = 10;
        for n in 0..total {
            let due = started + every * n as u32;
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let body = if !sent.is_empty() && rng.gen_range(0..100) < args.duplicates {
                sent[rng.gen_range(0..sent.len())].clone()
            } else {
                let events: Vec<Value> = (0..args.events)
                    .map(|k| {
                        let g = rng.gen_range(0..groups.len());
                        if g % 5 == 0 {
                            hit_bad.insert(g);
                        }
                        let (id, name) = &groups[g];
                        json!({
                            "uuid": format!("bench-{n}-{k}"),
                            "published": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                            "eventType": "group.application_assignment.update",
                            "actor": {"id": "00ubench", "type": "User", "alternateId": "bench@example.com", "displayName": "Bench"},
                            "outcome": {"result": "SUCCESS"},
                            "target": [
                                {"id": app_id, "type": "AppInstance", "alternateId": "corp.example.com", "displayName": "corp.example.com"},
                                {"id": id, "type": "UserGroup", "alternateId": name, "displayName": name}
                            ]
                        })
                    })
                    .collect();
                unique_events += events.len();
                let body = json!({"eventType": "com.okta.event_hook", "data": {"events": events}});
                // Re-sends come from the last second of deliveries, as Okta's retry does
                // (an older re-send may fall outside the guard's dedupe window).
                if sent.len() >= args.rate as usize {
                    sent.remove(0);
                }
                sent.push(body.clone());
                body
            };
            sent_events += args.events;
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let status = client
                    .post(&url)
                    .header("Authorization", SECRET)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (t.elapsed(), status)
            }));
            let elapsed = started.elapsed().as_secs();
            if elapsed >= next_rss {
                rss.push((elapsed, rss_kb(pid)));
                next_rss += 10;
            }
        }
        let mut latencies = Vec::new();
        let mut statuses = std::collections::BTreeMap::new();
        for task in tasks {
            if let Ok((latency, status)) = task.await {
                latencies.push(latency);
                *statuses.entry(status).or_insert(0u64) += 1;
            }
        }
        (latencies, statuses, sent_events, unique_events, hit_bad.len())
    });
    rss.push((args.seconds, rss_kb(pid)));

    // Wait until the judge caught up (every unique event judged), then stop it.
    let wait_started = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let drained_in = wait_started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let summary = summary.lock().unwrap().clone().unwrap_or_default();
    let number_before = |label: &str| -> u64 {
        summary
            .split(label)
            .next()
            .and_then(|s| s.split_whitespace().last())
            .and_then(|n| n.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
            .unwrap_or(0)
    };
    let judged = number_before(" judged");
    let accepted = number_before(" accepted");
    let alerts = alerts.lock().unwrap().clone();
    let mut distinct = alerts.clone();
    distinct.sort();
    distinct.dedup();

    let mut sorted = latencies.clone();
    sorted.sort();
    println!(
        "bench_guard: {} deliveries/s × {} events for {} s, {}% re-sent",
        args.rate, args.events, args.seconds, args.duplicates
    );
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| deliveries sent | {} |", latencies.len());
    println!(
        "| answers | {} |",
        statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| answer p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default())
    );
    println!("| events sent (with re-sends) | {sent_events} |");
    println!("| unique events sent | {unique_events} |");
    println!("| accepted by the guard | {accepted} |");
    println!("| judged by the guard | {judged} |");
    println!(
        "| lost (accepted − judged) | {} |",
        accepted as i64 - judged as i64
    );
    println!(
        "| re-sends accepted as new (accepted − unique) | {} |",
        accepted as i64 - unique_events as i64
    );
    println!(
        "| bad groups hit / alerts / distinct findings alerted | {hit_bad} / {} / {} |",
        alerts.len(),
        distinct.len()
    );
    println!(
        "| findings alerted more than once | {} |",
        alerts.len() - distinct.len()
    );
    println!(
        "| drain + stop after the last delivery | {:.1} s |",
        drained_in.as_secs_f64()
    );
    println!(
        "| guard RSS (s: MB) | {} |",
        rss.iter()
            .map(|(s, kb)| format!("{s}: {:.1}", *kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("guard's own summary: {summary}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
