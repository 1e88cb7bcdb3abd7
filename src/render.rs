//! The Terraform-style text rendering of a `Plan`. Writes to a `&mut dyn Write` with the color
//! choice as a parameter; never prints by itself and never decides whether a terminal exists.

use std::collections::HashMap;
use std::io::{self, Write};

use console::Style;
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
    let before = view.before.unwrap_or_default();
    let after = view.after.unwrap_or_default();
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
            writeln!(out, "  {symbol} group_target_ou {} {{", quote(view.subject))?;
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
                quote(view.subject)
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
                quote(view.subject)
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

/// What every renderer shows of one change, read from the change in one place (borrowed:
/// a value can be an OU of hundreds of kilobytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeView<'a> {
    /// What the change is about: the OU added, the group's name, the mapping's key.
    pub subject: &'a str,
    /// The attribute that changes: `ou`, `organizationalUnit`, `expression`.
    pub attribute: &'static str,
    /// The value before (`None`: the attribute did not exist).
    pub before: Option<&'a str>,
    /// The value after (`None`: the attribute is removed).
    pub after: Option<&'a str>,
}

/// The display values of a change (the only reader of its payloads in the renderers).
#[must_use]
pub fn change_view(change: &ResourceChange) -> ChangeView<'_> {
    match &change.details {
        ChangeDetails::ImportOuAdd(add) => ChangeView {
            subject: &add.ou,
            attribute: "ou",
            before: None,
            after: Some(&add.ou),
        },
        ChangeDetails::GroupTargetOuUpdate(update) => ChangeView {
            subject: &update.group.name,
            attribute: "organizationalUnit",
            before: update.before.as_deref(),
            after: Some(&update.after),
        },
        ChangeDetails::MappingPropertyDelete(delete) => ChangeView {
            subject: &delete.key,
            attribute: "expression",
            before: Some(&delete.expression),
            after: None,
        },
        ChangeDetails::GroupTargetOuRevert(revert) => ChangeView {
            subject: &revert.group.name,
            attribute: "organizationalUnit",
            before: revert.before.as_deref(),
            after: revert.after.organizational_unit.as_deref(),
        },
        ChangeDetails::MappingPropertyRestore(restore) => ChangeView {
            subject: &restore.key,
            attribute: "expression",
            before: None,
            after: Some(&restore.expression),
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
    // Lines go into a buffer written out in blocks, each style's escapes computed once: a
    // value of 100,000 RDNs is 100,000 lines, and a formatted write per line costs more
    // than the JSON of the whole plan.
    const BLOCK: usize = 64 * 1024;
    let plain = crate::text::is_printable_ascii(before) && crate::text::is_printable_ascii(after);
    let edges = [
        LineEdges::new(Some(&styles.delete), "- "),
        LineEdges::new(Some(&styles.add), "+ "),
        LineEdges::new(None, "  "),
    ];
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK + 1024);
    writeln!(block, "      {tilde} {name} = <<-DIFF (one RDN per line)")?;
    for (tag, run) in rdn_diff(before.as_bytes(), after.as_bytes()) {
        let edge = match tag {
            ChangeTag::Delete => &edges[0],
            ChangeTag::Insert => &edges[1],
            ChangeTag::Equal => &edges[2],
        };
        // Between two lines: the tail of one and the head of the next, copied at once.
        let mut separator = &edge.head[..];
        for line in rdn_lines(run) {
            block.extend_from_slice(separator);
            separator = &edge.joiner;
            push_visible(&mut block, line, plain);
            if block.len() >= BLOCK {
                out.write_all(&block)?;
                block.clear();
            }
        }
        block.extend_from_slice(&edge.tail);
    }
    block.extend_from_slice(b"        DIFF\n");
    out.write_all(&block)
}

/// What goes before and after each line of a diff, the style's escapes (none without
/// color) computed once: `          <open>- ` and `<close>\n`, and the two together.
struct LineEdges {
    head: Vec<u8>,
    tail: Vec<u8>,
    joiner: Vec<u8>,
}

impl LineEdges {
    fn new(style: Option<&Style>, sign: &str) -> Self {
        let styled = style.map_or_else(String::new, |s| s.apply_to('\u{0}').to_string());
        let (open, close) = styled.split_once('\u{0}').unwrap_or_default();
        let head = format!("          {open}{sign}").into_bytes();
        let tail = format!("{close}\n").into_bytes();
        LineEdges {
            joiner: [&tail[..], &head[..]].concat(),
            head,
            tail,
        }
    }
}

/// Appends a DN's text with its hidden characters escaped (see [`crate::text::is_hidden`]),
/// so a value cannot start a line of its own, restyle the terminal or hide a character.
/// `plain`: the text is known to be printable ASCII, nothing to look for. `text` is whole
/// characters of a `str` (see [`rdn_lines`]).
fn push_visible(out: &mut Vec<u8>, text: &[u8], plain: bool) {
    if plain {
        out.extend_from_slice(text);
        return;
    }
    let text = String::from_utf8_lossy(text);
    if crate::text::has_hidden(&text, false) {
        let mut shown = String::with_capacity(text.len() + 16);
        text.chars()
            .for_each(|ch| crate::text::push_visible(&mut shown, ch));
        out.extend_from_slice(shown.as_bytes());
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// The most lines (old and new together) of the differing middle of two values that go
/// through a real diff; a larger middle is shown as all of its old lines removed, then the
/// new ones added. A diff of `n` lines costs up to `n²`: a 40,000-RDN OU would take seconds.
const DIFF_LINES_MAX: usize = 1_000;

/// A diff of two DNs RDN by RDN, as runs of equal, deleted and inserted RDNs (each run a
/// span of whole RDNs of one of the two values, split by [`rdn_lines`]), in time linear in
/// the values' length and with no memory per RDN: the RDNs both share at the start and at
/// the end are equal without diffing, and only a small differing middle is diffed.
fn rdn_diff<'a>(old: &'a [u8], new: &'a [u8]) -> Vec<(ChangeTag, &'a [u8])> {
    // The shared start, whole RDNs only: the same bytes in both values.
    let mut prefix = 0;
    for (a, b) in rdn_lines(old).zip(rdn_lines(new)) {
        if a != b {
            break;
        }
        prefix += a.len();
    }
    // The shared end, whole RDNs only, not reaching into the shared start.
    let (mut old_end, mut new_end) = (old.len(), new.len());
    while old_end > prefix && new_end > prefix {
        let old_start = rdn_start_before(old, old_end);
        let new_start = rdn_start_before(new, new_end);
        if old_start < prefix
            || new_start < prefix
            || old[old_start..old_end] != new[new_start..new_end]
        {
            break;
        }
        old_end = old_start;
        new_end = new_start;
    }
    let old_middle = &old[prefix..old_end];
    let new_middle = &new[prefix..new_end];
    let mut runs = vec![(ChangeTag::Equal, &old[..prefix])];
    let small = rdn_lines(old_middle)
        .chain(rdn_lines(new_middle))
        .take(DIFF_LINES_MAX + 1)
        .count()
        <= DIFF_LINES_MAX;
    if small {
        let lines = |text: &'a [u8]| -> Vec<&'a [u8]> { rdn_lines(text).collect() };
        let (old_lines, new_lines) = (lines(old_middle), lines(new_middle));
        // The span of lines `range` of `text`: lines are consecutive slices of it.
        let span = |text: &'a [u8], lines: &[&'a [u8]], range: std::ops::Range<usize>| {
            let start: usize = lines[..range.start].iter().map(|l| l.len()).sum();
            let len: usize = lines[range].iter().map(|l| l.len()).sum();
            &text[start..start + len]
        };
        let diff = similar::capture_diff_slices(similar::Algorithm::Myers, &old_lines, &new_lines);
        for op in &diff {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            let old_span = span(old_middle, &old_lines, old_range);
            let new_span = span(new_middle, &new_lines, new_range);
            match tag {
                similar::DiffTag::Equal => runs.push((ChangeTag::Equal, old_span)),
                similar::DiffTag::Delete => runs.push((ChangeTag::Delete, old_span)),
                similar::DiffTag::Insert => runs.push((ChangeTag::Insert, new_span)),
                similar::DiffTag::Replace => {
                    runs.push((ChangeTag::Delete, old_span));
                    runs.push((ChangeTag::Insert, new_span));
                }
            }
        }
    } else {
        runs.push((ChangeTag::Delete, old_middle));
        runs.push((ChangeTag::Insert, new_middle));
    }
    runs.push((ChangeTag::Equal, &old[old_end..]));
    runs.retain(|(_, run)| !run.is_empty());
    runs
}

/// The RDNs of a DN (or of a span of whole RDNs), each with the unescaped comma after it:
/// `OU=a,OU=b` → `OU=a,`, `OU=b`. Works on bytes: a backslash escapes the byte after it,
/// and neither a comma nor a backslash occurs inside a multi-byte UTF-8 character, so every
/// cut is at a character boundary.
fn rdn_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b',' => break,
                _ => i += 1,
            }
        }
        let end = (i + 1).min(bytes.len());
        let line = &bytes[start..end];
        start = end;
        Some(line)
    })
}

/// Where the RDN that ends at byte `end` of a DN starts (`end` is 0, the end of the DN, or
/// just after an unescaped comma): just after the unescaped comma before it, or 0. A comma
/// is escaped when an odd number of backslashes precede it.
fn rdn_start_before(bytes: &[u8], end: usize) -> usize {
    // The RDN's own comma, if it has one, is not the one before it.
    let mut i = if end > 0 && bytes[end - 1] == b',' {
        end - 1
    } else {
        end
    };
    while i > 0 {
        i -= 1;
        if bytes[i] == b',' {
            let backslashes = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
            if backslashes % 2 == 0 {
                return i + 1;
            }
        }
    }
    0
}

/// A value in double quotes, its quotes and backslashes escaped as in JSON and its hidden
/// characters as escapes.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for ch in value.chars() {
        match ch {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            _ => crate::text::push_visible(&mut quoted, ch),
        }
    }
    quoted.push('"');
    quoted
}

/// Renders the plan to a string (tests, snapshots).
#[must_use]
pub fn render_to_string(plan: &Plan, color: bool) -> String {
    let mut buffer = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render_plan(plan, &mut buffer, color);
    // Everything written is a Rust string: valid UTF-8, kept without a copy.
    String::from_utf8(buffer).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
        let lines_of = |old: &str, new: &str| -> Vec<(ChangeTag, String)> {
            rdn_diff(old.as_bytes(), new.as_bytes())
                .into_iter()
                .flat_map(|(tag, run)| {
                    rdn_lines(run).map(move |l| (tag, String::from_utf8_lossy(l).into_owned()))
                })
                .collect()
        };
        let many = format!("{}DC=corp,DC=example,DC=com", "OU=x,".repeat(40_000));
        let lines = lines_of(&many, "OU=Staff,DC=corp,DC=example,DC=com");
        let count = |tag| lines.iter().filter(|(t, _)| *t == tag).count();
        assert_eq!(count(ChangeTag::Delete), 40_000);
        assert_eq!(count(ChangeTag::Insert), 1);
        assert_eq!(count(ChangeTag::Equal), 3);
        assert_eq!(
            lines.last(),
            Some(&(ChangeTag::Equal, "DC=com".to_string()))
        );
        // A small middle still gets a real diff: the shared RDN stays equal.
        let tags: Vec<ChangeTag> = lines_of("OU=a,OU=b,OU=c,DC=x", "OU=z,OU=b,OU=y,DC=x")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        use ChangeTag::{Delete, Equal, Insert};
        assert_eq!(tags, [Delete, Insert, Equal, Delete, Insert, Equal]);
        // Escaped commas and backslashes are inside an RDN, at the start and at the end.
        let old = r"OU=a\,b,OU=c\\,OU=d,DC=x\,y";
        let new = r"OU=a\,b,OU=e,OU=d,DC=x\,y";
        assert_eq!(
            lines_of(old, new),
            [
                (Equal, r"OU=a\,b,".to_string()),
                (Delete, r"OU=c\\,".to_string()),
                (Insert, "OU=e,".to_string()),
                (Equal, "OU=d,".to_string()),
                (Equal, r"DC=x\,y".to_string()),
            ]
        );
        // The same value; one a prefix of the other; nothing in common.
        assert_eq!(lines_of("OU=a,DC=x", "OU=a,DC=x").len(), 2);
        assert_eq!(
            lines_of("DC=x", "DC=x,DC=y"),
            [
                (Delete, "DC=x".to_string()),
                (Insert, "DC=x,".to_string()),
                (Insert, "DC=y".to_string())
            ]
        );
        assert_eq!(
            lines_of("OU=a,", "OU=a,OU=b"),
            [(Equal, "OU=a,".to_string()), (Insert, "OU=b".to_string())]
        );
        assert!(lines_of("", "").is_empty());
        // Every line of either value is shown exactly once, in order, for any pair.
        let values = [
            "", "a", "a,", "a,b", r"a\,b", r"\\,a", "b,a,b", ",", ",,", r"x\",
        ];
        for old in values {
            for new in values {
                let lines = lines_of(old, new);
                let side = |keep: ChangeTag| -> String {
                    lines
                        .iter()
                        .filter(|(t, _)| *t == Equal || *t == keep)
                        .map(|(_, l)| l.as_str())
                        .collect()
                };
                assert_eq!(side(Delete), old, "{old:?} -> {new:?}: {lines:?}");
                assert_eq!(side(Insert), new, "{old:?} -> {new:?}: {lines:?}");
            }
        }
    }

    #[test]
    fn rdns_split_at_unescaped_commas_only() {
        let lines = |dn: &'static str| {
            rdn_lines(dn.as_bytes())
                .map(|l| std::str::from_utf8(l).expect("whole characters"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(r"OU=Smith\, J,OU=Zoë,DC=x"),
            [r"OU=Smith\, J,", "OU=Zoë,", "DC=x"]
        );
        // A trailing backslash escapes nothing and is kept; an empty value has no RDN.
        assert_eq!(lines(r"OU=a,DC=x\"), ["OU=a,", r"DC=x\"]);
        assert!(lines("").is_empty());
        let dn = r"OU=a\,b,OU=c\\,DC=x";
        let dn = dn.as_bytes();
        assert_eq!(rdn_start_before(dn, dn.len()), 15);
        assert_eq!(rdn_start_before(dn, 15), 8);
        assert_eq!(rdn_start_before(dn, 8), 0);
    }

    #[test]
    fn a_long_value_cannot_start_a_line_of_its_own_or_restyle_the_terminal() {
        let hostile = format!(
            "OU=a\n      + organizationalUnit = \"OU=Fake\",OU=\u{1b}[2J{}DC=corp,DC=example,DC=com",
            "OU=x,".repeat(20)
        );
        let state = corp(&[("00g1", "Deep", Some(&hostile))], false);
        let text = render(&state, Strategy::Retarget, &[("Deep", STAFF)], false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(!text
            .lines()
            .any(|l| l.trim_start().starts_with("+ organizationalUnit")));
        assert!(text.contains(r"OU=a\n      + organizationalUnit"), "{text}");
        assert!(text.contains(r"OU=\u001b[2J"), "{text}");
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
