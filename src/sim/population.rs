//! The simulated org's people and what provisioning did to them: users imported from AD
//! (one batch per import OU, `profile.dn` inside it), the members of every assigned group,
//! and the provisioning model that pushes each member to AD through the group that
//! provisions them (the highest-priority one), recording Okta's System Log events: a push
//! into an OU that is not an import OU, or through a mapped `dn`, fails with Okta's message
//! and leaves the app user `STAGED` in `ERROR`; a retry (the admin's Dashboard > Tasks >
//! Retry) after the fix succeeds. Deterministic from the seed and the parameters; the only
//! clock is the `now` the caller passes. No HTTP and no wire types here.

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;

use super::ids::{derived_id, timestamp};
use super::provisioning::{self, ProvisioningOutcome, TARGET_OU_ERROR};
use super::store::{AppUserOrigin, EventTarget, Store, StoredAppUser, StoredEvent, StoredUser};
use crate::state::AppStatus;

/// How many people the simulated org has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    /// Users imported from AD per import OU of every directory (their DN in the OU itself).
    pub imported_per_import_ou: usize,
    /// Okta users per assigned group, pushed to AD by the provisioning model. From the
    /// second assignment of a directory on, a group also holds the last member of the
    /// group assigned before it, so some users are in two groups and only the one with the
    /// higher priority provisions them.
    pub members_per_group: usize,
}

impl Default for Population {
    fn default() -> Population {
        Population {
            imported_per_import_ou: 3,
            members_per_group: 2,
        }
    }
}

impl Population {
    /// No users at all.
    #[must_use]
    pub fn none() -> Population {
        Population {
            imported_per_import_ou: 0,
            members_per_group: 0,
        }
    }
}

/// Okta's System Log event types of provisioning to an app.
pub const PUSH_EVENT: &str = "application.provision.user.push";
pub const SYNC_EVENT: &str = "application.provision.user.sync";

/// The reason Okta gives for a failed AD push [unverified wording; okta-api.md §8].
#[must_use]
pub fn failure_reason() -> String {
    format!("Error provisioning AD user: {TARGET_OU_ERROR}")
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Dennis",
    "Margaret", "Niklaus", "Hedy", "Linus", "Anita", "Tim",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Ritchie",
    "Hamilton",
    "Wirth",
    "Lamarr",
    "Torvalds",
    "Borg",
    "Berners-Lee",
];

fn new_user(store: &mut Store, key: &str, domain: &str, n: usize) -> String {
    let id = derived_id("00u", key);
    let first = FIRST_NAMES[n % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()];
    let login = format!(
        "{}.{}{n}@{domain}",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase()
    );
    let created = timestamp(super::ids::derived_timestamp(&format!("created:{id}")));
    store.users.entry(id.clone()).or_insert(StoredUser {
        id: id.clone(),
        first_name: first.to_string(),
        last_name: format!("{last}{n}"),
        login,
        created,
    });
    id
}

/// The DN AD gives `user` in `ou` (RFC 4514: `,` `+` `"` `\` `<` `>` `;` escaped).
fn user_dn(user: &StoredUser, ou: &str) -> String {
    let mut cn = String::new();
    for c in format!("{} {}", user.first_name, user.last_name).chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            cn.push('\\');
        }
        cn.push(c);
    }
    format!("CN={cn},{ou}")
}

/// Fills `store` with users, memberships, app users and the provisioning events of the
/// pushes, which happened over the two days before `now`.
pub fn populate(store: &mut Store, population: &Population, now: DateTime<Utc>) {
    let stamp = timestamp(now - ChronoDuration::days(3));
    // Imported users.
    let mut serial = 0usize;
    for a in 0..store.apps.len() {
        let Some(dir) = store.apps[a].directory() else {
            continue;
        };
        let app_id = store.apps[a].id.clone();
        let domain = dir.domain.clone();
        let ous: Vec<String> = dir
            .import_ous
            .as_ref()
            .map(|i| i.ous.clone())
            .unwrap_or_default();
        let mut app_users = Vec::new();
        for (j, ou) in ous.iter().enumerate() {
            for k in 0..population.imported_per_import_ou {
                serial += 1;
                let id = new_user(
                    store,
                    &format!("imported:{app_id}:{j}:{k}"),
                    &domain,
                    serial,
                );
                let dn = store.users.get(&id).map(|u| user_dn(u, ou));
                app_users.push(StoredAppUser {
                    user_id: id.clone(),
                    origin: AppUserOrigin::Imported,
                    status: "ACTIVE",
                    sync_state: "SYNCHRONIZED",
                    external_id: Some(external_id(&id)),
                    dn,
                    created: stamp.clone(),
                    last_updated: stamp.clone(),
                    last_sync: Some(stamp.clone()),
                });
            }
        }
        if let Some(dir) = store.apps[a].directory_mut() {
            dir.app_users = app_users;
        }
    }
    // Group members: a group's members are the same in every directory it is assigned to.
    for a in 0..store.apps.len() {
        let Some(dir) = store.apps[a].directory() else {
            continue;
        };
        let domain = dir.domain.clone();
        let groups: Vec<String> = dir.assignments.iter().map(|x| x.group_id.clone()).collect();
        let mut previous_last: Option<String> = None;
        for group_id in groups {
            if !store.members.contains_key(&group_id) {
                let mut members = Vec::with_capacity(population.members_per_group + 1);
                for k in 0..population.members_per_group {
                    serial += 1;
                    members.push(new_user(
                        store,
                        &format!("member:{group_id}:{k}"),
                        &domain,
                        serial,
                    ));
                }
                if let (Some(shared), true) = (&previous_last, population.members_per_group >= 2) {
                    members.push(shared.clone());
                }
                store.members.insert(group_id.clone(), members);
            }
            previous_last = store.members.get(&group_id).and_then(|m| {
                m.get(population.members_per_group.saturating_sub(1))
                    .cloned()
            });
        }
    }
    // Pushes of every ACTIVE directory.
    let report = provisioning::check(store);
    let mut events = Vec::new();
    let push_start = now - ChronoDuration::days(2);
    let mut n = 0i64;
    for a in 0..store.apps.len() {
        if store.apps[a].status != AppStatus::Active {
            continue;
        }
        let app_id = store.apps[a].id.clone();
        let app_label = store.apps[a].label.clone();
        let Some(dir) = store.apps[a].directory() else {
            continue;
        };
        // Who provisions whom: each member's highest-priority group (lowest number; an
        // assignment without a priority comes last, ties go to the one listed first).
        let mut provisioned_by: HashMap<&str, (i64, usize)> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (i, assignment) in dir.assignments.iter().enumerate() {
            let priority = assignment.priority.unwrap_or(i64::MAX);
            for user in store
                .members
                .get(&assignment.group_id)
                .into_iter()
                .flatten()
            {
                match provisioned_by.get_mut(user.as_str()) {
                    Some(best) if best.0 <= priority => {}
                    Some(best) => *best = (priority, i),
                    None => {
                        provisioned_by.insert(user, (priority, i));
                        order.push(user);
                    }
                }
            }
        }
        let mut pushed = Vec::new();
        for user_id in order {
            let (_, i) = provisioned_by[user_id];
            let assignment = &dir.assignments[i];
            let Some(check) = report
                .results
                .iter()
                .find(|r| r.app_id == app_id && r.group_id == assignment.group_id)
            else {
                continue;
            };
            let Some(user) = store.users.get(user_id) else {
                continue;
            };
            let at = push_start + ChronoDuration::seconds(n);
            n += 1;
            let (app_user, event) = match (check.outcome, check.organizational_unit.as_deref()) {
                (ProvisioningOutcome::NoTargetOu, _) | (_, None) => continue,
                (ProvisioningOutcome::Succeeds, Some(ou)) => (
                    provisioned(user, &assignment.group_id, ou, at),
                    provisioning_event(PUSH_EVENT, user, &app_id, &app_label, at, None, n),
                ),
                (ProvisioningOutcome::Fails, Some(_)) => (
                    failed(user, &assignment.group_id, at),
                    provisioning_event(PUSH_EVENT, user, &app_id, &app_label, at, Some(n), n),
                ),
            };
            pushed.push(app_user);
            events.push(event);
        }
        if let Some(dir) = store.apps[a].directory_mut() {
            dir.app_users.extend(pushed);
        }
    }
    events.sort_by_key(|e| e.published);
    let mut all = events;
    all.append(&mut store.events);
    store.events = all;
}

fn external_id(user_id: &str) -> String {
    derived_id("", &format!("objectGUID:{user_id}")).to_ascii_lowercase()
}

fn provisioned(user: &StoredUser, group_id: &str, ou: &str, at: DateTime<Utc>) -> StoredAppUser {
    let stamp = timestamp(at);
    StoredAppUser {
        user_id: user.id.clone(),
        origin: AppUserOrigin::Group(group_id.to_string()),
        status: "PROVISIONED",
        sync_state: "SYNCHRONIZED",
        external_id: Some(external_id(&user.id)),
        dn: Some(user_dn(user, ou)),
        created: stamp.clone(),
        last_updated: stamp.clone(),
        last_sync: Some(stamp),
    }
}

fn failed(user: &StoredUser, group_id: &str, at: DateTime<Utc>) -> StoredAppUser {
    let stamp = timestamp(at);
    StoredAppUser {
        user_id: user.id.clone(),
        origin: AppUserOrigin::Group(group_id.to_string()),
        status: "STAGED",
        sync_state: "ERROR",
        external_id: None,
        dn: None,
        created: stamp.clone(),
        last_updated: stamp,
        last_sync: None,
    }
}

/// A provisioning event for `user` and the AD app. `failure`: the failure's serial number;
/// every third failure carries no `outcome.reason`, as Okta sometimes leaves it empty.
fn provisioning_event(
    event_type: &str,
    user: &StoredUser,
    app_id: &str,
    app_label: &str,
    at: DateTime<Utc>,
    failure: Option<i64>,
    n: i64,
) -> StoredEvent {
    let key = format!("{event_type}:{app_id}:{}:{}", user.id, timestamp(at));
    let display_message = if event_type == PUSH_EVENT {
        "Push new user to external application"
    } else {
        "Sync user in external application"
    };
    StoredEvent {
        uuid: super::api::uuid_like(&key, usize::try_from(n).unwrap_or(0)),
        published: at,
        event_type: event_type.to_string(),
        display_message: display_message.to_string(),
        request_id: derived_id("", &key),
        request_uri: String::new(),
        outcome_result: if failure.is_some() {
            "FAILURE"
        } else {
            "SUCCESS"
        },
        outcome_reason: failure.filter(|f| f % 3 != 0).map(|_| failure_reason()),
        by_system: true,
        targets: vec![
            EventTarget {
                id: user.id.clone(),
                kind: "User".into(),
                alternate_id: user.login.clone(),
                display_name: format!("{} {}", user.first_name, user.last_name),
                change: None,
            },
            EventTarget {
                id: app_id.to_string(),
                kind: "AppInstance".into(),
                alternate_id: app_label.to_string(),
                display_name: "Active Directory".into(),
                change: None,
            },
        ],
    }
}

/// Every app user in `ERROR`, as `(app id, group id that provisions them, user id)`.
#[must_use]
pub fn failing(store: &Store) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for app in &store.apps {
        let Some(dir) = app.directory() else { continue };
        for u in &dir.app_users {
            if let (AppUserOrigin::Group(g), "ERROR") = (&u.origin, u.sync_state) {
                out.push((app.id.clone(), g.clone(), u.user_id.clone()));
            }
        }
    }
    out
}

/// What a retry did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetryOutcome {
    /// Users whose provisioning was retried.
    pub retried: Vec<String>,
    /// Of those, the ones AD now has.
    pub provisioned: Vec<String>,
    /// Of those, the ones that failed again.
    pub still_failing: Vec<String>,
}

/// The admin's Dashboard > Tasks > Retry: retries every failed provisioning of the directory
/// `app_id` (or only that of `only`), judged on the org as it is now, and records a
/// `application.provision.user.sync` event for each.
pub fn retry(
    store: &mut Store,
    app_id: &str,
    only: Option<&[String]>,
    now: DateTime<Utc>,
) -> RetryOutcome {
    let report = provisioning::check(store);
    let mut outcome = RetryOutcome::default();
    let Some(app) = store.app(app_id) else {
        return outcome;
    };
    let app_label = app.label.clone();
    if app.status != AppStatus::Active {
        return outcome;
    }
    let Some(dir) = app.directory() else {
        return outcome;
    };
    let mut updates = Vec::new();
    let mut events = Vec::new();
    let base = store.events.len();
    for (index, app_user) in dir.app_users.iter().enumerate() {
        if app_user.sync_state != "ERROR" {
            continue;
        }
        if only.is_some_and(|only| !only.contains(&app_user.user_id)) {
            continue;
        }
        let AppUserOrigin::Group(group_id) = &app_user.origin else {
            continue;
        };
        let Some(user) = store.users.get(&app_user.user_id) else {
            continue;
        };
        let check = report
            .results
            .iter()
            .find(|r| r.app_id == app_id && r.group_id == *group_id);
        let at = now + ChronoDuration::milliseconds(i64::try_from(events.len()).unwrap_or(0));
        let serial = i64::try_from(base + events.len()).unwrap_or(0);
        outcome.retried.push(user.id.clone());
        match check.map(|c| (c.outcome, c.organizational_unit.as_deref())) {
            Some((ProvisioningOutcome::Succeeds, Some(ou))) => {
                updates.push((index, provisioned(user, group_id, ou, at)));
                events.push(provisioning_event(
                    SYNC_EVENT, user, app_id, &app_label, at, None, serial,
                ));
                outcome.provisioned.push(user.id.clone());
            }
            _ => {
                events.push(provisioning_event(
                    SYNC_EVENT,
                    user,
                    app_id,
                    &app_label,
                    at,
                    Some(serial.max(1) * 3 + 1),
                    serial,
                ));
                outcome.still_failing.push(user.id.clone());
            }
        }
    }
    if let Some(dir) = store.app_mut(app_id).and_then(|a| a.directory_mut()) {
        for (index, mut updated) in updates {
            if let Some(slot) = dir.app_users.get_mut(index) {
                updated.created = slot.created.clone();
                *slot = updated;
            }
        }
    }
    store.events.extend(events);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_store() -> Store {
        let mut store = Store::from_seed(&crate::sim::seed::demo()).unwrap();
        populate(&mut store, &Population::default(), Utc::now());
        store
    }

    fn app_id(store: &Store, domain: &str) -> String {
        store
            .apps
            .iter()
            .find(|a| a.directory().is_some_and(|d| d.domain == domain))
            .unwrap()
            .id
            .clone()
    }

    #[test]
    fn failing_groups_leave_their_members_in_error_and_clean_groups_do_not() {
        let store = demo_store();
        let corp = store.app(&app_id(&store, "corp.example.com")).unwrap();
        let dir = corp.directory().unwrap();
        let marketing = derived_id("00g", "Marketing");
        let staff = derived_id("00g", "Staff");
        let of = |g: &str| -> Vec<&StoredAppUser> {
            dir.app_users
                .iter()
                .filter(|u| u.origin == AppUserOrigin::Group(g.to_string()))
                .collect()
        };
        assert_eq!(
            of(&marketing).len(),
            2,
            "its own two members; the shared one is Contractors'"
        );
        assert!(of(&marketing)
            .iter()
            .all(|u| u.sync_state == "ERROR" && u.dn.is_none()));
        assert!(of(&staff).iter().all(|u| u.sync_state == "SYNCHRONIZED"
            && u.dn
                .as_deref()
                .is_some_and(|d| d.ends_with(",OU=Staff,DC=corp,DC=example,DC=com"))));
        // Imported users sit in the import OUs.
        assert_eq!(
            dir.app_users
                .iter()
                .filter(|u| u.origin == AppUserOrigin::Imported)
                .count(),
            6
        );
        // Every failure is in the System Log, in order.
        let failures = store
            .events
            .iter()
            .filter(|e| e.outcome_result == "FAILURE" && e.targets.iter().any(|t| t.id == corp.id))
            .count();
        assert_eq!(
            failures,
            dir.app_users
                .iter()
                .filter(|u| u.sync_state == "ERROR")
                .count()
        );
        assert!(store
            .events
            .windows(2)
            .all(|w| w[0].published <= w[1].published));
        // The inactive directory provisions nobody.
        let lab = store.app(&app_id(&store, "lab.example.com")).unwrap();
        assert!(lab
            .directory()
            .unwrap()
            .app_users
            .iter()
            .all(|u| u.origin == AppUserOrigin::Imported));
    }

    #[test]
    fn a_retry_after_the_fix_succeeds_and_before_it_fails_again() {
        let mut store = demo_store();
        let corp = app_id(&store, "corp.example.com");
        let before = retry(&mut store, &corp, None, Utc::now());
        assert!(before.provisioned.is_empty());
        assert!(!before.still_failing.is_empty());
        store
            .tick_import_ou(&corp, "OU=Marketing,DC=corp,DC=example,DC=com")
            .unwrap();
        let after = retry(&mut store, &corp, None, Utc::now());
        let marketing = derived_id("00g", "Marketing");
        let marketing_members: Vec<&String> = store.members[&marketing].iter().collect();
        for user in &after.provisioned {
            assert!(marketing_members.contains(&user));
        }
        assert_eq!(after.provisioned.len(), 2);
        for user in &after.provisioned {
            assert!(store.events.iter().any(|e| e.event_type == SYNC_EVENT
                && e.outcome_result == "SUCCESS"
                && e.targets.iter().any(|t| t.id == *user)));
        }
        // The others (other domain, not a DN) fail again.
        assert!(!after.still_failing.is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let a = demo_store();
        let b = demo_store();
        let ids = |s: &Store| -> Vec<String> {
            s.apps
                .iter()
                .filter_map(|a| a.directory())
                .flat_map(|d| d.app_users.iter().map(|u| u.user_id.clone()))
                .collect()
        };
        assert_eq!(ids(&a), ids(&b));
    }
}
