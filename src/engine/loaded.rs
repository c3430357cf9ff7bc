//! What is read back from the state directory is data, never a trusted code path.
//! A state directory can sit inside an untrusted image (`ROOT/var/lib/harden`) or be
//! tampered with, so every manifest and journal is validated when it is loaded,
//! before anything acts on it: transaction ids have the shape harden gives them;
//! paths are absolute and normalised (no `..`), so they resolve inside the root, and
//! never into the state directory itself; blobs are named by a SHA-256; modes fit in
//! `0o7777`; kernel parameters pass the same key check as planning does, and are
//! refused outright when the root is not `/` (an image's transaction can only ever
//! have touched files); locks and handlers name nothing that could read as an
//! option. Unknown kinds are already refused by the strict deserialisation. This
//! module only checks; it reads and writes nothing.

use std::path::Path;

use super::snapshot::{Entry, Manifest, Saved};
use super::state::{StateError, is_txn_id, refused as refuse};
use crate::host::fs;
use crate::plan::{Handler, Lock};

/// Checks a manifest read from `file`, for a rollback of `root` with the state
/// directory at host path `state`.
///
/// # Errors
/// The first entry that could lead outside its place.
pub fn manifest(m: &Manifest, file: &Path, root: &Path, state: &Path) -> Result<(), StateError> {
    if !is_txn_id(&m.id) {
        return Err(refuse(
            file,
            &format!("transaction id `{}`", m.id.escape_debug()),
        ));
    }
    if let Some(r) = &m.restores
        && !is_txn_id(r)
    {
        return Err(refuse(
            file,
            &format!("restores transaction `{}`", r.escape_debug()),
        ));
    }
    // The state directory's own files, seen from inside the root.
    let state_inside = state
        .strip_prefix(root)
        .ok()
        .map(|rel| Path::new("/").join(rel));
    for (i, e) in m.entries.iter().enumerate() {
        entry(e, i + 1, file, root, state_inside.as_deref())?;
    }
    for l in &m.locks {
        let (Lock::Fcntl { path } | Lock::PidFile { path }) = l;
        if !matches!(fs::components(path), Ok(c) if !c.is_empty()) {
            return Err(refuse(
                file,
                &format!(
                    "lock `{}`: not an absolute, normalised path",
                    path.display()
                ),
            ));
        }
    }
    for h in &m.handlers {
        handler(h, file)?;
    }
    Ok(())
}

fn entry(
    e: &Entry,
    n: usize,
    file: &Path,
    root: &Path,
    state_inside: Option<&Path>,
) -> Result<(), StateError> {
    match e {
        Entry::Packages { installed } => {
            for (name, version) in installed {
                if !crate::host::packages::valid_record(name, version) {
                    return Err(refuse(
                        file,
                        &format!(
                            "entry {n}: package `{}` version `{}` is not a Debian package name and version, nor an RPM one",
                            name.escape_debug(),
                            version.escape_debug()
                        ),
                    ));
                }
            }
        }
        Entry::Sysctl { key, .. } => {
            if !crate::formats::sysctl::valid_key(&crate::formats::sysctl::normalise_key(key)) {
                return Err(refuse(
                    file,
                    &format!(
                        "entry {n}: kernel parameter `{}` is not a valid key",
                        key.escape_debug()
                    ),
                ));
            }
            if root != Path::new("/") {
                return Err(refuse(
                    file,
                    &format!(
                        "entry {n}: kernel parameter `{key}` in a transaction whose root is not / ({}): only the running system has live kernel values",
                        root.display()
                    ),
                ));
            }
        }
        Entry::Path { path, saved } => {
            let what = |msg: &str| {
                refuse(
                    file,
                    &format!(
                        "entry {n}: path `{}`: {msg}",
                        path.display().to_string().escape_debug()
                    ),
                )
            };
            match fs::components(path) {
                Ok(c) if !c.is_empty() => {}
                _ => return Err(what("not an absolute, normalised path below the root")),
            }
            if state_inside.is_some_and(|s| path.starts_with(s)) {
                return Err(what("inside the state directory"));
            }
            match saved {
                Saved::Absent => {}
                Saved::File { mode, blob, .. } => {
                    if *mode > 0o7777 {
                        return Err(what("mode out of range"));
                    }
                    if let Some(b) = blob
                        && !(b.len() == 64
                            && b.bytes()
                                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
                    {
                        return Err(what("saved content is not named by its SHA-256"));
                    }
                }
                Saved::Dir { mode, .. } => {
                    if *mode > 0o7777 {
                        return Err(what("mode out of range"));
                    }
                }
                Saved::Symlink { target } => {
                    if target.as_os_str().is_empty() {
                        return Err(what("empty symlink target"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn handler(h: &Handler, file: &Path) -> Result<(), StateError> {
    // What a handler names goes on a command line: never something that reads
    // as an option, never a control character; a profile or mount point is an
    // absolute path.
    let (what, name, absolute) = match h {
        Handler::DaemonReload | Handler::FirewallSync => return Ok(()),
        Handler::Systemctl { unit, .. } => ("unit", unit.as_str(), false),
        Handler::LoadProfile { path } => ("profile", path.to_str().unwrap_or("\u{fffd}"), true),
        Handler::Remount { mountpoint } => (
            "mount point",
            mountpoint.to_str().unwrap_or("\u{fffd}"),
            true,
        ),
    };
    if name.is_empty()
        || name.starts_with('-')
        || name.chars().any(char::is_control)
        || (absolute && !name.starts_with('/'))
    {
        return Err(refuse(
            file,
            &format!("handler {what} `{}`", name.escape_debug()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_ids() {
        assert!(is_txn_id("20260101-000000000-000"));
        assert!(!is_txn_id("../x"));
        assert!(!is_txn_id(""));
        assert!(!is_txn_id("-1"));
    }
}
