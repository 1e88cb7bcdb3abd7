//! Okta-style rate limiting: a request budget per endpoint family per window (a minute by
//! default), reported in `X-Rate-Limit-*` headers, plus a concurrent-request limit. Pure
//! bookkeeping: it never sleeps and never builds responses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The endpoint families Okta counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointFamily {
    /// `/api/v1/apps` and `/api/v1/apps/{appId}`.
    Apps,
    /// `/api/v1/apps/{appId}/groups…`.
    AppGroups,
    /// `/api/v1/mappings…`.
    Mappings,
    /// `/api/v1/meta/types/user…`.
    UserTypes,
    /// `/api/v1/logs`.
    Logs,
    /// `/api/v1/apps/{appId}/users…`.
    AppUsers,
    /// `/api/v1/groups…` (group members).
    Groups,
    /// `/api/v1/users…` (a user's groups).
    Users,
}

impl EndpointFamily {
    /// The family a request path belongs to; `None` for paths outside every family.
    #[must_use]
    pub fn of_path(path: &str) -> Option<EndpointFamily> {
        let rest = path.strip_prefix("/api/v1/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        match segments.as_slice() {
            ["apps"] | ["apps", _] => Some(EndpointFamily::Apps),
            ["apps", _, "groups", ..] => Some(EndpointFamily::AppGroups),
            ["apps", _, "users", ..] => Some(EndpointFamily::AppUsers),
            ["groups", ..] => Some(EndpointFamily::Groups),
            ["users", ..] => Some(EndpointFamily::Users),
            ["mappings", ..] => Some(EndpointFamily::Mappings),
            ["meta", "types", "user", ..] => Some(EndpointFamily::UserTypes),
            ["logs"] => Some(EndpointFamily::Logs),
            _ => None,
        }
    }
}

/// What the `X-Rate-Limit-*` headers of one response say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// UTC epoch seconds at which the window resets.
    pub reset_epoch_seconds: u64,
    /// `false` when this request is over the limit (answer 429).
    pub allowed: bool,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    started_wall: SystemTime,
    used: u32,
}

/// Fixed-window counters per endpoint family.
#[derive(Debug)]
pub struct RateLimiter {
    default_limit: u32,
    overrides: BTreeMap<EndpointFamily, u32>,
    window: Duration,
    windows: BTreeMap<EndpointFamily, Window>,
}

impl RateLimiter {
    #[must_use]
    pub fn new(
        default_limit: u32,
        overrides: BTreeMap<EndpointFamily, u32>,
        window: Duration,
    ) -> RateLimiter {
        RateLimiter {
            default_limit,
            overrides,
            window: window.max(Duration::from_millis(1)),
            windows: BTreeMap::new(),
        }
    }

    /// The limit per window for `family`.
    #[must_use]
    pub fn limit(&self, family: EndpointFamily) -> u32 {
        self.overrides
            .get(&family)
            .copied()
            .unwrap_or(self.default_limit)
    }

    /// Counts one request of `family` and says whether it is within the limit.
    pub fn check(&mut self, family: EndpointFamily) -> RateLimitStatus {
        let limit = self.limit(family);
        let window_len = self.window;
        let now = Instant::now();
        let window = self.windows.entry(family).or_insert_with(|| Window {
            started: now,
            started_wall: SystemTime::now(),
            used: 0,
        });
        if now.duration_since(window.started) >= window_len {
            *window = Window {
                started: now,
                started_wall: SystemTime::now(),
                used: 0,
            };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        RateLimitStatus {
            limit,
            remaining: limit.saturating_sub(window.used),
            reset_epoch_seconds: epoch_seconds_ceil(window.started_wall + window_len),
            allowed,
        }
    }

    /// The current status of `family` without counting a request (for 429 storms).
    pub fn exhausted(&mut self, family: Option<EndpointFamily>) -> RateLimitStatus {
        let limit = family.map_or(self.default_limit, |f| self.limit(f));
        let reset = family.and_then(|f| self.windows.get(&f)).map_or_else(
            || SystemTime::now() + self.window,
            |w| w.started_wall + self.window,
        );
        RateLimitStatus {
            limit,
            remaining: 0,
            reset_epoch_seconds: epoch_seconds_ceil(reset),
            allowed: false,
        }
    }
}

/// Status for a request refused by the concurrent-request limit: Okta reports a limit of 0.
#[must_use]
pub fn concurrency_refusal() -> RateLimitStatus {
    RateLimitStatus {
        limit: 0,
        remaining: 0,
        reset_epoch_seconds: epoch_seconds_ceil(SystemTime::now() + Duration::from_secs(1)),
        allowed: false,
    }
}

fn epoch_seconds_ceil(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    since.as_secs() + u64::from(since.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_path() {
        use EndpointFamily::*;
        let cases = [
            ("/api/v1/apps", Some(Apps)),
            ("/api/v1/apps/0oa1", Some(Apps)),
            ("/api/v1/apps/0oa1/groups", Some(AppGroups)),
            ("/api/v1/apps/0oa1/groups/00g1", Some(AppGroups)),
            ("/api/v1/mappings", Some(Mappings)),
            ("/api/v1/mappings/prm1", Some(Mappings)),
            ("/api/v1/meta/types/user", Some(UserTypes)),
            ("/api/v1/logs", Some(Logs)),
            ("/api/v1/users", Some(Users)),
            ("/api/v1/apps/0oa1/users", Some(AppUsers)),
            ("/api/v1/groups/00g1/users", Some(Groups)),
            ("/sim/state", None),
        ];
        for (path, family) in cases {
            assert_eq!(EndpointFamily::of_path(path), family, "{path}");
        }
    }

    #[test]
    fn window_counts_and_resets() {
        let mut rl = RateLimiter::new(2, BTreeMap::new(), Duration::from_millis(50));
        let a = rl.check(EndpointFamily::Apps);
        assert!(a.allowed);
        assert_eq!(a.remaining, 1);
        assert!(rl.check(EndpointFamily::Apps).allowed);
        assert!(!rl.check(EndpointFamily::Apps).allowed);
        assert!(rl.check(EndpointFamily::Logs).allowed);
        std::thread::sleep(Duration::from_millis(60));
        assert!(rl.check(EndpointFamily::Apps).allowed);
    }
}
