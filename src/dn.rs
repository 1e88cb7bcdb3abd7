//! Distinguished names (RFC 4514 syntax, RFC 4517 `distinguishedNameMatch`): parse, print,
//! compare, and relate to an AD domain. Pure: no I/O.
//!
//! INTERFACE STUB: the implementation lands from the `dn` branch.

use std::fmt;

/// A parsed DN. `rdns()[0]` is the leftmost, most specific RDN.
#[derive(Debug, Clone)]
pub struct Dn {
    rdns: Vec<Rdn>,
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
    pub fn parse(input: &str) -> Result<Dn, DnError> {
        let _ = input;
        todo!()
    }
    /// The RDNs, most specific first.
    #[must_use]
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }
    /// Canonical form for equality: lowercase types, case-folded values with insignificant
    /// spaces removed, multi-valued RDN parts sorted, re-escaped.
    #[must_use]
    pub fn normalized(&self) -> String {
        todo!()
    }
    /// The normalized keys of `self` and each of its ancestors, most specific first:
    /// `dn.suffix_keys()` contains `a.normalized()` exactly when `dn.is_at_or_below(a)`.
    pub fn suffix_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::empty()
    }
    /// `true` when `self` equals `ancestor` or lies below it (normalized comparison).
    #[must_use]
    pub fn is_at_or_below(&self, ancestor: &Dn) -> bool {
        let _ = ancestor;
        todo!()
    }
    /// Number of trailing RDNs `self` and `other` share (normalized comparison).
    #[must_use]
    pub fn shared_suffix_len(&self, other: &Dn) -> usize {
        let _ = other;
        todo!()
    }
    /// The domain named by the trailing run of `DC=` RDNs, e.g. `corp.example.com`
    /// (lowercased); `None` when the DN does not end in `DC=` parts.
    #[must_use]
    pub fn domain(&self) -> Option<String> {
        todo!()
    }
    /// `true` when the DN's trailing `DC=` parts are exactly `naming_context`
    /// (`corp.example.com` ⇔ `DC=corp,DC=example,DC=com`, case-insensitive).
    #[must_use]
    pub fn is_in_domain(&self, naming_context: &str) -> bool {
        let _ = naming_context;
        todo!()
    }
}

/// `corp.example.com` → `DC=corp,DC=example,DC=com`.
#[must_use]
pub fn domain_to_dn(naming_context: &str) -> String {
    let _ = naming_context;
    todo!()
}

impl fmt::Display for Dn {
    /// RFC 4514 string form, as parsed (types and case kept), escaping what must be escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!()
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}
impl Eq for Dn {}
impl std::hash::Hash for Dn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized().hash(state);
    }
}
