//! Reads the evidence `plan --evidence` and `import-ous --discover` judge: each AD
//! directory's app users (`limit=500`, all pages), the members of the groups with findings
//! (`limit=200`), and the directory's provisioning events in the System Log (a bounded
//! query: `since` and `until`, all pages). Everything goes through the same `OktaClient`
//! (pacing, share of the rate limit, retries, bounded reads). A source that cannot be read
//! (a 403 for a missing scope, usually) becomes an `Unavailable` entry, never a failed
//! command. Decides nothing: `crate::evidence` judges.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::join_all;

use super::client::OktaClient;
use super::error::OktaError;
use super::reader::{segment, AD_APPS_PATH};
use super::wire::{App, WireAppUser, WireLogEvent, WireMember, WireUserGroup};
use crate::evidence::{
    AppUserFact, DirectoryEvidence, Member, OrgEvidence, ProvisioningEvent, Source, Unavailable,
};

/// The provisioning event types read from the System Log.
pub const PROVISIONING_EVENT_TYPES: [&str; 2] = [
    "application.provision.user.sync",
    "application.provision.user.push",
];

/// The org's AD directories only (the apps list: no assignments, no mappings), what
/// `import-ous --discover` needs before the app users.
///
/// # Errors
/// The apps list cannot be read.
pub async fn list_directories(
    client: &OktaClient,
) -> Result<Vec<crate::state::Directory>, OktaError> {
    let apps: Vec<App> = client.get_all(AD_APPS_PATH).await?;
    Ok(apps
        .into_iter()
        .filter(|app| app.name.as_deref().is_none_or(|n| n == "active_directory"))
        .map(|app| {
            let domain = app.naming_context().map_or_else(
                || app.label.clone().unwrap_or_else(|| app.id.clone()),
                str::to_string,
            );
            crate::state::Directory {
                status: if app.status.as_deref() == Some("ACTIVE") {
                    crate::state::AppStatus::Active
                } else {
                    crate::state::AppStatus::Inactive
                },
                label: app.label.clone().unwrap_or_else(|| domain.clone()),
                app_id: app.id,
                domain,
                import_ous: None,
                assignments: Vec::new(),
                mappings: Vec::new(),
                mappings_read: true,
            }
        })
        .collect())
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct EvidenceRequest {
    /// `(app id, domain)` of each directory.
    pub directories: Vec<(String, String)>,
    /// Groups whose members are read.
    pub groups: Vec<String>,
    /// The System Log window; `None`: the log is not read.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

fn unavailable(source: Source, error: &OktaError) -> Unavailable {
    let scope = match error.status() {
        Some(403 | 401) => source.scope().to_string(),
        _ => String::new(),
    };
    Unavailable {
        source,
        scope,
        detail: error.to_string(),
    }
}

async fn app_users(client: &OktaClient, app_id: &str) -> Result<Vec<AppUserFact>, OktaError> {
    let listed: Vec<WireAppUser> = client
        .get_all_long(&format!("/api/v1/apps/{}/users?limit=500", segment(app_id)))
        .await?;
    Ok(listed.into_iter().map(WireAppUser::into_fact).collect())
}

async fn provisioning_events(
    client: &OktaClient,
    app_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<ProvisioningEvent>, OktaError> {
    let reads = PROVISIONING_EVENT_TYPES.iter().map(|event_type| {
        let filter = format!("eventType eq \"{event_type}\" and target.id eq \"{app_id}\"");
        let path = format!(
            "/api/v1/logs?since={}&until={}&limit=1000&sortOrder=ASCENDING&filter={}",
            segment(&since.to_rfc3339_opts(SecondsFormat::Millis, true)),
            segment(&until.to_rfc3339_opts(SecondsFormat::Millis, true)),
            segment(&filter)
        );
        async move { client.get_all_long::<WireLogEvent>(&path).await }
    });
    let mut events = Vec::new();
    for listed in join_all(reads).await {
        events.extend(
            listed?
                .into_iter()
                .filter_map(|e| e.into_provisioning(app_id)),
        );
    }
    events.sort_by_key(|e| e.published);
    Ok(events)
}

async fn members(client: &OktaClient, group_id: &str) -> Result<Vec<Member>, OktaError> {
    let listed: Vec<WireMember> = client
        .get_all(&format!(
            "/api/v1/groups/{}/users?limit=200",
            segment(group_id)
        ))
        .await?;
    Ok(listed.into_iter().map(Member::from).collect())
}

/// Reads the evidence of `request`, concurrently. Never fails: what cannot be read is
/// listed in `unavailable` (once per source) and left out.
pub async fn read_evidence(client: &OktaClient, request: &EvidenceRequest) -> OrgEvidence {
    let before = client.stats().requests;
    let directory_reads = request
        .directories
        .iter()
        .map(|(app_id, domain)| async move {
            let users = app_users(client, app_id);
            let events = async {
                match request.window {
                    Some((since, until)) => {
                        Some(provisioning_events(client, app_id, since, until).await)
                    }
                    None => None,
                }
            };
            let (users, events) = tokio::join!(users, events);
            (app_id.clone(), domain.clone(), users, events)
        });
    let member_reads = request
        .groups
        .iter()
        .map(|group_id| async move { (group_id.clone(), members(client, group_id).await) });
    let (directories, groups) = tokio::join!(join_all(directory_reads), join_all(member_reads));
    let mut evidence = OrgEvidence {
        since: request.window.map(|w| w.0),
        until: request.window.map(|w| w.1),
        ..OrgEvidence::default()
    };
    fn note(source: Source, error: &OktaError, evidence: &mut OrgEvidence) {
        if !evidence.unavailable.iter().any(|u| u.source == source) {
            evidence.unavailable.push(unavailable(source, error));
        }
    }
    for (app_id, domain, users, events) in directories {
        let app_users = match users {
            Ok(users) => Some(users),
            Err(e) => {
                note(Source::AppUsers, &e, &mut evidence);
                None
            }
        };
        let events = match events {
            Some(Ok(events)) => Some(events),
            Some(Err(e)) => {
                note(Source::SystemLog, &e, &mut evidence);
                None
            }
            None => None,
        };
        evidence.directories.push(DirectoryEvidence {
            app_id,
            domain,
            app_users,
            events,
        });
    }
    for (group_id, listed) in groups {
        match listed {
            Ok(members) => {
                evidence.members.insert(group_id, members);
            }
            Err(e) => note(Source::GroupMembers, &e, &mut evidence),
        }
    }
    evidence.requests = client.stats().requests.saturating_sub(before);
    evidence
}

/// Reads the groups of each user in `users` (`GET /api/v1/users/{id}/groups`), to learn
/// which group provisions them. Adds to `evidence.user_groups`; a failure is noted once
/// (scope `okta.users.read`) and the rest are not asked.
pub async fn read_user_groups(client: &OktaClient, users: &[String], evidence: &mut OrgEvidence) {
    let before = client.stats().requests;
    let reads = users.iter().map(|user_id| async move {
        let listed: Result<Vec<WireUserGroup>, OktaError> = client
            .get_all(&format!("/api/v1/users/{}/groups", segment(user_id)))
            .await;
        (user_id.clone(), listed)
    });
    for (user_id, listed) in join_all(reads).await {
        match listed {
            Ok(groups) => {
                evidence
                    .user_groups
                    .insert(user_id, groups.into_iter().map(|g| g.id).collect());
            }
            Err(e) => {
                if !evidence
                    .unavailable
                    .iter()
                    .any(|u| u.source == Source::UserGroups)
                {
                    evidence
                        .unavailable
                        .push(unavailable(Source::UserGroups, &e));
                }
            }
        }
    }
    evidence.requests += client.stats().requests.saturating_sub(before);
}
