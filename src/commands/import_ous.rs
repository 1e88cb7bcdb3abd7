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

/// Parses the CSV; every malformed row is reported with its line number.
pub fn parse_ou_csv(text: &str) -> Result<CsvOus, Vec<String>> {
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

    // Which directory table each OU goes to.
    let mut by_directory: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (line, ou) in &parsed.user_ous {
        let Ok(dn) = Dn::parse(ou) else { continue };
        let key = match &args.directory {
            Some(directory) => {
                if !directory.starts_with("0oa") && !dn.is_in_domain(directory) {
                    problems.push(format!(
                        "line {line}: `{ou}` is not in the domain `{directory}`"
                    ));
                    continue;
                }
                directory.clone()
            }
            None => match dn.domain() {
                Some(domain) => domain,
                None => {
                    problems.push(format!(
                        "line {line}: `{ou}` does not end in `DC=` parts; pass `--directory DOMAIN`"
                    ));
                    continue;
                }
            },
        };
        by_directory.entry(key).or_default().push(ou.clone());
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "`{csv_name}` has OUs that do not fit; nothing was written:\n  {}",
            problems.join("\n  ")
        );
    }

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
}
