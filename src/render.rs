//! The Terraform-style text rendering of a `Plan`. Writes to a `&mut dyn Write` with the color
//! choice as a parameter; never prints by itself and never decides whether a terminal exists.

use std::collections::HashMap;
use std::io::{self, Write};

use console::Style;
use serde_json::Value;
use similar::ChangeTag;

use crate::plan::{Action, ChangeDetails, Execution, Plan, ResourceChange};
use crate::planner::FINDINGS_LEFT_OUT;
use crate::rules::{Finding, Rule};

pub mod markdown;

/// Values longer than this are shown as a unified diff, one RDN per line.
const LONG_VALUE: usize = 60;

/// The console path of a directory's import OUs.
#[must_use]
pub fn import_ou_console_path(domain: &str) -> String {
    format!(
        "Directory > Directory Integrations > {domain} > Provisioning > Integration > User OUs \
         connected to Okta"
    )
}

struct Styles {
    add: Style,
    change: Style,
    delete: Style,
    dim: Style,
    bold: Style,
    warn: Style,
}

impl Styles {
    fn new(color: bool) -> Self {
        let style = |s: Style| s.force_styling(color);
        Styles {
            add: style(Style::new().green()),
            change: style(Style::new().yellow()),
            delete: style(Style::new().red()),
            dim: style(Style::new().dim()),
            bold: style(Style::new().bold()),
            warn: style(Style::new().yellow().bold()),
        }
    }

    fn for_action(&self, action: Action) -> &Style {
        match action {
            Action::Add | Action::Restore => &self.add,
            Action::Update | Action::Revert => &self.change,
            Action::Delete => &self.delete,
        }
    }
}

/// Renders the whole plan: changes, unfixed findings, warnings, summary.
pub fn render_plan(plan: &Plan, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let styles = Styles::new(color);
    let org = plan.org_url.as_deref().unwrap_or("(snapshot)");
    let title = if plan.undo_of.is_some() {
        format!("ouguard undo plan for {org}, made {}", plan.created_at)
    } else {
        format!(
            "ouguard plan for {org}, made {}: {} finding(s)",
            plan.created_at,
            plan.findings.len()
        )
    };
    writeln!(out, "{}", styles.dim.apply_to(title))?;
    writeln!(out)?;
    if let Some(undo_of) = &plan.undo_of {
        render_undo_banner(plan, undo_of, out, &styles)?;
    }

    if plan.has_changes() {
        writeln!(
            out,
            "ouguard will perform the following actions ({} add, {} update in place, {} delete):",
            styles.add.apply_to("+"),
            styles.change.apply_to("~"),
            styles.delete.apply_to("-"),
        )?;
        let findings: HashMap<&str, &Finding> =
            plan.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        for change in &plan.resource_changes {
            writeln!(out)?;
            render_change(&findings, change, out, &styles)?;
        }
        writeln!(out)?;
    }

    let unfixed = unfixed_findings(plan);
    if !unfixed.is_empty() {
        writeln!(
            out,
            "{}",
            styles.bold.apply_to("Findings this plan does not fix:")
        )?;
        for finding in unfixed {
            writeln!(
                out,
                "  {} {} {}",
                styles.warn.apply_to("!"),
                styles.bold.apply_to(&finding.id),
                finding.message
            )?;
            if let Some(hint) = pin_hint(finding) {
                writeln!(out, "    {}", styles.dim.apply_to(hint))?;
            }
        }
        writeln!(out)?;
    }

    render_evidence(plan, out, &styles)?;

    for warning in &plan.warnings {
        writeln!(
            out,
            "{} {}",
            styles.warn.apply_to("Warning:"),
            warning.message
        )?;
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
    }
    render_summary(plan, out, &styles)
}

/// The top of an undo plan: which run it undoes and, loudly, what undoing does.
fn render_undo_banner(
    plan: &Plan,
    undo_of: &crate::plan::UndoOf,
    out: &mut dyn Write,
    styles: &Styles,
) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        styles.bold.apply_to(format!(
            "This plan UNDOES the run recorded in `{}` (plan `{}`).",
            undo_of.run_record, undo_of.plan_checksum
        ))
    )?;
    if let Some(loud) = recreates_warning(plan) {
        writeln!(
            out,
            "{} {}",
            styles.delete.apply_to("!!"),
            styles.delete.apply_to(loud)
        )?;
    }
    writeln!(out)
}

/// An undo plan's loud warning that it re-creates the misconfiguration, if it does.
#[must_use]
pub fn recreates_warning(plan: &Plan) -> Option<&str> {
    plan.undo_of.as_ref()?;
    plan.warnings
        .iter()
        .find(|w| w.id == crate::undo::RECREATES_WARNING_ID)
        .map(|w| w.message.as_str())
}

/// `plan --evidence`: per finding, how many users fail and the first logins; findings
/// fixed by earlier applies, and whether their users provisioned since.
fn render_evidence(plan: &Plan, out: &mut dyn Write, styles: &Styles) -> io::Result<()> {
    let Some(summary) = &plan.evidence else {
        return Ok(());
    };
    writeln!(
        out,
        "{}",
        styles.bold.apply_to(format!(
            "Evidence (System Log from {} to {}; {} request(s)):",
            summary.since.as_deref().unwrap_or("?"),
            summary.until.as_deref().unwrap_or("?"),
            summary.requests
        ))
    )?;
    let mut any = false;
    for finding in &plan.findings {
        let Some(evidence) = &finding.evidence else {
            continue;
        };
        any = true;
        let who = finding
            .group
            .as_ref()
            .map_or_else(|| finding.directory.domain.clone(), |g| g.name.clone());
        let failing: Vec<&str> = evidence
            .users
            .iter()
            .filter(|u| u.provisioned_since.is_none())
            .map(|u| u.login.as_str())
            .collect();
        let shown = failing.len().min(crate::evidence::LOGINS_SHOWN);
        let more = evidence.failing_users.saturating_sub(shown);
        let mut line = format!(
            "  {} ({}): {} user(s) failing",
            finding.id,
            crate::text::truncate_for_message(&who),
            evidence.failing_users
        );
        if shown > 0 {
            line.push_str(": ");
            line.push_str(&failing[..shown].join(", "));
            if more > 0 {
                line.push_str(&format!(" and {more} more"));
            }
        }
        let provisioned = evidence.users.len() - failing.len();
        if provisioned > 0 {
            line.push_str(&format!("; {provisioned} provisioned since failing"));
        }
        writeln!(out, "{line}")?;
        if let Some(why) = &evidence.likely_false {
            writeln!(out, "    {} {why}", styles.warn.apply_to("?"))?;
        }
    }
    if !any {
        writeln!(out, "  (no findings with evidence)")?;
    }
    if !summary.after_fix.is_empty() {
        writeln!(
            out,
            "{}",
            styles
                .bold
                .apply_to("Fixed by earlier applies (retried in Dashboard > Tasks since?):")
        )?;
        for fixed in &summary.after_fix {
            let failing: Vec<&str> = fixed
                .users
                .iter()
                .filter(|u| u.state != "provisioned")
                .map(|u| u.login.as_str())
                .take(crate::evidence::LOGINS_SHOWN)
                .collect();
            let mut line = format!(
                "  {} (applied {}): {} provisioned since the fix, {} still failing",
                fixed.finding, fixed.applied_at, fixed.provisioned, fixed.failing
            );
            if !failing.is_empty() {
                line.push_str(&format!(" (retry: {})", failing.join(", ")));
            }
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)
}

fn render_summary(plan: &Plan, out: &mut dyn Write, styles: &Styles) -> io::Result<()> {
    let line = summary_line(plan);
    match line.strip_prefix("Plan:") {
        Some(rest) => writeln!(out, "{}{rest}", styles.bold.apply_to("Plan:")),
        None => writeln!(out, "{}", styles.bold.apply_to(line)),
    }
}

/// The closing summary line, plain: `Plan: 1 to add, …` or why nothing is planned. Shared by
/// every renderer so they never disagree.
#[must_use]
pub fn summary_line(plan: &Plan) -> String {
    let summary = plan.summary;
    if summary.is_empty() && plan.undo_of.is_some() {
        return "No changes. Nothing the run applied is left to undo.".to_string();
    }
    if summary.is_empty() {
        let left_out = plan.warnings.iter().any(|w| w.id == FINDINGS_LEFT_OUT);
        let line = match (left_out, plan.findings.is_empty()) {
            // Findings outside --target/--exclude were not looked at: saying that Okta matches
            // the rules would be false.
            (true, true) => {
                "No changes planned: every finding was left out by --target/--exclude (see the \
                 warning above)."
            }
            (true, false) => {
                "No changes planned: ouguard does not fix the findings above, and the others \
                 were left out by --target/--exclude (see the warning above)."
            }
            (false, true) => "No changes. Okta matches the rules.",
            (false, false) => {
                "No changes. Okta matches the rules, except for the findings above that ouguard \
                 does not fix."
            }
        };
        return line.to_string();
    }
    let manual = match summary.manual {
        0 => String::new(),
        1 => " (1 manual step)".to_string(),
        n => format!(" ({n} manual steps)"),
    };
    format!(
        "Plan: {} to add, {} to change, {} to delete{manual}.",
        summary.add, summary.change, summary.delete
    )
}

/// How to have ouguard fix a group OU finding that only a named destination fixes.
fn pin_hint(finding: &Finding) -> Option<String> {
    let pinnable = matches!(
        finding.rule,
        Rule::GroupOuInvalid | Rule::GroupOuOtherDomain | Rule::GroupOuMissing
    );
    let group = finding.group.as_ref().filter(|_| pinnable)?;
    Some(format!(
        "# to have ouguard fix it, pin a destination: `--retarget {}=DN` or a [[retarget]] \
         entry with directory = {}, group = {} and to = DN in ouguard.toml",
        shell_word(&group.name),
        quote(&finding.directory.domain),
        quote(&group.name)
    ))
}

/// A group name as one shell word (single-quoted unless plain).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Findings that no change of the plan fixes.
#[must_use]
pub fn unfixed_findings(plan: &Plan) -> Vec<&Finding> {
    let fixed: std::collections::HashSet<&str> = plan
        .resource_changes
        .iter()
        .flat_map(ResourceChange::fixed_findings)
        .collect();
    plan.findings
        .iter()
        .filter(|f| !fixed.contains(f.id.as_str()))
        .collect()
}

fn finding_reason(findings: &HashMap<&str, &Finding>, change: &ResourceChange) -> String {
    if change.action().is_reversal() {
        return format!("undoes the run's change for {}", change.finding);
    }
    match findings.get(change.finding.as_str()) {
        Some(finding) => {
            let rule = match finding.rule {
                Rule::GroupOuNotImported => "R1",
                Rule::DnMapped => "R2",
                _ => "",
            };
            format!("{rule} {}: {}", finding.rule, finding.message)
        }
        None => format!("fixes {}", change.finding),
    }
}

fn render_change(
    findings: &HashMap<&str, &Finding>,
    change: &ResourceChange,
    out: &mut dyn Write,
    styles: &Styles,
) -> io::Result<()> {
    let style = styles.for_action(change.action());
    let verb = match (change.execution(), change.action()) {
        (Execution::Manual, _) => "must be added by hand in the admin console (manual step)",
        (_, Action::Add) => "will be added",
        (_, Action::Update) => "will be updated in place",
        (_, Action::Delete) => "will be deleted",
        (_, Action::Revert | Action::Restore) => "will be put back as it was before the run (undo)",
    };
    writeln!(
        out,
        "  {} {} {verb}",
        styles.bold.apply_to("#"),
        styles.bold.apply_to(&change.address)
    )?;
    writeln!(
        out,
        "  {}",
        styles
            .dim
            .apply_to(format!("# ({})", finding_reason(findings, change)))
    )?;
    if !change.also_fixes.is_empty() {
        writeln!(
            out,
            "  {}",
            styles
                .dim
                .apply_to(format!("# (also fixes {})", change.also_fixes.join(", ")))
        )?;
    }
    let symbol = style.apply_to(change.action().symbol());
    let view = change_view(change);
    let before = view.before.as_deref().unwrap_or_default();
    let after = view.after.as_deref().unwrap_or_default();
    match &change.details {
        ChangeDetails::ImportOuAdd(_) => {
            writeln!(out, "  {symbol} import_ou {{")?;
            writeln!(out, "      {symbol} {} = {}", view.attribute, quote(after))?;
            writeln!(
                out,
                "      {}",
                styles.dim.apply_to(format!(
                    "# console: {}",
                    import_ou_console_path(&change.directory.domain)
                ))
            )?;
            writeln!(out, "    }}")
        }
        ChangeDetails::GroupTargetOuUpdate(_) | ChangeDetails::GroupTargetOuRevert(_) => {
            writeln!(
                out,
                "  {symbol} group_target_ou {} {{",
                quote(&view.subject)
            )?;
            render_update(out, styles, view.attribute, before, after)?;
            if let ChangeDetails::GroupTargetOuRevert(revert) = &change.details {
                writeln!(
                    out,
                    "      {}",
                    styles.dim.apply_to(format!(
                        "# writes back the whole assignment as the run found it: priority {}, \
                         {} profile field(s)",
                        revert
                            .after
                            .priority
                            .map_or_else(|| "unset".to_string(), |p| p.to_string()),
                        revert.after.profile.len()
                    ))
                )?;
            }
            writeln!(out, "    }}")
        }
        ChangeDetails::MappingPropertyRestore(restore) => {
            writeln!(
                out,
                "  {symbol} mapping_property {} {{",
                quote(&view.subject)
            )?;
            writeln!(
                out,
                "      {symbol} {} = null {} {}",
                view.attribute,
                styles.dim.apply_to("->"),
                quote(after)
            )?;
            writeln!(
                out,
                "      {symbol} pushStatus = null {} {}",
                styles.dim.apply_to("->"),
                quote(&restore.push_status)
            )?;
            writeln!(out, "    }}")
        }
        ChangeDetails::MappingPropertyDelete(_) => {
            writeln!(
                out,
                "  {symbol} mapping_property {} {{",
                quote(&view.subject)
            )?;
            writeln!(
                out,
                "      {symbol} {} = {} {} null",
                view.attribute,
                quote(before),
                styles.dim.apply_to("->")
            )?;
            writeln!(out, "    }}")
        }
    }
}

/// What every renderer shows of one change, read from the change in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeView {
    /// What the change is about: the OU added, the group's name, the mapping's key.
    pub subject: String,
    /// The attribute that changes: `ou`, `organizationalUnit`, `expression`.
    pub attribute: &'static str,
    /// The value before (`None`: the attribute did not exist).
    pub before: Option<String>,
    /// The value after (`None`: the attribute is removed).
    pub after: Option<String>,
}

/// The display values of a change (the only reader of its payloads in the renderers).
#[must_use]
pub fn change_view(change: &ResourceChange) -> ChangeView {
    match &change.details {
        ChangeDetails::ImportOuAdd(add) => ChangeView {
            subject: add.ou.clone(),
            attribute: "ou",
            before: None,
            after: Some(add.ou.clone()),
        },
        ChangeDetails::GroupTargetOuUpdate(update) => ChangeView {
            subject: update.group.name.clone(),
            attribute: "organizationalUnit",
            before: update.before.clone(),
            after: Some(update.after.clone()),
        },
        ChangeDetails::MappingPropertyDelete(delete) => ChangeView {
            subject: delete.key.clone(),
            attribute: "expression",
            before: Some(delete.expression.clone()),
            after: None,
        },
        ChangeDetails::GroupTargetOuRevert(revert) => ChangeView {
            subject: revert.group.name.clone(),
            attribute: "organizationalUnit",
            before: revert.before.clone(),
            after: revert.after.organizational_unit.clone(),
        },
        ChangeDetails::MappingPropertyRestore(restore) => ChangeView {
            subject: restore.key.clone(),
            attribute: "expression",
            before: None,
            after: Some(restore.expression.clone()),
        },
    }
}

fn render_update(
    out: &mut dyn Write,
    styles: &Styles,
    name: &str,
    before: &str,
    after: &str,
) -> io::Result<()> {
    let tilde = styles.change.apply_to('~');
    if before.chars().count() <= LONG_VALUE && after.chars().count() <= LONG_VALUE {
        return writeln!(
            out,
            "      {tilde} {name} = {} {} {}",
            quote(before),
            styles.dim.apply_to("->"),
            quote(after)
        );
    }
    writeln!(out, "      {tilde} {name} = <<-DIFF (one RDN per line)")?;
    let old = one_rdn_per_line(before);
    let new = one_rdn_per_line(after);
    for (tag, line) in rdn_diff(&old, &new) {
        match tag {
            ChangeTag::Delete => writeln!(
                out,
                "          {}",
                styles.delete.apply_to(format!("- {line}"))
            )?,
            ChangeTag::Insert => writeln!(
                out,
                "          {}",
                styles.add.apply_to(format!("+ {line}"))
            )?,
            ChangeTag::Equal => writeln!(out, "            {line}")?,
        }
    }
    writeln!(out, "        DIFF")
}

/// The most lines (old and new together) of the differing middle of two values that go
/// through a real diff; a larger middle is shown as all of its old lines removed, then the
/// new ones added. A diff of `n` lines costs up to `n²`: a 40,000-RDN OU would take seconds.
const DIFF_LINES_MAX: usize = 1_000;

/// The lines of a diff of two RDN-per-line texts, in linear time for any length: the lines
/// both share at the start and at the end are equal without diffing, and only a small
/// differing middle is diffed line by line.
fn rdn_diff<'a>(old: &'a str, new: &'a str) -> Vec<(ChangeTag, &'a str)> {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let prefix = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old_lines[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_middle = &old_lines[prefix..old_lines.len() - suffix];
    let new_middle = &new_lines[prefix..new_lines.len() - suffix];
    let mut lines: Vec<(ChangeTag, &str)> = Vec::with_capacity(old_lines.len() + new_lines.len());
    lines.extend(old_lines[..prefix].iter().map(|l| (ChangeTag::Equal, *l)));
    if old_middle.len() + new_middle.len() <= DIFF_LINES_MAX {
        let diff = similar::capture_diff_slices(similar::Algorithm::Myers, old_middle, new_middle);
        for op in &diff {
            for change in op.iter_changes(old_middle, new_middle) {
                lines.push((change.tag(), change.value()));
            }
        }
    } else {
        lines.extend(old_middle.iter().map(|l| (ChangeTag::Delete, *l)));
        lines.extend(new_middle.iter().map(|l| (ChangeTag::Insert, *l)));
    }
    lines.extend(
        old_lines[old_lines.len() - suffix..]
            .iter()
            .map(|l| (ChangeTag::Equal, *l)),
    );
    lines
}

/// Splits a DN into one RDN per line at unescaped commas, for diffs of long values.
fn one_rdn_per_line(dn: &str) -> String {
    let mut text = String::with_capacity(dn.len() + 8);
    let mut escaped = false;
    for ch in dn.chars() {
        if escaped {
            escaped = false;
            text.push(ch);
            continue;
        }
        match ch {
            '\\' => {
                escaped = true;
                text.push(ch);
            }
            ',' => text.push_str(",\n"),
            _ => text.push(ch),
        }
    }
    text.push('\n');
    text
}

fn quote(value: &str) -> String {
    Value::String(value.to_string()).to_string()
}

/// Renders the plan to a string (tests, snapshots).
#[must_use]
pub fn render_to_string(plan: &Plan, color: bool) -> String {
    let mut buffer = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render_plan(plan, &mut buffer, color);
    String::from_utf8_lossy(&buffer).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::planner::{plan, NoChooser, PlanOptions, RetargetPin, Strategy};
    use crate::state::OrgState;

    const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";

    fn render(state: &OrgState, strategy: Strategy, pins: &[(&str, &str)], color: bool) -> String {
        let options = PlanOptions {
            strategy,
            pins: pins
                .iter()
                .map(|(group, to)| RetargetPin {
                    directory: None,
                    group: (*group).to_string(),
                    to: (*to).to_string(),
                    origin: "--retarget".to_string(),
                })
                .collect(),
            org_url: Some("https://acme.okta.com".to_string()),
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        let evaluation = crate::rules::evaluate(state);
        let plan = plan(state, evaluation, &options, &mut NoChooser).unwrap();
        render_to_string(&plan, color)
    }

    fn corp(groups: &[(&str, &str, Option<&str>)], dn_mapped: bool) -> OrgState {
        let mut dir = directory("corp.example.com", Some(&[STAFF]));
        for (id, name, ou) in groups {
            dir.assignments.push(assignment(id, name, *ou));
        }
        if dn_mapped {
            let app_id = dir.app_id.clone();
            dir.mappings.push(mapping(
                "prm1corp",
                &app_id,
                &[(
                    "dn",
                    Some("\"CN=\" + user.login + \",OU=Staff,DC=corp,DC=example,DC=com\""),
                )],
            ));
        }
        org(vec![dir])
    }

    const MARKETING: (&str, &str, Option<&str>) = (
        "00g1mkt",
        "Marketing",
        Some("OU=Marketing,DC=corp,DC=example,DC=com"),
    );

    #[test]
    fn no_changes() {
        insta::assert_snapshot!(render(
            &corp(&[("00g1", "Staff", Some(STAFF))], false),
            Strategy::AddOu,
            &[],
            false
        ));
    }

    #[test]
    fn manual_import_ou_alone() {
        insta::assert_snapshot!(render(
            &corp(&[MARKETING], false),
            Strategy::AddOu,
            &[],
            false
        ));
    }

    #[test]
    fn retarget_alone() {
        insta::assert_snapshot!(render(
            &corp(&[MARKETING], false),
            Strategy::Retarget,
            &[("Marketing", STAFF)],
            false
        ));
    }

    #[test]
    fn mapping_delete_alone() {
        insta::assert_snapshot!(render(&corp(&[], true), Strategy::AddOu, &[], false));
    }

    #[test]
    fn all_three_together_with_unfixed_findings() {
        let state = corp(
            &[
                MARKETING,
                ("00g2web", "Web", Some("OU=Web,DC=corp,DC=example,DC=com")),
                ("00g3bad", "Broken", Some("OU=Sales,,DC=corp")),
                (
                    "00g4emea",
                    "Emea",
                    Some("OU=Staff,DC=emea,DC=example,DC=com"),
                ),
                ("00g5none", "NoOu", None),
            ],
            true,
        );
        insta::assert_snapshot!(render(&state, Strategy::AddOu, &[("Web", STAFF)], false));
    }

    #[test]
    fn a_diff_of_any_length_keeps_its_shared_start_and_end() {
        let many = format!("{}DC=corp,DC=example,DC=com", "OU=x,".repeat(40_000));
        let old = one_rdn_per_line(&many);
        let new = one_rdn_per_line("OU=Staff,DC=corp,DC=example,DC=com");
        let lines = rdn_diff(&old, &new);
        let count = |tag| lines.iter().filter(|(t, _)| *t == tag).count();
        assert_eq!(count(ChangeTag::Delete), 40_000);
        assert_eq!(count(ChangeTag::Insert), 1);
        assert_eq!(count(ChangeTag::Equal), 3);
        assert_eq!(lines.last(), Some(&(ChangeTag::Equal, "DC=com")));
        // A small middle still gets a real diff: the shared RDN stays equal.
        let old = one_rdn_per_line("OU=a,OU=b,OU=c,DC=x");
        let new = one_rdn_per_line("OU=z,OU=b,OU=y,DC=x");
        let tags: Vec<ChangeTag> = rdn_diff(&old, &new).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            tags,
            [
                ChangeTag::Delete,
                ChangeTag::Insert,
                ChangeTag::Equal,
                ChangeTag::Delete,
                ChangeTag::Insert,
                ChangeTag::Equal
            ]
        );
    }

    #[test]
    fn long_values_get_a_diff() {
        let long =
            "OU=Digital Marketing Europe,OU=Marketing,OU=Departments,DC=corp,DC=example,DC=com";
        let state = corp(&[("00g1", "Digital", Some(long))], false);
        let to = "OU=Digital Marketing Europe,OU=Staff,DC=corp,DC=example,DC=com";
        insta::assert_snapshot!(render(
            &state,
            Strategy::Retarget,
            &[("Digital", to)],
            false
        ));
    }

    #[test]
    fn undeclared_import_ous_and_inactive_directory() {
        let mut state = corp(&[MARKETING], false);
        let mut emea = directory("emea.example.com", None);
        emea.assignments.push(assignment(
            "00g9",
            "Emea Staff",
            Some("OU=X,DC=emea,DC=example,DC=com"),
        ));
        state.directories.push(emea);
        state.directories[0].status = crate::state::AppStatus::Inactive;
        insta::assert_snapshot!(render(&state, Strategy::AddOu, &[], false));
    }

    #[test]
    fn colored() {
        let state = corp(
            &[
                MARKETING,
                ("00g2web", "Web", Some("OU=Web,DC=corp,DC=example,DC=com")),
            ],
            true,
        );
        let text = render(&state, Strategy::AddOu, &[("Web", STAFF)], true);
        assert!(text.contains("\u{1b}["), "colored output has escapes");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn findings_all_left_out_by_target_do_not_claim_okta_matches_the_rules() {
        let state = corp(&[MARKETING], true);
        let options = PlanOptions {
            targets: vec![crate::planner::Selector("group:Nobody".to_string())],
            org_url: Some("https://acme.okta.com".to_string()),
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        let evaluation = crate::rules::evaluate(&state);
        let plan = plan(&state, evaluation, &options, &mut NoChooser).unwrap();
        let text = render_to_string(&plan, false);
        assert!(!text.contains("Okta matches the rules"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn findings_partly_left_out_and_the_rest_unfixable_say_both() {
        let state = corp(
            &[MARKETING, ("00g3bad", "Broken", Some("OU=Sales,,DC=corp"))],
            false,
        );
        let options = PlanOptions {
            excludes: vec![crate::planner::Selector("group:Marketing".to_string())],
            org_url: Some("https://acme.okta.com".to_string()),
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        let evaluation = crate::rules::evaluate(&state);
        let plan = plan(&state, evaluation, &options, &mut NoChooser).unwrap();
        let text = render_to_string(&plan, false);
        assert!(!text.contains("Okta matches the rules"), "{text}");
        assert!(
            text.contains("ouguard does not fix the findings above, and the others were left out"),
            "{text}"
        );
    }

    #[test]
    fn plain_has_no_escapes() {
        let state = corp(&[MARKETING], true);
        assert!(!render(&state, Strategy::AddOu, &[], false).contains('\u{1b}'));
    }
}
