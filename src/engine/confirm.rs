//! Confirm-or-revert (`harden apply --confirm-within SECONDS`, Junos' "commit
//! confirmed"): the transaction is armed before its first write by recording
//! `STATE/pending-confirm.json` {txn, deadline} and starting a watchdog process that
//! outlives the session and the apply process. Unless `harden confirm` removes the
//! pending file before the deadline, the watchdog rolls the transaction back (or,
//! when the apply was killed half-way, restores its interrupted snapshot).
//!
//! `confirm` and the watchdog race on one file with atomic operations only:
//! confirming unlinks `pending-confirm.json`, expiring renames it to
//! `confirm-expired.json`; whichever succeeds first decides. This module owns those
//! files and the watchdog's loop; spawning the process is the CLI's job.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::apply::{self, TxnError};
use super::state::{Outcome, StateDir, StateError, TxnResult, now_rfc3339};
use crate::host::Host;

const PENDING: &str = "pending-confirm.json";
const EXPIRED: &str = "confirm-expired.json";
const POLL: Duration = Duration::from_millis(100);

/// A transaction waiting for `harden confirm`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub txn: String,
    /// Seconds since the Unix epoch after which the watchdog reverts.
    pub deadline: u64,
    /// The watchdog's process id, when it runs as our own child (not under systemd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog_pid: Option<u32>,
    /// What the watchdog did, once it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn file(state: &StateDir, name: &str) -> PathBuf {
    state.path.join(name)
}

/// The pending confirmation, if any.
///
/// # Errors
/// When the file is unreadable or corrupt.
pub fn pending(state: &StateDir) -> Result<Option<Pending>, StateError> {
    state.get_json(&state.path, PENDING)
}

/// Records (or updates) the pending confirmation.
///
/// # Errors
/// When it cannot be written.
pub fn set_pending(state: &StateDir, p: &Pending) -> Result<(), StateError> {
    state.put_json(&state.path, PENDING, p)
}

/// What `harden confirm` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The transaction stays; the watchdog will exit without acting.
    Kept(String),
    /// Too late: the watchdog already took the transaction (and its outcome).
    Expired(Pending),
    /// Nothing was waiting for a confirmation.
    NothingPending,
}

/// Confirms the pending transaction, if there is one.
///
/// # Errors
/// When the state files cannot be read or removed.
pub fn confirm(state: &StateDir) -> Result<Confirmed, StateError> {
    let Some(p) = pending(state)? else {
        return Ok(match state.get_json::<Pending>(&state.path, EXPIRED)? {
            Some(e) => Confirmed::Expired(e),
            None => Confirmed::NothingPending,
        });
    };
    match std::fs::remove_file(file(state, PENDING)) {
        Ok(()) => Ok(Confirmed::Kept(p.txn)),
        // The watchdog renamed it first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Confirmed::Expired(
            state.get_json(&state.path, EXPIRED)?.unwrap_or(p),
        )),
        Err(e) => Err(StateError::Io {
            path: file(state, PENDING),
            source: e,
        }),
    }
}

/// Drops the pending confirmation of `txn` (its apply failed and restored itself).
pub fn disarm(state: &StateDir, txn: &str) {
    if let Ok(Some(p)) = pending(state)
        && p.txn == txn
    {
        let _ = std::fs::remove_file(file(state, PENDING));
    }
}

/// Drops a pending confirmation whose transaction was already reverted by hand
/// (`harden rollback`), so it no longer blocks applies.
pub fn settle(state: &StateDir) {
    if let Ok(Some(p)) = pending(state)
        && let Ok(dir) = state.txn_dir(&p.txn)
        && let Ok(Some(r)) = state.get_json::<TxnResult>(&dir, "result.json")
        && r.outcome == Outcome::Reverted
    {
        let _ = std::fs::remove_file(file(state, PENDING));
    }
}

/// A transaction whose watchdog has expired it and is still reverting it (a
/// watchdog that died half-way leaves the journal, which `apply` reports).
///
/// # Errors
/// When the file is unreadable or corrupt.
pub fn reverting(state: &StateDir) -> Result<Option<Pending>, StateError> {
    Ok(state
        .get_json::<Pending>(&state.path, EXPIRED)?
        .filter(|e| {
            e.outcome.is_none()
                && e.watchdog_pid
                    .is_none_or(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        }))
}

/// How the watchdog ended.
#[derive(Debug)]
pub enum Watch {
    /// Confirmed in time (or replaced by another transaction's confirmation).
    Confirmed,
    /// The deadline passed and the transaction was reverted by this rollback.
    Reverted(apply::Report),
    /// The deadline passed, but the transaction had not stayed in place.
    NothingToRevert(String),
}

/// The watchdog of `txn`: waits for the deadline (re-reading it, so a fresh window
/// can be granted after the commit), then reverts unless confirmed.
///
/// # Errors
/// When the state directory is unreadable or the rollback cannot start.
pub fn watch(host: &Host, state: &StateDir, txn: &str) -> Result<Watch, TxnError> {
    loop {
        let Some(p) = pending(state)? else {
            return Ok(Watch::Confirmed);
        };
        if p.txn != txn {
            return Ok(Watch::Confirmed);
        }
        if now_unix() >= p.deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    if std::fs::rename(file(state, PENDING), file(state, EXPIRED)).is_err() {
        return Ok(Watch::Confirmed);
    }
    let watch = revert(host, state, txn)?;
    if let Ok(Some(mut e)) = state.get_json::<Pending>(&state.path, EXPIRED) {
        e.outcome = Some(match &watch {
            Watch::Reverted(r) => format!(
                "{now}: not confirmed in time; reverted by transaction {} ({:?})",
                r.txn,
                r.outcome,
                now = now_rfc3339()
            ),
            Watch::NothingToRevert(why) => format!("{}: not confirmed; {why}", now_rfc3339()),
            Watch::Confirmed => "confirmed".into(),
        });
        let _ = state.put_json(&state.path, EXPIRED, &e);
    }
    Ok(watch)
}

/// Reverts `txn`, waiting while a run holds the lock (the apply may still be
/// finishing its handlers).
fn revert(host: &Host, state: &StateDir, txn: &str) -> Result<Watch, TxnError> {
    loop {
        if state.is_locked() {
            std::thread::sleep(POLL);
            continue;
        }
        let requested = match state.journal()? {
            // Killed half-way: restore the interrupted snapshot.
            Some(j) if j.txn == txn => None,
            Some(j) => {
                return Ok(Watch::NothingToRevert(format!(
                    "transaction {} is interrupted instead; run `harden rollback`",
                    j.txn
                )));
            }
            None => {
                let dir = state.txn_dir(txn)?;
                match state.get_json::<TxnResult>(&dir, "result.json")? {
                    Some(r) if r.outcome == Outcome::Committed => Some(txn),
                    Some(r) => {
                        return Ok(Watch::NothingToRevert(format!(
                            "transaction {txn} ended {:?}",
                            r.outcome
                        )));
                    }
                    None => {
                        return Ok(Watch::NothingToRevert(format!(
                            "transaction {txn} never started"
                        )));
                    }
                }
            }
        };
        match apply::rollback(host, state, requested) {
            Err(TxnError::State(StateError::Locked { .. })) => std::thread::sleep(POLL),
            r => return r.map(Watch::Reverted),
        }
    }
}
