//! The judge: takes accepted events in journal order, reads each changed assignment fresh
//! from Okta, evaluates it with the same rules as `ouguard plan`, and turns the difference
//! against the open findings into alerts (new, fixed), each new fixable finding with a saved
//! plan made by the same planner as `ouguard plan --target FINDING --out`. It also runs the
//! periodic full read (`dn` mappings cannot be hooked) and writes the checkpoint.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::alerts::{Alert, AlertSink, Source};
use super::event::{EventKind, GuardEvent};
use super::journal::{Batch, Checkpoint, Intake, Stats, CHECKPOINT_VERSION};
use crate::config::Config;
use crate::okta::{read_org_state, NoProgress, OktaClient};
use crate::planner::{self, NoChooser, PlanOptions, Selector};
use crate::rules::{self, Finding, Rule};
use crate::state::{Directory, OrgState};

/// Time between checkpoint writes when nothing was alerted (an alert writes at once).
const QUIET_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Everything the judge decides with.
pub struct Judge {
    pub(super) client: OktaClient,
    pub(super) config: Config,
    /// The planner options of `ouguard plan` without a terminal; targets are set per finding.
    pub(super) plan_options: PlanOptions,
    pub(super) plan_dir: Option<PathBuf>,
    pub(super) state_dir: PathBuf,
    pub(super) sink: AlertSink,
    pub(super) state: OrgState,
    pub(super) open: BTreeMap<String, Finding>,
    pub(super) processed: u64,
    pub(super) dirty: bool,
    pub(super) last_save: Instant,
    pub(super) intake: Option<Arc<Intake>>,
    pub(super) stats: Arc<Stats>,
    /// Provisioning failures reported, oldest first (bounded).
    pub(super) reported_impacts: std::collections::VecDeque<String>,
}

/// Provisioning failures remembered as reported.
const REPORTED_IMPACTS_KEPT: usize = 1000;

impl Judge {
    /// Reads the whole org (assignments, mappings) with the config's import OUs declared.
    ///
    /// # Errors
    /// Okta errors, or a config naming a directory the org does not have.
    pub async fn read_state(client: &OktaClient, config: &Config) -> anyhow::Result<OrgState> {
        let outcome = read_org_state(client, &NoProgress)
            .await
            .with_context(|| format!("failed to read the org `{}`", client.org_url()))?;
        let mut state = outcome.state;
        state.org_url = Some(client.org_url().to_string());
        config.declare_import_ous(&mut state)?;
        Ok(state)
    }

    /// Judges a batch of accepted events, in `published` order.
    pub async fn judge_batch(&mut self, mut batch: Batch) {
        let Some(last_line) = batch.iter().map(|(n, _)| *n).max() else {
            return;
        };
        batch.sort_by(|a, b| a.1.published.cmp(&b.1.published));
        // One fresh read per (app, group), judged with the latest event about it.
        let mut keys: Vec<(String, String, usize)> = Vec::new();
        let mut impacts: Vec<usize> = Vec::new();
        for (index, (_, event)) in batch.iter().enumerate() {
            let Some(app_id) = event.app_id() else {
                continue;
            };
            if !self.state.directories.iter().any(|d| d.app_id == app_id) {
                continue; // not an AD directory (or one the next poll will find)
            }
            match event.kind() {
                EventKind::Assignment => {
                    let Some(group) = event.target("UserGroup") else {
                        continue;
                    };
                    match keys
                        .iter_mut()
                        .find(|(a, g, _)| a == app_id && *g == group.id)
                    {
                        Some(key) => key.2 = index,
                        None => keys.push((app_id.to_string(), group.id.clone(), index)),
                    }
                }
                EventKind::ProvisioningFailure => impacts.push(index),
                EventKind::Other => {}
            }
        }
        let reads = futures_util::future::join_all(
            keys.iter()
                .map(|(app, group, _)| self.client.get_group_assignment(app, group)),
        )
        .await;
        for ((app_id, group_id, index), read) in keys.iter().zip(reads) {
            let event = &batch[*index].1;
            match read {
                Ok(fetched) => {
                    if let Some(dir) = self.directory_mut(app_id) {
                        match dir.assignments.iter_mut().find(|a| a.group_id == *group_id) {
                            Some(existing) => *existing = fetched.assignment,
                            None => dir.assignments.push(fetched.assignment),
                        }
                    }
                }
                Err(e) if e.is_not_found() => {
                    if let Some(dir) = self.directory_mut(app_id) {
                        dir.assignments.retain(|a| a.group_id != *group_id);
                    }
                }
                Err(e) => {
                    self.sink.note(&format!(
                        "warning: could not read the assignment of group `{group_id}` to `{app_id}` \
                         (event `{}`): {e}; the next poll checks it",
                        event.uuid
                    ));
                    continue;
                }
            }
            let findings = self.evaluate_group(app_id, group_id);
            self.reconcile(findings, Source::Event, Some(event), |f| {
                f.directory.app_id == *app_id && f.group.as_ref().is_some_and(|g| g.id == *group_id)
            });
        }
        for index in impacts {
            self.impact(&batch[index].1);
        }
        Stats::add(&self.stats.judged, batch.len() as u64);
        self.processed = self.processed.max(last_line + 1);
        self.dirty = true;
        self.save_if_due();
    }

    fn directory_mut(&mut self, app_id: &str) -> Option<&mut Directory> {
        self.state
            .directories
            .iter_mut()
            .find(|d| d.app_id == app_id)
    }

    /// The findings of one group's assignment: the rules run on the directory with only that
    /// assignment (R1 and its related findings need nothing else).
    fn evaluate_group(&self, app_id: &str, group_id: &str) -> Vec<Finding> {
        let Some(dir) = self.state.directories.iter().find(|d| d.app_id == app_id) else {
            return Vec::new();
        };
        let one = Directory {
            app_id: dir.app_id.clone(),
            domain: dir.domain.clone(),
            label: dir.label.clone(),
            status: dir.status,
            import_ous: dir.import_ous.clone(),
            assignments: dir.assignment(group_id).cloned().into_iter().collect(),
            mappings: Vec::new(),
            mappings_read: true,
        };
        let state = OrgState {
            directories: vec![one],
            ..OrgState::default()
        };
        rules::evaluate(&state)
            .findings
            .into_iter()
            .filter(|f| f.group.as_ref().is_some_and(|g| g.id == group_id))
            .collect()
    }

    fn impact(&mut self, event: &GuardEvent) {
        let Some(app_id) = event.app_id() else {
            return;
        };
        if self.reported_impacts.contains(&event.uuid) {
            return;
        }
        self.reported_impacts.push_back(event.uuid.clone());
        while self.reported_impacts.len() > REPORTED_IMPACTS_KEPT {
            self.reported_impacts.pop_front();
        }
        // Recorded before it is said, as alerts are.
        self.dirty = true;
        self.save_now();
        let domain = self
            .state
            .directories
            .iter()
            .find(|d| d.app_id == app_id)
            .map_or_else(|| app_id.to_string(), |d| d.domain.clone());
        let findings: Vec<&Finding> = self
            .open
            .values()
            .filter(|f| f.directory.app_id == app_id && f.group.is_some())
            .collect();
        self.sink.emit(&Alert::Impact {
            event,
            directory: &domain,
            findings,
        });
        Stats::add(&self.stats.impacts, 1);
    }

    /// Compares `findings` (all findings within `scope`) with the open ones in `scope`:
    /// alerts what is new and what is gone. Returns whether anything was alerted.
    ///
    /// The checkpoint is written before the alerts are: a guard killed in between (a few
    /// microseconds) loses those lines rather than repeating them after the restart; the
    /// findings stay open and their plans saved.
    pub(super) fn reconcile(
        &mut self,
        findings: Vec<Finding>,
        source: Source,
        event: Option<&GuardEvent>,
        scope: impl Fn(&Finding) -> bool,
    ) -> bool {
        let gone: Vec<Finding> = self
            .open
            .values()
            .filter(|f| scope(f) && !findings.iter().any(|n| n.id == f.id))
            .cloned()
            .collect();
        for finding in &gone {
            self.open.remove(&finding.id);
        }
        let mut new = Vec::new();
        for finding in findings {
            if let Some(known) = self.open.get_mut(&finding.id) {
                *known = finding; // same finding; keep its latest wording
                continue;
            }
            self.open.insert(finding.id.clone(), finding.clone());
            new.push(finding);
        }
        if gone.is_empty() && new.is_empty() {
            return false;
        }
        // Plans first (the alert names them), then the checkpoint, then the alerts.
        let plans: Vec<(Option<String>, Option<String>)> = new
            .iter()
            .map(|f| match self.save_plan(f) {
                Ok(plan) => (plan, None),
                Err(error) => (None, Some(error)),
            })
            .collect();
        self.dirty = true;
        self.save_now();
        for finding in &gone {
            self.sink.emit(&Alert::Fixed {
                finding,
                event,
                source,
            });
            Stats::add(&self.stats.fixed, 1);
        }
        for (finding, (plan, plan_error)) in new.iter().zip(plans) {
            self.sink.emit(&Alert::New {
                finding,
                event,
                source,
                plan,
                plan_error,
            });
            Stats::add(&self.stats.alerts, 1);
        }
        true
    }

    /// With `--plan-dir`, saves the plan `ouguard plan --target ID --out` would make for a
    /// fixable finding. `Ok(None)`: nothing to save (no plan dir, or not fixable).
    fn save_plan(&self, finding: &Finding) -> Result<Option<String>, String> {
        let Some(dir) = &self.plan_dir else {
            return Ok(None);
        };
        if !finding.rule.is_fixable() {
            return Ok(None);
        }
        let mut options = self.plan_options.clone();
        options.targets = vec![Selector(finding.id.clone())];
        options.excludes = Vec::new();
        options.org_url = Some(self.client.org_url().to_string());
        let now = chrono::Utc::now();
        options.created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let evaluation = rules::evaluate(&self.state);
        let plan = planner::plan(&self.state, evaluation, &options, &mut NoChooser)
            .map_err(|e| e.to_string())?;
        if !plan.has_changes() {
            return Err(match finding.rule {
                Rule::GroupOuNotImported | Rule::DnMapped => {
                    "the planner makes no change for it (an inactive directory is reported, never changed)".into()
                }
                _ => "it is not fixable".into(),
            });
        }
        let safe: String = finding
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(120)
            .collect();
        let path = dir.join(format!("{}-{safe}.json", now.format("%Y%m%dT%H%M%SZ")));
        crate::files::write_atomically(&path, plan.to_json().as_bytes(), false)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Some(path.display().to_string()))
    }

    /// The full read: the state is refreshed (so plans stay current) and the `dn` mappings,
    /// which Okta cannot hook, are judged. A failure is a warning; the next poll tries again.
    pub async fn poll(&mut self, source: Source) {
        match Self::read_state(&self.client, &self.config).await {
            Ok(state) => {
                self.state = state;
                // Only R2 here: assignment findings are judged on their events, with the
                // event's uuid and actor (a poll racing a delivery must not take them).
                let findings: Vec<Finding> = rules::evaluate(&self.state)
                    .findings
                    .into_iter()
                    .filter(|f| f.rule == Rule::DnMapped)
                    .collect();
                self.reconcile(findings, source, None, |f| f.rule == Rule::DnMapped);
            }
            Err(e) => self.sink.note(&format!(
                "warning: the poll of the org failed: {e:#}; trying again at the next one"
            )),
        }
    }

    /// The checkpoint as it stands.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            format_version: CHECKPOINT_VERSION.to_string(),
            org_url: self.client.org_url().to_string(),
            processed: self.processed,
            open_findings: self.open.clone(),
            log_next: self.intake.as_ref().and_then(|i| i.log_next()),
            reported_impacts: self.reported_impacts.iter().cloned().collect(),
        }
    }

    /// Writes the checkpoint now; a failure is said on stderr (the next write retries).
    pub fn save_now(&mut self) {
        match self.checkpoint().save(&self.state_dir) {
            Ok(()) => {
                self.dirty = false;
                self.last_save = Instant::now();
            }
            Err(e) => self.sink.note(&format!(
                "error: failed to save the guard's checkpoint: {e:#}"
            )),
        }
        self.compact();
    }

    /// Writes the checkpoint if something changed and a second has passed.
    pub fn save_if_due(&mut self) {
        if self.dirty && self.last_save.elapsed() >= QUIET_CHECKPOINT_EVERY {
            self.save_now();
        }
    }

    fn compact(&mut self) {
        let Some(intake) = self.intake.clone() else {
            return;
        };
        let mut checkpoint = self.checkpoint();
        let dir = self.state_dir.clone();
        let result = intake.compact_if_due(self.processed, |lines| {
            checkpoint.processed = lines;
            checkpoint.save(&dir)
        });
        match result {
            Ok(Some(lines)) => self.processed = lines,
            Ok(None) => {}
            Err(e) => self.sink.note(&format!(
                "warning: failed to compact the guard's journal: {e:#}"
            )),
        }
    }
}
