//! `ouguard import-ous --from-csv FILE [--directory DOMAIN]`: merge the `user` rows of the
//! console's `OU,type` export into `ouguard.toml`, keeping its comments, and show the diff.
//! Writes nothing unless every row is good.
//!
//! `ouguard import-ous --discover [--directory DOMAIN] [--write] [--json]`: propose import
//! OUs from the OUs the directories' imported users live in (`crate::evidence::discover`),
//! as the same diff; written only after a `yes` at a terminal, or with `--write`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;

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
                crate::rules::truncate_for_message(ou)
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
    let Some(from_csv) = &args.from_csv else {
        return discover(global, args);
    };
    let text = read_input_file(from_csv, "CSV file")?;
    let csv_name = from_csv.display().to_string();
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
    let (old, new, added) = merged_config(path, &by_directory)?;
    let mut stdout = std::io::stdout().lock();
    if parsed.group_rows > 0 && !global.quiet {
        writeln!(
            stdout,
            "Left out {} `group` row(s): those are \"Group OUs connected to Okta\", not import OUs.",
            parsed.group_rows
        )?;
    }
    if added == 0 {
        writeln!(
            stdout,
            "Nothing to add: `{}` already declares every OU of `{csv_name}`.",
            path.display()
        )?;
        return Ok(Outcome::Success);
    }
    crate::files::write_atomically(path, new.as_bytes(), false)?;
    if !global.quiet {
        write!(stdout, "{}", crate::config::file_diff(path, &old, &new))?;
    }
    writeln!(
        stdout,
        "Added {added} import OU(s) to `{}`.",
        path.display()
    )?;
    Ok(Outcome::Success)
}

/// The config text now, and with `by_directory`'s OUs added (comments kept), and how many
/// were new. Refuses a config that does not parse: the person must fix it first.
fn merged_config(
    path: &std::path::Path,
    by_directory: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<(String, String, usize)> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to read `{}`", path.display()))
            )
        }
    };
    if !old.is_empty() {
        crate::config::Config::parse(&old, path)?;
    }
    let mut new = old.clone();
    let mut added = 0;
    for (key, ous) in by_directory {
        let (text, newly) = crate::config::add_import_ous(&new, path, key, ous)?;
        new = text;
        added += newly.len();
    }
    Ok((old, new, added))
}

/// `--discover`: read the AD app users, propose, show the diff, write on `yes`/`--write`.
fn discover(global: &Global, args: &ImportOusArgs) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    let settings = super::session::settings(global, &args.connection, &config)?;
    let session = super::session::connect(
        global,
        &settings,
        args.connection.concurrency,
        crate::okta::ScopeSet::Evidence,
    )?;
    // Only the directories: discovery needs no assignments and no mappings.
    let directories = session
        .runtime
        .block_on(crate::okta::list_directories(&session.client))
        .with_context(|| format!("failed to read the org `{}`", session.client.org_url()))?;
    let mut state = crate::state::OrgState {
        org_url: Some(session.client.org_url().to_string()),
        directories,
        ..crate::state::OrgState::default()
    };
    config.declare_import_ous(&mut state)?;
    if let Some(directory) = &args.directory {
        state
            .directories
            .retain(|d| d.app_id == *directory || d.domain.eq_ignore_ascii_case(directory));
        if state.directories.is_empty() {
            return Err(Hinted::new(
                format!("the org has no AD directory `{directory}`"),
                "pass a directory's domain (its `namingContext`) or its app id",
            ));
        }
    }
    let evidence = super::evidence::read(&session, &state, Vec::new(), None);
    if let Some(u) = evidence.unavailable.first() {
        return Err(Hinted::new(
            format!("the app users could not be read: {}", u.detail),
            format!("discovery reads `GET /api/v1/apps/{{id}}/users`: the token needs `{}` (and the read-only admin role)", crate::evidence::Source::AppUsers.scope()),
        ));
    }
    let discoveries: Vec<crate::evidence::Discovery> = state
        .directories
        .iter()
        .filter_map(|d| {
            let users = evidence.directory(&d.app_id)?.app_users.as_deref()?;
            let declared = d
                .import_ous
                .as_ref()
                .map(|i| i.ous.clone())
                .unwrap_or_default();
            Some(crate::evidence::discover(
                &d.domain, &d.app_id, users, &declared,
            ))
        })
        .collect();
    // Each proposal goes to the table the config already uses for the directory (domain or
    // app id), else to the domain.
    let mut by_directory: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &discoveries {
        let key = config
            .directories
            .iter()
            .find(|c| c.key == d.app_id || c.key.eq_ignore_ascii_case(&d.domain))
            .map_or_else(|| d.domain.clone(), |c| c.key.clone());
        for c in d.undeclared() {
            by_directory
                .entry(key.clone())
                .or_default()
                .push(c.ou.clone());
        }
    }
    let path = &global.config_path;
    let (old, new, added) = merged_config(path, &by_directory)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "directories": discoveries.iter().map(|d| serde_json::json!({
                "domain": d.domain,
                "app_id": d.app_id,
                "candidates": d.candidates,
                "declared_without_users": d.declared_without_users,
                "users_with_dn": d.users_with_dn,
                "users_without_dn": d.users_without_dn,
                "users_outside_domain": d.users_outside_domain,
                "users_with_invalid_dn": d.users_with_invalid_dn,
            })).collect::<Vec<_>>(),
            "requests": evidence.requests,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        for d in &discoveries {
            writeln!(stdout, "{} ({}):", d.domain, d.app_id)?;
            if d.candidates.is_empty() {
                writeln!(
                    stdout,
                    "  no imported user has a `profile.dn` in this domain"
                )?;
            }
            for c in &d.candidates {
                match &c.covered_by_declared {
                    Some(declared) if *declared == c.ou => {
                        writeln!(stdout, "  = {} ({} user(s); declared)", c.ou, c.users)?
                    }
                    Some(declared) => writeln!(
                        stdout,
                        "  = {} ({} user(s); covered by the declared `{declared}`)",
                        c.ou, c.users
                    )?,
                    None => writeln!(stdout, "  + {} ({} user(s))", c.ou, c.users)?,
                }
            }
            for ou in &d.declared_without_users {
                writeln!(stdout, "  ? {ou}: declared, but no user has been imported from it: is it still ticked?")?;
            }
            let left_out = d.users_without_dn + d.users_outside_domain + d.users_with_invalid_dn;
            if left_out > 0 {
                writeln!(
                    stdout,
                    "  left out: {} user(s) without `profile.dn`, {} outside `{}` (or right under it), {} with an invalid DN",
                    d.users_without_dn, d.users_outside_domain, d.domain, d.users_with_invalid_dn
                )?;
            }
        }
        writeln!(
            stdout,
            "(inferred: users are imported only from import OUs, so the OU of each imported user's DN is, or lies below, one; {} request(s))",
            evidence.requests
        )?;
    }
    if added == 0 {
        if !args.json {
            writeln!(
                stdout,
                "Nothing to add: `{}` already covers every OU that holds imported users.",
                path.display()
            )?;
        }
        return Ok(Outcome::Success);
    }
    if !global.quiet && !args.json {
        write!(stdout, "{}", crate::config::file_diff(path, &old, &new))?;
    }
    let approved = if args.write {
        true
    } else if args.json {
        false
    } else if crate::prompt::is_interactive() {
        drop(stdout);
        let approved = crate::prompt::Approver::approve(
            &mut crate::prompt::TerminalApprover,
            &format!(
                "Write these {added} import OU(s) to `{}`? Only `yes` writes",
                path.display()
            ),
        )
        .map_err(anyhow::Error::msg)?;
        stdout = std::io::stdout().lock();
        approved
    } else {
        writeln!(
            stdout,
            "Nothing written: pass `--write` to write these {added} import OU(s) (no terminal to ask)."
        )?;
        return Ok(Outcome::Success);
    };
    if !approved {
        if !args.json {
            writeln!(stdout, "Nothing written.")?;
        }
        return Ok(Outcome::Success);
    }
    crate::files::write_atomically(path, new.as_bytes(), false)?;
    if !args.json {
        writeln!(
            stdout,
            "Added {added} import OU(s) to `{}`.",
            path.display()
        )?;
    }
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
