//! `ouguard.toml`: the declared import OUs, pinned retarget destinations, and plan defaults.
//! Parsing reports the file, line and fix; editing (adding import OUs) keeps the file's
//! comments and layout. Never holds secrets; reads and writes only the file it is given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::dn::Dn;
use crate::planner::{RetargetPin, Strategy};
use crate::state::{ImportOuSource, ImportOus, OrgState};

/// The parsed configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (`None`: no file; nothing declared).
    pub path: Option<PathBuf>,
    pub org_url: Option<String>,
    pub directories: Vec<DirectoryConfig>,
    pub retargets: Vec<RetargetPin>,
    pub strategy: Option<Strategy>,
    /// `[okta] max_api_share`: the percent of each rate-limit window ouguard may use.
    pub max_api_share: Option<u8>,
}

/// A `[directory."…"]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// The table key: the AD domain (`namingContext`) or the app id.
    pub key: String,
    /// 1-based line of the table header.
    pub line: usize,
    pub import_ous: Vec<String>,
}

/// A configuration error that names the file, the line and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to read `{path}`: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    org: Option<RawOrg>,
    #[serde(default)]
    directory: BTreeMap<Spanned<String>, RawDirectory>,
    #[serde(default)]
    retarget: Vec<RawRetarget>,
    #[serde(default)]
    plan: Option<RawPlanSection>,
    #[serde(default)]
    okta: Option<RawOkta>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOkta {
    max_api_share: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    import_ous: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetarget {
    directory: Option<String>,
    group: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlanSection {
    strategy: Option<Spanned<String>>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

impl Config {
    /// Reads the config file. A missing file is an error only when `explicit` (the person
    /// named it with `--config`); the default file missing just means nothing is declared.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Config::default())
            }
            Err(error) => Err(ConfigError {
                path: path.display().to_string(),
                line: None,
                message: error.to_string().to_lowercase(),
            }),
        }
    }

    /// Parses config text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let error = |line: Option<usize>, message: String| ConfigError {
            path: shown.clone(),
            line,
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            let message = e.message().trim_end_matches('.').to_string();
            let fix = if message.contains("unknown field") {
                "; the keys are [org] url, [directory.\"DOMAIN\"] import_ous, [[retarget]] \
                 directory/group/to, and [plan] strategy"
            } else {
                ""
            };
            error(line, format!("{message}{fix}"))
        })?;

        let mut config = Config {
            path: Some(path.to_path_buf()),
            ..Config::default()
        };
        if let Some(url) = raw.org.and_then(|o| o.url) {
            config.org_url = Some(url.get_ref().clone());
        }
        if let Some(share) = raw.okta.and_then(|o| o.max_api_share) {
            let line = line_of(text, share.span().start);
            let value = *share.get_ref();
            config.max_api_share = Some(
                u8::try_from(value)
                    .ok()
                    .filter(|v| (1..=100).contains(v))
                    .ok_or_else(|| {
                        error(
                            Some(line),
                            format!(
                                "`max_api_share = {value}` is not a percent from 1 to 100; \
                                 write e.g. `max_api_share = 50`"
                            ),
                        )
                    })?,
            );
        }
        for (key, directory) in raw.directory {
            let line = line_of(text, key.span().start);
            let mut ous = Vec::with_capacity(directory.import_ous.len());
            for ou in directory.import_ous {
                let ou_line = line_of(text, ou.span().start);
                let value = ou.into_inner();
                let dn = Dn::parse(&value).map_err(|e| {
                    error(
                        Some(ou_line),
                        format!(
                            "`{}` is not a valid DN ({e}); write it like \
                             `OU=Staff,DC=corp,DC=example,DC=com`",
                            crate::text::truncate_for_message(&value)
                        ),
                    )
                })?;
                if !key.get_ref().starts_with("0oa") && !dn.is_in_domain(key.get_ref()) {
                    return Err(error(
                        Some(ou_line),
                        format!(
                            "`{value}` is not in the domain `{}`: list it under the directory \
                             of its own domain",
                            key.get_ref()
                        ),
                    ));
                }
                ous.push(value);
            }
            config.directories.push(DirectoryConfig {
                key: key.into_inner(),
                line,
                import_ous: ous,
            });
        }
        for retarget in raw.retarget {
            let line = line_of(text, retarget.to.span().start);
            let to = retarget.to.into_inner();
            if let Err(e) = Dn::parse(&to) {
                return Err(error(
                    Some(line),
                    format!(
                        "retarget destination `{}` is not a valid DN ({e})",
                        crate::text::truncate_for_message(&to)
                    ),
                ));
            }
            config.retargets.push(RetargetPin {
                directory: retarget.directory,
                group: retarget.group.into_inner(),
                to,
                origin: format!("{shown} line {line}"),
            });
        }
        if let Some(strategy) = raw.plan.and_then(|p| p.strategy) {
            let line = line_of(text, strategy.span().start);
            config.strategy =
                Some(Strategy::parse(strategy.get_ref()).map_err(|m| error(Some(line), m))?);
        }
        Ok(config)
    }

    /// Puts the declared import OUs into `state` (they win over a snapshot's own) and checks
    /// that every declared directory exists in the org.
    pub fn declare_import_ous(&self, state: &mut OrgState) -> Result<(), ConfigError> {
        let shown = self
            .path
            .as_ref()
            .map_or_else(|| "ouguard.toml".to_string(), |p| p.display().to_string());
        for declared in &self.directories {
            let Some(directory) = state.directory_mut(&declared.key) else {
                let known: Vec<String> = state
                    .directories
                    .iter()
                    .map(|d| format!("`{}`", d.domain))
                    .collect();
                return Err(ConfigError {
                    path: shown,
                    line: Some(declared.line),
                    message: format!(
                        "directory `{}` does not exist in the org; its AD directories are {}",
                        declared.key,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            };
            directory.import_ous = Some(ImportOus {
                source: ImportOuSource::Config {
                    path: shown.clone(),
                },
                ous: declared.import_ous.clone(),
            });
        }
        Ok(())
    }
}

/// What [`add_import_ous_to_file`] did to the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOusAdded {
    /// How many OUs were added (0: the file already declared them all and was not written).
    pub added: usize,
    /// The diff of the file, empty when nothing was added.
    pub diff: String,
}

/// Adds import OUs to the config file, per directory key (domain or app id): reads it (a
/// missing file is an empty one), refuses a file that does not parse, adds what it does not
/// declare yet, and writes it atomically when something was added. The one function that
/// edits the import OUs of `ouguard.toml`, for `apply` (a confirmed manual step) and
/// `import-ous`.
pub fn add_import_ous_to_file(
    path: &Path,
    by_directory: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<ImportOusAdded> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to read `{}`", path.display()))
            )
        }
    };
    // Refuse to edit a config that does not parse: the person must fix it first.
    if !old.is_empty() {
        Config::parse(&old, path)?;
    }
    let mut new = old.clone();
    let mut added = 0;
    for (key, ous) in by_directory {
        let (text, newly) = add_import_ous(&new, path, key, ous)?;
        new = text;
        added += newly.len();
    }
    if added == 0 {
        return Ok(ImportOusAdded {
            added,
            diff: String::new(),
        });
    }
    // Whatever is written must load: the loader's own rules are the last word.
    if let Err(refused) = Config::parse(&new, path) {
        return Err(anyhow::Error::new(refused).context(format!(
            "the new import OUs would make `{}` a config ouguard refuses; nothing was written",
            path.display()
        )));
    }
    crate::files::write_atomically(path, new.as_bytes(), false)?;
    Ok(ImportOusAdded {
        added,
        diff: file_diff(path, &old, &new),
    })
}

/// Adds import OUs to `[directory."<key>"]` of the config text, keeping comments and
/// layout; OUs already declared there (DN-equal) are left out. Returns the new text and the
/// OUs actually added.
pub fn add_import_ous(
    text: &str,
    path: &Path,
    key: &str,
    ous: &[String],
) -> Result<(String, Vec<String>), ConfigError> {
    let error = |message: String| ConfigError {
        path: path.display().to_string(),
        line: None,
        message,
    };
    let mut document: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError {
                path: path.display().to_string(),
                line: e.span().map(|s| line_of(text, s.start)),
                message: e.message().trim_end_matches('.').to_string(),
            })?;
    let root = document.as_table_mut();
    let directories = root
        .entry("directory")
        .or_insert_with(|| {
            let mut table = toml_edit::Table::new();
            table.set_implicit(true);
            toml_edit::Item::Table(table)
        })
        .as_table_like_mut()
        .ok_or_else(|| error("`directory` is not a table".to_string()))?;
    let directory = directories
        .entry(key)
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| error(format!("`directory.\"{key}\"` is not a table")))?;
    let list = directory
        .entry("import_ous")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .ok_or_else(|| error(format!("`directory.\"{key}\".import_ous` is not an array")))?;

    let mut existing: Vec<Dn> = list
        .iter()
        .filter_map(|v| v.as_str())
        .filter_map(|s| Dn::parse(s).ok())
        .collect();
    let old_len = list.len();
    let multi_line = is_multi_line(list);
    let mut added = Vec::new();
    for ou in ous {
        let dn = Dn::parse(ou).map_err(|e| error(format!("`{ou}` is not a valid DN ({e})")))?;
        if existing.contains(&dn) {
            continue;
        }
        existing.push(dn);
        list.push(ou.as_str());
        added.push(ou.clone());
    }
    if old_len == 0 || (!multi_line && !added.is_empty()) {
        // One OU per line reads and diffs best. A one-line array holds no comments.
        for value in list.iter_mut() {
            value.decor_mut().set_prefix("\n  ");
        }
        list.set_trailing("\n");
        list.set_trailing_comma(true);
    } else if !added.is_empty() {
        append_lines_keeping_comments(list, old_len);
    }
    Ok((document.to_string(), added))
}

/// The text of a piece of decor (absent: empty).
fn raw_text(raw: Option<&toml_edit::RawString>) -> String {
    raw.and_then(toml_edit::RawString::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `true` when the array is written over several lines (so it may hold comments).
fn is_multi_line(list: &toml_edit::Array) -> bool {
    raw_text(Some(list.trailing())).contains('\n')
        || list.iter().any(|v| {
            raw_text(v.decor().prefix()).contains('\n')
                || raw_text(v.decor().suffix()).contains('\n')
        })
}

/// Lays the values pushed after the first `old_len` out one per line, in the indentation of
/// the existing ones, keeping the comment that followed the last old value on its line.
fn append_lines_keeping_comments(list: &mut toml_edit::Array, old_len: usize) {
    let last_old = old_len - 1;
    let indent = list
        .get(last_old)
        .map(|v| raw_text(v.decor().prefix()))
        .and_then(|p| p.rsplit_once('\n').map(|(_, tail)| tail.to_string()))
        .unwrap_or_else(|| "  ".to_string());
    // What followed the last old value: after its comma (the array's trailing decor), or,
    // without a trailing comma, its own suffix.
    let carry = if list.trailing_comma() {
        raw_text(Some(list.trailing()))
    } else {
        let carry = list
            .get(last_old)
            .map(|v| raw_text(v.decor().suffix()))
            .unwrap_or_default();
        if let Some(value) = list.get_mut(last_old) {
            value.decor_mut().set_suffix("");
        }
        carry
    };
    let (carried_lines, closing_indent) = match carry.rsplit_once('\n') {
        Some((lines, tail)) => (format!("{lines}\n"), tail.to_string()),
        None => ("\n".to_string(), String::new()),
    };
    for (i, value) in list.iter_mut().enumerate().skip(old_len) {
        let prefix = if i == old_len {
            format!("{carried_lines}{indent}")
        } else {
            format!("\n{indent}")
        };
        value.decor_mut().set_prefix(prefix);
        value.decor_mut().set_suffix("");
    }
    list.set_trailing(format!("\n{closing_indent}"));
    list.set_trailing_comma(true);
}

/// A unified diff of a file's old and new text, for showing a config change.
#[must_use]
pub fn file_diff(path: &Path, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", path.display()),
            &format!("b/{}", path.display()),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{directory, org};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("ouguard.toml"))
    }

    const GOOD: &str = r#"
# Our org
[org]
url = "https://acme.okta.com"

[directory."corp.example.com"]   # the AD domain
import_ous = [
  "OU=Staff,DC=corp,DC=example,DC=com",
  "OU=Contractors,DC=corp,DC=example,DC=com",
]

[[retarget]]
directory = "corp.example.com"
group = "Marketing"
to = "OU=Staff,DC=corp,DC=example,DC=com"

[plan]
strategy = "add-ou"
"#;

    #[test]
    fn parses_the_documented_example() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.org_url.as_deref(), Some("https://acme.okta.com"));
        assert_eq!(config.directories.len(), 1);
        assert_eq!(config.directories[0].key, "corp.example.com");
        assert_eq!(config.directories[0].line, 6);
        assert_eq!(config.directories[0].import_ous.len(), 2);
        assert_eq!(config.retargets[0].group, "Marketing");
        assert_eq!(config.retargets[0].origin, "ouguard.toml line 15");
        assert_eq!(config.strategy, Some(Strategy::AddOu));
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_fix() {
        let cases: &[(&str, &str)] = &[
            ("[org]\nurl = \"x\"\ncolour = 1\n", "failed to read `ouguard.toml`: line 3: unknown field `colour`"),
            ("[directory.\"corp.example.com\"]\nimport_ous = [\n  \"OU=Sales,,DC=x\",\n]\n", "line 3: `OU=Sales,,DC=x` is not a valid DN"),
            ("[directory.\"corp.example.com\"]\nimport_ous = \"OU=Staff\"\n", "line 2: invalid type"),
            ("[directory.\"corp.example.com\"]\nimport_ous = [\"OU=Staff,DC=emea,DC=example,DC=com\"]\n", "line 2: `OU=Staff,DC=emea,DC=example,DC=com` is not in the domain `corp.example.com`"),
            ("[plan]\nstrategy = \"yolo\"\n", "line 2: `yolo` is not a strategy"),
            ("[plan\n", "line 1:"),
            ("[[retarget]]\ngroup = \"G\"\nto = \"nope\"\n", "line 3: retarget destination `nope` is not a valid DN"),
            ("[[retarget]]\ngroup = \"G\"\n", "missing field `to`"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text:?}\n got: {message}");
            assert!(!message.ends_with('.'), "{message}");
        }
        let huge = format!(
            "[directory.\"corp.example.com\"]\nimport_ous = [\"OU={}\"]\n",
            "x,".repeat(50_000)
        );
        assert!(parse(&huge).unwrap_err().to_string().len() < 1_000);
    }

    #[test]
    fn a_missing_default_file_declares_nothing() {
        let missing = Path::new("/nonexistent/ouguard.toml");
        assert_eq!(Config::load(missing, false).unwrap(), Config::default());
        assert!(Config::load(missing, true).is_err());
    }

    #[test]
    fn declares_import_ous_and_refuses_unknown_directories() {
        let config = parse(GOOD).unwrap();
        let mut state = org(vec![directory("corp.example.com", None)]);
        config.declare_import_ous(&mut state).unwrap();
        let declared = state.directories[0].import_ous.as_ref().unwrap();
        assert_eq!(declared.ous.len(), 2);
        assert!(matches!(declared.source, ImportOuSource::Config { .. }));

        let mut other = org(vec![directory("emea.example.com", None)]);
        let message = config
            .declare_import_ous(&mut other)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("line 6: directory `corp.example.com` does not exist in the org"),
            "{message}"
        );
        assert!(message.contains("`emea.example.com`"), "{message}");
    }

    #[test]
    fn adding_import_ous_keeps_comments_and_skips_equal_ones() {
        let (text, added) = add_import_ous(
            GOOD,
            Path::new("ouguard.toml"),
            "corp.example.com",
            &[
                "ou=staff, dc=corp,dc=example,dc=com".into(),
                "OU=Marketing,DC=corp,DC=example,DC=com".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            added,
            vec!["OU=Marketing,DC=corp,DC=example,DC=com".to_string()]
        );
        assert!(text.contains("# Our org"));
        assert!(text.contains("# the AD domain"));
        let reparsed = parse(&text).unwrap();
        assert_eq!(reparsed.directories[0].import_ous.len(), 3);
        let diff = file_diff(Path::new("ouguard.toml"), GOOD, &text);
        assert!(
            diff.contains("+  \"OU=Marketing,DC=corp,DC=example,DC=com\","),
            "{diff}"
        );
    }

    #[test]
    fn adding_import_ous_to_an_empty_file_creates_the_table() {
        let (text, _) = add_import_ous(
            "",
            Path::new("ouguard.toml"),
            "emea.example.com",
            &["OU=Staff,DC=emea,DC=example,DC=com".into()],
        )
        .unwrap();
        let reparsed = parse(&text).unwrap();
        assert_eq!(reparsed.directories[0].key, "emea.example.com");
        assert_eq!(
            reparsed.directories[0].import_ous,
            vec!["OU=Staff,DC=emea,DC=example,DC=com"]
        );
    }

    #[test]
    fn adding_import_ous_keeps_comments_inside_the_array() {
        let a = "OU=A,DC=corp,DC=example,DC=com";
        let b = "OU=B,DC=corp,DC=example,DC=com";
        let n = "OU=New,DC=corp,DC=example,DC=com";
        let head = "[directory.\"corp.example.com\"]\nimport_ous = [";
        let cases = [
            (
                format!("{head}\n  \"{a}\",   # everyone\n]\n"),
                format!("{head}\n  \"{a}\",   # everyone\n  \"{n}\",\n]\n"),
            ),
            (
                format!("{head}\n    # first\n    \"{a}\", # a\n    \"{b}\" # b, no comma\n]\n"),
                format!(
                    "{head}\n    # first\n    \"{a}\", # a\n    \"{b}\", # b, no comma\n    \"{n}\",\n]\n"
                ),
            ),
            (
                format!("{head}\"{a}\"]\n"),
                format!("{head}\n  \"{a}\",\n  \"{n}\",\n]\n"),
            ),
        ];
        for (before, want) in cases {
            let (text, added) = add_import_ous(
                &before,
                Path::new("ouguard.toml"),
                "corp.example.com",
                &[n.into()],
            )
            .unwrap();
            assert_eq!(added, vec![n.to_string()]);
            assert_eq!(text, want, "from:\n{before}");
            parse(&text).unwrap();
        }
    }
}
