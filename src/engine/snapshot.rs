//! Snapshots: the state of every path and kernel parameter a transaction touches,
//! saved before the first write (content, mode, owner, existence, symlink target),
//! and restoring it. A manifest lists the entries in the order they were touched;
//! restoring walks it backwards, so files go before the directories made for them.

use std::collections::{HashMap, hash_map};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::{StateDir, StateError, TxnKind};
use crate::host::fs::{self, FsError, Kind, Owner};
use crate::host::kernel::{read_live, write_live};
use crate::plan::{Handler, Lock, Op, sha256_hex};

/// The saved state of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Saved {
    Absent,
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        /// Hash of the saved content, when content was saved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blob: Option<String>,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        target: PathBuf,
    },
}

/// One snapshot entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    Path {
        path: PathBuf,
        saved: Saved,
    },
    Sysctl {
        key: String,
        value: Option<String>,
    },
    /// The packages installed before the transaction: name → version.
    Packages {
        installed: std::collections::BTreeMap<String, String>,
    },
}

/// What a transaction will touch: a path (and whether its content matters), or a
/// kernel parameter. Borrowed from the plan's ops (or a manifest's entries): a
/// recursive rule's touches copy no path; [`take`] copies each once, into its
/// entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch<'a> {
    Path {
        path: &'a Path,
        content: bool,
    },
    Sysctl(&'a str),
    /// The installed package set.
    Packages,
}

/// The manifest of a transaction, written before its first change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub kind: TxnKind,
    pub started: String,
    pub playbook: String,
    pub root: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
    pub changes: usize,
    pub rules: Vec<String>,
    /// Read in either stored form ([`crate::plan::StoredHandler`]).
    #[serde(deserialize_with = "crate::plan::stored_handlers")]
    pub handlers: Vec<Handler>,
    /// Locks the transaction held; a rollback of it takes them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<Lock>,
    pub entries: Vec<Entry>,
}

/// A snapshot or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{path}: {message}")]
    Refused { path: PathBuf, message: String },
    #[error("kernel parameter {key}: {message}")]
    Sysctl { key: String, message: String },
}

/// The touches of a list of operations, each path once (content wanted if any op
/// wanted it), in first-touch order. Paths are indexed by hash, so a recursive rule
/// touching N paths costs O(N), not a search of the list per path.
#[must_use]
pub fn touches<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Vec<Touch<'a>> {
    touches_indexed(ops).0
}

/// [`touches`], and for each op (in order) the index of its touch: the snapshot
/// entry that saved what it changes ([`take`] makes one entry per touch).
///
/// A path is known by its bytes (hashed in one go with std's keyed hasher,
/// not component by component): two spellings of one path (`/a//b`, `/a/b`)
/// are two touches, both saved before the first write, so restoring them
/// (backwards) still ends in the state saved first.
#[must_use]
pub fn touches_indexed<'a>(ops: impl IntoIterator<Item = &'a Op>) -> (Vec<Touch<'a>>, Vec<usize>) {
    let ops = ops.into_iter();
    let mut out: Vec<Touch<'a>> = Vec::with_capacity(ops.size_hint().0);
    let mut of_op = Vec::with_capacity(ops.size_hint().0);
    let mut paths: HashMap<&'a [u8], usize> = HashMap::with_capacity(ops.size_hint().0);
    let mut keys: HashMap<&'a str, usize> = HashMap::new();
    let mut packages: Option<usize> = None;
    for op in ops {
        let (path, content) = match op {
            Op::WriteFile(w) => (&w.path, true),
            Op::Remove(r) => (&r.path, true),
            Op::Symlink(l) => (&l.path, true),
            Op::SetMeta(m) => (&m.path, false),
            Op::MakeDir(d) => (&d.path, false),
            Op::SetSysctl(s) => {
                match keys.entry(&s.key) {
                    hash_map::Entry::Occupied(i) => of_op.push(*i.get()),
                    hash_map::Entry::Vacant(v) => {
                        v.insert(out.len());
                        of_op.push(out.len());
                        out.push(Touch::Sysctl(&s.key));
                    }
                }
                continue;
            }
            Op::Package(_) => {
                let i = *packages.get_or_insert_with(|| {
                    out.push(Touch::Packages);
                    out.len() - 1
                });
                of_op.push(i);
                continue;
            }
        };
        match paths.entry(path.as_os_str().as_bytes()) {
            hash_map::Entry::Occupied(i) => {
                of_op.push(*i.get());
                if let Touch::Path { content: c, .. } = &mut out[*i.get()] {
                    *c |= content;
                }
            }
            hash_map::Entry::Vacant(v) => {
                v.insert(out.len());
                of_op.push(out.len());
                out.push(Touch::Path { path, content });
            }
        }
    }
    (out, of_op)
}

/// The touches that restore (and later re-restore) what `entries` saved, in the
/// order given.
#[must_use]
pub fn touches_of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Touch<'a>> {
    entries
        .into_iter()
        .map(|e| match e {
            Entry::Path { path, saved } => Touch::Path {
                path,
                content: !matches!(saved, Saved::Dir { .. } | Saved::File { blob: None, .. }),
            },
            Entry::Sysctl { key, .. } => Touch::Sysctl(key),
            Entry::Packages { .. } => Touch::Packages,
        })
        .collect()
}

/// Saves the current state of `touches` into the transaction directory.
///
/// # Errors
/// When a path cannot be read or saved, or is something harden does not restore.
pub fn take(
    root: &Path,
    state: &StateDir,
    txn_dir: &Path,
    touches: &[Touch<'_>],
) -> Result<Vec<Entry>, SnapshotError> {
    let mut entries = Vec::with_capacity(touches.len());
    let mut metas = lstat_all(root, touches)?.into_iter();
    for &t in touches {
        entries.push(match t {
            Touch::Sysctl(key) => Entry::Sysctl {
                key: (*key).to_string(),
                value: read_live(key),
            },
            Touch::Packages => Entry::Packages {
                installed: crate::host::packages::installed_at(root).map_err(|e| {
                    SnapshotError::Refused {
                        path: root.to_path_buf(),
                        message: format!("the installed packages cannot be saved: {e}"),
                    }
                })?,
            },
            Touch::Path { path, content } => {
                let Some(meta) = metas.next() else {
                    unreachable!("one lstat per path touch")
                };
                let saved = match meta {
                    None => Saved::Absent,
                    Some(m) => match m.kind {
                        Kind::File => {
                            let blob = if content {
                                let bytes = fs::read(root, path)?.unwrap_or_default();
                                let sha = sha256_hex(&bytes);
                                state.put_blob(txn_dir, &sha, &bytes)?;
                                Some(sha)
                            } else {
                                None
                            };
                            Saved::File {
                                mode: m.mode,
                                uid: m.uid,
                                gid: m.gid,
                                blob,
                            }
                        }
                        Kind::Dir => Saved::Dir {
                            mode: m.mode,
                            uid: m.uid,
                            gid: m.gid,
                        },
                        Kind::Symlink => Saved::Symlink {
                            target: fs::read_link(root, path)?.ok_or_else(|| FsError::Sys {
                                path: path.to_path_buf(),
                                op: "readlink",
                                errno: nix::errno::Errno::ENOENT,
                            })?,
                        },
                        Kind::Other => {
                            return Err(SnapshotError::Refused {
                                path: path.to_path_buf(),
                                message: "not a file, directory or symlink".into(),
                            });
                        }
                    },
                };
                Entry::Path {
                    path: path.to_path_buf(),
                    saved,
                }
            }
        });
    }
    Ok(entries)
}

/// The metadata of every path of `touches`, in order: read in parallel, in runs
/// of paths each read by one thread (which resolves each directory once for the
/// paths in it, as [`fs::Dirs`] does). Only reads: content and blobs are saved
/// by [`take`], in order, by one thread.
fn lstat_all(root: &Path, touches: &[Touch<'_>]) -> Result<Vec<Option<fs::Meta>>, FsError> {
    use rayon::prelude::*;
    /// Paths a thread reads in one go: enough to share each directory among
    /// its paths, small enough to spread a tree over the cores.
    const RUN: usize = 4096;
    let paths: Vec<&Path> = touches
        .iter()
        .filter_map(|t| match t {
            Touch::Path { path, .. } => Some(*path),
            Touch::Sysctl(_) | Touch::Packages => None,
        })
        .collect();
    let runs: Vec<Result<Vec<Option<fs::Meta>>, FsError>> = paths
        .par_chunks(RUN)
        .map(|run| {
            let mut dirs = fs::Dirs::new(root);
            run.iter().map(|p| dirs.lstat(p)).collect()
        })
        .collect();
    let mut out = Vec::with_capacity(paths.len());
    for r in runs {
        out.extend(r?);
    }
    Ok(out)
}

/// Writes a live kernel parameter.
///
/// # Errors
/// When the kernel refuses it.
pub fn write_sysctl(key: &str, value: &str) -> Result<(), SnapshotError> {
    write_live(key, value).map_err(|e| SnapshotError::Sysctl {
        key: key.into(),
        message: e.to_string(),
    })
}

/// Restores the installed package set an [`Entry::Packages`] saved: purges what
/// was installed since, reinstalls what was removed (apt uses its cache where the
/// `.deb` is still there, the network otherwise). Returns the problems.
fn restore_packages(
    host: &crate::host::Host,
    before: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    use crate::host::packages::{PackageRun, installed, run};
    // No dpkg root has nothing installed: an empty record would purge the system.
    if before.is_empty() {
        return vec![
            "packages: the snapshot records no installed package; refusing to purge every package"
                .into(),
        ];
    }
    let now = match installed(host) {
        Ok(n) => n,
        Err(e) => return vec![format!("packages: {e}")],
    };
    let mut problems = Vec::new();
    let (purge, reinstall) = package_diff(before, &now);
    if !purge.is_empty()
        && let Err(e) = run(host, &PackageRun::Purge(purge.clone()))
    {
        problems.push(format!("packages: purging {}: {e}", purge.join(" ")));
    }
    if !reinstall.is_empty()
        && let Err(e) = run(host, &PackageRun::Install(reinstall.clone()))
    {
        problems.push(format!(
            "packages: reinstalling {} (from the package cache, or the network when the package is gone): {e}",
            reinstall.join(" ")
        ));
    }
    problems
}

/// What restoring `entries` would do, one line each in the order a restore
/// takes them (backwards), in words: for `rollback --dry-run`. Reads the root's
/// package database for the package lines; writes nothing.
#[must_use]
pub fn preview(host: &crate::host::Host, entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .rev()
        .map(|e| match e {
            Entry::Path { path, saved } => {
                let what = match saved {
                    Saved::Absent => "remove (it did not exist)".to_string(),
                    Saved::File {
                        mode,
                        uid,
                        gid,
                        blob,
                    } => format!(
                        "restore the saved file (mode {mode:04o}, owner {uid}:{gid}{})",
                        if blob.is_some() {
                            ", content saved"
                        } else {
                            ""
                        }
                    ),
                    Saved::Dir { mode, uid, gid } => {
                        format!("restore the directory (mode {mode:04o}, owner {uid}:{gid})")
                    }
                    Saved::Symlink { target } => {
                        format!("restore the symlink to {}", target.display())
                    }
                };
                format!("{}: {what}", path.display())
            }
            Entry::Sysctl {
                key,
                value: Some(v),
            } => {
                format!("kernel parameter {key}: set back to {v}")
            }
            Entry::Sysctl { key, value: None } => {
                format!("kernel parameter {key}: had no value; left as it is")
            }
            Entry::Packages { installed: before } => package_preview(host, before),
        })
        .collect()
}

/// What restoring the installed set `before` does against `now`: the packages
/// to purge, and the `name=version`s to reinstall.
fn package_diff(
    before: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let purge = now
        .keys()
        .filter(|n| !before.contains_key(*n))
        .cloned()
        .collect();
    let reinstall = before
        .iter()
        .filter(|(n, _)| !now.contains_key(*n))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    (purge, reinstall)
}

/// "packages: purge A B; reinstall C=1.0" against what is installed now.
fn package_preview(
    host: &crate::host::Host,
    before: &std::collections::BTreeMap<String, String>,
) -> String {
    let now = match crate::host::packages::installed(host) {
        Ok(n) => n,
        Err(e) => return format!("packages: cannot read what is installed now: {e}"),
    };
    if before.is_empty() {
        return "packages: the snapshot records no installed package; rollback refuses to purge every package".into();
    }
    let (purge, reinstall) = package_diff(before, &now);
    let mut parts = Vec::new();
    if !purge.is_empty() {
        parts.push(format!("purge {}", purge.join(" ")));
    }
    if !reinstall.is_empty() {
        parts.push(format!(
            "reinstall {} (from the package cache, else the network)",
            reinstall.join(" ")
        ));
    }
    if parts.is_empty() {
        return "packages: already as recorded; nothing to install or purge".into();
    }
    format!("packages: {}", parts.join("; "))
}

/// Restores `entries` backwards, the reverse of the order apply took them, the
/// installed package set at its place among the paths: a directory the
/// transaction made before installing a package that filled it is removed only
/// once the package is purged. Every entry is attempted; the problems are
/// returned, so one failure does not leave the rest unrestored.
#[must_use]
pub fn restore(
    host: &crate::host::Host,
    state: &StateDir,
    txn_dir: &Path,
    entries: &[Entry],
    temp_tag: &str,
) -> Vec<String> {
    let root = host.root.as_path();
    // Temp files a crash may have left next to the touched paths go first: a
    // directory made by the transaction can only be removed once it is empty.
    let mut problems = Vec::new();
    let mut dirs = fs::Dirs::new(root);
    for d in parents(entries) {
        if let Err(e) = dirs.sweep_temps(d, temp_tag) {
            problems.push(e.to_string());
        }
    }
    let backwards: Vec<&Entry> = entries.iter().rev().collect();
    let mut n = 0;
    while n < backwards.len() {
        let run = backwards[n..]
            .iter()
            .take_while(|e| metadata_only(e))
            .count();
        if run > 1 {
            problems.extend(restore_metadata(
                root,
                state,
                txn_dir,
                &backwards[n..n + run],
                n,
            ));
            n += run;
            continue;
        }
        let e = backwards[n];
        if let Entry::Packages { installed } = e {
            problems.extend(restore_packages(host, installed));
            // apt changed the tree: the directories held open may be gone.
            dirs.forget();
        } else if let Err(err) = restore_one(root, &mut dirs, state, txn_dir, e) {
            problems.push(err.to_string());
        }
        if cfg!(debug_assertions) {
            crate::host::crash::crash_point(&format!("restore-{n}-done"));
        }
        n += 1;
    }
    problems
}

/// Changes of distinct paths' metadata made in parallel before all threads
/// meet again: by apply's writes and by a restore.
pub const BATCH: usize = 4096;
/// Paths a thread changes in one go, with its own directory fds.
pub const CHUNK: usize = 256;

/// Whether restoring `e` sets only a path's mode and owner (a directory is
/// made again if it is gone): such entries of distinct paths (a manifest has
/// one per path) restore in any order.
fn metadata_only(e: &Entry) -> bool {
    matches!(
        e,
        Entry::Path {
            saved: Saved::Dir { .. } | Saved::File { blob: None, .. },
            ..
        }
    )
}

/// Restores a run of [`metadata_only`] entries (`first`: the position of the
/// first in restore order) on the cores available, in batches of [`BATCH`]
/// every thread finishes before the next starts; crash points (debug builds)
/// fall between batches. Returns the problems in restore order.
fn restore_metadata(
    root: &Path,
    state: &StateDir,
    txn_dir: &Path,
    run: &[&Entry],
    first: usize,
) -> Vec<String> {
    use rayon::prelude::*;
    let mut problems = Vec::new();
    for (b, batch) in run.chunks(BATCH).enumerate() {
        let found: Vec<Vec<String>> = batch
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut dirs = fs::Dirs::new(root);
                chunk
                    .iter()
                    .filter_map(|e| restore_one(root, &mut dirs, state, txn_dir, e).err())
                    .map(|e| e.to_string())
                    .collect()
            })
            .collect();
        problems.extend(found.into_iter().flatten());
        if cfg!(debug_assertions) {
            let start = first + b * BATCH;
            for n in start..start + batch.len() {
                crate::host::crash::crash_point(&format!("restore-{n}-done"));
            }
        }
    }
    problems
}

/// The directories holding the paths of `entries`, each once, sorted (so that a
/// sweep of them visits each directory once, near its siblings).
#[must_use]
pub fn parents(entries: &[Entry]) -> std::collections::BTreeSet<&Path> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Path { path, .. } => path.parent(),
            Entry::Sysctl { .. } | Entry::Packages { .. } => None,
        })
        .collect()
}

fn restore_one(
    root: &Path,
    dirs: &mut fs::Dirs,
    state: &StateDir,
    txn_dir: &Path,
    e: &Entry,
) -> Result<(), SnapshotError> {
    match e {
        // Restored with apt by `restore`, in their place.
        Entry::Packages { .. } => {}
        Entry::Sysctl { key, value } => {
            if let Some(v) = value
                && read_live(key).as_deref() != Some(v.as_str())
            {
                write_sysctl(key, v)?;
            }
        }
        Entry::Path { path, saved } => {
            let now = dirs.lstat(path)?;
            match saved {
                Saved::Absent => match now.map(|m| m.kind) {
                    None => {}
                    Some(Kind::Dir) => {
                        // The directory may be one `dirs` holds open.
                        dirs.forget();
                        let emptied = fs::remove_dir(root, path)?;
                        if !emptied {
                            return Err(SnapshotError::Refused {
                                path: path.clone(),
                                message:
                                    "did not exist before, but is not empty now; left in place"
                                        .into(),
                            });
                        }
                    }
                    Some(_) => fs::remove_file(root, path)?,
                },
                Saved::File {
                    mode,
                    uid,
                    gid,
                    blob,
                } => {
                    let owner = Owner {
                        mode: *mode,
                        uid: *uid,
                        gid: *gid,
                    };
                    if let Some(sha) = blob {
                        let bytes = state.get_blob(txn_dir, sha)?;
                        let same = now.is_some_and(|m| {
                            m.kind == Kind::File && (m.mode, m.uid, m.gid) == (*mode, *uid, *gid)
                        }) && fs::read(root, path)?.as_deref() == Some(bytes.as_slice());
                        if !same {
                            if now.is_some_and(|m| m.kind == Kind::Symlink) {
                                fs::remove_file(root, path)?;
                            }
                            fs::write_atomic(root, path, &bytes, owner, "harden-restore")?;
                        }
                    } else {
                        restore_meta(dirs, path, now, (*mode, *uid, *gid))?;
                    }
                }
                Saved::Dir { mode, uid, gid } => {
                    if now.is_none() {
                        fs::make_dir(
                            root,
                            path,
                            Owner {
                                mode: *mode,
                                uid: *uid,
                                gid: *gid,
                            },
                        )?;
                    } else {
                        restore_meta(dirs, path, now, (*mode, *uid, *gid))?;
                    }
                }
                Saved::Symlink { target } => {
                    let host = fs::host_path(root, path);
                    let current = std::fs::read_link(&host).ok();
                    if current.as_ref() != Some(target) {
                        if now.is_some() {
                            fs::remove_file(root, path)?;
                        }
                        // The parent was checked for symlinks by remove_file/lstat.
                        std::os::unix::fs::symlink(target, &host).map_err(|source| {
                            FsError::Io {
                                path: path.clone(),
                                op: "symlink",
                                source,
                            }
                        })?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Gives the file or directory at `path` (found as `now`) the saved mode and
/// owner, changing only what differs; something else there is refused.
fn restore_meta(
    dirs: &mut fs::Dirs,
    path: &Path,
    now: Option<fs::Meta>,
    (mode, uid, gid): (u32, u32, u32),
) -> Result<(), SnapshotError> {
    let Some(m) = now.filter(|m| matches!(m.kind, Kind::File | Kind::Dir)) else {
        return Err(SnapshotError::Refused {
            path: path.to_path_buf(),
            message: "not the file or directory that was saved; left as it is".into(),
        });
    };
    // A chown clears setuid/setgid bits: the mode is then set whatever it was.
    let chown = (m.uid, m.gid) != (uid, gid);
    let owner = (Some(uid).filter(|_| chown), Some(gid).filter(|_| chown));
    let mode = Some(mode).filter(|x| chown || *x != m.mode);
    if mode.is_some() || chown {
        dirs.change_meta(path, mode, owner, m.mode)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{MakeDir, Observed, SetMeta, SetSysctl, WriteFile};

    /// A manifest as versions before typed handlers wrote it: `{action, unit}`,
    /// the unit a profile path or a mount point depending on the action.
    const OLD_MANIFEST: &str = r#"{
        "id": "20260101-000000000-000", "kind": "apply", "started": "2026-01-01T00:00:00Z",
        "playbook": "old", "root": "/", "changes": 5, "rules": ["a"],
        "handlers": [
            {"action": "daemon-reload", "unit": ""},
            {"action": "reload", "unit": "ssh"},
            {"action": "start", "unit": "x.service"},
            {"action": "firewall-sync", "unit": "ufw"},
            {"action": "load-profile", "unit": "/etc/apparmor.d/p"},
            {"action": "remount", "unit": "/tmp"}
        ],
        "entries": []
    }"#;

    #[test]
    fn manifests_of_earlier_versions_keep_their_handlers_and_are_written_anew() {
        use crate::plan::Verb;
        let m: Manifest = serde_json::from_str(OLD_MANIFEST).unwrap();
        let want = vec![
            Handler::DaemonReload,
            Handler::systemctl(Verb::Reload, "ssh"),
            Handler::systemctl(Verb::Start, "x.service"),
            Handler::FirewallSync,
            Handler::LoadProfile {
                path: "/etc/apparmor.d/p".into(),
            },
            Handler::Remount {
                mountpoint: "/tmp".into(),
            },
        ];
        assert_eq!(m.handlers, want);
        let written = serde_json::to_value(&m).unwrap();
        assert_eq!(
            written["handlers"][1],
            serde_json::json!({"handler": "systemctl", "verb": "reload", "unit": "ssh"})
        );
        assert_eq!(
            written["handlers"][5],
            serde_json::json!({"handler": "remount", "mountpoint": "/tmp"})
        );
        let again: Manifest = serde_json::from_value(written).unwrap();
        assert_eq!(again.handlers, want);
    }

    fn meta(p: &str) -> Op {
        Op::SetMeta(SetMeta {
            path: p.into(),
            mode: Some(0o600),
            uid: None,
            gid: None,
            expect: (0o644, 0, 0),
        })
    }

    fn write(p: &str) -> Op {
        Op::WriteFile(WriteFile {
            path: p.into(),
            content: b"x".to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            expect: Observed::Absent,
            validators: Vec::new(),
        })
    }

    fn sysctl(k: &str) -> Op {
        Op::SetSysctl(SetSysctl {
            key: k.into(),
            value: "1".into(),
            expect: "0".into(),
        })
    }

    #[test]
    fn touches_are_each_path_once_in_first_touch_order_content_if_any_op_wants_it() {
        let ops = [
            Op::MakeDir(MakeDir {
                path: "/srv".into(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            }),
            meta("/srv/a"),
            sysctl("net.ipv4.ip_forward"),
            write("/srv/b"),
            write("/srv/a"),
            meta("/srv/b"),
            sysctl("net.ipv4.ip_forward"),
            meta("/srv/c"),
        ];
        let path = |p: &'static str, content| Touch::Path {
            path: Path::new(p),
            content,
        };
        let (list, of_op) = touches_indexed(&ops);
        assert_eq!(of_op, [0, 1, 2, 3, 1, 3, 2, 4]);
        assert_eq!(
            list,
            vec![
                path("/srv", false),
                path("/srv/a", true),
                Touch::Sysctl("net.ipv4.ip_forward"),
                path("/srv/b", true),
                path("/srv/c", false),
            ]
        );
    }
}
