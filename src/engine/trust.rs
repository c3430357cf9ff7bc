//! Whether a state directory may be used at all, checked before anything in it is
//! read. Whoever can write the state directory or one of its parents can swap
//! `journal.json` or `txn/` and steer a rollback, so the directory and every
//! existing parent must be real directories (no symlink), owned by root (or by the
//! user running harden), and not writable by group or others; a root-owned parent
//! with the sticky bit (`/tmp`) is accepted, since nobody else can rename or remove
//! what is in it. A state directory that exists but that harden did not create
//! (no [`MARKER`] in it) is refused unless `--state-dir` names it explicitly: an
//! image can carry a planted `var/lib/harden`. (The running system's own
//! `/var/lib/harden`, made by root, possibly by an older harden, is adopted.) This module only inspects; the
//! directory is made (ancestors `0755`, itself `0700`, with its marker) by
//! [`super::state::StateDir::ensure`].

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::state::{MARKER, StateError};

fn untrusted(path: &Path, message: impl Into<String>) -> StateError {
    StateError::Untrusted {
        path: path.into(),
        message: message.into(),
    }
}

/// Checks the state directory at host path `state` (absolute, normalised).
/// `explicit`: `--state-dir` named it (or it is the running system's own default,
/// which only root can have made), so a missing marker is accepted.
///
/// # Errors
/// [`StateError::Untrusted`] naming the directory at fault.
pub fn check(state: &Path, explicit: bool) -> Result<(), StateError> {
    let me = nix::unistd::geteuid().as_raw();
    let mut cur = PathBuf::from("/");
    let mut chain = vec![cur.clone()];
    for c in state.components().skip(1) {
        cur.push(c);
        chain.push(cur.clone());
    }
    for (i, dir) in chain.iter().enumerate() {
        let last = i + 1 == chain.len();
        let md = match std::fs::symlink_metadata(dir) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(untrusted(dir, format!("cannot inspect: {e}"))),
        };
        let what = if last {
            "the state directory"
        } else {
            "a parent of the state directory"
        };
        if md.file_type().is_symlink() {
            return Err(untrusted(dir, format!("{what} is a symlink")));
        }
        if !md.is_dir() {
            return Err(untrusted(dir, format!("{what} is not a directory")));
        }
        if md.uid() != 0 && md.uid() != me {
            return Err(untrusted(
                dir,
                format!("{what} is owned by uid {}, not root", md.uid()),
            ));
        }
        let sticky_root = !last && md.mode() & 0o1000 != 0 && md.uid() == 0;
        if md.mode() & 0o022 != 0 && !sticky_root {
            return Err(untrusted(
                dir,
                format!(
                    "{what} is writable by {} (mode {:04o})",
                    if md.mode() & 0o002 != 0 {
                        "everyone"
                    } else {
                        "its group"
                    },
                    md.mode() & 0o7777
                ),
            ));
        }
        if last && !explicit && std::fs::symlink_metadata(dir.join(MARKER)).is_err() {
            return Err(untrusted(
                dir,
                format!(
                    "harden did not create this state directory (no {MARKER} in it); pass `--state-dir {}` to use it",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}
