//! Faults injected into the simulated org on demand: latency, 5xx answers, connection
//! resets, slow bodies, 429 storms, 403s, malformed JSON bodies, "lost responses" (the
//! write happens, the answer never arrives) and stalled responses (the write happens, the
//! answer is held). Decides which faults hit a request; the server carries them out. Faults never
//! touch the `/sim/` admin surface.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One fault rule: what happens, to which requests, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default)]
    pub matcher: RequestMatcher,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Delay the answer by `fixed_ms` plus a uniform random `0..=jitter_ms`.
    Latency { fixed_ms: u64, jitter_ms: u64 },
    /// Answer with this 5xx status and Okta's `E0000009` body, without processing the request.
    ServerError { status: u16 },
    /// Close the connection without answering, without processing the request.
    ConnectionReset,
    /// Process the request (a write takes effect), then close the connection without answering.
    LostResponse,
    /// Process the request (a write takes effect), log it, then never answer and keep the
    /// connection open: the client waits until its own timeout. Tests use it to hold a run
    /// right after a write reached the org (then kill the client).
    StalledResponse,
    /// Send the body in chunks of `chunk_bytes` with `delay_ms` between them.
    SlowBody { chunk_bytes: usize, delay_ms: u64 },
    /// Answer 429 `E0000047` with exhausted `X-Rate-Limit-*` headers.
    RateLimited,
    /// Answer 403 `E0000006` (a token without the scope or role), without processing the
    /// request.
    Forbidden,
    /// Process the request, then answer its status with a body cut in half: not valid JSON.
    MalformedBody,
}

/// When a fault fires, counting only requests its matcher accepts, from the moment it is
/// injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Every matching request.
    #[default]
    Always,
    /// Only the `n`th matching request (1-based); the rule is then spent.
    Nth { n: u64 },
    /// The next `count` matching requests.
    Next { count: u64 },
    /// Each matching request with this probability (seeded RNG: reproducible).
    Rate { probability: f64 },
}

/// Which requests a fault applies to. Empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestMatcher {
    /// HTTP method, e.g. `PUT` (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix, e.g. `/api/v1/apps/0oa1/groups`.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

impl RequestMatcher {
    #[must_use]
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

impl Fault {
    /// A fault of `kind` on every request.
    #[must_use]
    pub fn always(kind: FaultKind) -> Fault {
        Fault {
            kind,
            trigger: Trigger::Always,
            matcher: RequestMatcher::default(),
        }
    }
    /// A fault of `kind` on the `n`th matching request only.
    #[must_use]
    pub fn on_nth(n: u64, kind: FaultKind) -> Fault {
        Fault {
            kind,
            trigger: Trigger::Nth { n },
            matcher: RequestMatcher::default(),
        }
    }
    /// A fault of `kind` on the next `count` matching requests.
    #[must_use]
    pub fn next(count: u64, kind: FaultKind) -> Fault {
        Fault {
            kind,
            trigger: Trigger::Next { count },
            matcher: RequestMatcher::default(),
        }
    }
    /// Fixed latency plus jitter on every request.
    #[must_use]
    pub fn latency(fixed: Duration, jitter: Duration) -> Fault {
        Fault::always(FaultKind::Latency {
            fixed_ms: duration_ms(fixed),
            jitter_ms: duration_ms(jitter),
        })
    }
    /// A 429 storm: the next `count` requests are refused.
    #[must_use]
    pub fn rate_limit_storm(count: u64) -> Fault {
        Fault::next(count, FaultKind::RateLimited)
    }
    /// Restricts the fault to one method and path prefix.
    #[must_use]
    pub fn matching(mut self, method: Option<&str>, path_prefix: Option<&str>) -> Fault {
        self.matcher = RequestMatcher {
            method: method.map(str::to_string),
            path_prefix: path_prefix.map(str::to_string),
        };
        self
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the server must do to one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultEffects {
    pub delay: Duration,
    /// The first of reset / lost response / 5xx / 429 / 403 that fired, if any.
    pub disruption: Option<Disruption>,
    pub slow_body: Option<(usize, Duration)>,
    /// Cut the answer's body in half (see [`FaultKind::MalformedBody`]).
    pub malformed_body: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruption {
    ConnectionReset,
    LostResponse,
    StalledResponse,
    ServerError(u16),
    RateLimited,
    Forbidden,
}

#[derive(Debug)]
struct ActiveFault {
    fault: Fault,
    seen: u64,
    fired: u64,
}

/// The active fault rules and the RNG behind rates and jitter.
#[derive(Debug)]
pub struct FaultPlan {
    rules: Vec<ActiveFault>,
    rng: StdRng,
}

impl FaultPlan {
    #[must_use]
    pub fn new(faults: Vec<Fault>, seed: u64) -> FaultPlan {
        let mut plan = FaultPlan {
            rules: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        };
        for f in faults {
            plan.inject(f);
        }
        plan
    }

    pub fn inject(&mut self, fault: Fault) {
        self.rules.push(ActiveFault {
            fault,
            seen: 0,
            fired: 0,
        });
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules still active.
    #[must_use]
    pub fn active(&self) -> Vec<Fault> {
        self.rules.iter().map(|r| r.fault.clone()).collect()
    }

    /// Decides the faults for one request, advancing the triggers' counters.
    pub fn evaluate(&mut self, method: &str, path: &str) -> FaultEffects {
        let mut effects = FaultEffects::default();
        let rng = &mut self.rng;
        for rule in &mut self.rules {
            if !rule.fault.matcher.matches(method, path) {
                continue;
            }
            rule.seen += 1;
            let fires = match &rule.fault.trigger {
                Trigger::Always => true,
                Trigger::Nth { n } => rule.seen == *n,
                Trigger::Next { count } => rule.fired < *count,
                Trigger::Rate { probability } => rng.gen_bool(probability.clamp(0.0, 1.0)),
            };
            if !fires {
                continue;
            }
            rule.fired += 1;
            match &rule.fault.kind {
                FaultKind::Latency {
                    fixed_ms,
                    jitter_ms,
                } => {
                    let jitter = if *jitter_ms > 0 {
                        rng.gen_range(0..=*jitter_ms)
                    } else {
                        0
                    };
                    effects.delay += Duration::from_millis(fixed_ms.saturating_add(jitter));
                }
                FaultKind::SlowBody {
                    chunk_bytes,
                    delay_ms,
                } => {
                    effects.slow_body =
                        Some(((*chunk_bytes).max(1), Duration::from_millis(*delay_ms)));
                }
                FaultKind::ServerError { status } => {
                    effects
                        .disruption
                        .get_or_insert(Disruption::ServerError(*status));
                }
                FaultKind::ConnectionReset => {
                    effects
                        .disruption
                        .get_or_insert(Disruption::ConnectionReset);
                }
                FaultKind::LostResponse => {
                    effects.disruption.get_or_insert(Disruption::LostResponse);
                }
                FaultKind::StalledResponse => {
                    effects
                        .disruption
                        .get_or_insert(Disruption::StalledResponse);
                }
                FaultKind::RateLimited => {
                    effects.disruption.get_or_insert(Disruption::RateLimited);
                }
                FaultKind::Forbidden => {
                    effects.disruption.get_or_insert(Disruption::Forbidden);
                }
                FaultKind::MalformedBody => effects.malformed_body = true,
            }
        }
        self.rules.retain(|r| match r.fault.trigger {
            Trigger::Nth { n } => r.seen < n,
            Trigger::Next { count } => r.fired < count,
            Trigger::Always | Trigger::Rate { .. } => true,
        });
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_fires_once_on_matching_requests_only() {
        let mut plan = FaultPlan::new(
            vec![Fault::on_nth(2, FaultKind::ServerError { status: 503 })
                .matching(Some("PUT"), Some("/api/v1/apps"))],
            1,
        );
        assert_eq!(plan.evaluate("GET", "/api/v1/apps").disruption, None);
        assert_eq!(plan.evaluate("PUT", "/api/v1/apps/x").disruption, None);
        assert_eq!(
            plan.evaluate("PUT", "/api/v1/apps/x").disruption,
            Some(Disruption::ServerError(503))
        );
        assert_eq!(plan.evaluate("PUT", "/api/v1/apps/x").disruption, None);
        assert!(plan.active().is_empty());
    }

    #[test]
    fn storm_hits_the_next_n() {
        let mut plan = FaultPlan::new(vec![Fault::rate_limit_storm(2)], 1);
        for _ in 0..2 {
            assert_eq!(
                plan.evaluate("GET", "/api/v1/apps").disruption,
                Some(Disruption::RateLimited)
            );
        }
        assert_eq!(plan.evaluate("GET", "/api/v1/apps").disruption, None);
    }

    #[test]
    fn forbidden_disrupts_and_malformed_body_marks_the_answer() {
        let mut plan = FaultPlan::new(
            vec![
                Fault::on_nth(1, FaultKind::Forbidden).matching(None, Some("/api/v1/mappings")),
                Fault::on_nth(2, FaultKind::MalformedBody),
            ],
            1,
        );
        let first = plan.evaluate("GET", "/api/v1/mappings");
        assert_eq!(first.disruption, Some(Disruption::Forbidden));
        assert!(!first.malformed_body);
        let second = plan.evaluate("GET", "/api/v1/apps");
        assert_eq!(second.disruption, None);
        assert!(second.malformed_body);
        assert!(plan.active().is_empty());
    }

    #[test]
    fn rate_is_reproducible() {
        let run = || {
            let mut plan = FaultPlan::new(
                vec![Fault {
                    kind: FaultKind::ServerError { status: 500 },
                    trigger: Trigger::Rate { probability: 0.5 },
                    matcher: RequestMatcher::default(),
                }],
                42,
            );
            (0..64)
                .map(|_| plan.evaluate("GET", "/").disruption.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }

    #[test]
    fn faults_parse_from_json() {
        let f: Fault = serde_json::from_str(
            r#"{"kind":{"type":"server_error","status":502},"trigger":{"type":"nth","n":3},
                "matcher":{"method":"PUT","path_prefix":"/api/v1/apps"}}"#,
        )
        .unwrap();
        assert_eq!(f.trigger, Trigger::Nth { n: 3 });
    }
}
