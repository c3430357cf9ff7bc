//! What the command line prints, in one place: the plan (human or JSON) on
//! stdout; rule errors, transaction outcomes, warnings and `harden: error: ...`
//! on stderr; the yes/no question before a change. Everything that comes from a
//! playbook, an image or a message is escaped ([`render::esc`]): a control
//! character can neither colour the terminal nor forge a line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::args::Format;
use crate::engine::apply::Report;
use crate::engine::render;
use crate::engine::state::Outcome;
use crate::error::Error;
use crate::host::service;
use crate::plan::Plan;

/// Prints `plan` on stdout: coloured diffs on a terminal, or JSON.
pub fn plan(plan: &Plan, format: Format) -> Result<(), Error> {
    let text = match format {
        Format::Human => render::human(plan),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&render::json(plan)).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    anstream::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
}

/// Prints `value` as pretty JSON on stdout (history, run reports, the schema).
pub fn json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// `harden: LINE` on stderr.
pub fn say(line: &str) {
    let _ = writeln!(anstream::stderr(), "harden: {line}");
}

/// One line on stderr per rule that failed, with its id and why.
pub fn rule_errors(plan: &Plan) {
    let mut err = anstream::stderr();
    for e in &plan.errors {
        let _ = writeln!(
            err,
            "harden: error: rule {}: {}",
            render::esc(&e.rule_id),
            render::esc_text(&e.message)
        );
    }
}

/// How a transaction (`what`: apply, rollback, timer install, ...) went: each
/// handler, then one line with the outcome.
pub fn report(report: &Report, what: &str) {
    let mut err = anstream::stderr();
    for (h, o) in &report.handlers {
        let _ = match o {
            service::Outcome::Done => writeln!(err, "harden: {h}: done"),
            service::Outcome::Skipped(why) => writeln!(err, "harden: {h}: skipped ({why})"),
            service::Outcome::Failed(why) => writeln!(err, "harden: {h}: FAILED: {why}"),
        };
    }
    let message = report.message.as_deref().unwrap_or("");
    let line = match report.outcome {
        Outcome::Committed => match &report.message {
            Some(m) => format!(
                "harden: {what} committed as transaction {}; {m}",
                report.txn
            ),
            None => format!("harden: {what} committed as transaction {}", report.txn),
        },
        Outcome::ValidationFailed => format!(
            "harden: {what} refused by validation, nothing installed (transaction {}): {message}",
            report.txn,
        ),
        Outcome::RolledBack | Outcome::Reverted => format!(
            "harden: {what} failed and was rolled back (transaction {}): {message}",
            report.txn,
        ),
        Outcome::RollbackFailed => format!(
            "harden: {what} failed and restoring the snapshot failed too (transaction {}): {message}; problems: {}",
            report.txn,
            report.restore_problems.join("; ")
        ),
    };
    let _ = writeln!(err, "{}", render::esc_text(&line));
    if report.outcome != Outcome::RollbackFailed && !report.restore_problems.is_empty() {
        let also = report.restore_problems.join("; ");
        let _ = writeln!(err, "harden: also: {}", render::esc_text(&also));
    }
}

/// `harden: error: ...` on stderr, control characters escaped.
pub fn error(e: &Error) {
    if matches!(e, Error::Printed(_)) {
        return;
    }
    tracing::debug!(error = ?e);
    let _ = writeln!(
        anstream::stderr(),
        "harden: error: {}",
        render::esc_text(&e.to_string())
    );
}

/// Asks `question` on the terminal; refuses when there is none (`--yes` is the
/// way to run `what` unattended) or the answer is not yes.
pub fn ask(question: &str, what: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(format!(
            "no terminal to confirm on: pass --yes to {what} without confirmation"
        )));
    }
    let mut err = anstream::stderr();
    let _ = write!(err, "{} [y/N] ", render::esc(question));
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if matches!(line.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(Error::Refused("not confirmed; nothing was changed".into()))
    }
}
