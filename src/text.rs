//! Small text helpers shared by every layer (rules, state, config, the Okta client): no
//! imports from the rest of the crate, so nothing depends on the rules to quote a value.

/// Shortens a value quoted in a message so a hostile 100 KB input cannot flood the output,
/// and shows its control characters as escapes (`\n`, `\u001b`) so it cannot start a line
/// of its own or restyle a terminal.
#[must_use]
pub fn truncate_for_message(value: &str) -> String {
    const LIMIT: usize = 200;
    let count = value.chars().count();
    let mut kept = String::with_capacity(value.len().min(LIMIT * 4) + 32);
    for ch in value.chars().take(LIMIT) {
        push_visible(&mut kept, ch);
    }
    if count > LIMIT {
        kept.push_str(&format!("… ({count} characters)"));
    }
    kept
}

/// Whether `ch` must not reach a reader as itself: a control character (line breaks
/// included), or one that is invisible or turns the text's direction (zero-width spaces
/// and joiners, bidi marks, overrides and isolates, the BOM), with which one name can look
/// like another.
#[must_use]
pub fn is_hidden(ch: char) -> bool {
    matches!(
        u32::from(ch),
        0..=0x1f | 0x7f..=0x9f | 0x061c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff
    )
}

/// Printable ASCII only (space to `~`), so nothing in it [`is_hidden`]. The loop does not
/// stop early, which lets the compiler vectorize it: a fast path for long values.
#[must_use]
pub fn is_printable_ascii(text: &str) -> bool {
    text.bytes()
        .fold(true, |plain, b| plain & (0x20..0x7f).contains(&b))
}

/// Whether some character of `text` [`is_hidden`], line breaks aside when
/// `line_breaks_allowed`. Printable ASCII is checked 64 bytes at a time without decoding
/// (a loop the compiler vectorizes); only a block holding anything else is decoded.
#[must_use]
pub fn has_hidden(text: &str, line_breaks_allowed: bool) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + 64).min(bytes.len());
        let plain = bytes[at..end].iter().fold(true, |plain, &b| {
            plain & ((0x20..0x7f).contains(&b) | (line_breaks_allowed & (b == b'\n')))
        });
        if !plain {
            // The block's characters, whole: a character may straddle the block's edges.
            let mut start = at;
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut stop = end;
            while !text.is_char_boundary(stop) {
                stop += 1;
            }
            let hidden = text[start..stop]
                .chars()
                .any(|ch| is_hidden(ch) && !(line_breaks_allowed && ch == '\n'));
            if hidden {
                return true;
            }
        }
        at = end;
    }
    false
}

/// Appends `ch`, or its escape (`\n`, `\u202e`) when it [`is_hidden`].
pub fn push_visible(out: &mut String, ch: char) {
    match ch {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_hidden(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_counted() {
        assert_eq!(truncate_for_message("OU=x"), "OU=x");
        let long = "a".repeat(250);
        let cut = truncate_for_message(&long);
        assert!(cut.starts_with(&"a".repeat(200)));
        assert!(cut.ends_with("… (250 characters)"), "{cut}");
    }

    #[test]
    fn control_characters_are_shown_as_escapes() {
        assert_eq!(
            truncate_for_message("OU=a\nOU=\u{1b}[2J\tx\r"),
            r"OU=a\nOU=\u001b[2J\tx\r"
        );
        assert_eq!(truncate_for_message("Staff\u{202e}moc"), r"Staff\u202emoc");
        assert_eq!(truncate_for_message("Zoë"), "Zoë");
    }

    #[test]
    fn hidden_characters_are_found_wherever_they_are() {
        let long = "OU=Zoë → x,".repeat(40);
        assert!(!has_hidden(&long, false));
        assert!(!has_hidden(&format!("{long}\n{long}"), true));
        assert!(has_hidden(&format!("{long}\n{long}"), false));
        for hidden in ['\u{1b}', '\u{202e}', '\u{200b}', '\u{85}', '\r', '\u{7f}'] {
            // At every offset, across the 64-byte blocks and next to multi-byte characters.
            for cut in 0..long.len() {
                if long.is_char_boundary(cut) {
                    let text = format!("{}{hidden}{}", &long[..cut], &long[cut..]);
                    assert!(has_hidden(&text, true), "{hidden:?} at {cut}");
                }
            }
        }
        assert!(!has_hidden("", false));
    }
}
