//! A DN reduced to what the rules compare: its normalized form as one string, with where each
//! RDN's key starts. Checking an OU against a directory's import OUs needs nothing else, so
//! [`NormalizedDn::parse_into`] builds it straight from the input for the usual plain-ASCII
//! DN (reusing the caller's buffers, no allocation) and falls back to [`Dn::parse`] for
//! everything else. Both paths give the same result: see the tests.

use super::{ava_key, is_valid_attr_type, Ava, Dn, DnError};

/// The normalized form of a DN (`Dn::normalized()`): RDN keys joined by `,`, most specific
/// first. Keys escape `,` and `\`, so an unescaped `,` is always a separator and the text of
/// any ancestor is a suffix of this text starting at an RDN boundary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizedDn {
    text: String,
    /// Byte offset in `text` where each RDN's key starts, most specific first.
    starts: Vec<usize>,
    /// Whether each RDN is exactly one `DC=` part (the domain check needs it).
    single_dc: Vec<bool>,
}

/// A directory's naming context as the RDN keys a DN of that domain ends with, for
/// [`NormalizedDn::is_in_domain`]. Build it once per directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainKeys {
    /// `dc=<label>` keys, most specific first; empty when the naming context has no label.
    keys: Vec<String>,
}

impl DomainKeys {
    /// `corp.example.com` → keys `dc=corp`, `dc=example`, `dc=com`. Labels are handled as
    /// [`Dn::is_in_domain`] handles them (trimmed, empty ones and a trailing dot ignored).
    #[must_use]
    pub fn new(naming_context: &str) -> DomainKeys {
        let keys = super::domain_labels(naming_context)
            .map(|label| {
                ava_key(&Ava {
                    attr_type: "dc".to_string(),
                    value: label.to_string(),
                })
            })
            .collect();
        DomainKeys { keys }
    }
}

impl NormalizedDn {
    /// Parses `input` as [`Dn::parse`] does, keeping only the normalized form.
    ///
    /// # Errors
    ///
    /// The same [`DnError`] as [`Dn::parse`].
    pub fn parse(input: &str) -> Result<NormalizedDn, DnError> {
        let mut normalized = NormalizedDn::default();
        normalized.parse_into(input)?;
        Ok(normalized)
    }

    /// [`NormalizedDn::parse`] into `self`, reusing its buffers. On error `self` is left
    /// empty.
    ///
    /// # Errors
    ///
    /// The same [`DnError`] as [`Dn::parse`].
    pub fn parse_into(&mut self, input: &str) -> Result<(), DnError> {
        if self.parse_plain(input) {
            return Ok(());
        }
        self.clear();
        let dn = Dn::parse(input)?;
        self.fill_from(&dn);
        Ok(())
    }

    /// The normalized form of an already parsed DN.
    #[must_use]
    pub fn of(dn: &Dn) -> NormalizedDn {
        let mut normalized = NormalizedDn::default();
        normalized.fill_from(dn);
        normalized
    }

    fn clear(&mut self) {
        self.text.clear();
        self.starts.clear();
        self.single_dc.clear();
    }

    fn fill_from(&mut self, dn: &Dn) {
        self.clear();
        for (index, (rdn, key)) in dn.rdns.iter().zip(&dn.keys).enumerate() {
            if index > 0 {
                self.text.push(',');
            }
            self.starts.push(self.text.len());
            self.text.push_str(key);
            self.single_dc.push(rdn.single_dc_value().is_some());
        }
    }

    /// The fast path: a DN of plain ASCII RDNs (`type=value` with a valid type and a value of
    /// ASCII letters, digits, `-`, `_`, `.` and single inner spaces, separated by `,`, spaces around `,` and `=` allowed)
    /// normalizes to its lowercase with those spaces removed. Returns `false`, leaving `self`
    /// in an unspecified state, for anything else (the general parser then decides), so it
    /// may be stricter than the parser but never more lenient. One pass over the bytes: it
    /// runs for every OU of a large org.
    fn parse_plain(&mut self, input: &str) -> bool {
        fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
            while bytes.get(at) == Some(&b' ') {
                at += 1;
            }
            at
        }
        self.clear();
        let bytes = input.as_bytes();
        let mut at = 0;
        loop {
            at = skip_spaces(bytes, at);
            let type_start = at;
            while bytes
                .get(at)
                .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
            {
                at += 1;
            }
            let attr_type = &input[type_start..at];
            at = skip_spaces(bytes, at);
            if bytes.get(at) != Some(&b'=') || !is_valid_attr_type(attr_type) {
                return false;
            }
            at = skip_spaces(bytes, at + 1);
            let value_start = at;
            let mut value_end = at;
            let mut previous_space = false;
            while let Some(&b) = bytes.get(at) {
                if b == b',' {
                    break;
                }
                if b == b' ' {
                    if previous_space {
                        return false;
                    }
                    previous_space = true;
                } else if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                    previous_space = false;
                    value_end = at + 1;
                } else {
                    return false;
                }
                at += 1;
            }
            if value_end == value_start {
                return false;
            }
            if !self.starts.is_empty() {
                self.text.push(',');
            }
            self.starts.push(self.text.len());
            self.text.push_str(attr_type);
            self.text.push('=');
            self.text.push_str(&input[value_start..value_end]);
            self.single_dc.push(attr_type.eq_ignore_ascii_case("dc"));
            if at == bytes.len() {
                break;
            }
            at += 1; // the `,`
        }
        // Every byte kept is ASCII: lowercasing is the whole normalization.
        self.text.make_ascii_lowercase();
        true
    }

    /// The normalized text (`Dn::normalized()`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Number of RDNs.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.starts.len()
    }

    /// The key of the RDN at `index` (0 = most specific).
    fn key(&self, index: usize) -> &str {
        let end = self
            .starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next - 1);
        &self.text[self.starts[index]..end]
    }

    /// The normalized text of the ancestor (or `self`) with `depth` RDNs: a suffix of
    /// `self.as_str()`. `None` when `depth` is 0 or more than `self` has.
    #[must_use]
    pub fn suffix_of_depth(&self, depth: usize) -> Option<&str> {
        let own = self.depth();
        (depth > 0 && depth <= own).then(|| &self.text[self.starts[own - depth]..])
    }

    /// [`Dn::is_in_domain`] against a prepared naming context.
    #[must_use]
    pub fn is_in_domain(&self, domain: &DomainKeys) -> bool {
        let labels = domain.keys.len();
        let depth = self.depth();
        if labels == 0 || depth < labels {
            return false;
        }
        let first = depth - labels;
        let ends_with_domain = domain
            .keys
            .iter()
            .enumerate()
            .all(|(offset, key)| self.key(first + offset) == key);
        // The run of `DC=` RDNs must not continue past the naming context (a child domain).
        ends_with_domain && (first == 0 || !self.single_dc[first - 1])
    }
}

/// Normalized DNs as keys, with the ancestors of a DN found in time linear in its length:
/// only the depths some key has are looked up. Hashing every suffix instead costs the
/// square of the DN's length (seconds for an OU of 40,000 RDNs).
#[derive(Debug, Clone)]
pub struct DnMap<V> {
    /// Hashed with foldhash: keys and lookups are DNs from the org or the config, and a
    /// lookup happens per key depth of every assignment.
    entries: foldhash::HashMap<String, V>,
    /// The depth of some key, each once, deepest first.
    depths: Vec<usize>,
}

impl<V> Default for DnMap<V> {
    fn default() -> Self {
        DnMap {
            entries: foldhash::HashMap::default(),
            depths: Vec::new(),
        }
    }
}

impl<V> DnMap<V> {
    /// Inserts `value` for `dn`, returning the value it replaces.
    pub fn insert(&mut self, dn: &NormalizedDn, value: V) -> Option<V> {
        let depth = dn.depth();
        if let Err(at) = self.depths.binary_search_by(|d| depth.cmp(d)) {
            self.depths.insert(at, depth);
        }
        self.entries.insert(dn.as_str().to_string(), value)
    }

    /// The value of exactly `dn`.
    #[must_use]
    pub fn get(&self, dn: &NormalizedDn) -> Option<&V> {
        self.entries.get(dn.as_str())
    }

    /// The number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys at or above `dn` with their values and depths, most specific first.
    pub fn at_or_above<'a>(
        &'a self,
        dn: &'a NormalizedDn,
    ) -> impl Iterator<Item = (usize, &'a V)> + 'a {
        self.depths.iter().filter_map(move |&depth| {
            let suffix = dn.suffix_of_depth(depth)?;
            self.entries.get(suffix).map(|value| (depth, value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_finds_exactly_the_keys_at_or_above_a_dn() {
        let dn = |s: &str| NormalizedDn::parse(s).expect("a DN");
        let mut map = DnMap::default();
        map.insert(&dn("OU=Staff,DC=corp,DC=com"), "staff");
        map.insert(&dn("DC=corp,DC=com"), "domain");
        map.insert(&dn("OU=Other,DC=corp,DC=com"), "other");
        map.insert(&dn("OU=A,OU=Staff,DC=corp,DC=com"), "a");
        assert_eq!(map.len(), 4);
        let deep = dn("ou=b,OU=A,OU=Staff,DC=corp,DC=com");
        let found: Vec<(usize, &&str)> = map.at_or_above(&deep).collect();
        assert_eq!(found, [(4, &"a"), (3, &"staff"), (2, &"domain")]);
        assert_eq!(map.get(&dn("ou=staff,dc=corp,dc=com")), Some(&"staff"));
        assert!(map.at_or_above(&dn("DC=com")).next().is_none());
        let huge = dn(&format!(
            "{}OU=Staff,DC=corp,DC=com",
            "OU=x,".repeat(50_000)
        ));
        assert_eq!(map.at_or_above(&huge).count(), 2);
        assert_eq!(huge.suffix_of_depth(3), Some("ou=staff,dc=corp,dc=com"));
        assert_eq!(huge.suffix_of_depth(0), None);
        assert_eq!(huge.suffix_of_depth(50_004), None);
    }

    use proptest::prelude::*;

    /// The general path's answer for `input`: the same normalized text, depth, ancestors,
    /// domain verdict, or the same error.
    fn agree(input: &str, naming_contexts: &[&str]) -> Result<(), String> {
        let fast = NormalizedDn::parse(input);
        match (Dn::parse(input), fast) {
            (Err(slow), Err(fast)) if slow == fast => Ok(()),
            (Ok(dn), Ok(fast)) => {
                let suffixes: Vec<String> = dn.suffix_keys().map(|keys| keys.join(",")).collect();
                // Most specific first: the whole DN, then each ancestor.
                let fast_suffixes: Vec<String> = (1..=fast.depth())
                    .rev()
                    .filter_map(|depth| fast.suffix_of_depth(depth).map(str::to_string))
                    .collect();
                if fast.as_str() != dn.normalized()
                    || fast.depth() != dn.depth()
                    || fast_suffixes != suffixes
                    || fast != NormalizedDn::of(&dn)
                {
                    return Err(format!("{input:?}: {fast:?} vs {:?}", dn.normalized()));
                }
                for naming_context in naming_contexts {
                    let want = dn.is_in_domain(naming_context);
                    if fast.is_in_domain(&DomainKeys::new(naming_context)) != want {
                        return Err(format!("{input:?} in {naming_context:?}: expected {want}"));
                    }
                }
                Ok(())
            }
            (slow, fast) => Err(format!("{input:?}: {slow:?} vs {fast:?}")),
        }
    }

    const DOMAINS: [&str; 9] = [
        "corp.example.com",
        "Corp.Example.COM.",
        "example.com",
        "com",
        "",
        ".",
        "zürich.ch",
        "a,b.com",
        "x.com",
    ];

    #[test]
    fn agrees_with_the_general_parser() {
        let inputs = [
            "OU=a,DC=corp,DC=example,DC=com",
            "ou = Staff Team , dc=CORP,DC=example,DC=com",
            "  OU=a , DC=com  ",
            "OU=a,DC=child,DC=corp,DC=example,DC=com",
            "OU=corp,DC=com",
            "2.5.4.11=x,DC=com",
            "OU=a=b,DC=com",
            "OU=a  b,DC=com",
            "OU=,DC=com",
            "OU=a,,DC=com",
            "OU=a,DC=com,",
            ",OU=a",
            "OU a=b,DC=com",
            "=a,DC=com",
            "1OU=a,DC=com",
            "01.2=a",
            "OU=a;DC=com",
            "OU=a+CN=b,DC=com",
            "OU=a\\,b,DC=com",
            "DC=a\\,b,DC=com",
            "DC=Zürich,DC=ch",
            "OU=#x,DC=com",
            "OU=x,DC=x+CN=y,DC=com",
            "DC=corp",
            "DC=CORP ,DC=com",
            "",
            " ",
            "OU",
            "OU=-,DC=.",
            "OU=Team_1.a-b,DC=example,DC=com",
        ];
        for input in inputs {
            if let Err(problem) = agree(input, &DOMAINS) {
                panic!("{problem}");
            }
        }
    }

    #[test]
    fn reuses_its_buffers_and_clears_on_error() {
        let mut normalized = NormalizedDn::default();
        normalized.parse_into("OU=A,DC=x,DC=com").unwrap();
        assert_eq!(normalized.as_str(), "ou=a,dc=x,dc=com");
        assert!(normalized.parse_into("OU=a,,DC=com").is_err());
        assert_eq!(normalized.depth(), 0);
        normalized.parse_into("CN=b\\,c").unwrap();
        assert_eq!(normalized.as_str(), "cn=b\\,c");
    }

    proptest! {
        #[test]
        fn agrees_on_near_plain_strings(
            input in "([ ]?(OU|dc|DC|Cn|2\\.5\\.4\\.11|x-1|0[0-9])[ ]?=[ ]?[a-zA-Z0-9 ._=-]{0,8}[ ]?,){0,4}(DC|OU|dc)=[a-zA-Z0-9 .;+\\\\-]{0,6}"
        ) {
            prop_assert!(agree(&input, &DOMAINS).is_ok(), "{}", agree(&input, &DOMAINS).unwrap_err());
        }

        #[test]
        fn agrees_on_any_string(input in "[ ,;+=\\\\#\"<>a-zA-Z0-9.é東_-]{0,30}") {
            prop_assert!(agree(&input, &DOMAINS).is_ok(), "{}", agree(&input, &DOMAINS).unwrap_err());
        }

        #[test]
        fn agrees_on_domains(
            labels in prop::collection::vec("[a-zA-Z0-9-]{1,6}|[a-zé東ü]{1,4}", 1..4),
            prefix in "(OU=[a-z]{1,4},|DC=[a-z]{1,3},){0,3}",
            other in "[a-z]{1,4}(\\.[a-z]{1,4}){0,2}",
        ) {
            let naming_context = labels.join(".");
            let input = format!("{prefix}{}", super::super::domain_to_dn(&naming_context));
            let contexts = [naming_context.as_str(), other.as_str(), "com"];
            prop_assert!(agree(&input, &contexts).is_ok(), "{}", agree(&input, &contexts).unwrap_err());
        }
    }
}
