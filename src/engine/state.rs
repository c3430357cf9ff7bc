//! The state directory (`ROOT/var/lib/harden` by default, `0700`): the run lock, the
//! journal of the transaction in progress, and one folder per transaction holding
//! its snapshot manifest, the saved file contents and its result. Everything here is
//! written atomically and never through a symlink; `plan` only ever reads it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::host::fs::{self, FsError, Owner};

/// A state directory problem.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(
        "another harden run holds the lock {lock} (pid {pid}); wait for it to finish, nothing was changed"
    )]
    Locked { lock: PathBuf, pid: String },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("no transaction `{0}` in the state directory (see `harden history`)")]
    NoSuchTxn(String),
    #[error("state directory {path}: {message}")]
    Untrusted { path: PathBuf, message: String },
    #[error("the state directory {0} is not absolute")]
    Relative(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, StateError>;

/// What a transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxnKind {
    Apply,
    Rollback,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied and verified.
    Committed,
    /// A validator rejected a candidate; nothing was installed.
    ValidationFailed,
    /// Failed, and the snapshot was restored.
    RolledBack,
    /// Failed, and restoring the snapshot failed too.
    RollbackFailed,
    /// Undone later by a `harden rollback` transaction.
    Reverted,
}

impl Outcome {
    /// How it ended, in words for a sentence ("transaction T {words}").
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::Committed => "was committed",
            Self::ValidationFailed => "was refused by a validator before any change",
            Self::RolledBack => "failed and was rolled back",
            Self::RollbackFailed => "failed and could not be fully restored",
            Self::Reverted => "was already rolled back",
        }
    }
}

/// The result file of a finished transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnResult {
    pub outcome: Outcome,
    pub finished: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
}

/// The journal: present exactly while a transaction is in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub txn: String,
    pub kind: TxnKind,
    pub pid: u32,
    pub started: String,
    /// For a rollback: the transaction being restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
}

/// The state directory of one root.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// Host path (absolute).
    pub path: PathBuf,
}

/// The held run lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

const PRIVATE: u32 = 0o600;

/// A UTC timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ`.
#[must_use]
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: u64) -> (i64, u32, u32) {
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl StateDir {
    /// The state directory at a host path.
    ///
    /// # Errors
    /// When the path is relative.
    pub fn new(path: PathBuf) -> Result<Self> {
        if !path.is_absolute() {
            return Err(StateError::Relative(path));
        }
        Ok(Self {
            path: fs::normalise(&path),
        })
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    fn owner() -> Owner {
        Owner {
            mode: PRIVATE,
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }

    /// Makes `path` (`0700`) and its missing parents (`0755`: a parent such as an
    /// image's `/var` is read by the services of that system).
    fn ensure_dir(path: &Path) -> std::result::Result<(), FsError> {
        let mut cur = PathBuf::from("/");
        let comps = fs::components(path)?;
        let n = comps.len();
        for (i, c) in comps.into_iter().enumerate() {
            cur.push(c);
            if fs::lstat(Path::new("/"), &cur)?.is_none() {
                let mode = if i + 1 == n { 0o700 } else { 0o755 };
                fs::make_dir(
                    Path::new("/"),
                    &cur,
                    Owner {
                        mode,
                        ..Self::owner()
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Makes the state directory (`0700`, missing parents `0755`) and marks it as
    /// harden's (see [`crate::engine::trust`]).
    ///
    /// # Errors
    /// When it cannot be made.
    pub fn ensure(&self) -> std::result::Result<(), FsError> {
        Self::ensure_dir(&self.path)?;
        fs::set_meta(Path::new("/"), &self.path, Some(0o700), None, None)?;
        let marker = self.p(MARKER);
        if fs::lstat(Path::new("/"), &marker)?.is_none() {
            fs::write_atomic(
                Path::new("/"),
                &marker,
                b"This state directory belongs to harden (lock, journal, snapshots).\n",
                Self::owner(),
                "harden-state",
            )?;
        }
        Ok(())
    }

    /// Writes a state file atomically (`0600`).
    fn write(path: &Path, bytes: &[u8]) -> Result<()> {
        fs::write_atomic(Path::new("/"), path, bytes, Self::owner(), "harden-state")?;
        Ok(())
    }

    fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
        let Some(bytes) = fs::read(Path::new("/"), path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: path.into(),
                message: e.to_string(),
            })
    }

    /// Writes `value` as JSON, streamed to disk (a manifest of a recursive rule
    /// lists every path of its tree): the outer two levels indented, deeper
    /// values on one line, so a manifest holds one entry per line.
    fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
        fs::write_atomic_with(
            Path::new("/"),
            path,
            Self::owner(),
            "harden-state",
            &mut |w| shallow_json(w, value),
        )?;
        Ok(())
    }

    /// Takes the run lock, creating the state directory (`0700`) if needed. A second
    /// run fails at once.
    ///
    /// # Errors
    /// When the lock is held or the directory cannot be made.
    pub fn lock(&self) -> Result<Lock> {
        self.ensure()?;
        let lock_path = self.p("lock");
        let file = open_nofollow(&lock_path, true)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => {
                use std::io::{Seek, Write};
                let mut f: &File = &flock;
                let _ = f.set_len(0);
                let _ = f.seek(std::io::SeekFrom::Start(0));
                let _ = writeln!(f, "{}", std::process::id());
                Ok(Lock { _flock: flock })
            }
            Err((_, _)) => Err(StateError::Locked {
                pid: std::fs::read_to_string(&lock_path)
                    .map_or_else(|_| "unknown".into(), |s| s.trim().to_string()),
                lock: lock_path,
            }),
        }
    }

    /// Whether another run holds the lock right now (read-only probe).
    #[must_use]
    pub fn is_locked(&self) -> bool {
        let Ok(file) = open_nofollow(&self.p("lock"), false) else {
            return false;
        };
        Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
    }

    /// The journal of a transaction in progress (or interrupted), if any.
    ///
    /// # Errors
    /// When the journal is unreadable or corrupt.
    pub fn journal(&self) -> Result<Option<Journal>> {
        let file = self.p("journal.json");
        let Some(j) = Self::read_json::<Journal>(&file)? else {
            return Ok(None);
        };
        check_journal(&j, &file)?;
        // A journal whose transaction recorded its result is stale: the process
        // died between finishing and clearing it. Nothing was interrupted.
        let finished = self.p("txn").join(&j.txn).join("result.json");
        if fs::lstat(Path::new("/"), &finished)?.is_some_and(|m| m.kind == fs::Kind::File) {
            return Ok(None);
        }
        Ok(Some(j))
    }

    /// Records that `journal.txn` is in progress (before its first write).
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub fn set_journal(&self, journal: &Journal) -> Result<()> {
        Self::write_json(&self.p("journal.json"), journal)
    }

    /// Clears the journal (the transaction ended).
    ///
    /// # Errors
    /// When it cannot be removed.
    pub fn clear_journal(&self) -> Result<()> {
        fs::remove_file(Path::new("/"), &self.p("journal.json"))?;
        Ok(())
    }

    /// A fresh transaction id and its (created) directory.
    ///
    /// # Errors
    /// When the directory cannot be made.
    pub fn new_txn(&self) -> Result<(String, PathBuf)> {
        let txns = self.p("txn");
        Self::ensure_dir(&txns)?;
        let stamp: String = now_rfc3339().chars().filter(char::is_ascii_digit).collect();
        for n in 0..1000 {
            let id = format!("{}-{}-{n:03}", &stamp[..8], &stamp[8..]);
            let dir = txns.join(&id);
            if fs::lstat(Path::new("/"), &dir)?.is_none() {
                Self::ensure_dir(&dir)?;
                Self::ensure_dir(&dir.join("blobs"))?;
                return Ok((id, dir));
            }
        }
        Err(StateError::Corrupt {
            path: txns,
            message: "cannot allocate a transaction id".into(),
        })
    }

    /// Removes the directory of a transaction that never wrote its manifest
    /// (nothing was changed): its saved contents, then itself.
    ///
    /// # Errors
    /// When it cannot be listed or removed.
    pub fn discard_txn(&self, dir: &Path) -> Result<()> {
        let host = Path::new("/");
        let blobs = dir.join("blobs");
        for (name, _) in fs::entries(host, &blobs)? {
            fs::remove_file(host, &blobs.join(name))?;
        }
        for d in [blobs.as_path(), dir] {
            if !fs::remove_dir(host, d)? {
                return Err(StateError::Corrupt {
                    path: d.to_path_buf(),
                    message: "not empty; left in place".into(),
                });
            }
        }
        Ok(())
    }

    /// The directory of transaction `id`.
    ///
    /// # Errors
    /// When there is no such transaction.
    pub fn txn_dir(&self, id: &str) -> Result<PathBuf> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return Err(StateError::NoSuchTxn(id.into()));
        }
        let dir = self.p("txn").join(id);
        if fs::lstat(Path::new("/"), &dir)?.is_none() {
            return Err(StateError::NoSuchTxn(id.into()));
        }
        Ok(dir)
    }

    /// Transaction ids, oldest first.
    ///
    /// # Errors
    /// When the directory cannot be listed.
    pub fn txn_ids(&self) -> Result<Vec<String>> {
        let dir = self.p("txn");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut ids: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_txn_id(n))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Saves a blob (file content) in a transaction, named by its hash.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn put_blob(&self, txn_dir: &Path, sha: &str, bytes: &[u8]) -> Result<()> {
        let path = txn_dir.join("blobs").join(sha);
        if fs::lstat(Path::new("/"), &path)?.is_none() {
            Self::write(&path, bytes)?;
        }
        Ok(())
    }

    /// Reads a blob back, checking its hash.
    ///
    /// # Errors
    /// When it is missing or does not match its hash.
    pub fn get_blob(&self, txn_dir: &Path, sha: &str) -> Result<Vec<u8>> {
        let path = txn_dir.join("blobs").join(sha);
        let bytes = fs::read(Path::new("/"), &path)?.ok_or_else(|| StateError::Corrupt {
            path: path.clone(),
            message: "saved content is missing".into(),
        })?;
        if crate::plan::sha256_hex(&bytes) != sha {
            return Err(StateError::Corrupt {
                path,
                message: "saved content does not match its hash".into(),
            });
        }
        Ok(bytes)
    }

    /// Writes a JSON document in a transaction directory.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn put_json<T: Serialize>(&self, txn_dir: &Path, name: &str, value: &T) -> Result<()> {
        Self::write_json(&txn_dir.join(name), value)
    }

    /// Writes a file of a transaction directory atomically, streamed from
    /// `content`.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn put_with(
        &self,
        txn_dir: &Path,
        name: &str,
        content: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<()> {
        fs::write_atomic_with(
            Path::new("/"),
            &txn_dir.join(name),
            Self::owner(),
            "harden-state",
            content,
        )?;
        Ok(())
    }

    /// Reads a file of a transaction directory; `None` when it does not exist.
    ///
    /// # Errors
    /// When it cannot be read.
    pub fn get_bytes(&self, txn_dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(fs::read(Path::new("/"), &txn_dir.join(name))?)
    }

    /// Reads a JSON document of a transaction directory.
    ///
    /// # Errors
    /// When it is unreadable or corrupt.
    pub fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        txn_dir: &Path,
        name: &str,
    ) -> Result<Option<T>> {
        Self::read_json(&txn_dir.join(name))
    }
}

/// Writes `value` as JSON with a [`Shallow`] formatter, and a final newline.
fn shallow_json<T: Serialize>(w: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, Shallow::default());
    value.serialize(&mut ser).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

/// A JSON formatter that indents the outer [`Shallow::DEPTH`] levels as
/// `serde_json`'s pretty printer does and writes what is deeper compactly.
#[derive(Default)]
struct Shallow {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    /// Containers open.
    level: usize,
}

impl Shallow {
    const DEPTH: usize = 2;

    /// Whether what is written inside the innermost open container is indented.
    fn inside(&self) -> bool {
        self.level <= Self::DEPTH
    }
}

impl serde_json::ser::Formatter for Shallow {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.level += 1;
        if self.inside() {
            self.pretty.begin_array(w)
        } else {
            w.write_all(b"[")
        }
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let pretty = self.inside();
        self.level -= 1;
        if pretty {
            self.pretty.end_array(w)
        } else {
            w.write_all(b"]")
        }
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if self.inside() {
            self.pretty.begin_array_value(w, first)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.inside() {
            self.pretty.end_array_value(w)
        } else {
            Ok(())
        }
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.level += 1;
        if self.inside() {
            self.pretty.begin_object(w)
        } else {
            w.write_all(b"{")
        }
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let pretty = self.inside();
        self.level -= 1;
        if pretty {
            self.pretty.end_object(w)
        } else {
            w.write_all(b"}")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if self.inside() {
            self.pretty.begin_object_key(w, first)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.inside() {
            self.pretty.begin_object_value(w)
        } else {
            w.write_all(b":")
        }
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.inside() {
            self.pretty.end_object_value(w)
        } else {
            Ok(())
        }
    }
}

fn open_nofollow(path: &Path, create: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC);
    if create {
        o.write(true).create(true).mode(PRIVATE);
    }
    o.open(path).map_err(|source| {
        StateError::Fs(FsError::Io {
            path: path.into(),
            op: "open lock",
            source,
        })
    })
}

/// The file harden writes into every state directory it creates or is told to use
/// (see [`super::trust`]).
pub const MARKER: &str = ".harden-state";

/// Whether `id` has the shape of a transaction id (`YYYYMMDD-HHMMSSmmm-NNN`).
#[must_use]
pub fn is_txn_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
}

/// A refusal of something read back from the state directory (see
/// [`super::loaded`]: state is data, never a trusted code path).
#[must_use]
pub fn refused(file: &Path, message: &str) -> StateError {
    StateError::Corrupt {
        path: file.into(),
        message: format!("{message}; refused (the state directory is not trusted as code)"),
    }
}

/// Checks a journal read from `file`.
///
/// # Errors
/// When it names a transaction id harden would not have made.
pub fn check_journal(j: &Journal, file: &Path) -> Result<()> {
    if !is_txn_id(&j.txn) {
        return Err(refused(
            file,
            &format!("the journal names transaction `{}`", j.txn.escape_debug()),
        ));
    }
    if let Some(r) = &j.restores
        && !is_txn_id(r)
    {
        return Err(refused(
            file,
            &format!("the journal restores transaction `{}`", r.escape_debug()),
        ));
    }
    // A timestamp, as `now_rfc3339` writes it: never text for a terminal.
    if j.started.is_empty()
        || j.started.len() > 40
        || !j
            .started
            .chars()
            .all(|c| c.is_ascii_digit() || "-:.TZ+".contains(c))
    {
        return Err(refused(
            file,
            &format!("the journal's start time `{}`", j.started.escape_debug()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_418), (2025, 11, 26));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn state_json_indents_two_levels_and_keeps_each_entry_on_one_line() {
        let value = serde_json::json!({
            "id": "t",
            "empty": [],
            "entries": [
                {"kind": "path", "saved": {"state": "dir", "mode": 493}},
                {"kind": "sysctl", "value": [1, 2]},
            ],
        });
        let mut out = Vec::new();
        shallow_json(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{
  "id": "t",
  "empty": [],
  "entries": [
    {"kind":"path","saved":{"state":"dir","mode":493}},
    {"kind":"sysctl","value":[1,2]}
  ]
}
"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn second_lock_fails_at_once() {
        let t = tempfile::tempdir().unwrap();
        let s = StateDir::new(t.path().join("state")).unwrap();
        let held = s.lock().unwrap();
        assert!(s.is_locked());
        assert!(matches!(s.lock(), Err(StateError::Locked { .. })));
        drop(held);
        assert!(!s.is_locked());
        assert!(s.lock().is_ok());
        let mode = std::fs::metadata(&s.path).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o700
        );
    }
}
