//! Distinguished names (RFC 4514 syntax, RFC 4517 `distinguishedNameMatch`): parse, print,
//! compare, and relate to an AD domain. Pure: no I/O.
//!
//! What this module accepts, and how it compares:
//!
//! - Attribute types are a name (`ALPHA *(ALPHA / DIGIT / "-")`) or a numeric OID
//!   (`2.5.4.11`, no leading zeros), compared ASCII case-insensitively. Names and OIDs are
//!   not aliased to each other (`2.5.4.11=x` is not `OU=x`).
//! - Values are compared case-insensitively (Unicode lowercase) for every attribute type, with
//!   leading and trailing whitespace removed and internal runs of whitespace collapsed to one
//!   space (RFC 4518 insignificant-space handling), whether that whitespace was escaped or
//!   not. Lowercasing is per character (`ß` and `SS` differ), and no Unicode normalization
//!   (NFC/NFKC) is applied: a precomposed `ü` and `u` + combining diaeresis differ.
//! - Escapes: `\` before one of `,+"\<>;=#` or a space stands for that character; `\XX` hex
//!   pairs are UTF-8 bytes (`\C3\A9` is `é`, `\2C` is the same as `\,`); a run of hex pairs
//!   that is not valid UTF-8 is an error.
//! - `;` is accepted as an RDN separator, equivalent to `,` (RFC 2253 leniency; RFC 4514
//!   dropped it). It is printed as `,`.
//! - `#hexstring` (BER-encoded) values are rejected with an error that says how to escape a
//!   literal `#`: AD never hands out OU, DC or CN values in that form.
//! - Empty values (`OU=`, `OU= ,DC=x`, or a value that is only whitespace) are rejected with
//!   `empty value`, although RFC 4514 allows them: no OU target has one.
//! - Unescaped `"`, `<`, `>` and control characters (U+0000–U+001F, U+007F–U+009F) are
//!   rejected in values; write them as `\"`, `\<`, `\>` or hex escapes. An unescaped `=` in a
//!   value is allowed, as RFC 4514 allows it.
//! - Spaces (U+0020) around `,`, `;`, `+` and `=` are not significant.
//! - `Display` keeps the parsed type spelling and value case and escapes minimally (see
//!   [`escape_value`]); control characters are written as `\XX`, so the output always parses
//!   back to the same DN.
//! - Parsing is a single left-to-right pass without recursion: linear in the input length.
//! - Every error carries a 1-based character (not byte) position and a lowercase reason.

use std::fmt;
use std::str::FromStr;

mod normalized;

pub use normalized::{DnMap, DomainKeys, NormalizedDn};

/// A parsed DN. `rdns()[0]` is the leftmost, most specific RDN.
#[derive(Debug, Clone)]
pub struct Dn {
    rdns: Vec<Rdn>,
    /// The normalized form of each RDN, in the same order as `rdns`. Equality, hashing and
    /// ancestry compare these, so they never allocate.
    keys: Vec<String>,
}

/// One relative distinguished name: one or more `type=value` parts joined by `+`.
#[derive(Debug, Clone)]
pub struct Rdn {
    pub avas: Vec<Ava>,
}

/// One attribute-type-and-value, with the value unescaped.
#[derive(Debug, Clone)]
pub struct Ava {
    pub attr_type: String,
    pub value: String,
}

/// Why a string is not a DN, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {reason}")]
pub struct DnError {
    /// 1-based character position in the input.
    pub position: usize,
    pub reason: String,
}

impl Dn {
    /// Parses an RFC 4514 string. The empty string is rejected (an OU target is never the root).
    ///
    /// # Errors
    ///
    /// A [`DnError`] with the 1-based character position and the reason when `input` is not a
    /// DN this module accepts (see the module documentation).
    pub fn parse(input: &str) -> Result<Dn, DnError> {
        let parser = Parser { input, index: 0 };
        Ok(Dn::from_rdns(parser.parse_dn()?))
    }

    /// Builds a DN from already validated RDNs, computing the normalized keys once.
    fn from_rdns(rdns: Vec<Rdn>) -> Dn {
        let keys = rdns.iter().map(rdn_key).collect();
        Dn { rdns, keys }
    }

    /// The RDNs, most specific first.
    #[must_use]
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }

    /// Number of RDNs (`OU=a,DC=b` has depth 2). Never 0.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.rdns.len()
    }

    /// The DN without its first (most specific) RDN; `None` for a single-RDN DN, since the
    /// empty DN is not representable.
    #[must_use]
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.len() <= 1 {
            return None;
        }
        Some(Dn {
            rdns: self.rdns[1..].to_vec(),
            keys: self.keys[1..].to_vec(),
        })
    }

    /// Canonical form for equality: lowercase types, case-folded values with insignificant
    /// spaces removed, multi-valued RDN parts sorted, re-escaped.
    #[must_use]
    pub fn normalized(&self) -> String {
        self.keys.join(",")
    }

    /// The normalized RDN keys, most specific first: two DNs are equal exactly when their
    /// keys are.
    #[must_use]
    pub fn key(&self) -> &[String] {
        &self.keys
    }

    /// The keys of `self` and of each of its ancestors, most specific first:
    /// `dn.suffix_keys()` yields `a.key()` exactly when `dn.is_at_or_below(a)`. Allocates
    /// nothing, so "is this DN covered by one of these" is a few hash lookups.
    pub fn suffix_keys(&self) -> impl Iterator<Item = &[String]> {
        (0..self.keys.len()).map(move |start| &self.keys[start..])
    }

    /// `true` when `self` equals `ancestor` or lies below it (normalized comparison).
    #[must_use]
    pub fn is_at_or_below(&self, ancestor: &Dn) -> bool {
        self.keys.ends_with(&ancestor.keys)
    }

    /// Number of trailing RDNs `self` and `other` share (normalized comparison).
    #[must_use]
    pub fn shared_suffix_len(&self, other: &Dn) -> usize {
        self.keys
            .iter()
            .rev()
            .zip(other.keys.iter().rev())
            .take_while(|(mine, theirs)| mine == theirs)
            .count()
    }

    /// The trailing run of single-valued `DC=` RDNs, most specific first.
    fn trailing_dc_values(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        let count = self
            .rdns
            .iter()
            .rev()
            .take_while(|rdn| rdn.single_dc_value().is_some())
            .count();
        self.rdns[self.rdns.len() - count..]
            .iter()
            .filter_map(Rdn::single_dc_value)
    }

    /// The domain named by the trailing run of `DC=` RDNs, e.g. `corp.example.com`
    /// (lowercased); `None` when the DN does not end in `DC=` parts.
    #[must_use]
    pub fn domain(&self) -> Option<String> {
        let labels: Vec<String> = self
            .trailing_dc_values()
            .map(|value| normalized_value_chars(value).collect())
            .collect();
        if labels.is_empty() {
            None
        } else {
            Some(labels.join("."))
        }
    }

    /// `true` when the DN's trailing `DC=` parts are exactly `naming_context`
    /// (`corp.example.com` ⇔ `DC=corp,DC=example,DC=com`, case-insensitive).
    ///
    /// A trailing dot and empty labels in `naming_context` are ignored; an empty
    /// `naming_context` matches nothing. A DN of a child domain
    /// (`DC=child,DC=corp,DC=example,DC=com`) is not in `corp.example.com`.
    #[must_use]
    pub fn is_in_domain(&self, naming_context: &str) -> bool {
        // Walks labels and RDNs from the right. Reads the keys (as `is_at_or_below` does) and
        // touches an `Rdn` only on the non-ASCII path or where the DC run must end.
        let mut matched = 0;
        for label in domain_labels(naming_context).rev() {
            let Some(index) = self.rdns.len().checked_sub(matched + 1) else {
                return false;
            };
            if !dc_matches_label(&self.rdns[index], &self.keys[index], label) {
                return false;
            }
            matched += 1;
        }
        if matched == 0 {
            return false;
        }
        // The run of `DC=` RDNs must not continue past the naming context (a child domain).
        match self.rdns.len().checked_sub(matched + 1) {
            None => true,
            Some(index) => self.rdns[index].single_dc_value().is_none(),
        }
    }
}

/// `corp.example.com` → `DC=corp,DC=example,DC=com`.
///
/// Surrounding whitespace, a trailing dot and empty labels are ignored; label case is kept;
/// characters that need it are escaped. An empty `naming_context` gives an empty string.
#[must_use]
pub fn domain_to_dn(naming_context: &str) -> String {
    domain_labels(naming_context)
        .map(|label| format!("DC={}", escape_value(label)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Escapes an attribute value for use in an RFC 4514 string, minimally: `,+"\<>;=` anywhere,
/// `#` or a space at the start, a space at the end, and control characters as `\XX` hex
/// pairs. `format!("OU={},{parent}", escape_value(name))` builds a child DN.
#[must_use]
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_escaped(&mut out, value.chars());
    out
}

/// Appends the escaped form of the value spelled by `chars` to `out` (see [`escape_value`]).
fn push_escaped(out: &mut String, chars: impl Iterator<Item = char>) {
    let mut chars = chars.peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let last = chars.peek().is_none();
        if c.is_control() {
            let mut buffer = [0_u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push('\\');
                out.push(hex_digit(byte >> 4));
                out.push(hex_digit(byte & 0x0f));
            }
        } else if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (first && c == '#')
            || ((first || last) && c == ' ')
        {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
        first = false;
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0x0f)])
}

/// Whether an RDN (with its key) is a single `DC=` part whose value matches one domain label,
/// case-insensitively.
fn dc_matches_label(rdn: &Rdn, key: &str, label: &str) -> bool {
    if label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        // The usual case, without allocating or Unicode case mapping: such a label is its own
        // escaped normalized form up to ASCII case, so the RDN matches exactly when its key is
        // `dc=` followed by the lowercased label.
        key.len() == 3 + label.len()
            && key.starts_with("dc=")
            && key
                .get(3..)
                .is_some_and(|value| value.eq_ignore_ascii_case(label))
    } else {
        rdn.single_dc_value()
            .is_some_and(|value| normalized_value_chars(value).eq(normalized_value_chars(label)))
    }
}

/// The labels of an FQDN: trimmed, trailing dot and empty labels dropped.
fn domain_labels(naming_context: &str) -> impl DoubleEndedIterator<Item = &str> {
    naming_context
        .split('.')
        .map(str::trim)
        .filter(|label| !label.is_empty())
}

/// The characters of a value as compared: lowercased, whitespace trimmed, internal runs of
/// whitespace collapsed to one space. Lazy, so comparisons need not allocate.
fn normalized_value_chars(value: &str) -> impl Iterator<Item = char> + '_ {
    value
        .split_whitespace()
        .enumerate()
        .flat_map(|(word_index, word)| {
            let separator = if word_index > 0 { Some(' ') } else { None };
            separator.into_iter().chain(word.chars())
        })
        .flat_map(char::to_lowercase)
}

/// The normalized key of one RDN: `type=value` parts with lowercase types and normalized,
/// re-escaped values, sorted and joined by `+`.
fn rdn_key(rdn: &Rdn) -> String {
    match rdn.avas.as_slice() {
        [ava] => ava_key(ava),
        avas => {
            let mut parts: Vec<String> = avas.iter().map(ava_key).collect();
            parts.sort_unstable();
            parts.join("+")
        }
    }
}

/// `type=value` with the type lowercased and the value normalized and re-escaped.
fn ava_key(ava: &Ava) -> String {
    let mut key = String::with_capacity(ava.attr_type.len() + 1 + ava.value.len());
    key.extend(ava.attr_type.chars().map(|c| c.to_ascii_lowercase()));
    key.push('=');
    if is_plain_value(&ava.value) {
        // The usual case: lowercasing is all normalizing and escaping would do.
        key.extend(
            ava.value
                .bytes()
                .map(|b| char::from(b.to_ascii_lowercase())),
        );
    } else {
        push_escaped(&mut key, normalized_value_chars(&ava.value));
    }
    key
}

/// `true` for a value of ASCII letters, digits, `-`, `_`, `.` and single inner spaces: its
/// normalized, escaped form is just its ASCII lowercase.
fn is_plain_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    if matches!(bytes.first(), None | Some(b' ')) || bytes.last() == Some(&b' ') {
        return false;
    }
    // One pass (this runs for every OU of a large org): allowed bytes, no two spaces in a row.
    let mut previous_space = false;
    bytes.iter().all(|&b| {
        let space = b == b' ';
        let allowed = if space {
            !previous_space
        } else {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
        };
        previous_space = space;
        allowed
    })
}

impl Rdn {
    /// The value when this RDN is exactly one `DC=` part.
    fn single_dc_value(&self) -> Option<&str> {
        match self.avas.as_slice() {
            [ava] if ava.attr_type.eq_ignore_ascii_case("dc") => Some(&ava.value),
            _ => None,
        }
    }
}

impl FromStr for Dn {
    type Err = DnError;
    fn from_str(input: &str) -> Result<Dn, DnError> {
        Dn::parse(input)
    }
}

impl fmt::Display for Dn {
    /// RFC 4514 string form, as parsed (types and case kept), escaping what must be escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, rdn) in self.rdns.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{rdn}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Rdn {
    /// `type=value` parts joined by `+`, types as parsed, values minimally escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, ava) in self.avas.iter().enumerate() {
            if index > 0 {
                f.write_str("+")?;
            }
            write!(f, "{}={}", ava.attr_type, escape_value(&ava.value))?;
        }
        Ok(())
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}
impl Eq for Dn {}
impl std::hash::Hash for Dn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.keys.hash(state);
    }
}

/// Characters that may follow `\` to stand for themselves.
const ESCAPABLE: [char; 10] = [',', '+', '"', '\\', '<', '>', ';', '=', '#', ' '];

fn is_rdn_separator(c: char) -> bool {
    c == ',' || c == ';'
}

/// How a character is named in an error: itself in backticks, or its code point when it
/// would not print.
fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

/// Single-pass, non-recursive parser. Every character with a syntactic role is ASCII, so it
/// works on byte offsets; character positions are counted only when reporting an error.
struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next character; always on a character boundary.
    index: usize,
}

/// A run of `\XX` bytes not yet decoded as UTF-8.
struct PendingBytes {
    bytes: Vec<u8>,
    /// Byte offset of the run's first backslash.
    start: usize,
}

impl Parser<'_> {
    /// An error at a byte offset, reported at its 1-based character position.
    fn error_at(&self, byte_index: usize, reason: impl Into<String>) -> DnError {
        let before = self.input.get(..byte_index).unwrap_or(self.input);
        DnError {
            position: before.chars().count() + 1,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(self.index)
    }

    fn peek_at(&self, byte_index: usize) -> Option<char> {
        self.input.get(byte_index..)?.chars().next()
    }

    /// Decodes a run of `\XX` bytes into `value`; returns whether anything was appended.
    fn flush(&self, pending: &mut PendingBytes, value: &mut String) -> Result<bool, DnError> {
        if pending.bytes.is_empty() {
            return Ok(false);
        }
        match std::str::from_utf8(&pending.bytes) {
            Ok(text) => value.push_str(text),
            Err(_) => {
                return Err(self.error_at(
                    pending.start,
                    "invalid utf-8 in hex escapes: `\\XX` pairs must spell UTF-8 bytes",
                ))
            }
        }
        pending.bytes.clear();
        Ok(true)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.index += 1;
        }
    }

    fn parse_dn(mut self) -> Result<Vec<Rdn>, DnError> {
        self.skip_spaces();
        match self.peek() {
            None => return Err(self.error_at(0, "empty input: expected at least one `type=value`")),
            Some(c) if is_rdn_separator(c) => {
                return Err(self.error_at(self.index, format!("empty rdn: leading `{c}`")))
            }
            Some(_) => {}
        }
        let mut rdns = Vec::new();
        loop {
            rdns.push(self.parse_rdn()?);
            // `parse_rdn` stops only at an RDN separator or at the end.
            let Some(separator) = self.peek() else {
                break;
            };
            let separator_index = self.index;
            self.index += 1;
            self.skip_spaces();
            match self.peek() {
                None => {
                    return Err(self.error_at(
                        separator_index,
                        format!("empty rdn: trailing `{separator}`"),
                    ))
                }
                Some(c) if is_rdn_separator(c) => {
                    return Err(self.error_at(
                        self.index,
                        format!("empty rdn: nothing between `{separator}` and `{c}`"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(rdns)
    }

    fn parse_rdn(&mut self) -> Result<Rdn, DnError> {
        let mut avas = vec![self.parse_ava()?];
        while self.peek() == Some('+') {
            let plus_index = self.index;
            self.index += 1;
            self.skip_spaces();
            match self.peek() {
                Some(c) if !is_rdn_separator(c) && c != '+' => {}
                _ => {
                    return Err(self.error_at(
                        plus_index,
                        "nothing after `+`: a multi-valued rdn needs `type=value` on both sides",
                    ))
                }
            }
            avas.push(self.parse_ava()?);
        }
        Ok(Rdn { avas })
    }

    fn parse_ava(&mut self) -> Result<Ava, DnError> {
        self.skip_spaces();
        let type_start = self.index;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            self.index += 1;
        }
        let attr_type = self.input[type_start..self.index].to_string();
        match self.peek() {
            None | Some(' ' | '=' | ',' | ';' | '+') => {}
            Some(c) => {
                return Err(self.error_at(
                    self.index,
                    format!("bad attribute type: unexpected {}", describe(c)),
                ))
            }
        }
        self.skip_spaces();
        if self.peek() != Some('=') {
            let reason = if attr_type.is_empty() {
                "missing attribute type".to_string()
            } else {
                format!("missing `=` after attribute type `{attr_type}`")
            };
            return Err(self.error_at(self.index, reason));
        }
        if attr_type.is_empty() {
            return Err(self.error_at(self.index, "empty attribute type before `=`"));
        }
        if !is_valid_attr_type(&attr_type) {
            return Err(self.error_at(
                type_start,
                format!(
                    "bad attribute type `{attr_type}`: expected a name like `OU` or a numeric \
                     OID like `2.5.4.11`"
                ),
            ));
        }
        self.index += 1; // the `=`
        self.skip_spaces();
        let value = self.parse_value()?;
        Ok(Ava { attr_type, value })
    }

    /// Reads a value up to an unescaped `,`, `;`, `+` or the end. Unescaped trailing spaces
    /// are dropped; the caller has skipped the leading ones.
    fn parse_value(&mut self) -> Result<String, DnError> {
        let value_start = self.index;
        if self.peek() == Some('#') {
            return Err(self.error_at(
                self.index,
                "hex-encoded `#` values (BER) are not supported: escape a literal leading `#` as `\\#`",
            ));
        }
        let mut value = String::new();
        // Byte length of `value` up to its last character that is not an unescaped space.
        let mut significant_len = 0;
        let mut pending = PendingBytes {
            bytes: Vec::new(),
            start: 0,
        };
        while let Some(c) = self.peek() {
            if c == '\\' {
                let Some(next) = self.peek_at(self.index + 1) else {
                    return Err(self.error_at(self.index, "dangling backslash at end of input"));
                };
                if let Some(high) = next.to_digit(16) {
                    let Some(low) = self.peek_at(self.index + 2).and_then(|c| c.to_digit(16))
                    else {
                        return Err(self.error_at(
                            self.index,
                            format!("bad hex escape `\\{next}`: expected two hex digits"),
                        ));
                    };
                    if pending.bytes.is_empty() {
                        pending.start = self.index;
                    }
                    // Two hex digits are at most 0xFF.
                    pending
                        .bytes
                        .push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
                    self.index += 3;
                    continue;
                }
                self.flush(&mut pending, &mut value)?;
                if !ESCAPABLE.contains(&next) {
                    return Err(self.error_at(
                        self.index,
                        format!(
                            "bad escape `\\{next}`: expected two hex digits or one of \
                             `,+\"\\<>;=#` or a space"
                        ),
                    ));
                }
                value.push(next);
                significant_len = value.len();
                self.index += 2;
                continue;
            }
            if self.flush(&mut pending, &mut value)? {
                significant_len = value.len();
            }
            if is_rdn_separator(c) || c == '+' {
                break;
            }
            if matches!(c, '"' | '<' | '>') {
                return Err(self.error_at(
                    self.index,
                    format!("unescaped `{c}` in value: write it as `\\{c}`"),
                ));
            }
            if c.is_control() {
                return Err(self.error_at(
                    self.index,
                    format!(
                        "unescaped control character {} in value: write it as a hex escape",
                        describe(c)
                    ),
                ));
            }
            value.push(c);
            if c != ' ' {
                significant_len = value.len();
            }
            self.index += c.len_utf8();
        }
        if self.flush(&mut pending, &mut value)? {
            significant_len = value.len();
        }
        value.truncate(significant_len);
        if normalized_value_chars(&value).next().is_none() {
            return Err(self.error_at(value_start, "empty value"));
        }
        Ok(value)
    }
}

/// `ALPHA *(ALPHA / DIGIT / "-")` or a numeric OID without leading zeros.
fn is_valid_attr_type(attr_type: &str) -> bool {
    match attr_type.as_bytes().first() {
        Some(first) if first.is_ascii_alphabetic() => attr_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        Some(first) if first.is_ascii_digit() => attr_type.split('.').all(|number| {
            !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && (number.len() == 1 || !number.starts_with('0'))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    #[test]
    fn plain_values_normalize_like_the_general_path() {
        for value in [
            "Staff",
            "Team 001",
            "a-b_c.d",
            "UPPER lower",
            "x",
            "A1 B2 C3",
            "Zürich",
            " lead",
            "trail ",
            "two  spaces",
            "#hash",
            "a,b",
            "tab\tx",
            "",
        ] {
            let mut slow = String::new();
            push_escaped(&mut slow, normalized_value_chars(value));
            if is_plain_value(value) {
                assert_eq!(value.to_ascii_lowercase(), slow, "{value:?}");
            }
        }
        assert!(is_plain_value("Team 001"));
        assert!(!is_plain_value("two  spaces"));
        assert!(!is_plain_value(" lead"));
        assert!(!is_plain_value("Zürich"));
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_never_disagrees(value in "[ a-zA-Z0-9._#,+-]{0,12}") {
            let mut slow = String::new();
            push_escaped(&mut slow, normalized_value_chars(&value));
            if is_plain_value(&value) {
                proptest::prop_assert_eq!(value.to_ascii_lowercase(), slow);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn parse_ok(input: &str) -> Dn {
        match Dn::parse(input) {
            Ok(dn) => dn,
            Err(e) => panic!("{input:?} should parse: {e}"),
        }
    }

    /// Types and values exactly as parsed, for comparing structure.
    fn parts(dn: &Dn) -> Vec<Vec<(String, String)>> {
        dn.rdns()
            .iter()
            .map(|rdn| {
                rdn.avas
                    .iter()
                    .map(|ava| (ava.attr_type.clone(), ava.value.clone()))
                    .collect()
            })
            .collect()
    }

    /// Per RDN, its `(type, value)` parts.
    type ExpectedParts<'a> = &'a [&'a [(&'a str, &'a str)]];

    #[test]
    fn valid_inputs_parse_to_expected_parts() {
        let cases: &[(&str, ExpectedParts)] = &[
            (
                "OU=Sales,DC=corp,DC=example,DC=com",
                &[
                    &[("OU", "Sales")],
                    &[("DC", "corp")],
                    &[("DC", "example")],
                    &[("DC", "com")],
                ],
            ),
            ("ou=sales,dc=Corp", &[&[("ou", "sales")], &[("dc", "Corp")]]),
            (
                "  OU = Sales , DC = corp  ",
                &[&[("OU", "Sales")], &[("DC", "corp")]],
            ),
            (
                "OU=Sales\\, Marketing,DC=corp",
                &[&[("OU", "Sales, Marketing")], &[("DC", "corp")]],
            ),
            (
                "OU=Sales\\2C Marketing,DC=corp",
                &[&[("OU", "Sales, Marketing")], &[("DC", "corp")]],
            ),
            ("OU=Z\\C3\\BCrich", &[&[("OU", "Zürich")]]),
            ("OU=z\\c3\\bcrich", &[&[("OU", "zürich")]]),
            ("OU=Zürich", &[&[("OU", "Zürich")]]),
            ("OU=東京,DC=jp", &[&[("OU", "東京")], &[("DC", "jp")]]),
            ("OU=\\E6\\9D\\B1\\E4\\BA\\AC", &[&[("OU", "東京")]]),
            (
                "CN=a+UID=b,DC=x",
                &[&[("CN", "a"), ("UID", "b")], &[("DC", "x")]],
            ),
            ("OU=a + OU=b", &[&[("OU", "a"), ("OU", "b")]]),
            (
                "2.5.4.11=Sales,0.9.2342.19200300.100.1.25=corp",
                &[
                    &[("2.5.4.11", "Sales")],
                    &[("0.9.2342.19200300.100.1.25", "corp")],
                ],
            ),
            ("x-Custom-1=v", &[&[("x-Custom-1", "v")]]),
            ("OU=a\\+b", &[&[("OU", "a+b")]]),
            ("OU=\\\"quoted\\\"", &[&[("OU", "\"quoted\"")]]),
            ("OU=\\<x\\>", &[&[("OU", "<x>")]]),
            ("OU=a\\;b", &[&[("OU", "a;b")]]),
            ("OU=a\\=b", &[&[("OU", "a=b")]]),
            ("OU=a=b", &[&[("OU", "a=b")]]),
            ("OU=\\#1", &[&[("OU", "#1")]]),
            ("OU=a#b", &[&[("OU", "a#b")]]),
            ("OU=a\\\\b", &[&[("OU", "a\\b")]]),
            ("OU=\\ lead", &[&[("OU", " lead")]]),
            ("OU=trail\\ ", &[&[("OU", "trail ")]]),
            ("OU=trail\\20", &[&[("OU", "trail ")]]),
            (
                "OU=Sales\\ \\  ,DC=x",
                &[&[("OU", "Sales  ")], &[("DC", "x")]],
            ),
            ("OU=a   b", &[&[("OU", "a   b")]]),
            ("OU=Sales ,DC=x", &[&[("OU", "Sales")], &[("DC", "x")]]),
            ("OU=a;DC=b", &[&[("OU", "a")], &[("DC", "b")]]),
            ("OU=x\\00y", &[&[("OU", "x\0y")]]),
            ("OU=a\\0Ab", &[&[("OU", "a\nb")]]),
            (
                "CN=Smith\\, John,OU=Users",
                &[&[("CN", "Smith, John")], &[("OU", "Users")]],
            ),
            ("OU=\u{a0}nbsp", &[&[("OU", "\u{a0}nbsp")]]),
        ];
        for (input, expected) in cases {
            let expected: Vec<Vec<(String, String)>> = expected
                .iter()
                .map(|rdn| {
                    rdn.iter()
                        .map(|(t, v)| ((*t).to_string(), (*v).to_string()))
                        .collect()
                })
                .collect();
            assert_eq!(parts(&parse_ok(input)), expected, "input {input:?}");
        }
    }

    #[test]
    fn equal_pairs_are_equal_and_hash_alike() {
        let cases = [
            ("OU=Sales,DC=corp", "ou=sales,dc=CORP"),
            ("OU=Sales,DC=corp", " OU = Sales , DC = corp "),
            ("OU=a\\,b", "OU=a\\2Cb"),
            ("OU=a\\,b", "OU=a\\2cb"),
            ("OU=Zürich", "OU=Z\\C3\\BCrich"),
            ("OU=ZÜRICH", "ou=zürich"),
            ("OU=東京", "OU=\\E6\\9D\\B1\\E4\\BA\\AC"),
            ("OU=a+CN=b,DC=x", "CN=b+OU=a,DC=x"),
            ("OU=a   b", "OU=a b"),
            ("OU=a\\09b", "OU=a b"),
            ("OU=\\ a\\ ", "OU=a"),
            ("OU=a;DC=b", "OU=a,DC=b"),
            ("OU=a\\=b", "OU=a=b"),
            ("2.5.4.11=x", "2.5.4.11=X"),
            (
                "OU=Sales,DC=corp,DC=example,DC=com",
                "OU=SALES,DC=Corp,DC=Example,DC=COM",
            ),
        ];
        for (a, b) in cases {
            let (left, right) = (parse_ok(a), parse_ok(b));
            assert_eq!(left, right, "{a:?} vs {b:?}");
            assert_eq!(left.normalized(), right.normalized(), "{a:?} vs {b:?}");
            let set: HashSet<Dn> = [left, right].into_iter().collect();
            assert_eq!(set.len(), 1, "{a:?} vs {b:?} hash differently");
        }
    }

    #[test]
    fn different_pairs_differ() {
        let cases = [
            ("OU=Sales,DC=corp", "OU=Sales,DC=corp2"),
            ("OU=a,OU=b", "OU=b,OU=a"),
            ("OU=a\\,b", "OU=a,OU=b"),
            ("OU=a+CN=b", "OU=a,CN=b"),
            ("OU=ab", "OU=a b"),
            ("OU=x", "CN=x"),
            ("2.5.4.11=x", "OU=x"),
            ("OU=Straße", "OU=STRASSE"),
            ("OU=Zürich", "OU=Zu\u{308}rich"),
            ("OU=a", "OU=a+OU=a"),
            ("OU=a\\+b", "OU=a+OU=b"),
        ];
        for (a, b) in cases {
            let (left, right) = (parse_ok(a), parse_ok(b));
            assert_ne!(left, right, "{a:?} vs {b:?}");
            assert_ne!(left.normalized(), right.normalized(), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn errors_carry_position_and_reason() {
        let long_tail = format!("{}DC=b\\", "OU=a,".repeat(20_000));
        let long_tail_position = long_tail.chars().count();
        let cases: Vec<(&str, usize, &str)> = vec![
            ("", 1, "empty input"),
            ("   ", 1, "empty input"),
            ("OU=a,,DC=b", 6, "empty rdn"),
            ("OU=a, ,DC=b", 7, "empty rdn"),
            (",OU=a", 1, "empty rdn: leading `,`"),
            ("OU=a,", 5, "empty rdn: trailing `,`"),
            ("OU=a,  ", 5, "trailing `,`"),
            ("OU=a;", 5, "trailing `;`"),
            ("OU", 3, "missing `=` after attribute type `OU`"),
            ("OU,DC=x", 3, "missing `=`"),
            ("OU x=1", 4, "missing `=`"),
            ("=x", 1, "empty attribute type"),
            (" = x", 2, "empty attribute type"),
            ("OU=a,=b", 6, "empty attribute type"),
            ("1a=x", 1, "bad attribute type `1a`"),
            ("1..2=x", 1, "bad attribute type"),
            ("01.2=x", 1, "bad attribute type"),
            ("-OU=x", 1, "bad attribute type"),
            ("O_U=x", 2, "bad attribute type: unexpected `_`"),
            ("Ö=x", 1, "bad attribute type: unexpected `Ö`"),
            ("OU=a,Zürich=x", 7, "bad attribute type: unexpected `ü`"),
            ("\"OU=a\"", 1, "bad attribute type: unexpected `\"`"),
            ("OU=a\\", 5, "dangling backslash"),
            ("OU=東京\\", 6, "dangling backslash"),
            ("OU=a\\G1", 5, "bad escape `\\G`"),
            ("OU=a\\é", 5, "bad escape"),
            ("OU=a\\2", 5, "bad hex escape `\\2`"),
            ("OU=a\\2G", 5, "bad hex escape"),
            ("OU=\\C3", 4, "invalid utf-8"),
            ("OU=x\\C3\\28", 5, "invalid utf-8"),
            ("OU=\\FF", 4, "invalid utf-8"),
            ("OU=\\C3,DC=x", 4, "invalid utf-8"),
            ("OU=a\"b", 5, "unescaped `\"`"),
            ("OU=<a>", 4, "unescaped `<`"),
            ("OU=a>", 5, "unescaped `>`"),
            ("OU=a\nb", 5, "control character U+000A"),
            ("OU=a\0", 5, "control character U+0000"),
            ("OU=\tx", 4, "control character U+0009"),
            ("OU=a\u{85}", 5, "control character"),
            ("OU=", 4, "empty value"),
            ("OU=   ,DC=x", 7, "empty value"),
            ("OU=\\ ", 4, "empty value"),
            ("OU=\\20\\20", 4, "empty value"),
            ("OU=a,DC=", 9, "empty value"),
            ("OU=a+CN=", 9, "empty value"),
            (
                "OU=#04024869",
                4,
                "hex-encoded `#` values (BER) are not supported",
            ),
            ("OU= #x", 5, "`#`"),
            ("OU=a+", 5, "nothing after `+`"),
            ("OU=a+,DC=b", 5, "nothing after `+`"),
            ("OU=a++CN=b", 5, "nothing after `+`"),
            ("OU=東京,東=x", 7, "bad attribute type"),
            (long_tail.as_str(), long_tail_position, "dangling backslash"),
        ];
        for (input, position, reason) in cases {
            let short: String = input.chars().take(40).collect();
            match Dn::parse(input) {
                Ok(dn) => panic!("{short:?} should not parse, got {dn}"),
                Err(e) => {
                    assert_eq!(e.position, position, "position for {short:?}: {e}");
                    assert!(
                        e.reason.contains(reason),
                        "reason for {short:?}: {:?} lacks {reason:?}",
                        e.reason
                    );
                    assert!(
                        e.reason.starts_with(|c: char| c.is_ascii_lowercase()),
                        "reason for {short:?} does not start lowercase"
                    );
                    assert!(!e.reason.ends_with('.'), "reason for {short:?}");
                }
            }
        }
    }

    #[test]
    fn error_display_names_the_position() {
        let e = Dn::parse("OU=a,,DC=b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "at character 6: empty rdn: nothing between `,` and `,`"
        );
    }

    #[test]
    fn display_and_normalized_forms() {
        let cases = [
            (
                " OU = Sales , DC = corp ",
                "OU=Sales,DC=corp",
                "ou=sales,dc=corp",
            ),
            ("OU=a\\2Cb", "OU=a\\,b", "ou=a\\,b"),
            ("OU=a;DC=b", "OU=a,DC=b", "ou=a,dc=b"),
            ("OU=\\#x", "OU=\\#x", "ou=\\#x"),
            ("OU=a#b", "OU=a#b", "ou=a#b"),
            ("OU=\\20a\\20", "OU=\\ a\\ ", "ou=a"),
            ("OU=a=b", "OU=a\\=b", "ou=a\\=b"),
            ("OU=x\\00y", "OU=x\\00y", "ou=x\\00y"),
            ("OU=a\\C2\\85", "OU=a\\C2\\85", "ou=a"),
            ("OU=Z\\C3\\BCrich", "OU=Zürich", "ou=zürich"),
            ("CN=b+OU=A", "CN=b+OU=A", "cn=b+ou=a"),
            ("OU=a   B", "OU=a   B", "ou=a b"),
            ("OU=a\\09b", "OU=a\\09b", "ou=a b"),
            ("OU=\\\"<q>\\\"", "", ""),
            (
                "OU=\\\"\\<q\\>\\\"",
                "OU=\\\"\\<q\\>\\\"",
                "ou=\\\"\\<q\\>\\\"",
            ),
            ("2.5.4.11=X", "2.5.4.11=X", "2.5.4.11=x"),
        ];
        for (input, display, normalized) in cases {
            if display.is_empty() {
                assert!(Dn::parse(input).is_err(), "{input:?}");
                continue;
            }
            let dn = parse_ok(input);
            assert_eq!(dn.to_string(), display, "display of {input:?}");
            assert_eq!(dn.normalized(), normalized, "normalized of {input:?}");
        }
    }

    #[test]
    fn ancestry_and_shared_suffix() {
        let cases = [
            ("OU=a,DC=corp,DC=com", "DC=corp,DC=com", true, 2),
            ("OU=a,DC=corp,DC=com", "ou=A,dc=CORP,dc=com", true, 3),
            ("DC=corp,DC=com", "OU=a,DC=corp,DC=com", false, 2),
            ("OU=a,OU=b,DC=corp", "OU=b,DC=corp", true, 2),
            ("OU=a,OU=b,DC=corp", "OU=a,DC=corp", false, 1),
            ("OU=ab,DC=corp", "OU=b,DC=corp", false, 1),
            ("OU=x,OU=a\\,b,DC=c", "OU=b,DC=c", false, 1),
            ("OU=a,DC=corp,DC=com", "DC=other,DC=com", false, 1),
            ("OU=a,DC=com", "DC=org", false, 0),
            ("OU=a+CN=b,DC=x", "CN=b+OU=a,DC=x", true, 2),
            ("OU=c,OU=a+CN=b,DC=x", "OU=a,DC=x", false, 1),
            ("OU=Zürich,DC=x", "ou=ZÜRICH,dc=X", true, 2),
            ("OU=a, OU=b ;DC=c", "OU=b,DC=c", true, 2),
        ];
        for (dn, ancestor, at_or_below, shared) in cases {
            let (dn_parsed, ancestor_parsed) = (parse_ok(dn), parse_ok(ancestor));
            assert_eq!(
                dn_parsed.is_at_or_below(&ancestor_parsed),
                at_or_below,
                "{dn:?} at or below {ancestor:?}"
            );
            assert_eq!(
                dn_parsed.shared_suffix_len(&ancestor_parsed),
                shared,
                "{dn:?} / {ancestor:?}"
            );
            assert_eq!(
                ancestor_parsed.shared_suffix_len(&dn_parsed),
                shared,
                "{ancestor:?} / {dn:?}"
            );
        }
    }

    #[test]
    fn domain_of_dn() {
        let cases = [
            ("OU=a,DC=Corp,DC=Example,DC=com", Some("corp.example.com")),
            ("OU=a,O=x", None),
            ("DC=com", Some("com")),
            ("DC=a,OU=b,DC=c", Some("c")),
            ("OU=a,DC=x+CN=y,DC=com", Some("com")),
            ("CN=x,dc=corp,Dc=com", Some("corp.com")),
            ("OU=a,DC=com,OU=b", None),
        ];
        for (dn, domain) in cases {
            assert_eq!(parse_ok(dn).domain().as_deref(), domain, "domain of {dn:?}");
        }
    }

    #[test]
    fn dn_in_domain() {
        let base = "OU=a,DC=corp,DC=example,DC=com";
        let cases = [
            (base, "corp.example.com", true),
            (base, "Corp.Example.COM.", true),
            (base, " corp.example.com ", true),
            (base, "example.com", false),
            (base, "corp.example.com.au", false),
            (base, "", false),
            (base, ".", false),
            (
                "OU=a,DC=child,DC=corp,DC=example,DC=com",
                "corp.example.com",
                false,
            ),
            ("OU=a,O=x", "corp", false),
            ("OU=a,DC=corp.example,DC=com", "corp.example.com", false),
            ("DC=corp", "corp", true),
            ("DC=Zürich,DC=ch", "zürich.CH", true),
            ("DC=ZÜRICH,DC=ch", "zürich.ch", true),
            ("DC=a\\,b,DC=com", "a,b.com", true),
            ("DC=CORP ,DC=com", "corp.com", true),
            ("OU=a,DC=x+CN=y,DC=com", "x.com", false),
            ("OU=a,DC=x+CN=y,DC=com", "com", true),
            ("DC=child,DC=zürich,DC=ch", "zürich.ch", false),
            ("OU=corp,DC=com", "corp.com", false),
        ];
        for (dn, naming_context, expected) in cases {
            assert_eq!(
                parse_ok(dn).is_in_domain(naming_context),
                expected,
                "{dn:?} in {naming_context:?}"
            );
        }
    }

    #[test]
    fn domain_to_dn_round_trips() {
        let cases = [
            ("corp.example.com", "DC=corp,DC=example,DC=com"),
            ("Corp.Example.com.", "DC=Corp,DC=Example,DC=com"),
            ("com", "DC=com"),
            ("", ""),
            ("a,b.com", "DC=a\\,b,DC=com"),
        ];
        for (naming_context, expected) in cases {
            let dn = domain_to_dn(naming_context);
            assert_eq!(dn, expected, "{naming_context:?}");
            if !dn.is_empty() {
                let parsed = parse_ok(&dn);
                assert!(parsed.is_in_domain(naming_context), "{naming_context:?}");
                assert_eq!(
                    parsed.domain(),
                    Some(naming_context.trim_end_matches('.').to_lowercase())
                );
            }
        }
    }

    #[test]
    fn parent_depth_and_from_str() {
        let dn: Dn = match "OU=a,OU=b,DC=corp".parse() {
            Ok(dn) => dn,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(dn.depth(), 3);
        let parent = dn.parent().unwrap();
        assert_eq!(parent, parse_ok("ou=B,dc=corp"));
        assert_eq!(parent.to_string(), "OU=b,DC=corp");
        assert!(dn.is_at_or_below(&parent));
        assert!(!parent.is_at_or_below(&dn));
        assert_eq!(parse_ok("DC=corp").parent(), None);
        assert!("OU=a,".parse::<Dn>().is_err());
    }

    #[test]
    fn escape_value_builds_child_dns() {
        let name = " #Sales, R&D <EU>; \"x\"=y\\ ";
        let parent = parse_ok("OU=Staff,DC=corp");
        let child = parse_ok(&format!("OU={},{parent}", escape_value(name)));
        assert_eq!(child.rdns()[0].avas[0].value, name);
        assert_eq!(child.parent(), Some(parent));
    }

    #[test]
    fn hundred_kilobyte_inputs_do_not_blow_up() {
        let long_value = format!("OU={}", "a".repeat(100_000));
        assert_eq!(parse_ok(&long_value).rdns()[0].avas[0].value.len(), 100_000);

        let deep = format!("{}DC=com", "OU=a,".repeat(20_000));
        let deep_dn = parse_ok(&deep);
        assert_eq!(deep_dn.depth(), 20_001);
        assert!(deep_dn.is_at_or_below(&parse_ok("DC=com")));
        assert_eq!(deep_dn.domain().as_deref(), Some("com"));

        let backslashes = format!("OU={}", "\\\\".repeat(50_000));
        assert_eq!(parse_ok(&backslashes).rdns()[0].avas[0].value.len(), 50_000);

        let hex = format!("OU={}", "\\C3\\A9".repeat(16_000));
        assert_eq!(
            parse_ok(&hex).rdns()[0].avas[0].value.chars().count(),
            16_000
        );

        let multi = format!("OU=a{}", "+CN=b".repeat(20_000));
        assert_eq!(parse_ok(&multi).rdns()[0].avas.len(), 20_001);

        let commas = ",".repeat(100_000);
        assert_eq!(Dn::parse(&commas).unwrap_err().position, 1);

        let spaces = " ".repeat(100_000);
        assert!(Dn::parse(&spaces)
            .unwrap_err()
            .reason
            .contains("empty input"));

        let unicode = format!("OU={}", "東".repeat(40_000));
        assert_eq!(parse_ok(&unicode).to_string(), unicode);
    }

    /// `normalized` is idempotent only if lowercasing is; check every code point.
    #[test]
    fn lowercasing_is_idempotent_for_every_char() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let once: String = c.to_lowercase().collect();
            let twice: String = once.chars().flat_map(char::to_lowercase).collect();
            assert_eq!(once, twice, "U+{:04X}", u32::from(c));
        }
    }

    fn attr_type_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "OU",
            "ou",
            "Ou",
            "DC",
            "dc",
            "CN",
            "c",
            "L",
            "x-Custom-1",
            "a-",
            "2.5.4.11",
            "0.9.2342.19200300.100.1.25",
            "1.3.6.1.4.1.1466.0",
        ])
        .prop_map(str::to_string)
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ ,;+=\\\\#\"<>a-zA-Zé東\\x00\\t\u{85}\u{a0}]{1,12}",
            "[#  ]{0,2}[a-zA-Z0-9]{1,6}[  ]{0,2}",
        ]
        .prop_filter("value must not be empty after space handling", |value| {
            normalized_value_chars(value).next().is_some()
        })
    }

    fn dn_strategy() -> impl Strategy<Value = Dn> {
        let ava = (attr_type_strategy(), value_strategy())
            .prop_map(|(attr_type, value)| Ava { attr_type, value });
        let rdn = prop::collection::vec(ava, 1..4).prop_map(|avas| Rdn { avas });
        prop::collection::vec(rdn, 1..6).prop_map(Dn::from_rdns)
    }

    fn reparse(text: &str) -> Result<Dn, TestCaseError> {
        Dn::parse(text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))
    }

    proptest! {
        #[test]
        fn display_round_trips_and_is_stable(dn in dn_strategy()) {
            let printed = dn.to_string();
            let reparsed = reparse(&printed)?;
            prop_assert_eq!(&reparsed, &dn);
            prop_assert_eq!(parts(&reparsed), parts(&dn));
            prop_assert_eq!(reparsed.to_string(), printed);
        }

        #[test]
        fn normalized_is_idempotent(dn in dn_strategy()) {
            let normalized = dn.normalized();
            let reparsed = reparse(&normalized)?;
            prop_assert_eq!(reparsed.normalized(), normalized);
            prop_assert_eq!(&reparsed, &dn);
        }

        #[test]
        fn every_dn_is_at_or_below_its_parents(dn in dn_strategy()) {
            let mut ancestor = dn.parent();
            while let Some(parent) = ancestor {
                prop_assert!(dn.is_at_or_below(&parent));
                prop_assert_eq!(dn.shared_suffix_len(&parent), parent.depth());
                ancestor = parent.parent();
            }
        }

        #[test]
        fn domain_helpers_agree(
            labels in prop::collection::vec("[a-zA-Z0-9-]{1,6}|[a-zé東ü]{1,4}", 1..5),
            prefix in "(OU=[a-z]{1,4},){0,3}",
        ) {
            let naming_context = labels.join(".");
            let dn = reparse(&format!("{prefix}{}", domain_to_dn(&naming_context)))?;
            prop_assert!(dn.is_in_domain(&naming_context));
            prop_assert!(dn.is_in_domain(&naming_context.to_uppercase()));
            prop_assert_eq!(dn.domain(), Some(naming_context.to_lowercase()));
            let child = format!("sub.{naming_context}");
            prop_assert!(!dn.is_in_domain(&child));
            let child_dn = reparse(&format!("{prefix}{}", domain_to_dn(&child)))?;
            prop_assert!(!child_dn.is_in_domain(&naming_context));
        }

        #[test]
        fn parse_never_panics_on_any_string(input in any::<String>()) {
            let _ = Dn::parse(&input);
        }

        #[test]
        fn parsed_strings_round_trip(
            input in "[ ,;+=\\\\#\"<>a-zA-Z0-9.é東\\x00\\n-]{0,40}"
        ) {
            match Dn::parse(&input) {
                Ok(dn) => {
                    let printed = dn.to_string();
                    let reparsed = reparse(&printed)?;
                    prop_assert_eq!(&reparsed, &dn);
                    prop_assert_eq!(reparsed.to_string(), printed);
                    prop_assert_eq!(reparse(&dn.normalized())?.normalized(), dn.normalized());
                }
                Err(e) => {
                    prop_assert!(e.position >= 1);
                    prop_assert!(e.position <= input.chars().count() + 1);
                    prop_assert!(!e.reason.is_empty());
                }
            }
        }

        #[test]
        fn parse_never_panics_near_valid_dns(
            input in "(OU|DC|cn|2\\.5)?[ =]{0,2}([a-zé東]|\\\\[0-9A-Fa-g,+ #\\\\]{0,2}|[,;+=])*"
        ) {
            if let Err(e) = Dn::parse(&input) {
                prop_assert!(e.position >= 1 && e.position <= input.chars().count() + 1);
            }
        }
    }
}
