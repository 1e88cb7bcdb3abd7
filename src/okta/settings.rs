//! Connection settings: the org URL and credentials, resolved from flags > environment >
//! `~/.okta/okta.yaml` > `ouguard.toml`'s org url. Pure apart from reading `okta.yaml`:
//! the environment comes in as a function. Must never print, log or return a secret.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::OktaError;

/// A credential. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    /// Also registers the value with the redaction layer (`redact.rs`), so it is replaced by
    /// `[redacted]` wherever it might come back (a server echoing it, a library's error).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// A private key setting: PEM text (registered with the redaction layer like any
    /// secret) or the path of a PEM file (not a secret itself: error messages name the file;
    /// its contents are registered when read).
    #[must_use]
    pub fn private_key(value: impl Into<String>) -> Self {
        let value = value.into();
        if value.contains("-----BEGIN") {
            crate::redact::register(&value);
        }
        Secret(value)
    }

    /// The secret itself; use only to build the request that needs it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Connection values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFlags {
    pub org_url: Option<String>,
    pub token: Option<Secret>,
    pub authorization_mode: Option<String>,
    pub client_id: Option<String>,
    pub kid: Option<String>,
    pub scopes: Option<String>,
    pub private_key: Option<Secret>,
}

/// How ouguard authenticates to Okta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: SSWS <token>`.
    ApiToken(Secret),
    /// OAuth 2.0 service app with `private_key_jwt` (and DPoP when the org requires it).
    PrivateKey {
        client_id: String,
        kid: Option<String>,
        scopes: Vec<String>,
        /// PEM text or a path to a PEM file, as configured.
        private_key: Secret,
    },
}

/// Where a setting came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingSource {
    Flag,
    Environment,
    OktaYaml,
    OuguardToml,
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SettingSource::Flag => "the command line",
            SettingSource::Environment => "the environment",
            SettingSource::OktaYaml => "`~/.okta/okta.yaml`",
            SettingSource::OuguardToml => "`ouguard.toml`",
        })
    }
}

/// Resolved connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Normalized: `scheme://host[:port]`, no path, no trailing slash.
    pub org_url: String,
    pub org_url_source: SettingSource,
    pub credentials: Credentials,
    /// Things the admin should know (a world-readable `okta.yaml`, a rewritten url).
    pub warnings: Vec<String>,
}

/// The `okta.client` section of `~/.okta/okta.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlClient {
    org_url: Option<String>,
    token: Option<String>,
    authorization_mode: Option<String>,
    client_id: Option<String>,
    kid: Option<String>,
    scopes: Option<YamlScopes>,
    private_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum YamlScopes {
    List(Vec<String>),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
struct YamlRoot {
    okta: Option<YamlOkta>,
}

#[derive(Debug, Default, Deserialize)]
struct YamlOkta {
    client: Option<YamlClient>,
}

/// Resolves the connection settings. `env` looks up an environment variable; `home` is the
/// home directory holding `.okta/okta.yaml`; `config_org_url` is `[org] url` of `ouguard.toml`.
///
/// # Errors
/// `Config` when the url or a credential is missing, `okta.yaml` is unreadable, or the mode is
/// unknown; `InsecureUrl` for a non-loopback `http://` url.
pub fn resolve_connection_settings(
    flags: &ConnectionFlags,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    config_org_url: Option<&str>,
) -> Result<ConnectionSettings, OktaError> {
    let mut warnings = Vec::new();
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let yaml = match home {
        Some(home) => read_okta_yaml(&home.join(".okta").join("okta.yaml"), &mut warnings)?,
        None => YamlClient::default(),
    };

    let (raw_url, org_url_source) = first_of([
        (flags.org_url.clone(), SettingSource::Flag),
        (env("OKTA_CLIENT_ORGURL"), SettingSource::Environment),
        (yaml.org_url.clone(), SettingSource::OktaYaml),
        (config_org_url.map(str::to_string), SettingSource::OuguardToml),
    ])
    .ok_or_else(|| {
        OktaError::config_with_hint(
            "no okta org url is configured",
            "set OKTA_CLIENT_ORGURL (e.g. `https://acme.okta.com`), pass `--org-url`, or set `[org] url` in `ouguard.toml`",
        )
    })?;
    let org_url = normalize_org_url(&raw_url, &mut warnings)?;

    let mode = flags
        .authorization_mode
        .clone()
        .or_else(|| env("OKTA_CLIENT_AUTHORIZATIONMODE"))
        .or(yaml.authorization_mode.clone())
        .unwrap_or_else(|| "SSWS".to_string());

    let credentials = if mode.trim().eq_ignore_ascii_case("SSWS") {
        let token = flags
            .token
            .clone()
            .filter(|t| !t.expose().trim().is_empty())
            .or_else(|| env("OKTA_CLIENT_TOKEN").map(Secret::new))
            .or(yaml
                .token
                .clone()
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new))
            .ok_or_else(|| {
                OktaError::config_with_hint(
                    "no okta api token is configured",
                    "create one under Security > API > Tokens and set OKTA_CLIENT_TOKEN (or `okta.client.token` in `~/.okta/okta.yaml`)",
                )
            })?;
        Credentials::ApiToken(Secret::new(token.expose().trim()))
    } else if mode.trim().eq_ignore_ascii_case("PrivateKey") {
        let client_id = flags
            .client_id
            .clone()
            .or_else(|| env("OKTA_CLIENT_CLIENTID"))
            .or(yaml.client_id.clone())
            .ok_or_else(|| {
                OktaError::config("authorization mode `PrivateKey` needs OKTA_CLIENT_CLIENTID")
            })?;
        let kid = flags
            .kid
            .clone()
            .or_else(|| env("OKTA_CLIENT_KID"))
            .or(yaml.kid.clone());
        let scopes = match flags.scopes.clone().or_else(|| env("OKTA_CLIENT_SCOPES")) {
            Some(text) => split_scopes(&text),
            None => match &yaml.scopes {
                Some(YamlScopes::List(list)) => list.clone(),
                Some(YamlScopes::Text(text)) => split_scopes(text),
                None => Vec::new(),
            },
        };
        let private_key = flags
            .private_key
            .clone()
            .or_else(|| env("OKTA_CLIENT_PRIVATEKEY").map(Secret::private_key))
            .or(yaml.private_key.clone().map(Secret::private_key))
            .ok_or_else(|| {
                OktaError::config("authorization mode `PrivateKey` needs OKTA_CLIENT_PRIVATEKEY")
            })?;
        let key_text = private_key.expose().trim();
        if !key_text.contains("-----BEGIN") {
            if let Some(warning) = world_readable_warning(Path::new(key_text)) {
                warnings.push(warning);
            }
        }
        Credentials::PrivateKey {
            client_id,
            kid,
            scopes,
            private_key,
        }
    } else {
        return Err(OktaError::config_with_hint(
            format!("unknown okta authorization mode `{}`", mode.trim()),
            "set OKTA_CLIENT_AUTHORIZATIONMODE to `SSWS` (API token) or `PrivateKey` (OAuth service app)",
        ));
    };

    Ok(ConnectionSettings {
        org_url,
        org_url_source,
        credentials,
        warnings,
    })
}

fn first_of<const N: usize>(
    candidates: [(Option<String>, SettingSource); N],
) -> Option<(String, SettingSource)> {
    candidates.into_iter().find_map(|(value, source)| {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v.trim().to_string(), source))
    })
}

fn split_scopes(text: &str) -> Vec<String> {
    text.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn read_okta_yaml(path: &PathBuf, warnings: &mut Vec<String>) -> Result<YamlClient, OktaError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(YamlClient::default()),
        Err(e) => {
            return Err(OktaError::config(format!(
                "failed to read `{}`: {e}",
                path.display()
            )))
        }
    };
    if text.trim().is_empty() {
        return Ok(YamlClient::default());
    }
    let root: YamlRoot = serde_yaml::from_str(&text).map_err(|e| {
        // Only the position: serde_yaml's message may quote a value, and values are secrets.
        let at = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        OktaError::config_with_hint(
            format!(
                "failed to read `{}`: not valid okta.yaml{at}",
                path.display()
            ),
            "the file must look like `okta: {client: {orgUrl: …, token: …}}`",
        )
    })?;
    let client = root.okta.and_then(|o| o.client).unwrap_or_default();
    if client.token.is_some() || client.private_key.is_some() {
        if let Some(warning) = world_readable_warning(path) {
            warnings.push(warning);
        }
    }
    Ok(client)
}

#[cfg(unix)]
fn world_readable_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "`{}` holds a credential and is readable by every user of this machine: run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn world_readable_warning(_path: &Path) -> Option<String> {
    None
}

/// Normalizes an org URL to `scheme://host[:port]`: adds `https://` when no scheme is given,
/// drops any path, query or trailing slash, and turns an admin-console host
/// (`acme-admin.okta.com`) into the org host.
///
/// # Errors
/// `InsecureUrl` for `http://` unless the host is loopback; `Config` for anything unparsable.
pub fn normalize_org_url(raw: &str, warnings: &mut Vec<String>) -> Result<String, OktaError> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|e| {
        OktaError::config_with_hint(
            format!("`{raw}` is not a valid org url: {e}"),
            "use the org's address, e.g. `https://acme.okta.com`",
        )
    })?;
    let host = url
        .host_str()
        .ok_or_else(|| {
            OktaError::config(format!("`{raw}` is not a valid org url: it has no host"))
        })?
        .to_string();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(OktaError::InsecureUrl {
                url: raw.to_string(),
            })
        }
        other => {
            return Err(OktaError::config(format!(
                "`{raw}` is not a valid org url: the scheme `{other}` is not `https`"
            )))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OktaError::config(
            "the org url must not contain a user name or password",
        ));
    }
    if let Some((first, rest)) = host.split_once('.') {
        if let Some(org) = first.strip_suffix("-admin") {
            if !org.is_empty() && !is_loopback(&host) {
                let fixed = format!("{org}.{rest}");
                warnings.push(format!(
                    "`{host}` is the admin console's host: using the org host `{fixed}`"
                ));
                url.set_host(Some(&fixed)).map_err(|e| {
                    OktaError::config(format!("`{raw}` is not a valid org url: {e}"))
                })?;
            }
        }
    }
    if url.path() != "/" && !url.path().is_empty() {
        warnings.push(format!(
            "ignoring the path `{}` of the org url: okta's api lives at the org's root",
            url.path()
        ));
    }
    url.set_path("");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `localhost`, `127.0.0.0/8`, `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TOKEN: &str = "00aSECRETtokenVALUE_do_not_print";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn home_with_yaml(yaml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".okta")).expect("mkdir");
        std::fs::write(dir.path().join(".okta/okta.yaml"), yaml).expect("write");
        dir
    }

    fn token_of(s: &ConnectionSettings) -> &str {
        match &s.credentials {
            Credentials::ApiToken(t) => t.expose(),
            Credentials::PrivateKey { .. } => "",
        }
    }

    /// One row of the precedence table: which sources are present, what wins.
    struct Case {
        flag_url: Option<&'static str>,
        flag_token: Option<&'static str>,
        env: &'static [(&'static str, &'static str)],
        yaml: bool,
        toml_url: Option<&'static str>,
        want_url: &'static str,
        want_token: &'static str,
    }

    #[test]
    fn precedence_flags_env_yaml_toml() {
        let home = home_with_yaml(
            "okta:\n  client:\n    orgUrl: https://yaml.okta.com\n    token: yamltoken\n",
        );
        let all_env: &[(&str, &str)] = &[
            ("OKTA_CLIENT_ORGURL", "https://env.okta.com"),
            ("OKTA_CLIENT_TOKEN", "envtoken"),
        ];
        let toml = Some("https://toml.okta.com");
        let cases = [
            Case {
                flag_url: Some("https://flag.okta.com"),
                flag_token: Some("flagtoken"),
                env: all_env,
                yaml: true,
                toml_url: toml,
                want_url: "https://flag.okta.com",
                want_token: "flagtoken",
            },
            Case {
                flag_url: None,
                flag_token: None,
                env: all_env,
                yaml: true,
                toml_url: toml,
                want_url: "https://env.okta.com",
                want_token: "envtoken",
            },
            Case {
                flag_url: None,
                flag_token: None,
                env: &[],
                yaml: true,
                toml_url: toml,
                want_url: "https://yaml.okta.com",
                want_token: "yamltoken",
            },
            Case {
                flag_url: None,
                flag_token: None,
                env: &[("OKTA_CLIENT_TOKEN", "envtoken")],
                yaml: false,
                toml_url: toml,
                want_url: "https://toml.okta.com",
                want_token: "envtoken",
            },
            // Sources mix per setting: the url from a flag, the token from the file.
            Case {
                flag_url: Some("https://flag.okta.com"),
                flag_token: None,
                env: &[],
                yaml: true,
                toml_url: None,
                want_url: "https://flag.okta.com",
                want_token: "yamltoken",
            },
            // An empty variable counts as unset.
            Case {
                flag_url: None,
                flag_token: None,
                env: &[("OKTA_CLIENT_ORGURL", " "), ("OKTA_CLIENT_TOKEN", "")],
                yaml: true,
                toml_url: None,
                want_url: "https://yaml.okta.com",
                want_token: "yamltoken",
            },
        ];
        for (row, case) in cases.iter().enumerate() {
            let flags = ConnectionFlags {
                org_url: case.flag_url.map(str::to_string),
                token: case.flag_token.map(Secret::new),
                ..ConnectionFlags::default()
            };
            let env = env_of(case.env);
            let home = case.yaml.then(|| home.path());
            let s = resolve_connection_settings(&flags, &env, home, case.toml_url)
                .unwrap_or_else(|e| panic!("row {row}: {e}"));
            assert_eq!(s.org_url, case.want_url, "row {row}");
            assert_eq!(token_of(&s), case.want_token, "row {row}");
        }
        let none = ConnectionFlags::default();
        // ouguard.toml is the lowest source of the url, and never of a token.
        let env = env_of(&[("OKTA_CLIENT_TOKEN", "t")]);
        let s = resolve_connection_settings(&none, &env, None, Some("https://toml.okta.com/"))
            .expect("resolves");
        assert_eq!(s.org_url, "https://toml.okta.com");
        assert_eq!(s.org_url_source, SettingSource::OuguardToml);
    }

    #[test]
    fn missing_url_or_token_is_a_clear_error() {
        let none = ConnectionFlags::default();
        let e = resolve_connection_settings(&none, &env_of(&[]), None, None).expect_err("no url");
        assert!(e.to_string().contains("org url"), "{e}");
        assert!(e.hint().unwrap_or_default().contains("OKTA_CLIENT_ORGURL"));
        let e = resolve_connection_settings(&none, &env_of(&[]), None, Some("https://a.okta.com"))
            .expect_err("no token");
        assert!(e.hint().unwrap_or_default().contains("OKTA_CLIENT_TOKEN"));
    }

    #[test]
    fn private_key_mode_resolves_into_the_seam() {
        let env = env_of(&[
            ("OKTA_CLIENT_ORGURL", "https://a.okta.com"),
            ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"),
            ("OKTA_CLIENT_CLIENTID", "0oaclient"),
            (
                "OKTA_CLIENT_SCOPES",
                "okta.apps.read okta.profileMappings.read",
            ),
            (
                "OKTA_CLIENT_PRIVATEKEY",
                "-----BEGIN PRIVATE KEY-----secret",
            ),
        ]);
        let s = resolve_connection_settings(&ConnectionFlags::default(), &env, None, None)
            .expect("resolves");
        match &s.credentials {
            Credentials::PrivateKey {
                client_id, scopes, ..
            } => {
                assert_eq!(client_id, "0oaclient");
                assert_eq!(scopes.len(), 2);
            }
            Credentials::ApiToken(_) => panic!("expected private key"),
        }
        assert!(!format!("{s:?}").contains("BEGIN PRIVATE KEY"));
        let bad = env_of(&[
            ("OKTA_CLIENT_ORGURL", "https://a.okta.com"),
            ("OKTA_CLIENT_AUTHORIZATIONMODE", "Basic"),
        ]);
        let e = resolve_connection_settings(&ConnectionFlags::default(), &bad, None, None)
            .expect_err("unknown mode");
        assert!(e.to_string().contains("`Basic`"), "{e}");
    }

    #[test]
    fn org_url_normalization() {
        let ok = [
            ("https://acme.okta.com", "https://acme.okta.com", 0),
            ("https://acme.okta.com/", "https://acme.okta.com", 0),
            ("acme.okta.com", "https://acme.okta.com", 0),
            (
                "https://acme-admin.okta.com/admin/dashboard",
                "https://acme.okta.com",
                2,
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080", 0),
            ("http://localhost:1234", "http://localhost:1234", 0),
            ("http://[::1]:1234", "http://[::1]:1234", 0),
            ("http://127.9.9.9", "http://127.9.9.9", 0),
        ];
        for (raw, want, n_warnings) in ok {
            let mut warnings = Vec::new();
            assert_eq!(normalize_org_url(raw, &mut warnings).expect(raw), want);
            assert_eq!(warnings.len(), n_warnings, "{raw}: {warnings:?}");
        }
        for raw in [
            "http://acme.okta.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
        ] {
            let e = normalize_org_url(raw, &mut Vec::new()).expect_err(raw);
            assert!(matches!(e, OktaError::InsecureUrl { .. }), "{raw}: {e}");
        }
        for raw in [
            "ftp://acme.okta.com",
            "https://",
            "https://u:p@acme.okta.com",
        ] {
            assert!(normalize_org_url(raw, &mut Vec::new()).is_err(), "{raw}");
        }
    }

    #[test]
    fn secret_never_printed() {
        let secret = Secret::new(TOKEN);
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        let flags = ConnectionFlags {
            token: Some(secret.clone()),
            org_url: Some("https://a.okta.com".into()),
            ..ConnectionFlags::default()
        };
        let s = resolve_connection_settings(&flags, &env_of(&[]), None, None).expect("resolves");
        for text in [
            format!("{flags:?}"),
            format!("{s:?}"),
            format!("{:#?}", s.credentials),
        ] {
            assert!(!text.contains(TOKEN), "{text}");
        }
    }

    #[test]
    fn bad_yaml_names_the_file_not_the_token() {
        let home = home_with_yaml(&format!(
            "okta:\n  client:\n    token: {TOKEN}\n   bad: [\n"
        ));
        let e = resolve_connection_settings(
            &ConnectionFlags::default(),
            &env_of(&[]),
            Some(home.path()),
            None,
        )
        .expect_err("bad yaml");
        let text = format!("{e} {e:?}");
        assert!(text.contains("okta.yaml"), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_okta_yaml_warns() {
        use std::os::unix::fs::PermissionsExt;
        let home =
            home_with_yaml("okta:\n  client:\n    orgUrl: https://a.okta.com\n    token: t\n");
        let file = home.path().join(".okta/okta.yaml");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let s = resolve_connection_settings(
            &ConnectionFlags::default(),
            &env_of(&[]),
            Some(home.path()),
            None,
        )
        .expect("resolves");
        assert!(
            s.warnings.iter().any(|w| w.contains("chmod 600")),
            "{:?}",
            s.warnings
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // A private key file named by the settings is checked as well.
        let key = home.path().join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----").expect("write");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let key_env = env_of(&[
            ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"),
            ("OKTA_CLIENT_CLIENTID", "0oa1"),
            ("OKTA_CLIENT_PRIVATEKEY", key.to_str().unwrap_or_default()),
        ]);
        let s = resolve_connection_settings(
            &ConnectionFlags::default(),
            &key_env,
            Some(home.path()),
            None,
        )
        .expect("resolves");
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("key.pem") && w.contains("chmod 600")),
            "{:?}",
            s.warnings
        );
        let s = resolve_connection_settings(
            &ConnectionFlags::default(),
            &env_of(&[]),
            Some(home.path()),
            None,
        )
        .expect("resolves");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }
}
