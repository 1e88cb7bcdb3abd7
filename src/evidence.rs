//! Evidence from the org, judged: which OUs imported users live in (to propose import OUs
//! and check the declared ones), and who fails to provision because of each finding, and
//! whether they provisioned after a fix. Pure: it takes what the Okta client read
//! (`OrgEvidence`) and the findings, and returns plain data; no I/O, no clock.
//!
//! What rests on inferred Okta behaviour (okta-api.md §8, [I]/[U]): that an AD app user's
//! `profile.dn` is its distinguishedName, that users are imported only from import OUs,
//! that a failed push shows as a `FAILURE` event (with or without `outcome.reason`) and a
//! retried one as a later `SUCCESS` or the app user leaving `syncState` `ERROR`. Every
//! judgement below degrades to "no evidence" when a source is missing, never to a guess.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dn::Dn;
use crate::rules::{DirectoryRef, Finding, Rule};
use crate::state::OrgState;
use crate::text::truncate_for_message;

/// The text Okta's AD agent reports for both misconfigurations.
pub const TARGET_OU_ERROR: &str = "Target OU is not an import OU";

/// How many logins the text plan shows per finding.
pub const LOGINS_SHOWN: usize = 5;

/// One app user of an AD directory, as the client read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUserFact {
    pub user_id: String,
    pub login: String,
    pub status: String,
    pub sync_state: Option<String>,
    /// `profile.dn`, when set.
    pub dn: Option<String>,
    pub last_updated: Option<DateTime<Utc>>,
}

/// One provisioning event (`application.provision.user.sync` / `.push`) for a user and a
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningEvent {
    pub published: DateTime<Utc>,
    pub event_type: String,
    pub success: bool,
    pub user_id: String,
    pub login: String,
    /// `outcome.reason`; Okta may leave it empty.
    pub reason: Option<String>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub login: String,
}

/// A source of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `GET /api/v1/apps/{id}/users`.
    AppUsers,
    /// `GET /api/v1/groups/{id}/users`.
    GroupMembers,
    /// `GET /api/v1/logs`.
    SystemLog,
    /// `GET /api/v1/users/{id}/groups`: which group provisions a failing user.
    UserGroups,
}

impl Source {
    /// The OAuth scope the source needs.
    #[must_use]
    pub fn scope(self) -> &'static str {
        match self {
            Source::AppUsers => "okta.apps.read",
            Source::GroupMembers => "okta.groups.read",
            Source::SystemLog => "okta.logs.read",
            Source::UserGroups => "okta.users.read",
        }
    }

    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Source::AppUsers => "app users",
            Source::GroupMembers => "group members",
            Source::SystemLog => "the System Log",
            Source::UserGroups => "users' groups",
        }
    }
}

/// A source that could not be read (a 403 for a missing scope, usually).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    pub source: Source,
    pub scope: String,
    pub detail: String,
}

/// What was read of one directory. `None`: that source could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEvidence {
    pub app_id: String,
    pub domain: String,
    pub app_users: Option<Vec<AppUserFact>>,
    /// Ascending by `published`.
    pub events: Option<Vec<ProvisioningEvent>>,
}

/// Everything the evidence reads returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgEvidence {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub directories: Vec<DirectoryEvidence>,
    /// Group id → members, for the groups that were read.
    pub members: HashMap<String, Vec<Member>>,
    pub unavailable: Vec<Unavailable>,
    /// User id → every group the user is a member of, for the failing members of finding
    /// groups that were looked up (to find the group that provisions them).
    pub user_groups: HashMap<String, Vec<String>>,
    /// HTTP requests the evidence cost.
    pub requests: u64,
}

impl OrgEvidence {
    #[must_use]
    pub fn directory(&self, app_id: &str) -> Option<&DirectoryEvidence> {
        self.directories.iter().find(|d| d.app_id == app_id)
    }
}

// ---------------------------------------------------------------------------------------
// Import OUs from imported users

/// A proposed import OU: an OU holding imported users, with their number (at or below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub ou: String,
    pub users: usize,
    /// The declared import OU that already covers it, if any.
    pub covered_by_declared: Option<String>,
}

/// What the imported users of one directory say about its import OUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub domain: String,
    pub app_id: String,
    pub candidates: Vec<Candidate>,
    pub declared_without_users: Vec<String>,
    /// App users counted, and those left out.
    pub users_with_dn: usize,
    pub users_without_dn: usize,
    pub users_outside_domain: usize,
    pub users_with_invalid_dn: usize,
}

impl Discovery {
    /// Candidates no declared import OU covers: what `--write` would add.
    pub fn undeclared(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.covered_by_declared.is_none())
    }
}

/// The OUs the users of `app_users` live in (the parent of each `profile.dn`), counted.
/// Users without a DN, with a DN that does not parse, or outside `domain` are counted
/// apart and never guessed from.
fn user_ous(domain: &str, app_users: &[AppUserFact]) -> (Vec<(Dn, usize)>, [usize; 4]) {
    let mut by_key: BTreeMap<String, (Dn, usize)> = BTreeMap::new();
    let mut counts = [0usize; 4]; // with dn, without, outside, invalid
    for user in app_users {
        let Some(text) = user.dn.as_deref().filter(|d| !d.trim().is_empty()) else {
            counts[1] += 1;
            continue;
        };
        let Ok(dn) = Dn::parse(text) else {
            counts[3] += 1;
            continue;
        };
        if !dn.is_in_domain(domain) {
            counts[2] += 1;
            continue;
        }
        let Some(parent) = dn.parent().filter(|p| p.rdns().iter().any(|r| !is_dc(r))) else {
            // A user right under the domain root: no OU to propose.
            counts[2] += 1;
            continue;
        };
        counts[0] += 1;
        by_key
            .entry(parent.normalized())
            .or_insert_with(|| (parent, 0))
            .1 += 1;
    }
    (by_key.into_values().collect(), counts)
}

fn is_dc(rdn: &crate::dn::Rdn) -> bool {
    rdn.to_string()
        .split('=')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("dc"))
}

/// Proposes import OUs for one directory: the deepest OUs that hold users, merged into an
/// OU above them only when that OU holds users itself (so nothing empty is claimed), and
/// into a declared import OU that covers them.
#[must_use]
pub fn discover(
    domain: &str,
    app_id: &str,
    app_users: &[AppUserFact],
    declared: &[String],
) -> Discovery {
    let (ous, counts) = user_ous(domain, app_users);
    let declared_dns: Vec<(String, Dn)> = declared
        .iter()
        .filter_map(|d| Dn::parse(d).ok().map(|dn| (d.clone(), dn)))
        .collect();
    let keys: HashSet<String> = ous.iter().map(|(dn, _)| dn.normalized()).collect();
    // Merged: normalized key of the kept OU → (its DN, users, covering declared OU).
    let mut merged: BTreeMap<String, Candidate> = BTreeMap::new();
    for (dn, users) in &ous {
        if let Some((text, declared_dn)) = declared_dns
            .iter()
            .filter(|(_, d)| dn.is_at_or_below(d))
            .min_by_key(|(_, d)| d.depth())
        {
            let entry = merged
                .entry(format!("declared:{}", declared_dn.normalized()))
                .or_insert_with(|| Candidate {
                    ou: text.clone(),
                    users: 0,
                    covered_by_declared: Some(text.clone()),
                });
            entry.users += users;
            continue;
        }
        // The shallowest ancestor (or itself) that holds users.
        let root = dn
            .suffix_keys()
            .map(|k| k.join(","))
            .filter(|k| keys.contains(k))
            .last()
            .unwrap_or_else(|| dn.normalized());
        let root_dn = ous
            .iter()
            .find(|(d, _)| d.normalized() == root)
            .map_or_else(|| dn.to_string(), |(d, _)| d.to_string());
        let entry = merged.entry(root).or_insert_with(|| Candidate {
            ou: root_dn,
            users: 0,
            covered_by_declared: None,
        });
        entry.users += users;
    }
    let declared_without_users = declared_dns
        .iter()
        .filter(|(_, d)| !ous.iter().any(|(dn, _)| dn.is_at_or_below(d)))
        .map(|(text, _)| text.clone())
        .collect();
    let mut candidates: Vec<Candidate> = merged.into_values().collect();
    candidates.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.ou.cmp(&b.ou)));
    Discovery {
        domain: domain.to_string(),
        app_id: app_id.to_string(),
        candidates,
        declared_without_users,
        users_with_dn: counts[0],
        users_without_dn: counts[1],
        users_outside_domain: counts[2],
        users_with_invalid_dn: counts[3],
    }
}

/// How many users live at or below `ou` (normalized DN comparison).
fn users_at_or_below(ous: &[(Dn, usize)], ou: &Dn) -> usize {
    ous.iter()
        .filter(|(dn, _)| dn.is_at_or_below(ou))
        .map(|(_, n)| n)
        .sum()
}

// ---------------------------------------------------------------------------------------
// Who fails, per finding

/// One user failing (or lately failed) to provision to a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingUser {
    pub id: String,
    pub login: String,
    /// RFC 3339; the last `FAILURE` event, or when the app user entered `ERROR`.
    pub last_failure: Option<String>,
    /// Okta's `outcome.reason` of the last failure, when it gave one.
    pub reason: Option<String>,
    /// Provisioned since that failure: a later `SUCCESS` (RFC 3339), or the app user left
    /// `ERROR` (`"left ERROR"` without a time). `None`: still failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_since: Option<String>,
}

/// The evidence attached to a finding (`findings[].evidence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingEvidence {
    /// Users still failing because of the finding.
    pub failing_users: usize,
    /// Every user who failed in the window (first the still failing), capped.
    pub users: Vec<FailingUser>,
    /// Users left out of `users` by the cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub users_not_listed: usize,
    pub sources: Vec<Source>,
    /// Set when the finding is probably false: why, and the command that fixes the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likely_false: Option<String>,
    /// Imported users at or below the finding's target OU (R1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_users_in_ou: Option<usize>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Users listed per finding at most (the count is always whole).
pub const USERS_LISTED: usize = 500;

/// Where one user stands with one directory.
#[derive(Debug, Clone, Default)]
struct UserStanding {
    login: String,
    last_failure: Option<DateTime<Utc>>,
    reason: Option<String>,
    success_after: Option<DateTime<Utc>>,
    app_user_in_error: Option<bool>,
    app_user_updated: Option<DateTime<Utc>>,
}

impl UserStanding {
    fn failed(&self) -> bool {
        self.last_failure.is_some() || self.app_user_in_error == Some(true)
    }

    /// Provisioned since the failure: a later SUCCESS, or the app user is out of ERROR.
    fn provisioned_since(&self) -> Option<String> {
        if self.app_user_in_error == Some(true) {
            return None;
        }
        match (self.success_after, self.app_user_in_error) {
            (Some(at), _) => Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            (None, Some(false)) => Some("left ERROR".to_string()),
            _ => None,
        }
    }

    fn to_failing_user(&self, id: &str) -> FailingUser {
        FailingUser {
            id: id.to_string(),
            login: self.login.clone(),
            last_failure: self
                .last_failure
                .or(self.app_user_updated)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            reason: self.reason.clone(),
            provisioned_since: self.provisioned_since(),
        }
    }
}

/// Each user of the directory who failed in the window, or is in `ERROR`.
fn standings(dir: &DirectoryEvidence) -> BTreeMap<String, UserStanding> {
    let mut out: BTreeMap<String, UserStanding> = BTreeMap::new();
    for e in dir.events.iter().flatten() {
        let s = out.entry(e.user_id.clone()).or_default();
        if s.login.is_empty() {
            s.login.clone_from(&e.login);
        }
        if e.success {
            if s.last_failure.is_some() {
                s.success_after = Some(e.published);
            }
        } else {
            s.last_failure = Some(e.published);
            s.success_after = None;
            if let Some(reason) = e.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                s.reason = Some(truncate_for_message(reason));
            }
        }
    }
    // Keep only users who failed; then what the app users say.
    out.retain(|_, s| s.last_failure.is_some());
    if let Some(app_users) = &dir.app_users {
        let by_id: HashMap<&str, &AppUserFact> =
            app_users.iter().map(|a| (a.user_id.as_str(), a)).collect();
        for (id, s) in &mut out {
            s.app_user_in_error = Some(
                by_id
                    .get(id.as_str())
                    .is_some_and(|a| a.sync_state.as_deref() == Some("ERROR")),
            );
        }
        for a in app_users {
            if a.sync_state.as_deref() == Some("ERROR") {
                let s = out.entry(a.user_id.clone()).or_default();
                if s.login.is_empty() {
                    s.login.clone_from(&a.login);
                }
                s.app_user_in_error = Some(true);
                s.app_user_updated = a.last_updated;
            }
        }
    }
    out.retain(|_, s| s.failed());
    out
}

/// Users whose groups must be read to know which group provisions them: the failing users
/// of each directory who are members of a finding group there. At most `cap`; `None` when
/// there are more (the attribution then uses the finding groups alone).
#[must_use]
pub fn users_to_place(
    findings: &[Finding],
    evidence: &OrgEvidence,
    cap: usize,
) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for dir in &evidence.directories {
        let standing = standings(dir);
        for f in findings.iter().filter(|f| f.directory.app_id == dir.app_id) {
            let Some(group) = &f.group else { continue };
            for m in evidence.members.get(&group.id).into_iter().flatten() {
                if standing.contains_key(&m.user_id) && seen.insert(m.user_id.clone()) {
                    out.push(m.user_id.clone());
                }
            }
        }
    }
    (out.len() <= cap).then_some(out)
}

fn evidence_of(users: Vec<FailingUser>, sources: Vec<Source>) -> FindingEvidence {
    let mut users = users;
    // Still failing first, then by login.
    users.sort_by(|a, b| {
        (a.provisioned_since.is_some(), &a.login).cmp(&(b.provisioned_since.is_some(), &b.login))
    });
    let failing_users = users
        .iter()
        .filter(|u| u.provisioned_since.is_none())
        .count();
    let users_not_listed = users.len().saturating_sub(USERS_LISTED);
    users.truncate(USERS_LISTED);
    FindingEvidence {
        failing_users,
        users,
        users_not_listed,
        sources,
        likely_false: None,
        imported_users_in_ou: None,
    }
}

fn assigned(state: &OrgState, app_id: &str, group_id: &str) -> bool {
    state
        .directories
        .iter()
        .find(|d| d.app_id == app_id)
        .is_some_and(|d| d.assignments.iter().any(|a| a.group_id == group_id))
}

fn priority_of(state: &OrgState, app_id: &str, group_id: &str) -> i64 {
    state
        .directories
        .iter()
        .find(|d| d.app_id == app_id)
        .and_then(|d| d.assignments.iter().find(|a| a.group_id == group_id))
        .and_then(|a| a.priority)
        .unwrap_or(i64::MAX)
}

/// Attaches `evidence` to every R1-family and R2 finding, marks R1 findings whose target OU
/// holds imported users as likely false, and returns the plan warnings the evidence calls
/// for (declared import OUs without users, OUs with users no declared import OU covers).
///
/// A failing user is attributed to a group finding only when the group is a member's
/// highest-priority group among the directory's failing groups (the one that provisions
/// them); an R2 finding gets every failing user of its directory.
pub fn attach(
    findings: &mut [Finding],
    state: &OrgState,
    evidence: &OrgEvidence,
) -> Vec<(String, String)> {
    let mut warnings = Vec::new();
    for dir in &evidence.directories {
        let standing = standings(dir);
        let mut sources = Vec::new();
        if dir.events.is_some() {
            sources.push(Source::SystemLog);
        }
        if dir.app_users.is_some() {
            sources.push(Source::AppUsers);
        }
        // Member → the highest-priority finding group of this directory holding them.
        let group_findings: Vec<usize> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.directory.app_id == dir.app_id && f.group.is_some())
            .map(|(i, _)| i)
            .collect();
        let mut provisioned_by: HashMap<&str, (i64, &str)> = HashMap::new();
        for &i in &group_findings {
            let Some(group) = &findings[i].group else {
                continue;
            };
            let priority = priority_of(state, &dir.app_id, &group.id);
            for m in evidence.members.get(&group.id).into_iter().flatten() {
                let best = provisioned_by
                    .entry(m.user_id.as_str())
                    .or_insert((priority, group.id.as_str()));
                if priority < best.0 {
                    *best = (priority, group.id.as_str());
                }
            }
        }
        let mut provisioned_by: HashMap<String, String> = provisioned_by
            .into_iter()
            .map(|(u, (_, g))| (u.to_string(), g.to_string()))
            .collect();
        // Where a user's groups were read, the group that provisions them is their
        // highest-priority group assigned to this directory, finding or not.
        for (user, groups) in &evidence.user_groups {
            if !provisioned_by.contains_key(user) {
                continue;
            }
            let best = groups
                .iter()
                .filter(|g| assigned(state, &dir.app_id, g))
                .min_by_key(|g| priority_of(state, &dir.app_id, g));
            match best {
                Some(g) => {
                    provisioned_by.insert(user.clone(), g.clone());
                }
                None => {
                    provisioned_by.remove(user);
                }
            }
        }
        let imported = dir
            .app_users
            .as_deref()
            .map(|users| user_ous(&dir.domain, users).0);
        for &i in &group_findings {
            let Some(group) = findings[i].group.clone() else {
                continue;
            };
            let members_read = evidence.members.contains_key(&group.id);
            let users: Vec<FailingUser> = standing
                .iter()
                .filter(|(id, _)| provisioned_by.get(id.as_str()) == Some(&group.id))
                .map(|(id, s)| s.to_failing_user(id))
                .collect();
            let mut finding_sources = sources.clone();
            if members_read {
                finding_sources.push(Source::GroupMembers);
            }
            let mut ev = evidence_of(users, finding_sources);
            if findings[i].rule == Rule::GroupOuNotImported {
                if let (Some(ous), Some(target)) = (
                    &imported,
                    findings[i].ou.as_deref().and_then(|o| Dn::parse(o).ok()),
                ) {
                    let n = users_at_or_below(ous, &target);
                    ev.imported_users_in_ou = Some(n);
                    if n > 0 {
                        ev.likely_false = Some(format!(
                            "likely false: {n} user(s) were imported from at or below `{}`, so the OU is probably an import OU missing from `ouguard.toml`; declare it with `ouguard import-ous --discover --directory {}`",
                            truncate_for_message(findings[i].ou.as_deref().unwrap_or_default()),
                            dir.domain
                        ));
                    }
                }
            }
            findings[i].evidence = Some(ev);
        }
        for f in findings
            .iter_mut()
            .filter(|f| f.directory.app_id == dir.app_id && f.rule == Rule::DnMapped)
        {
            let users = standing
                .iter()
                .map(|(id, s)| s.to_failing_user(id))
                .collect();
            f.evidence = Some(evidence_of(users, sources.clone()));
        }
        warnings.extend(declaration_warnings(state, dir));
    }
    warnings
}

/// Declared import OUs checked against the imported users of one directory.
fn declaration_warnings(state: &OrgState, dir: &DirectoryEvidence) -> Vec<(String, String)> {
    let mut warnings = Vec::new();
    let Some(app_users) = &dir.app_users else {
        return warnings;
    };
    let declared: Vec<String> = state
        .directories
        .iter()
        .find(|d| d.app_id == dir.app_id)
        .and_then(|d| d.import_ous.as_ref())
        .map(|i| i.ous.clone())
        .unwrap_or_default();
    let discovery = discover(&dir.domain, &dir.app_id, app_users, &declared);
    for ou in &discovery.declared_without_users {
        warnings.push((
            format!("evidence-import-ou-without-users:{}:{ou}", dir.domain),
            format!(
                "`{}` of `{}` is declared, but no user has been imported from it: is it still ticked?",
                truncate_for_message(ou),
                dir.domain
            ),
        ));
    }
    for c in discovery.undeclared() {
        warnings.push((
            format!("evidence-import-ou-undeclared:{}:{}", dir.domain, c.ou),
            format!(
                "`{}` holds {} imported user(s) but no declared import OU of `{}` covers it: declare it with `ouguard import-ous --discover --directory {}`",
                truncate_for_message(&c.ou),
                c.users,
                dir.domain,
                dir.domain
            ),
        ));
    }
    warnings
}

// ---------------------------------------------------------------------------------------
// After a fix

/// The users to retry after one applied change (written to the run record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryList {
    pub finding: String,
    pub directory: DirectoryRef,
    pub address: String,
    /// RFC 3339: when the change was applied.
    pub applied_at: String,
    pub users: Vec<RetryUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryUser {
    pub id: String,
    pub login: String,
}

/// The users a change fixing `fixed` should retry: those of the findings' evidence that
/// still fail.
#[must_use]
pub fn retry_users<'a>(fixed: impl IntoIterator<Item = &'a Finding>) -> Vec<RetryUser> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in fixed {
        for u in f.evidence.iter().flat_map(|e| &e.users) {
            if u.provisioned_since.is_none() && seen.insert(u.id.clone()) {
                out.push(RetryUser {
                    id: u.id.clone(),
                    login: u.login.clone(),
                });
            }
        }
    }
    out
}

/// Where a user stands after a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetriedUser {
    pub id: String,
    pub login: String,
    /// `provisioned` (a `SUCCESS` after the fix, or the app user out of `ERROR`),
    /// `failing` (still in `ERROR`, or a `FAILURE` after the fix), or `unknown` (no source).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A fixed finding and its users since the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterFix {
    pub finding: String,
    pub directory: DirectoryRef,
    pub applied_at: String,
    pub provisioned: usize,
    pub failing: usize,
    pub users: Vec<RetriedUser>,
}

/// For each retry list of a finding that is no longer found, where its users stand now.
#[must_use]
pub fn after_fix(
    lists: &[RetryList],
    findings: &[Finding],
    evidence: &OrgEvidence,
) -> Vec<AfterFix> {
    let current: HashSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    let mut out = Vec::new();
    for list in lists
        .iter()
        .filter(|l| !current.contains(l.finding.as_str()))
    {
        let Some(dir) = evidence.directory(&list.directory.app_id) else {
            continue;
        };
        let applied = DateTime::parse_from_rfc3339(&list.applied_at)
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let users: Vec<RetriedUser> = list
            .users
            .iter()
            .map(|u| {
                let events_after: Vec<&ProvisioningEvent> = dir
                    .events
                    .iter()
                    .flatten()
                    .filter(|e| e.user_id == u.id && applied.is_none_or(|a| e.published >= a))
                    .collect();
                let app_user = dir
                    .app_users
                    .as_ref()
                    .map(|all| all.iter().find(|a| a.user_id == u.id));
                let last = events_after.last();
                let (state, at) = match (last, app_user) {
                    (_, Some(Some(a))) if a.sync_state.as_deref() == Some("ERROR") => {
                        ("failing", last.filter(|e| !e.success).map(|e| e.published))
                    }
                    (Some(e), _) if e.success => ("provisioned", Some(e.published)),
                    (Some(e), _) => ("failing", Some(e.published)),
                    (None, Some(Some(_))) => ("provisioned", None),
                    (None, _) => ("unknown", None),
                };
                RetriedUser {
                    id: u.id.clone(),
                    login: u.login.clone(),
                    state: state.to_string(),
                    at: at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                }
            })
            .collect();
        out.push(AfterFix {
            finding: list.finding.clone(),
            directory: list.directory.clone(),
            applied_at: list.applied_at.clone(),
            provisioned: users.iter().filter(|u| u.state == "provisioned").count(),
            failing: users.iter().filter(|u| u.state == "failing").count(),
            users,
        });
    }
    out
}

/// The plan-level summary of evidence (`evidence` in the plan document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanEvidence {
    pub since: Option<String>,
    pub until: Option<String>,
    /// HTTP requests the evidence cost.
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<Unavailable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_fix: Vec<AfterFix>,
}

/// After an apply: per applied change (or confirmed manual step), the users of the fixed
/// findings' evidence who were still failing, to retry in Dashboard > Tasks.
#[must_use]
pub fn retry_lists_after(
    plan: &crate::plan::Plan,
    outcomes: &[crate::apply::ChangeOutcome],
    applied_at: &str,
) -> Vec<RetryList> {
    use crate::apply::ChangeResult;
    let mut lists = Vec::new();
    for outcome in outcomes {
        if !matches!(
            outcome.result,
            ChangeResult::Applied { .. }
                | ChangeResult::AlreadyApplied
                | ChangeResult::ManualConfirmed
        ) {
            continue;
        }
        let Some(change) = plan.resource_changes.get(outcome.index) else {
            continue;
        };
        let fixed: Vec<&str> = change.fixed_findings().collect();
        let users = retry_users(
            plan.findings
                .iter()
                .filter(|f| fixed.contains(&f.id.as_str())),
        );
        if users.is_empty() {
            continue;
        }
        lists.push(RetryList {
            finding: change.finding.clone(),
            directory: change.directory.clone(),
            address: change.address.clone(),
            applied_at: applied_at.to_string(),
            users,
        });
    }
    lists
}

/// Prints the retry lists: who, and where in the admin console.
pub fn print_retry_lists(lists: &[RetryList], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    if lists.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Retry the failed provisioning of these users now that the fix is in (Okta has no API for it): \
         admin console > Dashboard > Tasks > the directory's provisioning task > Retry"
    )?;
    for list in lists {
        let logins: Vec<&str> = list
            .users
            .iter()
            .map(|u| u.login.as_str())
            .take(20)
            .collect();
        let more = list.users.len().saturating_sub(logins.len());
        writeln!(
            out,
            "  {} ({}): {} user(s): {}{}",
            list.finding,
            list.directory.domain,
            list.users.len(),
            logins.join(", "),
            if more > 0 {
                format!(" and {more} more (all in the run record)")
            } else {
                String::new()
            }
        )?;
    }
    writeln!(
        out,
        "Then `ouguard plan --evidence` shows who provisioned since."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, dn: Option<&str>, sync: &str) -> AppUserFact {
        AppUserFact {
            user_id: id.into(),
            login: format!("{id}@corp.example.com"),
            status: "ACTIVE".into(),
            sync_state: Some(sync.into()),
            dn: dn.map(str::to_string),
            last_updated: None,
        }
    }

    const C: &str = "DC=corp,DC=example,DC=com";

    #[test]
    fn discovery_proposes_the_deepest_ous_merged_only_into_ous_holding_users() {
        let users = vec![
            user(
                "1",
                Some(&format!("CN=A,OU=Team 1,OU=Staff,{C}")),
                "SYNCHRONIZED",
            ),
            user(
                "2",
                Some(&format!("CN=B,OU=Team 2,OU=Staff,{C}")),
                "SYNCHRONIZED",
            ),
            user(
                "3",
                Some(&format!("CN=C,OU=Sub,OU=Sales,{C}")),
                "SYNCHRONIZED",
            ),
            user("4", Some(&format!("cn=D, ou=sales, {C}")), "SYNCHRONIZED"),
            user("5", None, "ERROR"),
            user("6", Some("CN=E,OU=X,DC=other,DC=com"), "SYNCHRONIZED"),
            user("7", Some("CN=E,,bad"), "SYNCHRONIZED"),
        ];
        let d = discover("corp.example.com", "0oa1", &users, &[]);
        let ous: Vec<(&str, usize)> = d
            .candidates
            .iter()
            .map(|c| (c.ou.as_str(), c.users))
            .collect();
        // Staff holds nobody itself: its two children are proposed, not Staff.
        assert!(
            ous.contains(&(&format!("OU=Team 1,OU=Staff,{C}")[..], 1)),
            "{ous:?}"
        );
        assert!(ous.contains(&(&format!("OU=Team 2,OU=Staff,{C}")[..], 1)));
        // Sales holds a user: its child merges into it.
        assert_eq!(
            ous.iter()
                .filter(|(o, _)| o.to_lowercase().contains("sales"))
                .count(),
            1
        );
        assert!(ous
            .iter()
            .any(|(o, n)| o.to_lowercase().contains("ou=sales") && *n == 2));
        assert_eq!(
            (
                d.users_with_dn,
                d.users_without_dn,
                d.users_outside_domain,
                d.users_with_invalid_dn
            ),
            (4, 1, 1, 1)
        );
        // A declared OU covers what lies below it, and one without users is reported.
        let declared = vec![format!("OU=Staff,{C}"), format!("OU=Empty,{C}")];
        let d = discover("corp.example.com", "0oa1", &users, &declared);
        let staff = d.candidates.iter().find(|c| c.ou == declared[0]).unwrap();
        assert_eq!(
            (staff.users, staff.covered_by_declared.as_deref()),
            (2, Some(&declared[0][..]))
        );
        assert_eq!(d.declared_without_users, vec![declared[1].clone()]);
        assert_eq!(d.undeclared().count(), 1);
    }

    fn event(user: &str, success: bool, minute: i64, reason: Option<&str>) -> ProvisioningEvent {
        ProvisioningEvent {
            published: DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
                + chrono::Duration::minutes(minute),
            event_type: "application.provision.user.push".into(),
            success,
            user_id: user.into(),
            login: format!("{user}@corp"),
            reason: reason.map(str::to_string),
        }
    }

    fn finding(id: &str, rule: Rule, group: Option<&str>, ou: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            rule,
            directory: DirectoryRef {
                app_id: "0oa1".into(),
                domain: "corp.example.com".into(),
            },
            group: group.map(|g| crate::rules::GroupRef {
                id: g.into(),
                name: g.into(),
            }),
            mapping: None,
            ou: ou.map(str::to_string),
            message: String::new(),
            evidence: None,
        }
    }

    #[test]
    fn failures_go_to_the_highest_priority_group_and_successes_count_as_provisioned() {
        let mut state =
            crate::fixtures::org(vec![crate::fixtures::directory("corp.example.com", None)]);
        state.directories[0].app_id = "0oa1".into();
        for (g, p) in [("gA", 1), ("gB", 2)] {
            let mut a = crate::fixtures::assignment(g, g, Some(&format!("OU={g},{C}")));
            a.priority = Some(p);
            state.directories[0].assignments.push(a);
        }
        let mut findings = vec![
            finding(
                "R1:a",
                Rule::GroupOuNotImported,
                Some("gA"),
                Some(&format!("OU=gA,{C}")),
            ),
            finding(
                "R1:b",
                Rule::GroupOuNotImported,
                Some("gB"),
                Some(&format!("OU=gB,{C}")),
            ),
            finding("R2:x", Rule::DnMapped, None, None),
        ];
        let evidence = OrgEvidence {
            directories: vec![DirectoryEvidence {
                app_id: "0oa1".into(),
                domain: "corp.example.com".into(),
                app_users: Some(vec![
                    user("u1", None, "ERROR"),
                    user("u2", None, "ERROR"),
                    user("u3", Some(&format!("CN=u3,OU=gB,{C}")), "SYNCHRONIZED"),
                    user("u4", None, "ERROR"),
                ]),
                events: Some(vec![
                    event(
                        "u1",
                        false,
                        0,
                        Some("Error provisioning AD user: Target OU is not an import OU"),
                    ),
                    event("u2", false, 1, None),
                    event("u3", false, 2, None),
                    event("u3", true, 3, None),
                ]),
            }],
            members: HashMap::from([
                (
                    "gA".to_string(),
                    vec![
                        Member {
                            user_id: "u1".into(),
                            login: "u1".into(),
                        },
                        Member {
                            user_id: "u2".into(),
                            login: "u2".into(),
                        },
                    ],
                ),
                (
                    "gB".to_string(),
                    vec![
                        Member {
                            user_id: "u2".into(),
                            login: "u2".into(),
                        },
                        Member {
                            user_id: "u3".into(),
                            login: "u3".into(),
                        },
                        Member {
                            user_id: "u4".into(),
                            login: "u4".into(),
                        },
                    ],
                ),
            ]),
            ..OrgEvidence::default()
        };
        let warnings = attach(&mut findings, &state, &evidence);
        let ids = |f: &Finding| -> Vec<String> {
            f.evidence
                .as_ref()
                .unwrap()
                .users
                .iter()
                .map(|u| u.id.clone())
                .collect()
        };
        // u2 is in both: gA (priority 1) provisions them.
        assert_eq!(ids(&findings[0]), vec!["u1", "u2"]);
        // u4 is in ERROR without a log event; u3 provisioned after failing.
        assert_eq!(ids(&findings[1]), vec!["u4", "u3"]);
        let b = findings[1].evidence.as_ref().unwrap();
        assert_eq!(b.failing_users, 1);
        assert!(b.users[1].provisioned_since.is_some());
        // gB's OU holds an imported (pushed) user: likely false.
        assert!(b
            .likely_false
            .as_deref()
            .is_some_and(|m| m.contains("import-ous --discover")));
        assert!(findings[0]
            .evidence
            .as_ref()
            .unwrap()
            .likely_false
            .is_none());
        assert_eq!(
            findings[0].evidence.as_ref().unwrap().users[0]
                .reason
                .as_deref(),
            Some("Error provisioning AD user: Target OU is not an import OU")
        );
        // R2: every failing user of the directory.
        assert_eq!(findings[2].evidence.as_ref().unwrap().failing_users, 3);
        // No import OUs declared: the OU with users is not covered.
        assert!(warnings
            .iter()
            .any(|(id, _)| id.starts_with("evidence-import-ou-undeclared:")));
    }

    #[test]
    fn after_a_fix_users_are_provisioned_or_still_failing() {
        let list = RetryList {
            finding: "R1:a".into(),
            directory: DirectoryRef {
                app_id: "0oa1".into(),
                domain: "corp.example.com".into(),
            },
            address: "x".into(),
            applied_at: "2026-11-30T10:30:00Z".into(),
            users: vec![
                RetryUser {
                    id: "u1".into(),
                    login: "u1".into(),
                },
                RetryUser {
                    id: "u2".into(),
                    login: "u2".into(),
                },
            ],
        };
        let evidence = OrgEvidence {
            directories: vec![DirectoryEvidence {
                app_id: "0oa1".into(),
                domain: "corp.example.com".into(),
                app_users: Some(vec![
                    user("u1", Some(&format!("CN=u1,OU=gA,{C}")), "SYNCHRONIZED"),
                    user("u2", None, "ERROR"),
                ]),
                events: Some(vec![
                    event("u1", false, 0, None),
                    event("u1", true, 40, None),
                ]),
            }],
            ..OrgEvidence::default()
        };
        let fixed = after_fix(std::slice::from_ref(&list), &[], &evidence);
        assert_eq!((fixed[0].provisioned, fixed[0].failing), (1, 1));
        // A finding still found is not "after a fix".
        let still = finding("R1:a", Rule::GroupOuNotImported, Some("gA"), None);
        assert!(after_fix(&[list], &[still], &evidence).is_empty());
    }
}
