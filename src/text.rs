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
}
