//! Output of plans and reports: a human dry run (coloured unified diffs on a TTY,
//! `NO_COLOR` respected) and a stable JSON document for machines. Secret content
//! never reaches either: redacted diffs carry no text at all. Every path, name and
//! notice in the human rendering has its control characters escaped first (a file
//! name from an image cannot start a plan line or drive the terminal); JSON keeps
//! them exactly, as JSON escapes.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use serde_json::json;

use crate::plan::{NoticeLevel, Plan};
use crate::playbook::Severity;

/// The version of the JSON plan document (`docs/plan-format.md`).
pub const JSON_FORMAT_VERSION: u32 = 1;

const ADD: Style = AnsiColor::Green.on_default();
const DEL: Style = AnsiColor::Red.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn sev_style(s: Severity) -> Style {
    match s {
        Severity::Critical => AnsiColor::Red.on_default().bold(),
        Severity::High => AnsiColor::Yellow.on_default().bold(),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => Style::new(),
    }
}

/// `s` with every control character escaped (`\n`, `\r`, `\t`, `\e`, `\u{..}`):
/// for one-line fields (paths, names, rule ids, notices) in human output.
#[must_use]
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s, &[])
}

/// As [`esc`], but keeping line breaks and tabs: for multi-line messages on stderr.
#[must_use]
pub fn esc_text(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s, &['\n', '\t'])
}

fn escape<'a>(s: &'a str, keep: &[char]) -> std::borrow::Cow<'a, str> {
    if !s.chars().any(|c| c.is_control() && !keep.contains(&c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !c.is_control() || keep.contains(&c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A unified diff of two texts.
#[must_use]
pub fn unified(before: &str, after: &str, path: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (now)"), &format!("{path} (planned)"))
        .to_string()
}

/// One change of the human plan; `audit` marks an audit-only rule's drift.
fn change(s: &mut String, c: &crate::plan::Change, audit: bool) {
    let sev = sev_style(c.severity);
    let _ = writeln!(
        *s,
        "\n{sev}{} [{}]{sev:#} {BOLD}{}{BOLD:#} {DIM}({}){DIM:#}\n  {}: {}",
        if audit { "?" } else { "~" },
        c.severity.as_str(),
        esc(&c.rule_id),
        esc(&c.task),
        esc(&c.target),
        esc(&c.summary)
    );
    if !c.references.is_empty() {
        let refs: Vec<String> = c
            .references
            .iter()
            .map(|(k, v)| format!("{} {}", esc(k), esc(v)))
            .collect();
        let _ = writeln!(*s, "  {DIM}covers: {}{DIM:#}", refs.join(", "));
    }
    if let Some(d) = &c.diff {
        if d.redacted {
            let _ = writeln!(*s, "  {DIM}(content is secret: diff hidden){DIM:#}");
        } else {
            for line in unified(&d.before, &d.after, &esc(&c.target)).lines() {
                let style = if line.starts_with("+++") || line.starts_with("---") {
                    BOLD
                } else if line.starts_with('+') {
                    ADD
                } else if line.starts_with('-') {
                    DEL
                } else if line.starts_with("@@") {
                    HUNK
                } else {
                    Style::new()
                };
                let line = escape(line, &['\t']);
                let _ = writeln!(*s, "    {style}{line}{style:#}");
            }
        }
    }
    if !c.handlers.is_empty() {
        let hs: Vec<String> = c
            .handlers
            .iter()
            .map(|h| esc(&h.to_string()).into_owned())
            .collect();
        let _ = writeln!(*s, "  then: {}", hs.join(", "));
    }
}

/// The human dry run. ANSI styles are always emitted; the caller's stream
/// (anstream) strips them when the output is not a colour terminal.
#[must_use]
pub fn human(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{BOLD}harden plan{BOLD:#}: {} on {}",
        esc(&plan.playbook),
        esc(&plan.root.display().to_string())
    );
    for c in &plan.changes {
        change(&mut s, c, false);
    }
    if !plan.audit.is_empty() {
        let _ = writeln!(
            s,
            "\n{BOLD}Audit only{BOLD:#} (rules with `enforce: false`: reported, never applied):"
        );
    }
    for c in &plan.audit {
        change(&mut s, c, true);
    }
    if !plan.errors.is_empty() || !plan.skipped.is_empty() || !plan.notices.is_empty() {
        let _ = writeln!(s);
    }
    let failed = AnsiColor::Red.on_default().bold();
    for e in &plan.errors {
        let _ = writeln!(
            s,
            "{failed}FAILED{failed:#} {}: {}",
            esc(&e.rule_id),
            esc(&e.message)
        );
    }
    for k in &plan.skipped {
        let _ = writeln!(
            s,
            "{DIM}skipped{DIM:#} {}: {}",
            esc(&k.rule_id),
            esc(&k.reason)
        );
    }
    for n in &plan.notices {
        let (mark, style) = match n.level {
            NoticeLevel::Unsupported => ("unsupported", AnsiColor::Magenta.on_default()),
            NoticeLevel::Warning => ("warning", AnsiColor::Yellow.on_default()),
            NoticeLevel::Info => ("note", DIM),
            NoticeLevel::Refused => ("REFUSED", AnsiColor::Red.on_default().bold()),
        };
        let _ = writeln!(
            s,
            "{style}{mark}{style:#} {}: {}",
            esc(&n.rule_id),
            esc(&n.message)
        );
    }
    let counts: Vec<String> = plan
        .by_severity()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(sev, n)| format!("{n} {}", sev.as_str()))
        .collect();
    let unsupported = plan
        .notices
        .iter()
        .filter(|n| n.level == NoticeLevel::Unsupported)
        .count();
    let _ = write!(
        s,
        "\n{BOLD}Plan:{BOLD:#} {} change{}",
        plan.changes.len(),
        if plan.changes.len() == 1 { "" } else { "s" }
    );
    if !counts.is_empty() {
        let _ = write!(s, " ({})", counts.join(", "));
    }
    if !plan.audit.is_empty() {
        let n = plan.audit.len();
        let _ = write!(
            s,
            ", {n} audit-only finding{}",
            if n == 1 { "" } else { "s" }
        );
    }
    if unsupported > 0 {
        let _ = write!(s, ", {unsupported} unsupported on this host");
    }
    if !plan.errors.is_empty() {
        let n = plan.errors.len();
        let _ = write!(
            s,
            ", {failed}{n} rule{} failed{failed:#}",
            if n == 1 { "" } else { "s" }
        );
    }
    if !plan.skipped.is_empty() {
        let _ = write!(s, ", {} skipped", plan.skipped.len());
    }
    let _ = writeln!(s, ".");
    s
}

/// The JSON plan document.
#[must_use]
pub fn json(plan: &Plan) -> serde_json::Value {
    let changes = |list: &[crate::plan::Change]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|c| {
                let diff = c.diff.as_ref().map(|d| {
                if d.redacted {
                    json!({ "redacted": true, "unified": null })
                } else {
                    json!({ "redacted": false, "unified": unified(&d.before, &d.after, &c.target) })
                }
            });
                json!({
                    "rule_id": c.rule_id,
                    "task": c.task,
                    "severity": c.severity,
                    "module": c.module,
                    "target": c.target,
                    "summary": c.summary,
                    "diff": diff,
                    "handlers": c.handlers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "operations": c.ops.len(),
                    "references": c.references,
                })
            })
            .collect()
    };
    let by_severity: serde_json::Map<String, serde_json::Value> = plan
        .by_severity()
        .iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "playbook": plan.playbook,
        "root": plan.root,
        "changes": changes(&plan.changes),
        "audit": changes(&plan.audit),
        "notices": plan.notices,
        "errors": plan.errors,
        "skipped": plan.skipped,
        "probes": plan.probes,
        "summary": {
            "changes": plan.changes.len(),
            "audit": plan.audit.len(),
            "errors": plan.errors.len(),
            "skipped": plan.skipped.len(),
            "probes": plan.probes.len(),
            "probes_failed": plan.failed_probes().count(),
            "compliant": plan.compliant().len(),
            "by_severity": by_severity,
            "unsupported": plan.notices.iter().filter(|n| n.level == NoticeLevel::Unsupported).count(),
            "handlers": plan.handlers().iter().map(ToString::to_string).collect::<Vec<_>>(),
        }
    })
}
