//! The simulator's ground truth for "would provisioning a new member of this group to AD
//! succeed?": Okta's rules behind "Target OU is not an import OU", evaluated on the hidden
//! state. Pure: reads a `Store`, never writes one, never shares code with ouguard's rules.

use serde::{Deserialize, Serialize};

use super::store::{EndKind, Store};
use crate::dn::Dn;
use crate::state::AppStatus;

/// Okta's provisioning error text for both misconfigurations.
pub const TARGET_OU_ERROR: &str = "Target OU is not an import OU";

/// The outcome of provisioning a new member of one assigned group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningOutcome {
    Succeeds,
    Fails,
    /// The assignment names no target OU, so the group provisions nobody to AD.
    NoTargetOu,
}

/// The check for one group assignment of one active directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentCheck {
    pub app_id: String,
    pub domain: String,
    pub group_id: String,
    pub group_name: String,
    pub organizational_unit: Option<String>,
    pub outcome: ProvisioningOutcome,
    /// Okta's error message when it fails.
    pub error: Option<String>,
    /// Why, in plain words (empty when it succeeds).
    pub reasons: Vec<String>,
}

/// The check for every group assignment of every active directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProvisioningReport {
    pub results: Vec<AssignmentCheck>,
}

impl ProvisioningReport {
    /// The assignments whose provisioning fails.
    #[must_use]
    pub fn failing(&self) -> Vec<&AssignmentCheck> {
        self.results
            .iter()
            .filter(|r| r.outcome == ProvisioningOutcome::Fails)
            .collect()
    }

    /// The check of `group_name` (exact) in `domain`, if assigned.
    #[must_use]
    pub fn find(&self, domain: &str, group_name: &str) -> Option<&AssignmentCheck> {
        self.results
            .iter()
            .find(|r| r.domain.eq_ignore_ascii_case(domain) && r.group_name == group_name)
    }
}

fn is_dn_key(key: &str) -> bool {
    key == "dn" || key.eq_ignore_ascii_case("distinguishedName")
}

/// Evaluates every assignment of every ACTIVE directory.
#[must_use]
pub fn check(store: &Store) -> ProvisioningReport {
    let mut results = Vec::new();
    for app in &store.apps {
        let Some(dir) = app.directory() else { continue };
        if app.status != AppStatus::Active {
            continue;
        }
        let dn_mapping_reasons: Vec<String> = store
            .mappings
            .iter()
            .filter(|m| m.target.id == app.id && m.source.kind == EndKind::UserType)
            .flat_map(|m| {
                m.properties
                    .iter()
                    .filter(|(k, p)| is_dn_key(k) && p.expression.is_some())
                    .map(move |(k, p)| {
                        format!(
                            "profile mapping `{}` (user type `{}`) maps `{k}` to `{}`",
                            m.id,
                            m.source.name,
                            p.expression.as_deref().unwrap_or_default()
                        )
                    })
            })
            .collect();
        let import_ous: Vec<Dn> = dir
            .import_ous
            .as_ref()
            .map(|i| i.ous.iter().filter_map(|ou| Dn::parse(ou).ok()).collect())
            .unwrap_or_default();
        for a in &dir.assignments {
            let ou = a.organizational_unit().map(str::to_string);
            let mut reasons = Vec::new();
            let outcome = match &ou {
                None => {
                    reasons.push("the assignment has no target OU".to_string());
                    ProvisioningOutcome::NoTargetOu
                }
                Some(ou) => {
                    match Dn::parse(ou) {
                        Err(e) => reasons.push(format!("`{ou}` is not a valid DN ({e})")),
                        Ok(target) => {
                            if !target.is_in_domain(&dir.domain) {
                                reasons.push(format!(
                                    "`{ou}` is outside the directory's domain `{}`",
                                    dir.domain
                                ));
                            } else if !import_ous.iter().any(|i| target.is_at_or_below(i)) {
                                reasons.push(format!(
                                    "`{ou}` is not an import OU of `{}` nor below one",
                                    dir.domain
                                ));
                            }
                        }
                    }
                    reasons.extend(dn_mapping_reasons.iter().cloned());
                    if reasons.is_empty() {
                        ProvisioningOutcome::Succeeds
                    } else {
                        ProvisioningOutcome::Fails
                    }
                }
            };
            results.push(AssignmentCheck {
                app_id: app.id.clone(),
                domain: dir.domain.clone(),
                group_id: a.group_id.clone(),
                group_name: store.group_name(&a.group_id),
                organizational_unit: ou,
                outcome,
                error: (outcome == ProvisioningOutcome::Fails).then(|| TARGET_OU_ERROR.to_string()),
                reasons,
            });
        }
    }
    ProvisioningReport { results }
}
