//! `harden rollback [TXN]`: restore the snapshot of a transaction (the last one
//! by default), showing what it restores and asking first, like `apply`;
//! `--dry-run` only shows it.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::output;
use crate::cli::record::Recorder;
use crate::engine::apply::RollbackTarget;
use crate::engine::render::esc;
use crate::engine::snapshot;
use crate::error::{Error, exit};
use crate::session::{Session, Target};

/// `rollback --dry-run`: what would be restored; writes nothing (no run report).
pub fn preview(target: &Target, txn: Option<&str>) -> Result<i32, Error> {
    let session = Session::open(target)?;
    let state = session.state()?;
    let t = session.rollback_target(&state, txn)?;
    let entries = show(&session, &t)?;
    stdout_or_error(writeln!(
        std::io::stdout(),
        "\nRollback would restore {entries} entries of {} change(s); nothing was written.",
        t.manifest.changes
    ))?;
    Ok(exit::OK)
}

/// Prints what rolling back `t` restores; returns the number of entries. The
/// preview is what the operator agrees to: when it cannot be written, that is
/// the error, before anything is restored.
fn show(session: &Session, t: &RollbackTarget) -> Result<usize, Error> {
    let m = &t.manifest;
    let lines = snapshot::preview(&session.host, &m.entries);
    // One write per line would be one system call per path of a tree.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = writeln!(
        out,
        "harden: rollback of transaction {} ({} of {}, started {}) on {}\n",
        esc(&t.id),
        format!("{:?}", m.kind).to_lowercase(),
        esc(&m.playbook),
        esc(&m.started),
        esc(&session.host.root.display().to_string())
    )
    .and_then(|()| lines.iter().try_for_each(|l| writeln!(out, "  {}", esc(l))))
    .and_then(|()| out.flush());
    stdout_or_error(written)?;
    Ok(lines.len())
}

fn stdout_or_error(written: std::io::Result<()>) -> Result<(), Error> {
    written.map_err(|source| Error::Io {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

pub fn run(
    target: &Target,
    txn: Option<&str>,
    yes: bool,
    rec: &mut Recorder,
) -> Result<i32, Error> {
    let session = Session::open(target)?;
    let state = session.state()?;
    // Shown (and asked) before anything is written; when there is nothing to
    // roll back, the rollback below says so after sweeping stale locks.
    if let Ok(t) = session.rollback_target(&state, txn) {
        show(&session, &t)?;
        rec.changes = t.manifest.changes;
        if !yes {
            output::ask(
                &format!(
                    "Roll back transaction {} ({} change(s)) on {}?",
                    t.id,
                    t.manifest.changes,
                    session.host.root.display()
                ),
                "roll back",
            )?;
        }
    }
    let swept = session.sweep_stale_locks(&state)?;
    let Some(report) = session.rollback(&state, txn, &swept)? else {
        return Ok(exit::OK);
    };
    output::report(&report, "rollback");
    crate::engine::confirm::settle(&state);
    rec.record(&report);
    Ok(exit::of_rollback(report.outcome))
}
