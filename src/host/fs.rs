//! File access under the root prefix, without ever following a symlink.
//!
//! Every path harden manages is a *logical* absolute path (`/etc/ssh/sshd_config`)
//! resolved under the root (`--root`). Directories are walked one component at a time
//! with `openat(O_NOFOLLOW)`, so a symlink planted in a directory or at the target can
//! neither redirect a write nor make a read leave the root: it is an error naming the
//! path. Writes are atomic: a `0600` temp file created exclusively in the target's
//! directory, filled, given its mode and owner, fsynced, renamed over the target, and
//! the directory fsynced. This module does not decide *what* to write.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, unlinkat};

/// A failure to read or write a managed path.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: not an absolute, normalised path (no `..`, no `.`)")]
    BadPath { path: PathBuf },
    #[error("{path}: is a symlink; harden never reads or writes through a symlink")]
    Symlink { path: PathBuf },
    #[error("{path}: expected a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: {op} failed: {errno}")]
    Sys {
        path: PathBuf,
        op: &'static str,
        errno: Errno,
    },
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, FsError>;

/// What kind of object a path is, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Metadata of a path (never of a symlink's target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub len: u64,
}

impl Meta {
    fn from_stat(st: &FileStat) -> Self {
        let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let kind = if fmt == SFlag::S_IFREG {
            Kind::File
        } else if fmt == SFlag::S_IFDIR {
            Kind::Dir
        } else if fmt == SFlag::S_IFLNK {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Self {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            len: u64::try_from(st.st_size).unwrap_or(0),
        }
    }
}

/// Checks that `path` is absolute and normalised, and returns its components.
pub fn components(path: &Path) -> Result<Vec<&OsStr>> {
    let mut out = Vec::new();
    let mut iter = path.components();
    if iter.next() != Some(Component::RootDir) {
        return Err(FsError::BadPath { path: path.into() });
    }
    for c in iter {
        match c {
            Component::Normal(n) => out.push(n),
            _ => return Err(FsError::BadPath { path: path.into() }),
        }
    }
    Ok(out)
}

/// The host path of a logical path under `root`.
#[must_use]
pub fn host_path(root: &Path, logical: &Path) -> PathBuf {
    let rel = logical.strip_prefix("/").unwrap_or(logical);
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

fn sys<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> FsError + 'a {
    move |errno| FsError::Sys {
        path: path.to_path_buf(),
        op,
        errno,
    }
}

fn open_root(root: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(root, "open root"))
}

/// Opens the directory `dir` (logical) under `root`, refusing symlinks on the way.
/// Returns `None` when a component does not exist.
pub fn open_dir(root: &Path, dir: &Path) -> Result<Option<OwnedFd>> {
    let mut dirs = Dirs::new(root);
    if dirs.dir(dir)?.is_none() {
        return Ok(None);
    }
    Ok(dirs.open.pop().map(|(_, fd)| fd))
}

/// Opens the directory `name` in the directory `fd`, never through a symlink;
/// `None` when it does not exist. `walked` names it in errors.
pub(super) fn open_child(
    fd: &OwnedFd,
    name: &OsStr,
    walked: impl Fn() -> PathBuf,
) -> Result<Option<OwnedFd>> {
    match openat(
        fd.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(next) => Ok(Some(next)),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::ELOOP) => Err(FsError::Symlink { path: walked() }),
        Err(Errno::ENOTDIR) => {
            // Either a symlink (O_NOFOLLOW on a link to a dir gives ENOTDIR on
            // some kernels) or a plain file: tell them apart.
            let st = fstatat(fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(sys(&walked(), "stat"))?;
            if Meta::from_stat(&st).kind == Kind::Symlink {
                return Err(FsError::Symlink { path: walked() });
            }
            Err(FsError::NotADirectory { path: walked() })
        }
        Err(e) => Err(sys(&walked(), "open directory")(e)),
    }
}

/// The directories along the last one resolved, held open for a pass over many
/// paths (a snapshot, the writes of a plan, a restore, a recursive walk): each
/// directory is opened once, relative to its parent's fd with `O_NOFOLLOW`, instead
/// of walking every component from the root again for every path. A symlink is
/// refused exactly as by [`open_dir`]. The fds pin the directories that were
/// checked, so a directory swapped for a symlink during the pass is never
/// followed. One value lives for one pass; after removing a directory, call
/// [`Dirs::forget`].
pub struct Dirs<'r> {
    root: &'r Path,
    /// The open directories: the root first (an empty name), then one per
    /// component of the last directory resolved.
    open: Vec<(std::ffi::OsString, OwnedFd)>,
    /// The directory `open` ends with, as it was asked for: the next path in the
    /// same directory is found by comparing bytes.
    at: Option<PathBuf>,
}

impl<'r> Dirs<'r> {
    /// Nothing open yet.
    #[must_use]
    pub fn new(root: &'r Path) -> Self {
        Self {
            root,
            open: Vec::new(),
            at: None,
        }
    }

    /// Closes every directory held: the next path is resolved from the root.
    pub fn forget(&mut self) {
        self.open.clear();
        self.at = None;
    }

    /// The directory `dir` (logical), opened from the longest prefix already
    /// open; `None` when a component does not exist.
    pub fn dir(&mut self, dir: &Path) -> Result<Option<&OwnedFd>> {
        if self
            .at
            .as_ref()
            .is_some_and(|at| at.as_os_str() == dir.as_os_str())
        {
            return Ok(self.open.last().map(|(_, fd)| fd));
        }
        self.at = None;
        let comps = components(dir)?;
        if self.open.is_empty() {
            self.open
                .push((std::ffi::OsString::new(), open_root(self.root)?));
        }
        let shared = comps
            .iter()
            .zip(&self.open[1..])
            .take_while(|(c, (n, _))| **c == n.as_os_str())
            .count();
        self.open.truncate(shared + 1);
        for (i, c) in comps.iter().enumerate().skip(shared) {
            let walked = || {
                comps[..=i]
                    .iter()
                    .fold(PathBuf::from("/"), |p, c| p.join(c))
            };
            let Some((_, parent)) = self.open.last() else {
                unreachable!("the root is open")
            };
            match open_child(parent, c, walked)? {
                Some(fd) => self.open.push(((*c).to_os_string(), fd)),
                None => return Ok(None),
            }
        }
        self.at = Some(dir.to_path_buf());
        Ok(self.open.last().map(|(_, fd)| fd))
    }

    /// The entries of directory `dir`, sorted by name, each with its metadata
    /// (never following a symlink) and the file system it is on; `None` when the
    /// directory does not exist. Listed through the directory's own fd.
    pub fn list(&mut self, dir: &Path) -> Result<Option<Vec<Listed>>> {
        let Some(fd) = self.dir(dir)? else {
            return Ok(None);
        };
        list_at(fd, dir).map(Some)
    }

    /// The file system (`st_dev`) of directory `dir`; `None` when it does not exist.
    pub fn dev(&mut self, dir: &Path) -> Result<Option<u64>> {
        let Some(fd) = self.dir(dir)? else {
            return Ok(None);
        };
        let st = nix::sys::stat::fstat(fd).map_err(sys(dir, "stat"))?;
        Ok(Some(st.st_dev))
    }

    /// [`lstat`], resolving the parent from the directories held open.
    pub fn lstat(&mut self, path: &Path) -> Result<Option<Meta>> {
        let Some((parent, name)) = parts(path)? else {
            let st = nix::sys::stat::stat(self.root).map_err(sys(self.root, "stat"))?;
            return Ok(Some(Meta::from_stat(&st)));
        };
        let Some(dir) = self.dir(parent)? else {
            return Ok(None);
        };
        match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::from_stat(&st))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(sys(path, "stat")(e)),
        }
    }

    /// Changes the mode and/or owner of the file or directory at `path` as a
    /// planned metadata op says, never through a symlink: one open, then only the
    /// `fchown` and `fchmod` asked for. `was_mode` is its mode when it was read
    /// (planned, and checked by the snapshot under the lock, which also saw a file
    /// or directory there): a chown clears setuid and setgid bits, so it is set
    /// again when no mode is asked for.
    pub fn change_meta(
        &mut self,
        path: &Path,
        mode: Option<u32>,
        (uid, gid): (Option<u32>, Option<u32>),
        was_mode: u32,
    ) -> Result<()> {
        let fd = self.open_nofollow(path)?;
        let chown = uid.is_some() || gid.is_some();
        if chown {
            fchown(&fd, uid.map(Uid::from_raw), gid.map(Gid::from_raw))
                .map_err(sys(path, "chown"))?;
        }
        let mode = mode.or((chown && was_mode & 0o6000 != 0).then_some(was_mode));
        if let Some(mode) = mode {
            fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(sys(path, "chmod"))?;
        }
        Ok(())
    }

    /// Opens `path` to change its metadata: read-only, non-blocking, never
    /// through a symlink (at the end or in its directories).
    fn open_nofollow(&mut self, path: &Path) -> Result<OwnedFd> {
        let Some((parent, name)) = parts(path)? else {
            return open_root(self.root);
        };
        let dir = self.dir(parent)?.ok_or_else(|| FsError::Sys {
            path: parent.to_path_buf(),
            op: "open directory",
            errno: Errno::ENOENT,
        })?;
        match openat(
            dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(fd),
            Err(Errno::ELOOP) => Err(FsError::Symlink { path: path.into() }),
            Err(e) => Err(sys(path, "open")(e)),
        }
    }

    /// [`set_meta`], resolving the parent from the directories held open.
    pub fn set_meta(
        &mut self,
        path: &Path,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<()> {
        let fd = self.open_nofollow(path)?;
        let st = nix::sys::stat::fstat(&fd).map_err(sys(path, "stat"))?;
        let kind = Meta::from_stat(&st).kind;
        if !matches!(kind, Kind::File | Kind::Dir) {
            return Err(FsError::Sys {
                path: path.into(),
                op: "chmod (not a file or directory)",
                errno: Errno::EINVAL,
            });
        }
        let uid = uid.unwrap_or(st.st_uid);
        let gid = gid.unwrap_or(st.st_gid);
        let mode = mode.unwrap_or(st.st_mode & 0o7777);
        set_owner_stat(&fd, &st, Owner { mode, uid, gid }, path)
    }
}

/// One entry of a directory listing ([`Dirs::list`]).
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: std::ffi::OsString,
    pub meta: Meta,
    /// The file system it is on (`st_dev`).
    pub dev: u64,
}

/// The entries of the directory open at `fd` (`dir`, for errors), sorted by
/// name, each with its metadata (never following a symlink) and the file system
/// it is on. An entry removed while listing is left out.
pub fn list_at(fd: &OwnedFd, dir: &Path) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for name in names(fd, dir)? {
        match fstatat(fd.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => out.push(Listed {
                meta: Meta::from_stat(&st),
                dev: st.st_dev,
                name,
            }),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(sys(&dir.join(&name), "stat")(e)),
        }
    }
    out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The names in the directory open at `fd` (`dir`, for errors), without `.` and
/// `..`, in the order the file system lists them.
pub fn names(fd: &OwnedFd, dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    // A description of its own, so the listing never shares an offset with `fd`.
    let own = openat(
        fd.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(dir, "open directory"))?;
    let mut list = nix::dir::Dir::from_fd(own).map_err(sys(dir, "list"))?;
    let mut out = Vec::new();
    for e in list.iter() {
        let e = e.map_err(sys(dir, "list"))?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(out)
}

/// Opens a directory that must exist (the parent of a path being written).
fn existing_dir(root: &Path, dir: &Path) -> Result<OwnedFd> {
    open_dir(root, dir)?.ok_or_else(|| FsError::Sys {
        path: dir.to_path_buf(),
        op: "open directory",
        errno: Errno::ENOENT,
    })
}

/// The parent and name of `path`, checked as [`components`] checks it, without
/// collecting its components.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    parts(path)?.ok_or_else(|| FsError::BadPath { path: path.into() })
}

/// [`split`], with `None` for the root itself (`/`): no allocation, so the
/// per-path calls of a pass over a large tree cost a scan of the bytes.
fn parts(path: &Path) -> Result<Option<(&Path, &OsStr)>> {
    let bad = || FsError::BadPath { path: path.into() };
    let mut iter = path.components();
    if iter.next() != Some(Component::RootDir) {
        return Err(bad());
    }
    let mut name = None;
    for c in iter {
        match c {
            Component::Normal(n) => name = Some(n),
            _ => return Err(bad()),
        }
    }
    Ok(name.map(|n| (path.parent().unwrap_or(Path::new("/")), n)))
}

/// Metadata of `path` without following a symlink at the end; `None` if absent.
pub fn lstat(root: &Path, path: &Path) -> Result<Option<Meta>> {
    Dirs::new(root).lstat(path)
}

/// Reads a regular file; `None` if it does not exist. A symlink is an error.
pub fn read(root: &Path, path: &Path) -> Result<Option<Vec<u8>>> {
    let Some((mut file, len)) = open_regular(root, path)? else {
        return Ok(None);
    };
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut buf).map_err(|source| FsError::Io {
        path: path.into(),
        op: "read",
        source,
    })?;
    Ok(Some(buf))
}

/// Opens a regular file for reading; `None` if it does not exist. A symlink is
/// an error.
pub fn open_file(root: &Path, path: &Path) -> Result<Option<std::fs::File>> {
    Ok(open_regular(root, path)?.map(|(file, _)| file))
}

/// [`open_file`], with the file's length.
fn open_regular(root: &Path, path: &Path) -> Result<Option<(std::fs::File, u64)>> {
    let (parent, name) = split(path)?;
    let Some(dir) = open_dir(root, parent)? else {
        return Ok(None);
    };
    let fd = match openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => return Err(FsError::Symlink { path: path.into() }),
        Err(e) => return Err(sys(path, "open")(e)),
    };
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|source| FsError::Io {
        path: path.into(),
        op: "stat",
        source,
    })?;
    if !meta.is_file() {
        return Err(FsError::Io {
            path: path.into(),
            op: "read",
            source: std::io::Error::other("not a regular file"),
        });
    }
    Ok(Some((file, meta.len())))
}

/// Reads a file that may legitimately be a symlink inside the root (such as
/// `/etc/os-release`), resolving links inside the root. Only for facts, never for
/// managed files.
#[must_use]
pub fn read_resolving(root: &Path, path: &Path) -> Option<Vec<u8>> {
    resolving(root, path, read)
}

/// [`lstat`] of what `path` names once the symlinks inside the root on its way
/// are resolved (as [`read_resolving`]); `None` when absent or unresolvable.
#[must_use]
pub fn stat_resolving(root: &Path, path: &Path) -> Option<Meta> {
    resolving(root, path, |root, p| match lstat(root, p)? {
        Some(m) if m.kind == Kind::Symlink => Err(FsError::Symlink { path: p.into() }),
        m => Ok(m),
    })
}

/// Calls `at` on `path`, resolving inside the root each symlink it reports.
fn resolving<T>(
    root: &Path,
    path: &Path,
    at: impl Fn(&Path, &Path) -> Result<Option<T>>,
) -> Option<T> {
    let mut current = path.to_path_buf();
    for _ in 0..16 {
        match at(root, &current) {
            Ok(found) => return found,
            Err(FsError::Symlink { path: link }) => {
                let target = std::fs::read_link(host_path(root, &link)).ok()?;
                let base = link.parent().unwrap_or(Path::new("/")).to_path_buf();
                let joined = if target.is_absolute() {
                    target
                } else {
                    base.join(target)
                };
                let rest = current.strip_prefix(&link).ok()?.to_path_buf();
                current = normalise(&joined.join(rest));
            }
            Err(_) => return None,
        }
    }
    None
}

/// Lexically normalises an absolute path, clamping `..` at the root.
#[must_use]
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Identifies temp files that belong to one transaction, so a crash leaves nothing
/// that rollback cannot find and remove.
#[must_use]
pub fn temp_name(prefix: &str, name: &OsStr, purpose: &str) -> PathBuf {
    let mut s = format!(".{prefix}.").into_bytes();
    s.extend_from_slice(name.as_bytes());
    s.push(b'.');
    s.extend_from_slice(purpose.as_bytes());
    PathBuf::from(OsStr::from_bytes(&s))
}

/// Final metadata for a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Writes `content` to a new temp file next to `path` (exclusive create, `0600`),
/// sets the final mode and owner, fsyncs it, and returns its logical path. The caller
/// either renames it into place with [`install`] or removes it.
pub fn write_temp(
    root: &Path,
    path: &Path,
    content: &[u8],
    owner: Owner,
    tag: &str,
    purpose: &str,
) -> Result<PathBuf> {
    write_temp_with(root, path, owner, tag, purpose, &mut |w| {
        w.write_all(content)
    })
}

/// [`write_temp`] with the content written by `content` through a buffer, so a
/// large document is streamed to disk, never held whole in memory.
pub fn write_temp_with(
    root: &Path,
    path: &Path,
    owner: Owner,
    tag: &str,
    purpose: &str,
    content: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf> {
    let (parent, name) = split(path)?;
    let dir = existing_dir(root, parent)?;
    let tmp = temp_name(tag, name, purpose);
    let tmp_logical = parent.join(&tmp);
    // A leftover from an earlier crash of the same transaction id is ours to replace.
    match unlinkat(dir.as_fd(), tmp.as_path(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys(&tmp_logical, "remove stale temp")(e)),
    }
    let fd = openat(
        dir.as_fd(),
        tmp.as_path(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(sys(&tmp_logical, "create temp"))?;
    let result = fill(&fd, content, owner, &tmp_logical);
    if let Err(e) = result {
        let _ = unlinkat(dir.as_fd(), tmp.as_path(), UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    Ok(tmp_logical)
}

fn fill(
    fd: &OwnedFd,
    content: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    owner: Owner,
    path: &Path,
) -> Result<()> {
    let file = std::fs::File::from(fd.try_clone().map_err(|source| FsError::Io {
        path: path.into(),
        op: "dup",
        source,
    })?);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    content(&mut out)
        .and_then(|()| out.flush())
        .map_err(|source| FsError::Io {
            path: path.into(),
            op: "write",
            source,
        })?;
    set_owner_fd(fd, owner, path)?;
    fsync(fd).map_err(sys(path, "fsync"))
}

fn set_owner_fd(fd: &OwnedFd, owner: Owner, path: &Path) -> Result<()> {
    let st = nix::sys::stat::fstat(fd).map_err(sys(path, "stat"))?;
    set_owner_stat(fd, &st, owner, path)
}

/// [`set_owner_fd`] with the file's `fstat` already read.
fn set_owner_stat(fd: &OwnedFd, st: &FileStat, owner: Owner, path: &Path) -> Result<()> {
    // chown first: it clears setuid/setgid bits, which the chmod then sets as asked.
    let chown = st.st_uid != owner.uid || st.st_gid != owner.gid;
    if chown {
        fchown(
            fd,
            Some(Uid::from_raw(owner.uid)),
            Some(Gid::from_raw(owner.gid)),
        )
        .map_err(sys(path, "chown"))?;
    }
    if chown || st.st_mode & 0o7777 != owner.mode {
        fchmod(fd, Mode::from_bits_truncate(owner.mode)).map_err(sys(path, "chmod"))?;
    }
    Ok(())
}

/// Renames the temp file `tmp` (from [`write_temp`]) over `path` and fsyncs the
/// directory. Refuses when `path` has become a symlink or a directory.
pub fn install(root: &Path, tmp: &Path, path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let (_, tmp_name) = split(tmp)?;
    let dir = existing_dir(root, parent)?;
    match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => match Meta::from_stat(&st).kind {
            Kind::Symlink => {
                let _ = unlinkat(dir.as_fd(), tmp_name, UnlinkatFlags::NoRemoveDir);
                return Err(FsError::Symlink { path: path.into() });
            }
            Kind::Dir => {
                let _ = unlinkat(dir.as_fd(), tmp_name, UnlinkatFlags::NoRemoveDir);
                return Err(FsError::Sys {
                    path: path.into(),
                    op: "replace",
                    errno: Errno::EISDIR,
                });
            }
            _ => {}
        },
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys(path, "stat")(e)),
    }
    renameat(dir.as_fd(), tmp_name, dir.as_fd(), name).map_err(sys(path, "rename"))?;
    fsync(dir.as_fd()).map_err(sys(parent, "fsync directory"))
}

/// Atomically replaces (or creates) `path` with `content` and the given owner.
pub fn write_atomic(
    root: &Path,
    path: &Path,
    content: &[u8],
    owner: Owner,
    tag: &str,
) -> Result<()> {
    let tmp = write_temp(root, path, content, owner, tag, "tmp")?;
    install(root, &tmp, path)
}

/// [`write_atomic`] with the content streamed by `content` ([`write_temp_with`]).
pub fn write_atomic_with(
    root: &Path,
    path: &Path,
    owner: Owner,
    tag: &str,
    content: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = write_temp_with(root, path, owner, tag, "tmp", content)?;
    install(root, &tmp, path)
}

/// Removes a file we created, ignoring its absence.
pub fn remove_file(root: &Path, path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let Some(dir) = open_dir(root, parent)? else {
        return Ok(());
    };
    match unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys(path, "remove")(e)),
    }
    fsync(dir.as_fd()).map_err(sys(parent, "fsync directory"))
}

/// Removes an empty directory; `Ok(false)` when it is not empty.
pub fn remove_dir(root: &Path, path: &Path) -> Result<bool> {
    let (parent, name) = split(path)?;
    let Some(dir) = open_dir(root, parent)? else {
        return Ok(true);
    };
    match unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(Errno::ENOTEMPTY | Errno::EEXIST) => return Ok(false),
        Err(e) => return Err(sys(path, "remove directory")(e)),
    }
    fsync(dir.as_fd()).map_err(sys(parent, "fsync directory"))?;
    Ok(true)
}

/// Creates one directory (its parent must exist) with mode and owner.
pub fn make_dir(root: &Path, path: &Path, owner: Owner) -> Result<()> {
    let (parent, name) = split(path)?;
    let dir = existing_dir(root, parent)?;
    match mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(sys(path, "mkdir")(e)),
    }
    fsync(dir.as_fd()).map_err(sys(parent, "fsync directory"))?;
    set_meta(
        root,
        path,
        Some(owner.mode),
        Some(owner.uid),
        Some(owner.gid),
    )
}

/// Sets mode and/or owner of a file or directory, never through a symlink.
pub fn set_meta(
    root: &Path,
    path: &Path,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<()> {
    Dirs::new(root).set_meta(path, mode, uid, gid)
}

/// The target of the symlink at `path` (never followed); `None` when nothing is
/// there. Something other than a symlink at `path` is an error.
pub fn read_link(root: &Path, path: &Path) -> Result<Option<PathBuf>> {
    let (parent, name) = split(path)?;
    let Some(dir) = open_dir(root, parent)? else {
        return Ok(None);
    };
    match nix::fcntl::readlinkat(dir.as_fd(), name) {
        Ok(target) => Ok(Some(PathBuf::from(target))),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::EINVAL) => Err(FsError::Sys {
            path: path.into(),
            op: "readlink (not a symlink)",
            errno: Errno::EINVAL,
        }),
        Err(e) => Err(sys(path, "readlink")(e)),
    }
}

/// Atomically makes `path` a symlink to `target` (created, or retargeted over an
/// existing symlink): the link is made under a temp name in the same directory,
/// then renamed over `path`, and the directory fsynced. Refuses to replace a
/// directory or a regular file; never follows a link.
pub fn symlink(root: &Path, path: &Path, target: &Path, tag: &str) -> Result<()> {
    let (parent, name) = split(path)?;
    let dir = existing_dir(root, parent)?;
    match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if Meta::from_stat(&st).kind != Kind::Symlink => {
            return Err(FsError::Sys {
                path: path.into(),
                op: "replace with a symlink (not a symlink)",
                errno: Errno::EEXIST,
            });
        }
        Ok(_) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys(path, "stat")(e)),
    }
    let tmp = temp_name(tag, name, "link");
    let tmp_logical = parent.join(&tmp);
    match unlinkat(dir.as_fd(), tmp.as_path(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys(&tmp_logical, "remove stale temp")(e)),
    }
    nix::unistd::symlinkat(target, dir.as_fd(), tmp.as_path())
        .map_err(sys(&tmp_logical, "symlink"))?;
    if let Err(e) = renameat(dir.as_fd(), tmp.as_path(), dir.as_fd(), name) {
        let _ = unlinkat(dir.as_fd(), tmp.as_path(), UnlinkatFlags::NoRemoveDir);
        return Err(sys(path, "rename")(e));
    }
    fsync(dir.as_fd()).map_err(sys(parent, "fsync directory"))
}

/// Resolves the root's own symlinks in the directories of a logical path (such
/// as `/lib` -> `usr/lib` on a merged-/usr system), staying inside the root, and
/// returns the logical path without links in its directories. `None` when a
/// directory is missing or the links loop. Only for finding where something
/// lives (unit search paths); managed paths are never resolved.
#[must_use]
pub fn resolve_dirs(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut done = PathBuf::from("/");
    let mut rest: Vec<std::ffi::OsString> = path
        .parent()?
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .rev()
        .collect();
    let mut hops = 0;
    while let Some(c) = rest.pop() {
        let next = done.join(&c);
        match lstat(root, &next).ok()?? {
            m if m.kind == Kind::Dir => done = next,
            m if m.kind == Kind::Symlink => {
                hops += 1;
                if hops > 16 {
                    return None;
                }
                let target = read_link(root, &next).ok()??;
                let joined = if target.is_absolute() {
                    target
                } else {
                    done.join(target)
                };
                let joined = normalise(&joined);
                for n in joined.components().rev() {
                    if let Component::Normal(n) = n {
                        rest.push(n.to_os_string());
                    }
                }
                done = PathBuf::from("/");
            }
            _ => return None,
        }
    }
    Some(done.join(path.file_name()?))
}

/// The names in directory `dir` (sorted), each with its kind, never following a
/// symlink; empty when the directory does not exist.
pub fn entries(root: &Path, dir: &Path) -> Result<Vec<(std::ffi::OsString, Kind)>> {
    Ok(Dirs::new(root)
        .list(dir)?
        .unwrap_or_default()
        .into_iter()
        .map(|l| (l.name, l.meta.kind))
        .collect())
}

/// Removes the temp files of transaction `tag` left in `dir` by a crash.
pub fn sweep_temps(root: &Path, dir: &Path, tag: &str) -> Result<Vec<PathBuf>> {
    Dirs::new(root).sweep_temps(dir, tag)
}

impl Dirs<'_> {
    /// [`sweep_temps`], resolving `dir` from the directories held open.
    pub fn sweep_temps(&mut self, dir: &Path, tag: &str) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let Some(fd) = self.dir(dir)? else {
            return Ok(removed);
        };
        let prefix = format!(".{tag}.");
        for name in names(fd, dir)? {
            if name.as_bytes().starts_with(prefix.as_bytes()) {
                let logical = dir.join(&name);
                match unlinkat(fd.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => return Err(sys(&logical, "remove")(e)),
                }
                removed.push(logical);
            }
        }
        if !removed.is_empty() {
            fsync(fd.as_fd()).map_err(sys(dir, "fsync directory"))?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn owner() -> Owner {
        Owner {
            mode: 0o640,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }

    #[test]
    fn write_then_read_round_trips_with_mode() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        let p = Path::new("/etc/x.conf");
        write_atomic(t.path(), p, b"hello\n", owner(), "harden.t").unwrap();
        assert_eq!(read(t.path(), p).unwrap().unwrap(), b"hello\n");
        let m = lstat(t.path(), p).unwrap().unwrap();
        assert_eq!((m.kind, m.mode), (Kind::File, 0o640));
        // No temp file left behind.
        assert_eq!(std::fs::read_dir(t.path().join("etc")).unwrap().count(), 1);
    }

    #[test]
    fn refuses_symlink_at_target_and_in_directory() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("victim"), t.path().join("etc/x")).unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("linkdir")).unwrap();
        let err = write_atomic(t.path(), Path::new("/etc/x"), b"a", owner(), "harden.t");
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        let err = write_atomic(t.path(), Path::new("/linkdir/y"), b"a", owner(), "harden.t");
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        assert!(!outside.path().join("victim").exists());
        assert!(!outside.path().join("y").exists());
        // And no temp left in /etc.
        assert_eq!(std::fs::read_dir(t.path().join("etc")).unwrap().count(), 1);
    }

    #[test]
    fn symlinks_are_made_retargeted_and_read_without_being_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        let p = Path::new("/etc/l");
        assert_eq!(read_link(t.path(), p).unwrap(), None);
        symlink(t.path(), p, Path::new("/dev/null"), "harden.t").unwrap();
        assert_eq!(
            read_link(t.path(), p).unwrap().unwrap(),
            Path::new("/dev/null")
        );
        symlink(t.path(), p, Path::new("../x"), "harden.t").unwrap();
        assert_eq!(read_link(t.path(), p).unwrap().unwrap(), Path::new("../x"));
        // Only the link, no temp left.
        assert_eq!(entries(t.path(), Path::new("/etc")).unwrap().len(), 1);
        // A regular file is never replaced, a directory link never walked.
        std::fs::write(t.path().join("etc/f"), "x").unwrap();
        assert!(symlink(t.path(), Path::new("/etc/f"), Path::new("/x"), "harden.t").is_err());
        assert!(read_link(t.path(), Path::new("/etc/f")).is_err());
        std::os::unix::fs::symlink(outside.path(), t.path().join("d")).unwrap();
        let err = symlink(t.path(), Path::new("/d/l"), Path::new("/x"), "harden.t");
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn resolve_dirs_follows_the_roots_own_links_inside_it() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("usr/lib/systemd/system")).unwrap();
        std::os::unix::fs::symlink("usr/lib", t.path().join("lib")).unwrap();
        std::os::unix::fs::symlink("/../../../tmp", t.path().join("up")).unwrap();
        assert_eq!(
            resolve_dirs(t.path(), Path::new("/lib/systemd/system/ssh.service")).unwrap(),
            Path::new("/usr/lib/systemd/system/ssh.service")
        );
        // `..` is clamped at the root: /up resolves to the root's /tmp (absent).
        assert_eq!(resolve_dirs(t.path(), Path::new("/up/x")), None);
    }

    #[test]
    fn dirs_resolve_each_directory_once_and_still_refuse_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::create_dir_all(t.path().join("a/d")).unwrap();
        std::fs::write(t.path().join("a/b/x"), "x").unwrap();
        std::fs::write(t.path().join("a/d/y"), "y").unwrap();
        std::fs::write(outside.path().join("z"), "z").unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("a/c")).unwrap();
        let mut dirs = Dirs::new(t.path());
        let x = dirs.lstat(Path::new("/a/b/x")).unwrap().unwrap();
        assert_eq!(x.kind, Kind::File);
        // /a is held open: the link beside /a/b is still refused, not followed.
        let err = dirs.lstat(Path::new("/a/c/z"));
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        let err = dirs.set_meta(Path::new("/a/c/z"), Some(0o600), None, None);
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        assert_eq!(
            std::fs::metadata(outside.path().join("z")).unwrap().mode() & 0o777,
            0o644
        );
        assert_eq!(dirs.lstat(Path::new("/a/d/nope")).unwrap(), None);
        assert_eq!(dirs.lstat(Path::new("/a/e/nope")).unwrap(), None);
        dirs.set_meta(Path::new("/a/d/y"), Some(0o600), None, None)
            .unwrap();
        assert_eq!(
            lstat(t.path(), Path::new("/a/d/y")).unwrap().unwrap().mode,
            0o600
        );
        let listed: Vec<(String, Kind)> = dirs
            .list(Path::new("/a"))
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|l| (l.name.to_string_lossy().into_owned(), l.meta.kind))
            .collect();
        assert_eq!(
            listed,
            [
                ("b".to_string(), Kind::Dir),
                ("c".to_string(), Kind::Symlink),
                ("d".to_string(), Kind::Dir)
            ]
        );
        assert!(dirs.list(Path::new("/a/c")).is_err());
        assert!(dirs.list(Path::new("/nope")).unwrap().is_none());
    }

    #[test]
    fn change_meta_keeps_setuid_bits_a_chown_clears_and_never_follows_a_link() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("bin")).unwrap();
        let tool = t.path().join("bin/tool");
        std::fs::write(&tool, "x").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::write(outside.path().join("z"), "z").unwrap();
        std::os::unix::fs::symlink(outside.path().join("z"), t.path().join("bin/link")).unwrap();
        let mut dirs = Dirs::new(t.path());
        let uid = nix::unistd::getuid().as_raw();
        // A chown by root clears setuid; the mode it had is set again.
        dirs.change_meta(
            Path::new("/bin/tool"),
            None,
            (Some(uid), Some(1000)),
            0o4755,
        )
        .unwrap();
        let m = lstat(t.path(), Path::new("/bin/tool")).unwrap().unwrap();
        assert_eq!((m.mode, m.gid), (0o4755, 1000));
        dirs.change_meta(Path::new("/bin/tool"), Some(0o700), (None, None), 0o4755)
            .unwrap();
        let m = lstat(t.path(), Path::new("/bin/tool")).unwrap().unwrap();
        assert_eq!((m.mode, m.gid), (0o700, 1000));
        let err = dirs.change_meta(Path::new("/bin/link"), Some(0o777), (None, None), 0o644);
        assert!(matches!(err, Err(FsError::Symlink { .. })), "{err:?}");
        assert_eq!(
            std::fs::metadata(outside.path().join("z")).unwrap().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn relative_and_dotted_paths_are_rejected() {
        assert!(components(Path::new("etc/x")).is_err());
        assert!(components(Path::new("/etc/../x")).is_err());
        assert_eq!(components(Path::new("/etc/x")).unwrap().len(), 2);
    }

    #[test]
    fn read_resolving_stays_in_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("usr/lib")).unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("usr/lib/os-release"), "ID=debian\n").unwrap();
        std::os::unix::fs::symlink("../usr/lib/os-release", t.path().join("etc/os-release"))
            .unwrap();
        let got = read_resolving(t.path(), Path::new("/etc/os-release")).unwrap();
        assert_eq!(got, b"ID=debian\n");
        std::fs::remove_file(t.path().join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("/usr/lib/os-release", t.path().join("etc/os-release")).unwrap();
        let got = read_resolving(t.path(), Path::new("/etc/os-release")).unwrap();
        assert_eq!(got, b"ID=debian\n");
    }
}
