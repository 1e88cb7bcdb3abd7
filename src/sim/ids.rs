//! Okta-shaped identifiers (`0oa…`, `00g…`, `prm…`, `oty…`: 20 base62 characters), request
//! ids and timestamps for the simulated org. Deterministic where derived from a key; never
//! used by the client side.

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of every Okta object id.
pub const ID_LEN: usize = 20;

/// A deterministic Okta-style id: `prefix` followed by base62 characters derived from `key`,
/// 20 characters in all. The same `(prefix, key)` always gives the same id.
#[must_use]
pub fn derived_id(prefix: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{prefix}\u{0}{key}").as_bytes());
    let mut id = String::with_capacity(ID_LEN);
    id.push_str(prefix);
    for byte in digest.iter().cycle() {
        if id.len() >= ID_LEN {
            break;
        }
        id.push(char::from(BASE62[usize::from(*byte) % BASE62.len()]));
    }
    id
}

/// A random string of `len` base62 characters.
pub fn random_base62(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
}

/// A fresh `X-Okta-Request-Id` value (Okta's are 27 opaque characters).
#[must_use]
pub fn request_id() -> String {
    random_base62(&mut rand::thread_rng(), 27)
}

/// A fresh `errorId` for an Okta error body.
#[must_use]
pub fn error_id() -> String {
    format!("oae{}", random_base62(&mut rand::thread_rng(), 22))
}

/// Okta's timestamp format: RFC 3339, UTC, millisecond precision (`2026-11-29T18:00:00.000Z`).
#[must_use]
pub fn timestamp(at: DateTime<Utc>) -> String {
    // The same text as `%Y-%m-%dT%H:%M:%S%.3fZ`, without parsing a format string per call
    // (the sim writes a few per listed assignment).
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A deterministic past timestamp derived from `key`, within 2023, used for `created` values
/// the seed does not carry.
#[must_use]
pub fn derived_timestamp(key: &str) -> DateTime<Utc> {
    let digest = Sha256::digest(key.as_bytes());
    let mut seconds: i64 = 0;
    for byte in &digest[..4] {
        seconds = (seconds << 8) | i64::from(*byte);
    }
    let base = Utc
        .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    base + ChronoDuration::seconds(seconds % (365 * 24 * 3600))
}

/// The `created` timestamp of the group `group_id` (fixed: derived from the id).
#[must_use]
pub fn group_created(group_id: &str) -> String {
    timestamp(derived_timestamp(&format!("created:{group_id}")))
}

/// Hands out strictly increasing millisecond timestamps, so that every write moves
/// `lastUpdated` even when two writes land in the same millisecond.
#[derive(Debug, Default)]
pub struct WriteClock {
    last: Option<DateTime<Utc>>,
}

impl WriteClock {
    /// The next write timestamp: now, or 1 ms after the previous one if the clock has not moved.
    pub fn next(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let millis = now.timestamp_millis();
        let mut next = Utc.timestamp_millis_opt(millis).single().unwrap_or(now);
        if let Some(last) = self.last {
            if next <= last {
                next = last + ChronoDuration::milliseconds(1);
            }
        }
        self.last = Some(next);
        next
    }

    /// Records a timestamp seen elsewhere (e.g. in a seed) so later writes come after it.
    pub fn observe(&mut self, stamp: &str) {
        if let Ok(parsed) = DateTime::parse_from_rfc3339(stamp) {
            let parsed = parsed.with_timezone(&Utc);
            if self.last.is_none_or(|last| parsed > last) {
                self.last = Some(parsed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_okta_shaped_and_stable() {
        let a = derived_id("0oa", "corp.example.com");
        assert_eq!(a.len(), ID_LEN);
        assert!(a.starts_with("0oa"));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(a, derived_id("0oa", "corp.example.com"));
        assert_ne!(a, derived_id("0oa", "emea.example.com"));
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 29, 18, 0, 0)
            .single()
            .unwrap();
        assert_eq!(timestamp(at), "2026-11-29T18:00:00.000Z");
        // Sub-millisecond digits are cut, not rounded, as `%.3f` does.
        for (key, nanos) in [("a", 0), ("b", 1_999_999), ("c", 999_999_999), ("d", 5_000)] {
            let at = derived_timestamp(key) + ChronoDuration::nanoseconds(nanos);
            assert_eq!(
                timestamp(at),
                at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }

    #[test]
    fn write_clock_is_strictly_increasing() {
        let mut clock = WriteClock::default();
        clock.observe("2999-01-01T00:00:00.000Z");
        let a = clock.next();
        let b = clock.next();
        assert!(b > a);
        assert_eq!(timestamp(a), "2999-01-01T00:00:00.001Z");
    }
}
