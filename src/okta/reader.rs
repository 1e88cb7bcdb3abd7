//! Reads an org's AD directories, their group assignments and To-App mappings into an
//! `OrgState`, with the fewest requests: no per-group GETs. Must not decide anything about
//! the rules, and never fills `import_ous` (Okta's API does not expose them).
//!
//! Requests for an org with D directories:
//! `pages(apps) + 1 (user types) + Σ_dir [pages(assignments) + pages(mapping list) + user-source mappings]`.

use tokio::task::JoinSet;

use crate::state::{AppStatus, Directory, Mapping, OrgState};

use super::client::OktaClient;
use super::error::OktaError;
use super::wire::{App, WireAssignment, WireMapping, WireUserType};

/// Percent-encoded `name eq "active_directory"`.
pub(crate) const AD_APPS_PATH: &str =
    "/api/v1/apps?filter=name%20eq%20%22active_directory%22&limit=200";

/// Receives progress while the directories are read (an indicatif bar in the CLI).
pub trait Progress: Send + Sync {
    /// The directories are known; `total_dirs` will be read.
    fn start(&self, total_dirs: usize);
    /// One directory is read (`index` counts from 0, in completion order).
    fn directory_done(&self, index: usize, domain: &str);
}

/// A `Progress` that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total_dirs: usize) {}
    fn directory_done(&self, _index: usize, _domain: &str) {}
}

/// The state read, and what the admin should know about how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub state: OrgState,
    pub warnings: Vec<String>,
}

/// Reads every AD directory of the org. The user types are read alongside; directories
/// are read concurrently, and within one directory the assignment pages (in order) run
/// alongside its mappings. A whole read takes about as long as its longest chain of
/// one-after-another requests: the apps list, then the biggest directory's pages; so the
/// assignment lists' first pages go ahead of the mapping reads when requests queue.
///
/// # Errors
/// The first failed read, except a 401 on `/api/v1/mappings` (mappings unavailable: a
/// warning) and a 404 on user types (a warning).
pub async fn read_org_state(
    client: &OktaClient,
    progress: &dyn Progress,
) -> Result<ReadOutcome, OktaError> {
    let user_types = async {
        let mut warnings = Vec::new();
        read_user_types(client, &mut warnings)
            .await
            .map(|types| (types, warnings))
    };
    let (directories, user_types) = tokio::join!(read_directories(client, progress), user_types);
    let (directories, directory_warnings) = directories?;
    let (user_types, mut warnings) = user_types?;
    warnings.extend(directory_warnings);
    Ok(ReadOutcome {
        state: OrgState {
            org_url: Some(client.org_url().to_string()),
            user_types,
            directories,
            ..OrgState::default()
        },
        warnings,
    })
}

/// The AD apps, then each one's directory, concurrently; in the apps' order.
async fn read_directories(
    client: &OktaClient,
    progress: &dyn Progress,
) -> Result<(Vec<Directory>, Vec<String>), OktaError> {
    let apps: Vec<App> = client.get_all(AD_APPS_PATH).await?;
    let apps: Vec<App> = apps
        .into_iter()
        .filter(|app| app.name.as_deref().is_none_or(|n| n == "active_directory"))
        .collect();

    progress.start(apps.len());
    let mut tasks = JoinSet::new();
    for (index, app) in apps.into_iter().enumerate() {
        let client = client.clone();
        tasks.spawn(async move { (index, read_directory(&client, app).await) });
    }
    let mut directories: Vec<Option<(Directory, Vec<String>)>> = Vec::new();
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|e| {
            OktaError::config(format!("reading a directory stopped unexpectedly: {e}"))
        })?;
        let (directory, dir_warnings) = result?;
        progress.directory_done(done, &directory.domain);
        done += 1;
        if directories.len() <= index {
            directories.resize_with(index + 1, || None);
        }
        directories[index] = Some((directory, dir_warnings));
    }
    let mut warnings = Vec::new();
    let mut read = Vec::new();
    for (directory, dir_warnings) in directories.into_iter().flatten() {
        warnings.extend(dir_warnings);
        read.push(directory);
    }
    Ok((read, warnings))
}

async fn read_user_types(
    client: &OktaClient,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::state::UserType>, OktaError> {
    match client
        .get_json::<Vec<WireUserType>>("/api/v1/meta/types/user")
        .await
    {
        Ok((types, _)) => Ok(types.into_iter().map(Into::into).collect()),
        Err(e) if e.is_not_found() => {
            warnings.push(
                "user types are not available in this org (404): mappings are read without them"
                    .into(),
            );
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

async fn read_directory(
    client: &OktaClient,
    app: App,
) -> Result<(Directory, Vec<String>), OktaError> {
    let mut warnings = Vec::new();
    let domain = match app.naming_context() {
        Some(domain) => domain.to_string(),
        None => {
            let fallback = app.label.clone().unwrap_or_else(|| app.id.clone());
            warnings.push(format!(
                "directory `{}` has no `settings.app.namingContext`: using `{fallback}` as its domain",
                app.id
            ));
            fallback
        }
    };
    let status = match app.status.as_deref() {
        Some("ACTIVE") => AppStatus::Active,
        Some("INACTIVE") => AppStatus::Inactive,
        other => {
            warnings.push(format!(
                "directory `{domain}` has the status `{}`: treated as inactive",
                other.unwrap_or("none")
            ));
            AppStatus::Inactive
        }
    };
    let app_id = app.id.as_str();
    let (assignments, mappings) = tokio::join!(
        read_assignments(client, app_id, &domain),
        read_mappings(client, app_id)
    );
    let (assignments, assignment_warnings) = assignments?;
    warnings.extend(assignment_warnings);
    let (mappings, mappings_read) = match mappings {
        Ok(mappings) => (mappings, true),
        Err(e) if e.status() == Some(401) => {
            warnings.push(format!(
                "profile mappings are unavailable in this org (okta answered 401 on `/api/v1/mappings`): the `dn` mapping rule is skipped for `{domain}`"
            ));
            (Vec::new(), false)
        }
        Err(e) => return Err(e),
    };
    Ok((
        Directory {
            app_id: app.id.clone(),
            domain,
            label: app.label.clone().unwrap_or_default(),
            status,
            import_ous: None,
            assignments,
            mappings,
            mappings_read,
        },
        warnings,
    ))
}

async fn read_assignments(
    client: &OktaClient,
    app_id: &str,
    domain: &str,
) -> Result<(Vec<crate::state::GroupAssignment>, Vec<String>), OktaError> {
    let path = format!(
        "/api/v1/apps/{}/groups?limit=200&expand=group",
        segment(app_id)
    );
    // The one list that can run to many pages: the read waits for the longest of them.
    let wire: Vec<WireAssignment> = client.get_all_long(&path).await?;
    let mut warnings = Vec::new();
    if wire.iter().any(|a| a.group_name().is_none()) {
        warnings.push(format!(
            "okta did not embed group names for `{domain}` (`expand=group`): groups are shown by id"
        ));
    }
    let assignments = wire
        .iter()
        .map(|a| a.to_domain(&mut |w| warnings.push(format!("`{domain}`: {w}"))))
        .collect();
    Ok((assignments, warnings))
}

async fn read_mappings(client: &OktaClient, app_id: &str) -> Result<Vec<Mapping>, OktaError> {
    let path = format!("/api/v1/mappings?targetId={}&limit=200", segment(app_id));
    let listed: Vec<WireMapping> = client.get_all(&path).await?;
    // The list has no properties: each user-source mapping is read in full, all at once.
    let reads = listed
        .into_iter()
        .filter(WireMapping::is_from_okta_user)
        .map(|listed| async move {
            let (full, _) = client
                .get_json::<WireMapping>(&format!("/api/v1/mappings/{}", segment(&listed.id)))
                .await?;
            Ok::<_, OktaError>(Mapping::from(full))
        });
    futures_util::future::try_join_all(reads).await
}

/// Percent-encodes an id for use as one path segment or query value.
pub(crate) fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::test_server::{bounded, fast_options, script, Canned, ScriptBuilder};
    use super::*;

    fn app(id: &str, domain: &str, status: &str) -> String {
        format!(
            r#"{{"id":"{id}","name":"active_directory","label":"{domain}","status":"{status}","signOnMode":null,
                "settings":{{"app":{{"namingContext":"{domain}","searchOrgUnit":null,"filterGroupsByOU":false}}}},
                "_links":{{}}}}"#
        )
    }

    fn assignment(group_id: &str, name: Option<&str>, ou: &str) -> String {
        let embedded = name.map_or(String::new(), |n| {
            format!(r#","_embedded":{{"group":{{"id":"{group_id}","profile":{{"name":"{n}","description":null}}}}}}"#)
        });
        format!(
            r#"{{"id":"{group_id}","lastUpdated":"2026-11-01T00:00:00.000Z","priority":0,
                "profile":{{"organizationalUnit":"{ou}","extra":"kept"}}{embedded}}}"#
        )
    }

    fn listed_mapping(id: &str, source_type: &str, app_id: &str) -> String {
        format!(
            r#"{{"id":"{id}","source":{{"id":"oty1","name":"user","type":"{source_type}"}},
                "target":{{"id":"{app_id}","name":"active_directory","type":"appuser"}},"_links":{{}}}}"#
        )
    }

    fn full_mapping(id: &str, app_id: &str, dn: Option<&str>) -> String {
        let dn = dn.map_or(String::new(), |e| {
            format!(r#","dn":{{"expression":"{e}","pushStatus":"PUSH"}}"#)
        });
        format!(
            r#"{{"id":"{id}","source":{{"id":"oty1","name":"user","type":"user"}},
                "target":{{"id":"{app_id}","name":"active_directory","type":"appuser"}},
                "properties":{{"sAMAccountName":{{"expression":"user.login","pushStatus":"PUSH"}}{dn}}}}}"#
        )
    }

    /// Two directories: `corp` has two pages of assignments, a user mapping with `dn` and an
    /// app-to-Okta mapping (skipped); `lab` has one page without embedded groups.
    fn two_directory_org() -> ScriptBuilder {
        script()
            .route(
                "GET",
                AD_APPS_PATH,
                vec![Canned::ok(format!(
                    "[{},{}]",
                    app("0oa1", "corp.example.com", "ACTIVE"),
                    app("0oa2", "lab.example.com", "INACTIVE")
                ))],
            )
            .route(
                "GET",
                "/api/v1/meta/types/user",
                vec![Canned::ok(r#"[{"id":"oty1","name":"user","displayName":"User","default":true,"_links":{}}]"#)],
            )
            .route(
                "GET",
                "/api/v1/apps/0oa1/groups?limit=200&expand=group",
                vec![Canned::ok(format!(
                    "[{},{}]",
                    assignment("00g1", Some("Marketing"), "OU=Marketing,DC=corp,DC=example,DC=com"),
                    assignment("00g2", Some("Sales"), "OU=Sales,DC=corp,DC=example,DC=com")
                ))
                .header("link", r#"</api/v1/apps/0oa1/groups?limit=200&expand=group>; rel="self""#)
                .header("link", r#"</api/v1/apps/0oa1/groups?after=00g2&limit=200&expand=group>; rel="next""#)],
            )
            .route(
                "GET",
                "/api/v1/apps/0oa1/groups?after=00g2&limit=200&expand=group",
                vec![Canned::ok(format!(
                    "[{}]",
                    assignment("00g3", Some("Staff"), "OU=Staff,DC=corp,DC=example,DC=com")
                ))],
            )
            .route(
                "GET",
                "/api/v1/apps/0oa2/groups?limit=200&expand=group",
                vec![Canned::ok(format!("[{}]", assignment("00g9", None, "OU=Lab,DC=lab,DC=example,DC=com")))],
            )
            .route(
                "GET",
                "/api/v1/mappings?targetId=0oa1&limit=200",
                vec![Canned::ok(format!(
                    "[{},{}]",
                    listed_mapping("prm1", "user", "0oa1"),
                    listed_mapping("prm2", "appuser", "0oa1")
                ))],
            )
            .route("GET", "/api/v1/mappings/prm1", vec![Canned::ok(full_mapping("prm1", "0oa1", Some("user.dn")))])
            .route(
                "GET",
                "/api/v1/mappings?targetId=0oa2&limit=200",
                vec![Canned::ok(format!("[{}]", listed_mapping("prm3", "user", "0oa2")))],
            )
            .route("GET", "/api/v1/mappings/prm3", vec![Canned::ok(full_mapping("prm3", "0oa2", None))])
    }

    #[derive(Default)]
    struct Counting {
        total: AtomicUsize,
        done: AtomicUsize,
    }

    impl Progress for Counting {
        fn start(&self, total_dirs: usize) {
            self.total.store(total_dirs, Ordering::SeqCst);
        }
        fn directory_done(&self, _index: usize, _domain: &str) {
            self.done.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn reads_an_org_with_the_minimum_number_of_requests() {
        bounded(async {
            let server = two_directory_org().start().await;
            let client = server.client(fast_options());
            let progress = Counting::default();
            let outcome = read_org_state(&client, &progress).await.expect("reads");
            let state = &outcome.state;

            // 1 apps page + 1 user types
            // + corp: 2 assignment pages + 1 mapping list + 1 user mapping GET
            // + lab:  1 assignment page  + 1 mapping list + 1 user mapping GET
            let requests = server.requests();
            assert_eq!(
                requests.len(),
                1 + 1 + (2 + 1 + 1) + (1 + 1 + 1),
                "{requests:#?}"
            );
            assert_eq!(client.stats().requests, 9);
            assert!(
                requests
                    .iter()
                    .all(|r| !r.path().contains("/api/v1/groups")),
                "no per-group GETs"
            );
            // The apps list comes first; only the user types are read alongside it.
            let apps_at = requests
                .iter()
                .position(|r| r.target == AD_APPS_PATH)
                .expect("the apps are listed");
            assert!(
                requests[..apps_at]
                    .iter()
                    .all(|r| r.path() == "/api/v1/meta/types/user"),
                "{requests:#?}"
            );
            assert_eq!(
                (
                    progress.total.load(Ordering::SeqCst),
                    progress.done.load(Ordering::SeqCst)
                ),
                (2, 2)
            );

            assert_eq!(state.org_url.as_deref(), Some(server.url.as_str()));
            assert_eq!(state.user_types.len(), 1);
            assert!(state.user_types[0].default);
            let domains: Vec<&str> = state
                .directories
                .iter()
                .map(|d| d.domain.as_str())
                .collect();
            assert_eq!(domains, ["corp.example.com", "lab.example.com"]);
            let corp = &state.directories[0];
            assert_eq!(corp.status, AppStatus::Active);
            assert!(corp.import_ous.is_none());
            assert!(corp.mappings_read);
            let names: Vec<&str> = corp
                .assignments
                .iter()
                .map(|a| a.group_name.as_str())
                .collect();
            assert_eq!(names, ["Marketing", "Sales", "Staff"]);
            assert_eq!(
                corp.assignments[0].organizational_unit.as_deref(),
                Some("OU=Marketing,DC=corp,DC=example,DC=com")
            );
            assert_eq!(
                corp.assignments[0].other_profile.get("extra"),
                Some(&serde_json::json!("kept"))
            );
            assert_eq!(corp.mappings.len(), 1, "the app-to-Okta mapping is skipped");
            assert_eq!(
                corp.mappings[0].properties["dn"].expression.as_deref(),
                Some("user.dn")
            );
            assert_eq!(corp.mappings[0].source_user_type.name, "user");
            let lab = &state.directories[1];
            assert_eq!(lab.status, AppStatus::Inactive);
            assert_eq!(lab.assignments[0].group_name, "00g9");
            let embed_warnings = outcome
                .warnings
                .iter()
                .filter(|w| w.contains("expand=group"))
                .count();
            assert_eq!(embed_warnings, 1, "{:?}", outcome.warnings);
        })
        .await;
    }

    #[tokio::test]
    async fn a_401_on_mappings_alone_means_mappings_are_unavailable() {
        bounded(async {
            let server = two_directory_org()
                .route(
                    "GET",
                    "/api/v1/mappings",
                    vec![Canned::error(401, "E0000011", "Invalid token provided")],
                )
                .route(
                    "GET",
                    "/api/v1/mappings?targetId=0oa1&limit=200",
                    vec![Canned::error(401, "E0000011", "Invalid token provided")],
                )
                .route(
                    "GET",
                    "/api/v1/mappings?targetId=0oa2&limit=200",
                    vec![Canned::error(401, "E0000011", "Invalid token provided")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let outcome = read_org_state(&client, &NoProgress)
                .await
                .expect("reads anyway");
            for directory in &outcome.state.directories {
                assert!(!directory.mappings_read);
                assert!(directory.mappings.is_empty());
                assert!(!directory.assignments.is_empty());
            }
            let warnings = outcome
                .warnings
                .iter()
                .filter(|w| w.contains("profile mappings are unavailable"))
                .count();
            assert_eq!(warnings, 2, "{:?}", outcome.warnings);
        })
        .await;
    }

    #[tokio::test]
    async fn a_401_on_the_apps_is_an_error_with_the_token_hint() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::error(401, "E0000011", "Invalid token provided")],
                )
                .start()
                .await;
            let client = server.client(fast_options());
            let e = read_org_state(&client, &NoProgress).await.expect_err("401");
            assert_eq!(e.status(), Some(401));
            assert!(e.hint().unwrap_or_default().contains("OKTA_CLIENT_TOKEN"));
        })
        .await;
    }

    #[tokio::test]
    async fn a_directory_without_naming_context_falls_back_to_its_label() {
        bounded(async {
            let server = script()
                .route(
                    "GET",
                    "/api/v1/apps",
                    vec![Canned::ok(r#"[{"id":"0oa7","name":"active_directory","label":"legacy.example.com","status":"ACTIVE","signOnMode":null,"settings":null}]"#)],
                )
                .route("GET", "/api/v1/meta/types/user", vec![Canned::ok("[]")])
                .route("GET", "/api/v1/apps/0oa7/groups", vec![Canned::ok("[]")])
                .route("GET", "/api/v1/mappings", vec![Canned::ok("[]")])
                .start()
                .await;
            let client = server.client(fast_options());
            let outcome = read_org_state(&client, &NoProgress).await.expect("reads");
            assert_eq!(outcome.state.directories[0].domain, "legacy.example.com");
            assert!(outcome.warnings.iter().any(|w| w.contains("namingContext")), "{:?}", outcome.warnings);
        })
        .await;
    }
}
