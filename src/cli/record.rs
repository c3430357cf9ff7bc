//! The run report of a command that leaves one (`check`, `apply`, `rollback`):
//! the command fills a [`Recorder`] as it goes; [`recorded`] appends the report
//! to STATE/reports, writes the metrics file when asked, and prints the error
//! (if any) and then the one-line summary, which is always the last line.

use std::io::Write;

use super::args::RunOpts;
use super::output;
use crate::engine::apply::Report;
use crate::engine::state::Outcome;
use crate::error::Error;
use crate::plan::Plan;
use crate::report::RunReport;
use crate::session::{Session, Target};

/// What a run tells its report, filled in as the command goes.
#[derive(Debug, Default)]
pub struct Recorder {
    pub plan: Option<Plan>,
    pub result: &'static str,
    pub txn: Option<String>,
    pub message: Option<String>,
    pub committed: bool,
    /// The changes a rollback undoes (a rollback has no plan to count them in).
    pub changes: usize,
}

impl Recorder {
    /// Takes the transaction's id, message and outcome.
    pub fn record(&mut self, report: &Report) {
        self.txn = Some(report.txn.clone());
        self.message.clone_from(&report.message);
        self.committed = report.outcome == Outcome::Committed;
        self.result = match report.outcome {
            Outcome::Committed => "committed",
            Outcome::ValidationFailed => "validation-failed",
            Outcome::RolledBack | Outcome::Reverted => "rolled-back",
            Outcome::RollbackFailed => "rollback-failed",
        };
    }
}

/// Runs `f`, a command that leaves a report, and records how it went.
pub fn recorded(
    command: &str,
    target: &Target,
    opts: &RunOpts,
    quiet: bool,
    f: impl FnOnce(&mut Recorder) -> Result<i32, Error>,
) -> Result<i32, Error> {
    let started = crate::engine::state::now_rfc3339();
    let clock = std::time::Instant::now();
    let mut rec = Recorder::default();
    let result = f(&mut rec);
    let mut r = RunReport::new(command, &started, clock.elapsed(), rec.plan.as_ref());
    r.exit_code = match &result {
        Ok(c) => *c,
        Err(e) => e.code(),
    };
    r.set_result(match (&result, rec.result) {
        (Err(_), _) => "error",
        (Ok(_), "") => "nothing-to-do",
        (Ok(_), s) => s,
    });
    if let Err(e) = &result {
        rec.message = Some(e.to_string());
    }
    r.txn = rec.txn;
    r.message = rec.message;
    let attempted = match command {
        "apply" => Some(r.changes.len()),
        "rollback" => Some(rec.changes),
        _ => None,
    };
    if let Some(n) = attempted {
        r.applied = if rec.committed { n } else { 0 };
        r.failed = if rec.committed || rec.result.is_empty() {
            0
        } else {
            n
        };
    }
    if let Ok(session) = Session::open(target) {
        if r.root.as_os_str().is_empty() {
            r.root.clone_from(&session.host.root);
        }
        match session
            .state()
            .map(|s| crate::report::save(&s, &r, opts.keep_reports))
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot write the run report: {e}"),
            Err(e) => tracing::warn!("cannot write the run report: {e}"),
        }
    }
    if let Some(path) = &opts.metrics_file
        && let Err(e) = crate::report::write_metrics(path, &r)
    {
        output::say(&format!("cannot write metrics: {e}"));
    }
    // The error first, then the one-line summary: the summary is the last line.
    let result = result.map_err(|e| {
        output::error(&e);
        Error::Printed(e.code())
    });
    if !quiet {
        let _ = writeln!(anstream::stderr(), "{}", r.summary());
    }
    result
}
