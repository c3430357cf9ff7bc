//! Advisory locks other programs honour, taken under the root for the length of a
//! transaction: the shadow-utils convention for the account databases, so that a
//! concurrent `useradd`, `passwd` or `vipw` can neither interleave with harden nor
//! be interleaved with. Two kinds, exactly as shadow-utils 4.13 takes them:
//!
//! - [`Lock::Fcntl`]: `lckpwdf(3)`: a POSIX write lock (`fcntl(F_SETLK)`) on the
//!   whole of `/etc/.pwd.lock`, created `0600` when missing and left in place
//!   (removing a lock file others may have open would break their exclusion).
//! - [`Lock::PidFile`]: `commonio_lock`: `FILE.lock` holding the owner's pid, made
//!   atomically by writing `FILE.PID` and hard-linking it to `FILE.lock`; a lock
//!   whose pid is dead is stale and is broken. Removed when released.
//!
//! Both are retried for up to [`WAIT`] (as `lckpwdf` waits 15 s), then fail naming
//! the holder. Paths are resolved like every managed path: without following a
//! symlink. This module only locks; what is written under the lock is the engine's.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, fcntl, openat};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, UnlinkatFlags, linkat, unlinkat};

use super::fs::{FsError, components, open_dir};
use crate::plan::Lock;

/// How long a lock held by someone else is waited for.
pub const WAIT: Duration = Duration::from_secs(15);

/// [`WAIT`], or in debug builds `HARDEN_LOCK_WAIT_MS` (so tests of a busy lock
/// need not wait 15 s).
fn wait() -> Duration {
    bounded(WAIT)
}

/// How long to wait for another program's lock whose usual bound is `usual`:
/// `usual`, or in debug builds `HARDEN_LOCK_WAIT_MS` (for the tests).
#[must_use]
pub fn bounded(usual: Duration) -> Duration {
    if cfg!(debug_assertions)
        && let Some(ms) = std::env::var("HARDEN_LOCK_WAIT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    usual
}
const POLL: Duration = Duration::from_millis(100);

/// A lock could not be taken (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{path} is locked by another process (waited {waited:?}){holder}; try again when it is done"
    )]
    Busy {
        path: PathBuf,
        waited: Duration,
        holder: String,
    },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// One lock this process holds; released on drop.
enum Taken {
    /// The open descriptor carries the fcntl lock; closing it releases it.
    Fcntl(#[allow(dead_code)] OwnedFd),
    /// The directory and name of the `.lock` file to remove.
    PidFile { dir: OwnedFd, name: PathBuf },
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Self::PidFile { dir, name } = self {
            let _ = unlinkat(dir.as_fd(), name.as_path(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// Locks held; dropping it releases them in reverse order.
#[must_use = "the locks are released when this is dropped"]
pub struct Held(Vec<Taken>);

impl Drop for Held {
    fn drop(&mut self) {
        while let Some(t) = self.0.pop() {
            drop(t);
        }
    }
}

/// Takes every lock in order (callers give a fixed order: `lckpwdf` first, then the
/// `.lock` files in the order shadow-utils takes them), waiting up to [`WAIT`] each.
///
/// # Errors
/// When a lock stays held by someone else, or its path is unusable; the locks
/// already taken are released.
pub fn acquire(root: &Path, locks: &[Lock]) -> Result<Held, LockError> {
    let mut held = Held(Vec::new());
    for lock in locks {
        held.0.push(match lock {
            Lock::Fcntl { path } => fcntl_lock(root, path)?,
            Lock::PidFile { path } => pid_lock(root, path)?,
        });
    }
    Ok(held)
}

fn dir_and_name(root: &Path, path: &Path) -> Result<(OwnedFd, PathBuf), FsError> {
    let comps = components(path)?;
    let name = comps
        .last()
        .map(PathBuf::from)
        .ok_or_else(|| FsError::BadPath { path: path.into() })?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dir = open_dir(root, parent)?.ok_or_else(|| FsError::Sys {
        path: parent.into(),
        op: "open directory",
        errno: Errno::ENOENT,
    })?;
    Ok((dir, name))
}

fn sys<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> FsError + 'a {
    move |errno| FsError::Sys {
        path: path.into(),
        op,
        errno,
    }
}

fn fcntl_lock(root: &Path, path: &Path) -> Result<Taken, LockError> {
    let (dir, name) = dir_and_name(root, path)?;
    let fd = openat(
        dir.as_fd(),
        name.as_path(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(sys(path, "open lock file"))?;
    let whole = nix::libc::flock {
        l_type: i16::try_from(nix::libc::F_WRLCK).unwrap_or(1),
        l_whence: i16::try_from(nix::libc::SEEK_SET).unwrap_or(0),
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let start = Instant::now();
    loop {
        match fcntl(fd.as_fd(), FcntlArg::F_SETLK(&whole)) {
            Ok(_) => return Ok(Taken::Fcntl(fd)),
            Err(Errno::EAGAIN | Errno::EACCES | Errno::EINTR) if start.elapsed() < wait() => {
                std::thread::sleep(POLL);
            }
            Err(Errno::EAGAIN | Errno::EACCES) => {
                return Err(LockError::Busy {
                    path: path.into(),
                    waited: wait(),
                    holder: String::new(),
                });
            }
            Err(e) => return Err(sys(path, "fcntl lock")(e).into()),
        }
    }
}

/// The pid written in a `.lock` file, if readable.
fn holder_pid(dir: &OwnedFd, name: &Path) -> Option<i32> {
    let fd = openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).ok()?;
    s.trim().parse().ok().filter(|p| *p > 0)
}

fn pid_lock(root: &Path, path: &Path) -> Result<Taken, LockError> {
    let (dir, name) = dir_and_name(root, path)?;
    let pid = std::process::id();
    let mut lock_name = name.clone().into_os_string();
    lock_name.push(".lock");
    let lock_name = PathBuf::from(lock_name);
    let mut pid_name = name.into_os_string();
    pid_name.push(format!(".{pid}"));
    let pid_name = PathBuf::from(pid_name);
    let lock_path = path.with_file_name(&lock_name);

    // FILE.PID, exclusively, holding our pid (a leftover of ours is replaced).
    let _ = unlinkat(dir.as_fd(), pid_name.as_path(), UnlinkatFlags::NoRemoveDir);
    let fd = openat(
        dir.as_fd(),
        pid_name.as_path(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(sys(path, "create pid file"))?;
    let written = std::fs::File::from(fd).write_all(pid.to_string().as_bytes());
    super::crash::crash_point("lock-pid-written");
    let result = written
        .map_err(|source| {
            LockError::Fs(FsError::Io {
                path: path.into(),
                op: "write pid file",
                source,
            })
        })
        .and_then(|()| link_lock(&dir, &pid_name, &lock_name, &lock_path));
    let _ = unlinkat(dir.as_fd(), pid_name.as_path(), UnlinkatFlags::NoRemoveDir);
    result?;
    Ok(Taken::PidFile {
        dir,
        name: lock_name,
    })
}

fn link_lock(
    dir: &OwnedFd,
    pid_name: &Path,
    lock_name: &Path,
    lock_path: &Path,
) -> Result<(), LockError> {
    let start = Instant::now();
    loop {
        match linkat(
            dir.as_fd(),
            pid_name,
            dir.as_fd(),
            lock_name,
            AtFlags::empty(),
        ) {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(sys(lock_path, "link lock file")(e).into()),
        }
        let holder = holder_pid(dir, lock_name);
        let alive = holder.is_some_and(|p| {
            !matches!(
                nix::sys::signal::kill(Pid::from_raw(p), None),
                Err(Errno::ESRCH)
            )
        });
        if !alive && holder.is_some() {
            // Stale: its owner is gone (shadow-utils breaks it the same way).
            tracing::warn!(lock = %lock_path.display(), pid = ?holder, "breaking stale lock");
            let _ = unlinkat(dir.as_fd(), lock_name, UnlinkatFlags::NoRemoveDir);
            continue;
        }
        if start.elapsed() >= wait() {
            return Err(LockError::Busy {
                path: lock_path.into(),
                waited: wait(),
                holder: holder.map_or_else(String::new, |p| format!(" (pid {p})")),
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Removes what a dead process `pid` left of the `.lock`-file lock on `path`: its
/// `FILE.PID` (made before linking, removed after) and a `FILE.lock` that still
/// holds its pid. Anything else (another live holder's lock) is left alone.
/// Returns the paths removed.
///
/// # Errors
/// When the directory of `path` cannot be opened.
pub fn sweep_dead(root: &Path, path: &Path, pid: u32) -> Result<Vec<PathBuf>, FsError> {
    let (dir, name) = match dir_and_name(root, path) {
        Ok(x) => x,
        Err(FsError::Sys {
            errno: Errno::ENOENT,
            ..
        }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    let mut pid_name = name.clone().into_os_string();
    pid_name.push(format!(".{pid}"));
    let pid_name = PathBuf::from(pid_name);
    if unlinkat(dir.as_fd(), pid_name.as_path(), UnlinkatFlags::NoRemoveDir).is_ok() {
        removed.push(path.with_file_name(&pid_name));
    }
    let mut lock_name = name.into_os_string();
    lock_name.push(".lock");
    let lock_name = PathBuf::from(lock_name);
    if holder_pid(&dir, &lock_name).and_then(|p| u32::try_from(p).ok()) == Some(pid)
        && unlinkat(dir.as_fd(), lock_name.as_path(), UnlinkatFlags::NoRemoveDir).is_ok()
    {
        removed.push(path.with_file_name(&lock_name));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        d
    }

    #[test]
    fn pid_lock_is_exclusive_and_removed_on_drop() {
        let d = root();
        let lock = [Lock::PidFile {
            path: "/etc/passwd".into(),
        }];
        let held = acquire(d.path(), &lock).unwrap();
        let lock_file = d.path().join("etc/passwd.lock");
        assert_eq!(
            std::fs::read_to_string(&lock_file).unwrap(),
            std::process::id().to_string()
        );
        // No FILE.PID left behind.
        assert_eq!(std::fs::read_dir(d.path().join("etc")).unwrap().count(), 2);
        drop(held);
        assert!(!lock_file.exists());
    }

    #[test]
    fn stale_pid_lock_is_broken() {
        let d = root();
        let lock_file = d.path().join("etc/passwd.lock");
        // A pid that cannot exist (above pid_max).
        std::fs::write(&lock_file, "2147483646").unwrap();
        let held = acquire(
            d.path(),
            &[Lock::PidFile {
                path: "/etc/passwd".into(),
            }],
        )
        .unwrap();
        drop(held);
        assert!(!lock_file.exists());
    }

    #[test]
    fn fcntl_lock_conflicts_with_another_process() {
        let d = root();
        let held = acquire(
            d.path(),
            &[Lock::Fcntl {
                path: "/etc/.pwd.lock".into(),
            }],
        )
        .unwrap();
        // flock(1) -n would use flock(2), which does not see fcntl locks; use a
        // Python one-liner doing fcntl.lockf, as lckpwdf does.
        let py = format!(
            "import fcntl,sys\nf=open('{}','w')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\nexcept OSError:\n sys.exit(3)\n",
            d.path().join("etc/.pwd.lock").display()
        );
        let busy = std::process::Command::new("python3")
            .args(["-c", &py])
            .status()
            .unwrap();
        assert_eq!(busy.code(), Some(3), "the lock must be visible to others");
        drop(held);
        let free = std::process::Command::new("python3")
            .args(["-c", &py])
            .status()
            .unwrap();
        assert_eq!(free.code(), Some(0));
    }
}
