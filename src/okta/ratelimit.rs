//! Rate-limit bookkeeping: per endpoint family, the last `X-Rate-Limit-*` seen, the requests
//! in flight, and when to wait so a normal run never meets a 429. Also the backoff schedule.
//! Must not send requests or sleep by itself: the client asks and sleeps.
//!
//! An endpoint family is the path with every id segment replaced by `{id}`, e.g.
//! `/api/v1/apps/{id}/groups`, whatever the method. A segment is an id when it contains an
//! ASCII digit (Okta ids always do: `0oa…`, `00g…`, `prm…`), except the API version segment
//! `v1`. Okta counts most buckets across methods (a GET and a PUT of one group assignment
//! spend the same budget), so the method is left out: a family split by method would let
//! the GETs and the PUTs each spend the whole remaining budget, and meet 429s.
//!
//! Pacing is exact: requests go out freely while the last known `Remaining` covers the
//! requests in flight and the reserve left to the org's other clients; only when ouguard's
//! share of the window is spent does the family wait, until the reported reset plus the
//! padding, measured with the local clock's sub-second precision when it agrees with the
//! response's `Date`.
//!
//! The share (`--max-api-share`, as the Terraform provider's `max_api_capacity`): Okta's
//! limits are per org, shared with every other integration, so at a share of `s`% ouguard
//! keeps `Remaining` above `Limit − ⌊Limit·s/100⌋` (at least one request per window is
//! its own), i.e. it never spends more than `s`% of a window, and less when others spend
//! theirs first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// `/api/v1/apps/{id}/groups/{id}` for `/api/v1/apps/0oa1/groups/00g2`.
pub(crate) fn endpoint_family(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let is_version = segment.len() <= 3 && segment.starts_with('v');
            if !is_version && segment.bytes().any(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<&str>>()
        .join("/")
}

/// What one response said about its family's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub limit: Option<u64>,
    pub remaining: u64,
    /// UTC epoch seconds.
    pub reset_epoch: u64,
    /// The response's `Date`, UTC epoch seconds, when present and parsable.
    pub date_epoch: Option<u64>,
}

impl RateHeaders {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        Some(RateHeaders {
            limit: number("x-rate-limit-limit"),
            remaining: number("x-rate-limit-remaining")?,
            reset_epoch: number("x-rate-limit-reset")?,
            date_epoch: date_epoch(headers),
        })
    }
}

/// The response's `Date` header as epoch seconds.
pub(crate) fn date_epoch(headers: &HeaderMap) -> Option<u64> {
    let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let date = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
    u64::try_from(date.timestamp()).ok()
}

/// How long to wait until the family's window resets: `reset − now` plus `padding`, capped
/// at `max`. `now` is the server's clock: the response's `Date` (whole seconds, so up to a
/// second early), refined by the local clock when that lies within the same second, so a
/// skewed local clock never shortens the wait and an agreeing one does not add a second.
/// Without a `Date`, the local clock stands in for it.
pub(crate) fn wait_until_reset(
    reset_epoch: u64,
    date_epoch: Option<u64>,
    padding: Duration,
    max: Duration,
) -> Duration {
    let local = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now = match date_epoch {
        Some(date) => {
            let date = Duration::from_secs(date);
            if local >= date && local <= date + Duration::from_secs(1) {
                local
            } else {
                date
            }
        }
        None => local,
    };
    let until_reset = Duration::from_secs(reset_epoch).saturating_sub(now);
    (until_reset + padding).min(max)
}

/// Full-jitter exponential backoff: a random wait in `0..=min(max, base·2^attempt)`.
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    use rand::Rng;
    let cap = base.saturating_mul(2u32.saturating_pow(attempt)).min(max);
    let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::thread_rng().gen_range(0..=cap_ms))
}

/// The longest a window's reset is believed ahead; anything further is treated as this
/// (and refused by the client, whose bound is far lower).
const FURTHEST_RESET: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Default)]
struct FamilyState {
    in_flight: u64,
    window: Option<Window>,
    /// The reset (epoch seconds) of the last wait announced for this family.
    announced_reset: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    remaining: u64,
    /// `X-Rate-Limit-Limit` of the window, when sent.
    limit: Option<u64>,
    reset_epoch: u64,
    /// Local instant at which the window is taken to have reset (padding included).
    reset_at: Instant,
}

/// Per-family budgets, shared by every request of one client.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    families: Arc<Mutex<HashMap<String, FamilyState>>>,
    padding: Duration,
    /// ouguard's share of each window, in percent (1..=100).
    share_percent: u8,
}

/// Decision of [`RateLimiter::try_start`].
pub(crate) enum Admission {
    Go(InFlight),
    Wait(Paced),
}

/// A wait for a family's window to reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paced {
    pub wait: Duration,
    /// The reset the server reported (epoch seconds; 0 when unknown).
    pub reset_epoch: u64,
    /// The first wait for this reset of this family: the one to announce.
    pub first: bool,
}

/// The requests per window ouguard leaves to the org's other clients, of a window of
/// `limit`, at a share of `share_percent`.
pub(crate) fn reserve(limit: u64, share_percent: u8) -> u64 {
    let own = (u128::from(limit) * u128::from(share_percent.clamp(1, 100)) / 100).max(1);
    limit.saturating_sub(u64::try_from(own).unwrap_or(u64::MAX))
}

impl RateLimiter {
    /// A limiter using all of each window (share 100%); see [`Self::with_share`].
    pub(crate) fn new(padding: Duration) -> Self {
        RateLimiter {
            families: Arc::default(),
            padding,
            share_percent: 100,
        }
    }

    /// The limiter spending at most `share_percent` of each window.
    pub(crate) fn with_share(mut self, share_percent: u8) -> Self {
        self.share_percent = share_percent.clamp(1, 100);
        self
    }

    /// Either admits a request (counting it in flight until the guard is dropped or
    /// completed) or says how long to wait: when the last known `Remaining` does not exceed
    /// the requests already in flight plus the reserve left to others, and the window has
    /// not reset yet.
    pub(crate) fn try_start(&self, family: &str) -> Admission {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let state = families.entry(family.to_string()).or_default();
        let now = Instant::now();
        if let Some(window) = state.window {
            let reserve = window
                .limit
                .map_or(0, |limit| reserve(limit, self.share_percent));
            if now >= window.reset_at {
                state.window = None;
            } else if window.remaining <= state.in_flight.saturating_add(reserve) {
                let first = state.announced_reset != Some(window.reset_epoch);
                state.announced_reset = Some(window.reset_epoch);
                return Admission::Wait(Paced {
                    wait: window.reset_at - now,
                    reset_epoch: window.reset_epoch,
                    first,
                });
            }
        }
        state.in_flight += 1;
        Admission::Go(InFlight {
            limiter: self.clone(),
            family: family.to_string(),
            done: false,
        })
    }

    fn finish(&self, family: &str, seen: Option<RateHeaders>) {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let state = families.entry(family.to_string()).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(seen) = seen {
            let reset_at = Instant::now()
                + wait_until_reset(
                    seen.reset_epoch,
                    seen.date_epoch,
                    self.padding,
                    FURTHEST_RESET,
                );
            let remaining = match state.window {
                // Responses of one window can arrive out of order: the lowest count is newest.
                Some(w) if w.reset_epoch == seen.reset_epoch => w.remaining.min(seen.remaining),
                // A late answer from a window that has already been replaced says nothing.
                Some(w) if w.reset_epoch > seen.reset_epoch => return,
                _ => seen.remaining,
            };
            state.window = Some(Window {
                remaining,
                limit: seen.limit.or(state.window.and_then(|w| w.limit)),
                reset_epoch: seen.reset_epoch,
                reset_at,
            });
        }
    }

    /// After a 429: nothing more of this family goes out before the reset. `true` when this
    /// is the first wait for that reset (the one to announce).
    pub(crate) fn exhaust(&self, family: &str, wait: Duration, reset_epoch: u64) -> bool {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let state = families.entry(family.to_string()).or_default();
        state.window = Some(Window {
            remaining: 0,
            limit: state.window.and_then(|w| w.limit),
            reset_epoch,
            reset_at: Instant::now() + wait,
        });
        let first = state.announced_reset != Some(reset_epoch);
        state.announced_reset = Some(reset_epoch);
        first
    }
}

/// A request counted in flight for its family.
pub(crate) struct InFlight {
    limiter: RateLimiter,
    family: String,
    done: bool,
}

impl InFlight {
    /// The response arrived (with or without rate-limit headers).
    pub(crate) fn complete(mut self, seen: Option<RateHeaders>) {
        self.done = true;
        self.limiter.finish(&self.family, seen);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.limiter.finish(&self.family, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let cases = [
            ("/api/v1/apps", "/api/v1/apps"),
            ("/api/v1/apps/0oa1abc/groups", "/api/v1/apps/{id}/groups"),
            (
                "/api/v1/apps/0oa1abc/groups/00g2",
                "/api/v1/apps/{id}/groups/{id}",
            ),
            ("/api/v1/mappings/prm9", "/api/v1/mappings/{id}"),
            ("/api/v1/meta/types/user", "/api/v1/meta/types/user"),
        ];
        for (path, want) in cases {
            assert_eq!(endpoint_family(path), want);
        }
    }

    #[test]
    fn an_agreeing_local_clock_refines_the_whole_second_date() {
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        let date = local.as_secs();
        let padding = Duration::from_millis(100);
        let wait = wait_until_reset(date + 7, Some(date), padding, Duration::from_secs(60));
        // Seven seconds after the whole second, less the part of it already gone.
        let already = local - Duration::from_secs(date);
        assert!(wait <= Duration::from_secs(7) + padding - already + Duration::from_millis(1));
        assert!(wait > Duration::from_secs(6));
    }

    #[test]
    fn a_late_answer_from_an_old_window_is_ignored() {
        let limiter = RateLimiter::new(Duration::ZERO);
        let far = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            + 30;
        let seen = |remaining, reset_epoch| RateHeaders {
            limit: Some(10),
            remaining,
            reset_epoch,
            date_epoch: None,
        };
        let Admission::Go(a) = limiter.try_start("/x") else {
            panic!("goes")
        };
        let Admission::Go(b) = limiter.try_start("/x") else {
            panic!("goes")
        };
        a.complete(Some(seen(0, far)));
        // An answer from the window before: it must not reopen the spent one.
        b.complete(Some(seen(9, far - 60)));
        assert!(matches!(limiter.try_start("/x"), Admission::Wait(_)));
    }

    #[test]
    fn reset_is_relative_to_the_date_header() {
        let mut headers = HeaderMap::new();
        headers.insert("date", "Sun, 29 Nov 2026 18:00:00 GMT".parse().expect("hv"));
        let date = date_epoch(&headers).expect("date parses");
        assert_eq!(date, 1_795_975_200);
        headers.insert(
            "x-rate-limit-reset",
            (date + 7).to_string().parse().expect("hv"),
        );
        headers.insert("x-rate-limit-remaining", "0".parse().expect("hv"));
        let seen = RateHeaders::from_headers(&headers).expect("parses");
        let max = Duration::from_secs(120);
        let wait = wait_until_reset(
            seen.reset_epoch,
            seen.date_epoch,
            Duration::from_secs(1),
            max,
        );
        assert_eq!(wait, Duration::from_secs(8));
        // A reset already past (server clock) waits only the padding; absurd ones are capped.
        assert_eq!(
            wait_until_reset(date - 5, Some(date), Duration::from_secs(1), max),
            Duration::from_secs(1)
        );
        assert_eq!(
            wait_until_reset(date + 9999, Some(date), Duration::ZERO, max),
            max
        );
    }

    #[test]
    fn backoff_stays_within_the_cap() {
        let base = Duration::from_millis(200);
        for attempt in 0..10 {
            let cap = base
                .saturating_mul(2u32.pow(attempt))
                .min(Duration::from_secs(5));
            assert!(backoff(attempt, base, Duration::from_secs(5)) <= cap);
        }
    }

    #[test]
    fn paces_when_remaining_does_not_cover_in_flight() {
        // Requests of any method share their path's budget.
        let limiter = RateLimiter::new(Duration::from_millis(50));
        let Admission::Go(first) = limiter.try_start("/x") else {
            panic!("first request must go")
        };
        first.complete(Some(RateHeaders {
            limit: Some(10),
            remaining: 1,
            reset_epoch: 100,
            date_epoch: Some(100),
        }));
        let Admission::Go(second) = limiter.try_start("/x") else {
            panic!("one left: goes")
        };
        assert!(matches!(limiter.try_start("/x"), Admission::Wait(_)));
        assert!(matches!(limiter.try_start("/other"), Admission::Go(_)));
        drop(second);
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(limiter.try_start("/x"), Admission::Go(_)));
    }

    #[test]
    fn the_reserve_leaves_the_rest_of_a_window_to_others() {
        assert_eq!(reserve(600, 50), 300);
        assert_eq!(reserve(600, 100), 0);
        assert_eq!(reserve(100, 33), 67);
        // At least one request of each window is ouguard's own.
        assert_eq!(reserve(1, 50), 0);
        assert_eq!(reserve(3, 1), 2);
    }

    #[test]
    fn a_share_stops_at_its_part_of_the_window() {
        let limiter = RateLimiter::new(Duration::ZERO).with_share(50);
        let far = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            + 30;
        let seen = |remaining| RateHeaders {
            limit: Some(10),
            remaining,
            reset_epoch: far,
            date_epoch: None,
        };
        // 6 of 10 left, 5 kept for others: one more may go, then the family waits.
        let Admission::Go(a) = limiter.try_start("/x") else {
            panic!("goes")
        };
        a.complete(Some(seen(6)));
        let Admission::Go(b) = limiter.try_start("/x") else {
            panic!("one more goes")
        };
        let Admission::Wait(paced) = limiter.try_start("/x") else {
            panic!("the share is spent")
        };
        assert!(paced.first);
        assert_eq!(paced.reset_epoch, far);
        // Announced once per reset.
        let Admission::Wait(again) = limiter.try_start("/x") else {
            panic!("still spent")
        };
        assert!(!again.first);
        b.complete(Some(seen(5)));
        assert!(matches!(limiter.try_start("/x"), Admission::Wait(_)));
    }
}
