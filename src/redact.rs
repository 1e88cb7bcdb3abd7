//! The one redaction layer at the output edge: a process-wide registry of every secret the
//! process holds (API token, private key material, client assertions, access tokens, DPoP
//! proofs), and the functions that replace them by `[redacted]` in text about to leave the
//! process — error reports (`exit.rs`), the `-v` log writer, and every file ouguard writes
//! (`files.rs`). Text from outside (what a server says) is also shortened here.
//! Must never print, log or return a registered secret; must not allocate without bound.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// The longest text from outside (an `errorSummary`, an error cause, a header, a parse
/// error quoting a body) ouguard repeats, in characters; the rest is cut with `…`.
pub const OUTSIDE_TEXT_MAX_CHARS: usize = 300;

/// Shorter values are not registered: replacing them would mangle ordinary words and they
/// are not credentials anyway.
const MIN_SECRET_LEN: usize = 8;

/// Per-request secrets (client assertions, DPoP proofs) are kept for the most recent this
/// many: a server can only echo what it was sent lately, and a long run sends thousands.
const EPHEMERAL_KEPT: usize = 512;

#[derive(Default)]
struct Registry {
    /// Long-lived secrets: tokens, keys, access tokens; never forgotten.
    lasting: Vec<String>,
    /// Per-request secrets, newest last.
    ephemeral: VecDeque<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    lasting: Vec::new(),
    ephemeral: VecDeque::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The parts of a secret worth looking for: the whole value and, for multi-line material
/// (a PEM key), each long line on its own, so a server that echoes one line of it is caught.
fn parts(secret: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let whole = secret.trim();
    if whole.len() >= MIN_SECRET_LEN {
        parts.push(whole.to_string());
    }
    // A JWT (access token, client assertion, DPoP proof): its signature alone too.
    if whole.matches('.').count() == 2 && !whole.contains(char::is_whitespace) {
        if let Some((_, signature)) = whole.rsplit_once('.') {
            if signature.len() >= 32 {
                parts.push(signature.to_string());
            }
        }
    }
    if whole.contains('\n') {
        for line in whole.lines().map(str::trim) {
            if line.len() >= 16 && !line.starts_with("-----") {
                parts.push(line.to_string());
            }
        }
    }
    parts
}

/// Registers a long-lived secret (an API token, a private key, an access token).
pub fn register(secret: &str) {
    let parts = parts(secret);
    if parts.is_empty() {
        return;
    }
    let mut registry = registry();
    for part in parts {
        if !registry.lasting.contains(&part) {
            registry.lasting.push(part);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    registry.lasting.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Registers a per-request secret (a client assertion, a DPoP proof).
pub fn register_ephemeral(secret: &str) {
    let parts = parts(secret);
    let mut registry = registry();
    for part in parts {
        if registry.ephemeral.len() >= EPHEMERAL_KEPT {
            registry.ephemeral.pop_front();
        }
        registry.ephemeral.push_back(part);
    }
}

/// `text` with every registered secret replaced by `[redacted]`.
#[must_use]
pub fn redact(text: &str) -> String {
    let registry = registry();
    let mut out: Option<String> = None;
    for secret in registry.lasting.iter().chain(registry.ephemeral.iter()) {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(secret.as_str()) {
            out = Some(current.replace(secret.as_str(), REDACTED));
        }
    }
    out.unwrap_or_else(|| text.to_string())
}

/// `true` when `text` holds a registered secret.
#[must_use]
pub fn holds_secret(text: &str) -> bool {
    let registry = registry();
    registry
        .lasting
        .iter()
        .chain(registry.ephemeral.iter())
        .any(|secret| text.contains(secret.as_str()))
}

/// `text` cut to at most `max_chars` characters, `…` and the length marking a cut.
#[must_use]
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// Text that came from outside (a server's words), made fit to repeat: redacted first (so
/// a cut cannot split a secret into an unrecognisable prefix), then shortened, control
/// characters shown as spaces.
#[must_use]
pub fn outside(text: &str) -> String {
    // Look at a bounded prefix only: what is cut away is never shown.
    let window = match text.char_indices().nth(OUTSIDE_TEXT_MAX_CHARS * 8) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let redacted = redact(window);
    let cleaned: String = redacted
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match cleaned.char_indices().nth(OUTSIDE_TEXT_MAX_CHARS) {
        None if window.len() == text.len() => cleaned,
        None => format!("{cleaned}… ({} bytes in all)", text.len()),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &cleaned[..cut], text.len()),
    }
}

/// A writer that redacts what passes through it, line by line (the `-v` log writer).
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
}

impl<W: std::io::Write> RedactingWriter<W> {
    pub fn new(inner: W) -> Self {
        RedactingWriter { inner }
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_replaced_wherever_they_appear() {
        register("00redactTEST_token_value_1234");
        let text = "okta said: invalid token `SSWS 00redactTEST_token_value_1234` (twice: 00redactTEST_token_value_1234)";
        let out = redact(text);
        assert!(!out.contains("00redactTEST_token_value_1234"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
        assert!(holds_secret(text));
        assert!(!holds_secret(&out));
    }

    #[test]
    fn each_line_of_a_key_is_a_secret_of_its_own() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgREDACTtest\nSECONDlineOFkeyMATERIALxxxxxxxxxxxxxx\n-----END PRIVATE KEY-----\n";
        register(pem);
        let out =
            redact("echo: SECONDlineOFkeyMATERIALxxxxxxxxxxxxxx and -----BEGIN PRIVATE KEY-----");
        assert!(!out.contains("SECONDline"), "{out}");
        assert!(out.contains("-----BEGIN PRIVATE KEY-----"), "{out}");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("abc");
        assert_eq!(redact("abc abc"), "abc abc");
    }

    #[test]
    fn ephemeral_secrets_are_replaced_and_bounded() {
        for i in 0..(EPHEMERAL_KEPT + 10) {
            register_ephemeral(&format!("eyJproof.{i:06}.signatureREDACTtest"));
        }
        let newest = format!("eyJproof.{:06}.signatureREDACTtest", EPHEMERAL_KEPT + 9);
        assert_eq!(redact(&newest), REDACTED);
        assert!(registry().ephemeral.len() <= EPHEMERAL_KEPT);
    }

    #[test]
    fn outside_text_is_shortened_redacted_and_flattened() {
        register("00outsideSECRET_value_99");
        let long = format!("x\ny 00outsideSECRET_value_99 {}", "z".repeat(10_000));
        let out = outside(&long);
        assert!(
            out.chars().count() < OUTSIDE_TEXT_MAX_CHARS + 40,
            "{}",
            out.len()
        );
        assert!(!out.contains("00outsideSECRET"));
        assert!(out.contains(REDACTED));
        assert!(!out.contains('\n'));
        assert!(out.ends_with("bytes in all)"), "{out}");
        assert_eq!(outside("short"), "short");
        // A huge text is looked at only in its first part.
        let huge = "a".repeat(50_000_000);
        assert!(outside(&huge).len() < 400);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("ééé", 2), "éé… (6 bytes in all)");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
