//! Small text helpers shared by every layer (rules, state, config, the Okta client): no
//! imports from the rest of the crate, so nothing depends on the rules to quote a value.

/// Shortens a value quoted in a message so a hostile 100 KB input cannot flood the output.
#[must_use]
pub fn truncate_for_message(value: &str) -> String {
    const LIMIT: usize = 200;
    if value.chars().count() <= LIMIT {
        value.to_string()
    } else {
        let kept: String = value.chars().take(LIMIT).collect();
        format!("{kept}… ({} characters)", value.chars().count())
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
}
