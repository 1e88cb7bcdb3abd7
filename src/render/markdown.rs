//! The plan as Markdown for a pull/merge request comment (product.md §9a): the summary
//! outside any fold, a table of the changes, the manual steps as a checklist, findings not
//! fixed, warnings, the full text plan folded in `<details>`, then the checksum, the date
//! and the command that applies the file. Writes to a `&mut dyn Write`; never prints.
//!
//! Every value that came from Okta (or from a plan file, which anyone can write) is escaped
//! here so that it renders as text: values go into code spans (no HTML, links, mentions or
//! emphasis are ever recognized inside one; the fence is longer than any backtick run of
//! the value, `|` is escaped in table cells, line breaks and other control characters are
//! shown as visible symbols); prose that embeds values (finding and warning messages) has
//! every ASCII punctuation character backslash-escaped and a word joiner after `@`, `#` and
//! `:`, so no mention, issue reference or URL scheme forms. The only HTML in the output is
//! ouguard's own: a marker comment, `<details>` and `<summary>`.

use std::collections::HashMap;
use std::io::{self, Write};

use super::{change_view, render_to_string, summary_line, unfixed_findings};
use crate::plan::{Action, Execution, Plan, ResourceChange};
use crate::rules::{Finding, Rule};

/// The first line of every Markdown plan: a pipeline finds (and updates) its own comment by
/// it.
pub const MARKER: &str = "<!-- ouguard-plan -->";

/// U+2060 WORD JOINER: invisible, and breaks `@mention`, `#123` and `scheme:` patterns.
const WORD_JOINER: char = '\u{2060}';

/// Renders the plan as Markdown. `plan_file` is the path the plan is saved at, for the
/// command that applies it (`None`: the plan was not saved).
pub fn render_markdown(
    plan: &Plan,
    plan_file: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{MARKER}")?;
    let org = plan
        .org_url
        .as_deref()
        .map_or_else(|| "a snapshot".to_string(), code);
    match &plan.undo_of {
        Some(undo_of) => {
            writeln!(out, "### ouguard undo plan for {org}")?;
            writeln!(out)?;
            writeln!(
                out,
                "This plan **undoes** the run recorded in {} (plan {}).",
                code(&undo_of.run_record),
                code(&undo_of.plan_checksum)
            )?;
            if let Some(loud) = super::recreates_warning(plan) {
                writeln!(out)?;
                writeln!(out, "> [!CAUTION]")?;
                writeln!(out, "> **{}**", message(loud))?;
            }
        }
        None => writeln!(out, "### ouguard plan for {org}")?,
    }
    writeln!(out)?;
    // ouguard's own words, no value from Okta in them.
    writeln!(out, "**{}**", summary_line(plan))?;

    let findings: HashMap<&str, &Finding> =
        plan.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    if plan.has_changes() {
        writeln!(out)?;
        writeln!(out, "| | Address | Action | Before → after | Finding |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for change in &plan.resource_changes {
            write_change_row(out, &findings, change)?;
        }
    }

    let manual: Vec<&ResourceChange> = plan
        .resource_changes
        .iter()
        .filter(|c| c.execution() == Execution::Manual)
        .collect();
    if !manual.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "**Manual steps** (Okta's API cannot make them: tick each in the admin console, then \
             in this list):"
        )?;
        writeln!(out)?;
        for change in manual {
            write_manual_step(out, change)?;
        }
    }

    let unfixed = unfixed_findings(plan);
    if !unfixed.is_empty() {
        writeln!(out)?;
        writeln!(out, "**Findings this plan does not fix:**")?;
        writeln!(out)?;
        for finding in unfixed {
            writeln!(out, "- {} {}", code(&finding.id), message(&finding.message))?;
        }
    }

    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "**Warnings**")?;
        writeln!(out)?;
        for warning in &plan.warnings {
            writeln!(out, "- {}", message(&warning.message))?;
        }
    }

    writeln!(out)?;
    writeln!(out, "<details><summary>Full plan (text)</summary>")?;
    writeln!(out)?;
    write_fenced(out, &render_to_string(plan, false))?;
    writeln!(out)?;
    writeln!(out, "</details>")?;
    writeln!(out)?;
    write!(
        out,
        "Checksum {}, made {}.",
        code(&plan.checksum),
        code(&plan.created_at)
    )?;
    match plan_file {
        Some(path) => writeln!(
            out,
            " Apply exactly this plan with {}.",
            code(&format!("ouguard apply {}", shell_word(path)))
        ),
        None => writeln!(
            out,
            " Save it with `ouguard plan --out FILE` to apply exactly this plan with \
             `ouguard apply FILE`."
        ),
    }
}

/// Renders the plan as Markdown into a string (tests, snapshots).
#[must_use]
pub fn render_markdown_to_string(plan: &Plan, plan_file: Option<&str>) -> String {
    let mut buffer = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render_markdown(plan, plan_file, &mut buffer);
    // Everything written is a Rust string: valid UTF-8, kept without a copy.
    String::from_utf8(buffer).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_change_row(
    out: &mut dyn Write,
    findings: &HashMap<&str, &Finding>,
    change: &ResourceChange,
) -> io::Result<()> {
    let view = change_view(change);
    let action = match (change.execution(), change.action()) {
        (Execution::Manual, Action::Add) => "add (manual step)",
        (Execution::Manual, _) => "manual step",
        (_, Action::Add) => "add",
        (_, Action::Update) => "update in place",
        (_, Action::Delete) => "delete",
        (_, Action::Revert) => "revert (undo)",
        (_, Action::Restore) => "restore (undo)",
    };
    let before = view
        .before
        .map_or_else(|| "*(none)*".to_string(), cell_code);
    let after = view
        .after
        .map_or_else(|| "*(removed)*".to_string(), cell_code);
    let before_after = format!("{}: {before} → {after}", view.attribute);
    let mut finding = finding_cell(findings, &change.finding);
    for also in &change.also_fixes {
        finding.push_str(", ");
        finding.push_str(&finding_cell(findings, also));
    }
    writeln!(
        out,
        "| `{}` | {} | {action} | {before_after} | {finding} |",
        change.action().symbol(),
        cell_code(&change.address)
    )
}

/// A finding in the table: its rule and id (the message is in the folded text plan).
fn finding_cell(findings: &HashMap<&str, &Finding>, id: &str) -> String {
    match findings.get(id) {
        Some(finding) => {
            let tag = match finding.rule {
                Rule::GroupOuNotImported => "R1 ",
                Rule::DnMapped => "R2 ",
                _ => "",
            };
            format!("{tag}{} {}", finding.rule.name(), cell_code(id))
        }
        None => cell_code(id),
    }
}

fn write_manual_step(out: &mut dyn Write, change: &ResourceChange) -> io::Result<()> {
    let view = change_view(change);
    let domain = &change.directory.domain;
    writeln!(
        out,
        "- [ ] In the admin console, open Directory > Directory Integrations > {} > \
         Provisioning > Integration > User OUs connected to Okta and tick {}",
        code(domain),
        code(view.after.unwrap_or_default())
    )
}

/// A value as an inline code span: exact, copyable, and inert (no HTML, link, mention or
/// emphasis is recognized inside a code span). The fence is one backtick longer than the
/// longest run in the value; control characters become visible symbols.
#[must_use]
pub fn code(value: &str) -> String {
    code_span(value, false)
}

/// [`code`] for a GFM table cell: `|` is escaped too (GFM reads `\|` as a pipe even inside
/// a code span in a table, and a bare `|` would end the cell).
#[must_use]
pub fn cell_code(value: &str) -> String {
    code_span(value, true)
}

fn code_span(value: &str, in_table: bool) -> String {
    if value.is_empty() {
        return "*(empty)*".to_string();
    }
    let longest_run = longest_backtick_run(value);
    // A long plain value (an OU of thousands of RDNs) is copied whole, not char by char.
    let content = if crate::text::is_printable_ascii(value) && !(in_table && value.contains('|')) {
        value.to_string()
    } else {
        let mut content = String::with_capacity(value.len() + 2);
        for ch in value.chars() {
            match ch {
                '|' if in_table => content.push_str("\\|"),
                _ => push_visible(&mut content, ch),
            }
        }
        content
    };
    let fence = "`".repeat(longest_run + 1);
    // CommonMark strips one space from each side when both are there: pad when the value
    // starts or ends with a backtick (it would merge with the fence) or a space (kept so).
    let pad = content.starts_with([' ', '`']) || content.ends_with([' ', '`']);
    let space = if pad { " " } else { "" };
    format!("{fence}{space}{content}{space}{fence}")
}

/// A message of ouguard's (values quoted in backticks) as Markdown: the quoted parts become
/// code spans, the rest escaped prose. A value that itself holds a backtick only shifts what
/// is shown as code; every part is escaped either way, so nothing in it is ever markup.
#[must_use]
pub fn message(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let balanced = parts.len() % 2 == 1;
    let mut rendered = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        let quoted = i % 2 == 1;
        if quoted && (balanced || i + 1 < parts.len()) {
            // Two code spans side by side would merge their fences into one backtick run
            // and read as one span: keep them apart.
            if rendered.ends_with('`') {
                rendered.push(WORD_JOINER);
            }
            rendered.push_str(&code(part));
        } else {
            if quoted {
                // The unmatched last backtick, shown as written.
                rendered.push_str("\\`");
            }
            rendered.push_str(&escape_text(part));
        }
    }
    rendered
}

/// Prose that embeds values (messages): every ASCII punctuation character is
/// backslash-escaped (no emphasis, link, HTML, code span, table cell or entity can start),
/// control characters are shown as symbols, and a word joiner follows `@`, `#` and `:` so
/// that no mention, issue reference, emoji code or URL scheme is recognized by the forge.
#[must_use]
pub fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 4);
    for ch in text.chars() {
        if ch.is_ascii_punctuation() {
            escaped.push('\\');
            escaped.push(ch);
            if matches!(ch, '@' | '#' | ':') {
                escaped.push(WORD_JOINER);
            }
        } else {
            push_visible(&mut escaped, ch);
        }
    }
    escaped
}

/// Pushes a character, showing control characters (line breaks included) as the Unicode
/// control pictures (U+2400…), so a value stays on its line, and invisible or
/// direction-changing characters (zero-width spaces and joiners, bidi overrides and
/// isolates, the BOM) as U+FFFD, so a name cannot look like another one to a reviewer.
fn push_visible(out: &mut String, ch: char) {
    match u32::from(ch) {
        code @ 0..=0x1f => out.push(char::from_u32(0x2400 + code).unwrap_or('\u{fffd}')),
        0x7f => out.push('\u{2421}'),
        _ if crate::text::is_hidden(ch) => out.push('\u{fffd}'),
        _ => out.push(ch),
    }
}

/// A fenced code block whose fence no line of `text` can close; control characters other
/// than line breaks are shown as symbols.
fn write_fenced(out: &mut dyn Write, text: &str) -> io::Result<()> {
    let fence = "`".repeat((longest_backtick_run(text) + 1).max(3));
    writeln!(out, "{fence}text")?;
    let text = text.trim_end_matches('\n');
    // Printable ASCII and line breaks (the usual text plan) need no look at each character.
    let plain = text.bytes().fold(true, |plain, b| {
        plain & ((0x20..0x7f).contains(&b) | (b == b'\n'))
    });
    if !plain
        && text
            .chars()
            .any(|ch| ch != '\n' && crate::text::is_hidden(ch))
    {
        let mut body = String::with_capacity(text.len());
        for ch in text.chars() {
            if ch == '\n' {
                body.push('\n');
            } else {
                push_visible(&mut body, ch);
            }
        }
        writeln!(out, "{body}")?;
    } else {
        writeln!(out, "{text}")?;
    }
    writeln!(out, "{fence}")
}

/// The longest run of backticks in `text` (a fence must be longer).
fn longest_backtick_run(text: &str) -> usize {
    // `find` of one ASCII byte is a fast search; only the runs it lands on are counted.
    let mut longest = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find('`') {
        let start = at + found;
        let run = text.as_bytes()[start..]
            .iter()
            .take_while(|b| **b == b'`')
            .count();
        longest = longest.max(run);
        at = start + run;
    }
    longest
}

/// A path as one shell word: as is when it is plain, else single-quoted.
fn shell_word(path: &str) -> String {
    let plain = !path.is_empty()
        && path.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ',' | '=')
        });
    if plain {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    use super::*;
    use crate::fixtures::{assignment, directory, mapping, org};
    use crate::planner::{plan, NoChooser, PlanOptions, RetargetPin, Selector, Strategy};
    use crate::state::OrgState;

    const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=com";
    /// The name of the issue: closes the fold, injects HTML, breaks the table, opens code.
    const HOSTILE: &str = "</details><img src=x onerror=alert(1)> | `x` ";

    fn make(state: &OrgState, strategy: Strategy, pins: &[(&str, &str)]) -> Plan {
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
        let made = plan(state, evaluation, &options, &mut NoChooser).unwrap();
        assert_matches_schema(&made);
        made
    }

    /// Every plan these tests make conforms to `plans/plan.schema.json`.
    fn assert_matches_schema(plan: &Plan) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/plan.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let document: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{e} at `{}`", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    /// Every kind of change, unfixed findings and warnings, with `name` as a group name and
    /// in an OU.
    fn everything(name: &str) -> OrgState {
        let mut dir = directory("corp.example.com", Some(&[STAFF]));
        let ou_with_name = format!("OU={},DC=corp,DC=example,DC=com", escape_dn_value(name));
        dir.assignments
            .push(assignment("00g1mkt", name, Some(&ou_with_name)));
        dir.assignments.push(assignment(
            "00g2web",
            name,
            Some("OU=Web,DC=corp,DC=example,DC=com"),
        ));
        dir.assignments
            .push(assignment("00g3bad", name, Some(&format!("{name},,"))));
        dir.assignments.push(assignment("00g5none", "NoOu", None));
        let app_id = dir.app_id.clone();
        dir.mappings.push(mapping(
            "prm1corp",
            &app_id,
            &[("dn", Some(&format!("\"CN=\" + user.login + \"{name}\"")))],
        ));
        org(vec![dir])
    }

    /// A DN attribute value with RFC 4514 escapes, so the hostile name can be an OU.
    fn escape_dn_value(value: &str) -> String {
        let mut escaped = String::new();
        for (i, ch) in value.chars().enumerate() {
            let edge = i == 0 || i + 1 == value.chars().count();
            if matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                || (edge && ch == ' ')
                || (i == 0 && ch == '#')
            {
                escaped.push('\\');
            }
            escaped.push(ch);
        }
        escaped
    }

    fn hostile_plan() -> Plan {
        make(&everything(HOSTILE), Strategy::AddOu, &[("00g2web", STAFF)])
    }

    /// What a Markdown renderer with GitHub's extensions makes of the text.
    fn events(text: &str) -> Vec<Event<'_>> {
        let mut options = Options::empty();
        options.insert(Options::ENABLE_TABLES);
        options.insert(Options::ENABLE_TASKLISTS);
        options.insert(Options::ENABLE_STRIKETHROUGH);
        Parser::new_ext(text, options).collect()
    }

    /// The only HTML ouguard writes itself.
    fn is_ours(html: &str) -> bool {
        let html = html.trim_end_matches('\n');
        html == MARKER
            || html == "<details><summary>Full plan (text)</summary>"
            || html == "</details>"
    }

    #[test]
    fn snapshot_of_every_section() {
        let plan = make(
            &everything("Marketing"),
            Strategy::AddOu,
            &[("00g2web", STAFF)],
        );
        insta::assert_snapshot!(render_markdown_to_string(&plan, Some("plans/review.json")));
    }

    #[test]
    fn snapshot_of_the_hostile_name() {
        insta::assert_snapshot!(render_markdown_to_string(
            &hostile_plan(),
            Some("plans/review.json")
        ));
    }

    #[test]
    fn snapshot_of_no_changes_and_of_an_unsaved_plan() {
        let mut dir = directory("corp.example.com", Some(&[STAFF]));
        dir.assignments
            .push(assignment("00g1", "Staff", Some(STAFF)));
        let plan = make(&org(vec![dir]), Strategy::AddOu, &[]);
        insta::assert_snapshot!(render_markdown_to_string(&plan, None));
    }

    #[test]
    fn the_table_has_one_row_per_change_and_no_html_from_data_reaches_the_output() {
        let plan = hostile_plan();
        assert!(plan.resource_changes.len() >= 3, "{plan:#?}");
        let text = render_markdown_to_string(&plan, Some("plans/review.json"));
        let events = events(&text);

        let mut rows = 0;
        let mut cells_in_row = 0;
        let mut in_head = false;
        let mut tables = 0;
        let mut link_or_image = false;
        for event in &events {
            match event {
                Event::Start(Tag::Table(_)) => tables += 1,
                Event::Start(Tag::TableHead) => in_head = true,
                Event::End(TagEnd::TableHead) => {
                    assert_eq!(cells_in_row, 5, "five columns");
                    in_head = false;
                    cells_in_row = 0;
                }
                Event::Start(Tag::TableRow) => cells_in_row = 0,
                Event::Start(Tag::TableCell) => cells_in_row += 1,
                Event::End(TagEnd::TableRow) if !in_head => {
                    rows += 1;
                    assert_eq!(cells_in_row, 5, "row {rows} has five cells");
                }
                Event::Html(html) | Event::InlineHtml(html) => {
                    assert!(is_ours(html), "HTML from data reached the output: {html:?}");
                }
                Event::Start(Tag::Link { .. } | Tag::Image { .. }) => link_or_image = true,
                _ => {}
            }
        }
        assert_eq!(tables, 1);
        assert_eq!(rows, plan.resource_changes.len(), "one row per change");
        assert!(!link_or_image, "no link or image:\n{text}");

        // The fold is closed exactly once, by ouguard, at the end: the name stays inside.
        let closing: Vec<_> = events
            .iter()
            .filter(
                |e| matches!(e, Event::Html(h) | Event::InlineHtml(h) if h.contains("</details>")),
            )
            .collect();
        assert_eq!(closing.len(), 1, "{closing:?}");

        // The name is shown as text: whole, in code spans, in the table.
        let shown: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Code(code) => Some(code.as_ref()),
                _ => None,
            })
            .collect();
        assert!(
            shown
                .iter()
                .any(|c| c.contains("</details><img src=x onerror=alert(1)> | `x`")),
            "the name is shown as it is: {shown:?}"
        );
    }

    #[test]
    fn the_summary_is_outside_the_fold_and_the_full_plan_inside() {
        let plan = hostile_plan();
        let text = render_markdown_to_string(&plan, Some("plans/review.json"));
        let fold = text.find("<details>").unwrap();
        let summary = text.find("**Plan: ").unwrap();
        assert!(summary < fold);
        let table = text.find("| | Address |").unwrap();
        assert!(table < fold);
        // The whole text plan is in the fold, as one code block.
        let mut in_block = false;
        let mut block = String::new();
        for event in events(&text) {
            match event {
                Event::Start(Tag::CodeBlock(_)) => in_block = true,
                Event::End(TagEnd::CodeBlock) => in_block = false,
                Event::Text(t) if in_block => block.push_str(&t),
                _ => {}
            }
        }
        let mut plain = String::new();
        for ch in crate::render::render_to_string(&plan, false).chars() {
            if ch == '\n' {
                plain.push(ch);
            } else {
                push_visible(&mut plain, ch);
            }
        }
        assert_eq!(block, plain);
        assert!(text
            .trim_end()
            .ends_with("Apply exactly this plan with `ouguard apply plans/review.json`."));
    }

    #[test]
    fn manual_steps_are_a_checklist_with_the_console_path() {
        let plan = hostile_plan();
        let text = render_markdown_to_string(&plan, None);
        let tasks = events(&text)
            .iter()
            .filter(|e| matches!(e, Event::TaskListMarker(false)))
            .count();
        assert_eq!(tasks, plan.summary.manual);
        assert!(text.contains(
            "Directory > Directory Integrations > `corp.example.com` > Provisioning > \
             Integration > User OUs connected to Okta"
        ));
    }

    #[test]
    fn code_spans_hold_any_value_exactly() {
        let cases = [
            "plain",
            "`",
            "``a``",
            " lead",
            "trail ",
            "a | b",
            "</details>",
            "x\ny",
            "\u{1b}[31mred",
            "@org/team #12 https://evil.example.com www.evil.example.com a@b.example.com",
        ];
        for value in cases {
            for in_table in [false, true] {
                let span = code_span(value, in_table);
                let text = if in_table {
                    format!("| a |\n|---|\n| {span} |\n")
                } else {
                    format!("- {span}\n")
                };
                let codes: Vec<String> = events(&text)
                    .into_iter()
                    .filter_map(|e| match e {
                        Event::Code(code) => Some(code.into_string()),
                        Event::Html(_) | Event::InlineHtml(_) => panic!("HTML from {value:?}"),
                        _ => None,
                    })
                    .collect();
                let mut expected = String::new();
                for ch in value.chars() {
                    push_visible(&mut expected, ch);
                }
                assert_eq!(codes, [expected], "{value:?} in_table={in_table}: {text}");
            }
        }
        assert_eq!(code(""), "*(empty)*");
        // Invisible and direction-changing characters cannot disguise a value.
        assert_eq!(
            code("Staff\u{202e}moc\u{200b}\u{feff}"),
            "`Staff\u{fffd}moc\u{fffd}\u{fffd}`"
        );
        assert_eq!(escape_text("a\u{2066}b"), "a\u{fffd}b");
    }

    #[test]
    fn prose_is_escaped_text_without_markup_mentions_or_links() {
        let hostile = "group `x` *bold* [link](https://evil.example.com) <b>html</b> &amp; \
                       @org/team #12 :smile: | cell\nnext line \\ end";
        let escaped = escape_text(hostile);
        assert!(!escaped.contains('\n'));
        let text = format!("- {escaped}\n");
        let mut shown = String::new();
        for event in events(&text) {
            match event {
                Event::Text(t) => shown.push_str(&t),
                Event::Start(Tag::Item | Tag::List(_) | Tag::Paragraph)
                | Event::End(TagEnd::Item | TagEnd::List(_) | TagEnd::Paragraph) => {}
                other => panic!("markup from data: {other:?} in {text}"),
            }
        }
        let without_joiners: String = shown.chars().filter(|&c| c != WORD_JOINER).collect();
        assert_eq!(without_joiners, hostile.replace('\n', "\u{240a}"));
        // Forges link mentions, issue numbers and URLs in text: a word joiner breaks them.
        for pattern in ["@org", "#12", "https://", ":smile:"] {
            assert!(!shown.contains(pattern), "{pattern} survives: {shown:?}");
        }
    }

    #[test]
    fn messages_show_quoted_values_as_code_and_never_markup() {
        let plain = message("group `Web` targets `OU=Web,DC=x`, which is *not* imported");
        let codes: Vec<String> = events(&format!("- {plain}\n"))
            .into_iter()
            .filter_map(|e| match e {
                Event::Code(code) => Some(code.into_string()),
                Event::Html(_) | Event::InlineHtml(_) | Event::Start(Tag::Emphasis) => {
                    panic!("markup in {plain}")
                }
                _ => None,
            })
            .collect();
        assert_eq!(codes, ["Web", "OU=Web,DC=x"]);
        let adjacent = message("`a``b`");
        let codes: Vec<String> = events(&adjacent)
            .into_iter()
            .filter_map(|e| match e {
                Event::Code(code) => Some(code.into_string()),
                _ => None,
            })
            .collect();
        assert_eq!(codes, ["a", "b"], "{adjacent}");
        for hostile in [
            format!("group `{HOSTILE}` targets `{HOSTILE},,`"),
            "an odd ` backtick <b>x</b>".to_string(),
            "`".to_string(),
            "``".to_string(),
            "`a``b` <img src=x onerror=alert(1)> `".to_string(),
            "`a```b`` <img src=x> ``".to_string(),
        ] {
            let rendered = message(&hostile);
            assert!(!rendered.contains('\n'));
            for event in events(&format!("- {rendered}\n")) {
                assert!(
                    !matches!(
                        event,
                        Event::Html(_)
                            | Event::InlineHtml(_)
                            | Event::Start(Tag::Link { .. } | Tag::Image { .. })
                    ),
                    "{event:?} from {hostile:?}: {rendered}"
                );
            }
        }
    }

    #[test]
    fn findings_left_out_by_target_do_not_claim_okta_matches_the_rules() {
        let state = everything("Marketing");
        let options = PlanOptions {
            targets: vec![Selector("group:Nobody".to_string())],
            org_url: Some("https://acme.okta.com".to_string()),
            created_at: "2026-11-29T18:00:00Z".to_string(),
            ..PlanOptions::default()
        };
        let evaluation = crate::rules::evaluate(&state);
        let plan = plan(&state, evaluation, &options, &mut NoChooser).unwrap();
        assert_matches_schema(&plan);
        assert!(!plan.has_changes());
        let text = render_markdown_to_string(&plan, None);
        assert!(!text.contains("Okta matches the rules"), "{text}");
        assert!(text.contains("left out by --target/--exclude"), "{text}");
    }

    #[test]
    fn a_shell_word_is_quoted_only_when_needed() {
        assert_eq!(shell_word("plans/a-b_c.json"), "plans/a-b_c.json");
        assert_eq!(shell_word("my plans/it's.json"), "'my plans/it'\\''s.json'");
        assert_eq!(shell_word("$(x).json"), "'$(x).json'");
    }
}
