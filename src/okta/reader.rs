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

/// Reads every AD directory of the org. Directories are read concurrently, the pages of one
/// directory in order.
pub async fn read_org_state(
    client: &OktaClient,
    progress: &dyn Progress,
) -> Result<ReadOutcome, OktaError> {
    let mut warnings = Vec::new();
    let apps: Vec<App> = client.get_all(AD_APPS_PATH).await?;
    let apps: Vec<App> = apps
        .into_iter()
        .filter(|app| app.name.as_deref().map_or(true, |n| n == "active_directory"))
        .collect();
    let user_types = read_user_types(client, &mut warnings).await?;

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
    let mut state = OrgState {
        org_url: Some(client.org_url().to_string()),
        user_types,
        ..OrgState::default()
    };
    for (directory, dir_warnings) in directories.into_iter().flatten() {
        warnings.extend(dir_warnings);
        state.directories.push(directory);
    }
    Ok(ReadOutcome { state, warnings })
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
            warnings.push("user types are not available in this org (404): mappings are read without them".into());
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
        read_mappings(client, app_id, &domain)
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
    let path = format!("/api/v1/apps/{}/groups?limit=200&expand=group", segment(app_id));
    let wire: Vec<WireAssignment> = client.get_all(&path).await?;
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

async fn read_mappings(
    client: &OktaClient,
    app_id: &str,
    _domain: &str,
) -> Result<Vec<Mapping>, OktaError> {
    let path = format!("/api/v1/mappings?targetId={}&limit=200", segment(app_id));
    let listed: Vec<WireMapping> = client.get_all(&path).await?;
    let mut mappings = Vec::new();
    for listed in listed.into_iter().filter(WireMapping::is_from_okta_user) {
        let (full, _) = client
            .get_json::<WireMapping>(&format!("/api/v1/mappings/{}", segment(&listed.id)))
            .await?;
        mappings.push(Mapping::from(full));
    }
    Ok(mappings)
}

/// Percent-encodes an id for use as one path segment or query value.
pub(crate) fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}
