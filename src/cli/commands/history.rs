//! `harden history`: the transactions in the state directory, or with `--runs`
//! the run reports (check, apply, rollback).

use crate::cli::args::Format;
use crate::cli::output;
use crate::engine::render::esc;
use crate::error::{Error, exit};
use crate::session::{Session, Target};

pub fn runs(target: &Target, format: Format) -> Result<i32, Error> {
    let state = Session::open(target)?.state()?;
    let runs = crate::report::load_all(&state);
    if format == Format::Json {
        output::json(&runs);
    } else if runs.is_empty() {
        println!("no run reports in {}", crate::report::dir(&state).display());
    } else {
        for r in runs {
            println!(
                "{}  {:<8} {:<17} exit {}  {:>3} changes  {:>6} ms  {}",
                r.started,
                r.command,
                r.result,
                r.exit_code,
                r.change_count(),
                r.duration_ms,
                esc(&r.playbook)
            );
        }
    }
    Ok(exit::OK)
}

pub fn transactions(target: &Target, format: Format) -> Result<i32, Error> {
    let session = Session::open(target)?;
    let lines = session.history()?;
    if format == Format::Json {
        output::json(&lines);
    } else if lines.is_empty() {
        println!("no transactions in {}", session.state()?.path.display());
    } else {
        for l in lines {
            println!(
                "{}  {:<8} {}  {:<24} {:>3} changes  {}{}",
                esc(&l.id),
                format!("{:?}", l.kind).to_lowercase(),
                esc(&l.started),
                esc(&l.playbook),
                l.changes,
                esc(&l.result),
                l.message
                    .map(|m| format!(" ({})", esc(&m)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(exit::OK)
}
