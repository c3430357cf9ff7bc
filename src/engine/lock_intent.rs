//! The lock intent: before a transaction takes other programs' locks (the
//! shadow-utils `FILE.lock` files under the root), it records which ones and its
//! pid in `STATE/locks.json`, and removes the record once they are released. A run
//! killed in between (before its journal exists, so there is no transaction to roll
//! back) leaves the record behind; the next run, holding the state lock and so
//! knowing that process is gone, sweeps what it left: its `FILE.PID` and the
//! `FILE.lock` files still holding its pid (unless that pid is alive again, reused
//! by another process). Nothing else is touched. The record is
//! read back as data: its lock paths must be absolute and normalised.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::{StateDir, StateError};
use crate::host::fs;
use crate::host::locks;
use crate::plan::Lock;

const FILE: &str = "locks.json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Intent {
    pid: u32,
    locks: Vec<Lock>,
}

/// What a sweep removed, left by the dead run `pid`.
#[derive(Debug, Default)]
pub struct Swept {
    pub pid: u32,
    pub removed: Vec<PathBuf>,
}

/// Records that this process is about to take `locks` (nothing when empty).
///
/// # Errors
/// When the record cannot be written.
pub fn record(state: &StateDir, locks: &[Lock]) -> Result<Recorded, StateError> {
    if locks.is_empty() {
        return Ok(Recorded { state: None });
    }
    state.put_json(
        &state.path,
        FILE,
        &Intent {
            pid: std::process::id(),
            locks: locks.to_vec(),
        },
    )?;
    Ok(Recorded {
        state: Some(state.clone()),
    })
}

/// The recorded intent; dropping it (after the locks it names were released)
/// removes the record.
#[must_use = "the record is removed when this is dropped"]
pub struct Recorded {
    state: Option<StateDir>,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(s) = &self.state {
            let _ = fs::remove_file(Path::new("/"), &s.path.join(FILE));
        }
    }
}

/// Sweeps what a dead run recorded and left. Call only holding the state lock.
///
/// # Errors
/// When the record is unreadable or names a path that is not absolute and
/// normalised, or a lock directory cannot be opened.
pub fn sweep(root: &Path, state: &StateDir) -> Result<Swept, StateError> {
    let file = state.path.join(FILE);
    let Some(intent) = state.get_json::<Intent>(&state.path, FILE)? else {
        return Ok(Swept::default());
    };
    let mut swept = Swept {
        pid: intent.pid,
        removed: Vec::new(),
    };
    // The recorded run is gone (its state lock is ours now), but its pid may have
    // been reused by a live process, e.g. a `useradd` holding the very same lock.
    let reused = i32::try_from(intent.pid).is_ok_and(|p| {
        p > 0
            && intent.pid != std::process::id()
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok()
    });
    for l in intent.locks.iter().filter(|_| !reused) {
        let Lock::PidFile { path } = l else { continue };
        if !matches!(fs::components(path), Ok(c) if !c.is_empty()) {
            return Err(StateError::Corrupt {
                path: file,
                message: format!(
                    "lock `{}`: not an absolute, normalised path",
                    path.display()
                ),
            });
        }
        swept
            .removed
            .extend(locks::sweep_dead(root, path, intent.pid)?);
    }
    fs::remove_file(Path::new("/"), &file)?;
    if !swept.removed.is_empty() {
        let list: Vec<String> = swept
            .removed
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        tracing::warn!(
            "removed stale lock files left by an interrupted run (pid {}): {}",
            swept.pid,
            list.join(", ")
        );
    }
    Ok(swept)
}
