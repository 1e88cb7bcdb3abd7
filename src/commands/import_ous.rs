//! `ouguard import-ous --from-csv FILE [--directory DOMAIN]`: merge the `user` rows of the
//! console's `OU,type` export into `ouguard.toml`, keeping its comments, and show the diff.
//! Writes nothing unless every row is good.

use std::collections::BTreeMap;
use std::io::Write;

use super::{read_input_file, Global};
use crate::cli::ImportOusArgs;
use crate::dn::Dn;
use crate::exit::{Hinted, Outcome};

/// The OUs of an `OU,type` CSV's `user` rows, and how many `group` rows were left out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CsvOus {
    pub user_ous: Vec<(usize, String)>,
    pub group_rows: usize,
}

/// Lines where text follows a field's closing quote (`"OU=x,DC=com"junk`): the `csv` crate
/// would quietly keep it as part of the field, RFC 4180 does not allow it.
fn text_after_closing_quotes(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    let mut reported_line = 0;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                // A quoted field: to its closing quote (`""` is a quote inside it).
                loop {
                    match chars.next() {
                        None => return problems,
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                        }
                        Some('"') => break,
                        Some('\n') => line += 1,
                        Some(_) => {}
                    }
                }
                // Only blanks may follow, up to the separator or the end of the row.
                let mut junk = String::new();
                while let Some(&next) = chars.peek() {
                    if next == ',' || next == '\n' || next == '\r' {
                        break;
                    }
                    chars.next();
                    if !next.is_whitespace() {
                        junk.push(next);
                    }
                }
                if !junk.is_empty() && reported_line != line {
                    reported_line = line;
                    problems.push(format!(
                        "line {line}: text `{}` after a field's closing quote",
                        crate::text::truncate_for_message(&junk)
                    ));
                }
                at_field_start = false;
            }
            ',' => at_field_start = true,
            '\n' => {
                line += 1;
                at_field_start = true;
            }
            c if c.is_whitespace() => {}
            _ => at_field_start = false,
        }
    }
    problems
}

/// Parses the CSV; every malformed row is reported with its line number.
pub fn parse_ou_csv(text: &str) -> Result<CsvOus, Vec<String>> {
    let after_quotes = text_after_closing_quotes(text);
    if !after_quotes.is_empty() {
        return Err(after_quotes);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut problems = Vec::new();
    match reader.headers() {
        Ok(headers) => {
            let names: Vec<String> = headers.iter().map(str::to_ascii_lowercase).collect();
            if names != ["ou", "type"] {
                return Err(vec![format!(
                    "line 1: the header is `{}`, expected `OU,type`",
                    headers.iter().collect::<Vec<_>>().join(",")
                )]);
            }
        }
        Err(error) => return Err(vec![format!("line 1: {error}")]),
    }
    let mut result = CsvOus::default();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != 2 {
            problems.push(format!(
                "line {line}: expected 2 fields (`OU,type`), found {}",
                record.len()
            ));
            continue;
        }
        let (ou, kind) = (&record[0], &record[1]);
        match kind.to_ascii_lowercase().as_str() {
            "user" => {}
            "group" => {
                result.group_rows += 1;
                continue;
            }
            other => {
                problems.push(format!(
                    "line {line}: type `{other}` is neither `user` nor `group`"
                ));
                continue;
            }
        }
        match Dn::parse(ou) {
            Ok(_) => result.user_ous.push((line as usize, ou.to_string())),
            Err(error) => problems.push(format!(
                "line {line}: `{}` is not a valid DN ({error})",
                crate::text::truncate_for_message(ou)
            )),
        }
    }
    if problems.is_empty() {
        Ok(result)
    } else {
        Err(problems)
    }
}

/// Which `[directory."…"]` table each `user` OU goes to: its own domain, or `directory`
/// when given. Checked with the config loader's own rules (`Dn::is_in_domain` against the
/// table key), so a row accepted here never makes a config the loader refuses.
///
/// # Errors
/// Every row that does not fit, with its line number.
pub fn tables_of(
    parsed: &CsvOus,
    directory: Option<&str>,
) -> Result<BTreeMap<String, Vec<String>>, Vec<String>> {
    let mut by_directory: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (line, ou) in &parsed.user_ous {
        let shown = crate::text::truncate_for_message(ou);
        let dn = match Dn::parse(ou) {
            Ok(dn) => dn,
            Err(error) => {
                problems.push(format!(
                    "line {line}: `{shown}` is not a valid DN ({error})"
                ));
                continue;
            }
        };
        let key = match directory {
            Some(directory) => {
                if !directory.starts_with("0oa") && !dn.is_in_domain(directory) {
                    problems.push(format!(
                        "line {line}: `{shown}` is not in the domain `{directory}`"
                    ));
                    continue;
                }
                directory.to_string()
            }
            None => match dn.domain() {
                // The same check the config loader makes: a `DC=` value with a dot in it
                // (`DC=com.x`) names no domain the table key could match.
                Some(domain) if dn.is_in_domain(&domain) => domain,
                Some(domain) => {
                    problems.push(format!(
                        "line {line}: `{shown}` does not name its domain in plain `DC=` parts (read as `{}`); fix the OU or pass `--directory DOMAIN`",
                        crate::text::truncate_for_message(&domain)
                    ));
                    continue;
                }
                None => {
                    problems.push(format!(
                        "line {line}: `{shown}` does not end in `DC=` parts; pass `--directory DOMAIN`"
                    ));
                    continue;
                }
            },
        };
        by_directory.entry(key).or_default().push(ou.clone());
    }
    if problems.is_empty() {
        Ok(by_directory)
    } else {
        Err(problems)
    }
}

pub fn run(global: &Global, args: &ImportOusArgs) -> anyhow::Result<Outcome> {
    let text = read_input_file(&args.from_csv, "CSV file")?;
    let csv_name = args.from_csv.display().to_string();
    let parsed = parse_ou_csv(&text).map_err(|problems| {
        let shown: Vec<String> = problems.iter().take(20).cloned().collect();
        let more = problems.len().saturating_sub(20);
        Hinted::new(
            format!(
                "`{csv_name}` has {} malformed row(s); nothing was written:\n  {}{}",
                problems.len(),
                shown.join("\n  "),
                if more > 0 { format!("\n  … and {more} more") } else { String::new() }
            ),
            "the file must be the console's `OU,type` export: one OU DN and `user` or `group` per row",
        )
    })?;

    let by_directory = tables_of(&parsed, args.directory.as_deref()).map_err(|problems| {
        anyhow::anyhow!(
            "`{csv_name}` has OUs that do not fit; nothing was written:\n  {}",
            problems.join("\n  ")
        )
    })?;

    let path = &global.config_path;
    let edit = crate::config::add_import_ous_to_file(path, &by_directory)?;
    let mut stdout = std::io::stdout().lock();
    if parsed.group_rows > 0 && !global.quiet {
        writeln!(
            stdout,
            "Left out {} `group` row(s): those are \"Group OUs connected to Okta\", not import OUs.",
            parsed.group_rows
        )?;
    }
    if edit.added == 0 {
        writeln!(
            stdout,
            "Nothing to add: `{}` already declares every OU of `{csv_name}`.",
            path.display()
        )?;
        return Ok(Outcome::Success);
    }
    if !global.quiet {
        write!(stdout, "{}", edit.diff)?;
    }
    writeln!(
        stdout,
        "Added {} import OU(s) to `{}`.",
        edit.added,
        path.display()
    )?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_user_rows_and_counts_group_rows() {
        let text = "OU,type\n\"OU=Staff,DC=corp,DC=example,DC=com\",user\n\"OU=Groups,DC=corp,DC=example,DC=com\",group\n\n";
        let parsed = parse_ou_csv(text).unwrap();
        assert_eq!(
            parsed.user_ous,
            vec![(2, "OU=Staff,DC=corp,DC=example,DC=com".to_string())]
        );
        assert_eq!(parsed.group_rows, 1);
    }

    #[test]
    fn reports_every_malformed_row_with_its_line() {
        let text = "OU,type\n\"OU=Staff,,DC=corp\",user\n\"OU=A,DC=corp\",computer\n\"OU=B,DC=corp\"\n\"OU=C,DC=corp\",user\n";
        let problems = parse_ou_csv(text).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 2: `OU=Staff,,DC=corp` is not a valid DN"));
        assert!(problems[1].starts_with("line 3: type `computer`"));
        assert!(problems[2].starts_with("line 4: expected 2 fields"));
        assert!(parse_ou_csv("name,kind\n").unwrap_err()[0].contains("expected `OU,type`"));
    }

    /// A DN part made of characters that trip naive checks: dots, escapes, quotes, spaces,
    /// `#`, `+`, `=`, commas, non-ASCII, and empty values.
    fn value() -> impl Strategy<Value = String> {
        proptest::string::string_regex(r##"[a-zA-Z0-9 .,\\"#+=é<>;-]{0,8}"##).expect("regex")
    }

    /// Mostly well-formed OUs (so that many rows reach the config), with tricky `DC=` values:
    /// dots, blanks, escapes, non-ASCII, empty, the usual labels.
    fn ou_text() -> impl Strategy<Value = String> {
        let head = (prop_oneof![Just("OU"), Just("CN"), Just("X")], value())
            .prop_map(|(k, v)| format!("{k}={v}"));
        let dc_value = prop_oneof![
            Just("corp".to_string()),
            Just("example".to_string()),
            Just("com".to_string()),
            Just("com.x".to_string()),
            Just(" com ".to_string()),
            Just("c\\,om".to_string()),
            Just("\\63om".to_string()),
            Just("é".to_string()),
            proptest::string::string_regex("[a-z.]{0,5}").expect("regex"),
            value(),
        ];
        let dc = (prop_oneof![Just("DC"), Just("dc"), Just(" DC ")], dc_value)
            .prop_map(|(k, v)| format!("{k}={v}"));
        (
            proptest::collection::vec(head, 0..3),
            proptest::collection::vec(dc, 0..4),
        )
            .prop_map(|(head, dcs)| head.into_iter().chain(dcs).collect::<Vec<_>>().join(","))
    }

    fn csv_field(text: String, junk: bool) -> String {
        let quoted = format!("\"{}\"", text.replace('"', "\"\""));
        if junk {
            format!("{quoted}x")
        } else {
            quoted
        }
    }

    proptest! {
        /// Whatever `import-ous` would write, the config loader accepts: every row the CSV
        /// checks let through fits its table by the loader's own rules.
        #[test]
        fn whatever_import_ous_writes_the_loader_accepts(
            rows in proptest::collection::vec((ou_text(), prop_oneof![Just("user"), Just("group"), Just("other")], any::<bool>(), proptest::bool::weighted(0.05)), 0..8),
            directory in prop_oneof![Just(None), Just(Some("corp.example.com")), Just(Some("0oa1dir"))],
            existing in prop_oneof![Just(""), Just("[directory.\"corp.example.com\"]\nimport_ous = [\"OU=Old,DC=corp,DC=example,DC=com\"]\n")],
        ) {
            let mut csv = String::from("OU,type\n");
            for (ou, kind, quote_kind, junk) in &rows {
                let kind = if *quote_kind { format!("\"{kind}\"") } else { (*kind).to_string() };
                csv.push_str(&format!("{},{kind}\n", csv_field(ou.clone(), *junk)));
            }
            let path = std::path::Path::new("ouguard.toml");
            let Ok(parsed) = parse_ou_csv(&csv) else { return Ok(()) };
            let Ok(tables) = tables_of(&parsed, directory) else { return Ok(()) };
            let mut new = existing.to_string();
            for (key, ous) in &tables {
                let (text, _) = crate::config::add_import_ous(&new, path, key, ous)
                    .map_err(|e| TestCaseError::fail(format!("the edit failed: {e}\n{csv}")))?;
                new = text;
            }
            if let Err(refused) = crate::config::Config::parse(&new, path) {
                return Err(TestCaseError::fail(format!("the loader refuses what import-ous wrote: {refused}\n--- csv\n{csv}--- config\n{new}")));
            }
        }
    }

    #[test]
    fn refuses_text_after_a_closing_quote_with_its_line() {
        let text = "OU,type\n\"OU=A,DC=corp,DC=com\",user\n\"OU=Staff,DC=corp,DC=com\"junk,user\n";
        let problems = parse_ou_csv(text).unwrap_err();
        assert_eq!(
            problems,
            vec!["line 3: text `junk` after a field's closing quote"]
        );
        // Escaped quotes, blanks after the quote, quoted line breaks and the last field of
        // the file are fine.
        let fine = "OU,type\n\"OU=A \"\"x\"\",DC=corp,DC=com\" , user\n\"OU=B,\nDC=corp\",\"user\"";
        assert!(
            text_after_closing_quotes(fine).is_empty(),
            "{:?}",
            text_after_closing_quotes(fine)
        );
        let after_line_break = "OU,type\n\"OU=B,\nDC=corp\"x,user\n";
        assert_eq!(
            text_after_closing_quotes(after_line_break),
            vec!["line 3: text `x` after a field's closing quote"]
        );
    }
}
