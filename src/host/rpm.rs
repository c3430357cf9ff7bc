//! RPM packages of a RHEL-family root (RHEL, `CentOS`, Rocky, Alma, Fedora): the
//! installed set read from its rpm database, and dnf runs that install or
//! remove packages. [`super::packages`] picks this module for such roots.
//!
//! **Reading runs nothing of the root.** The database directory
//! (`/usr/lib/sysimage/rpm` where the root has one, as Fedora and RHEL 10 do,
//! else `/var/lib/rpm`; sqlite, or Berkeley DB on RHEL 8) is copied without
//! following a symlink of the root into a private temp directory, and *this
//! machine's* `rpm --dbpath` queries the copy inside a bubblewrap sandbox
//! started as `nobody` (user, mount, PID, IPC, UTS, cgroup and network
//! namespaces; this machine's `/usr` and `/etc` read-only; of the root, only the
//! copy). A crafted database meets rpm and sqlite confined, and the copy also
//! gives sqlite the writable directory it needs for a database in WAL mode. On
//! the running system its own `rpm` answers directly.
//!
//! **Changing** uses *this machine's* `dnf --installroot=ROOT` (the running
//! system's own dnf for `/`), so no program of the root runs but the packages'
//! scriptlets, which rpm runs chrooted into the root. dnf reads the root's
//! `dnf.conf` (copied, never through a symlink) and the root's repository
//! directories, never this machine's; plugins stay off; it installs no weak
//! dependencies and removes no dependency it was not asked to (as apt without
//! recommends and without autoremove). The run is in private mount, PID, IPC and
//! UTS namespaces with the root's own `/proc`, `/dev` and a tmpfs `/run` mounted
//! where the root has those directories: RPM has no `policy-rc.d`, but
//! `systemctl` in a chroot starts nothing, and anything a scriptlet starts dies
//! with the PID namespace. Debian's rpm keeps its own database in `~/.rpmdb`, so
//! dnf gets a private `HOME` whose `.rpmmacros` names the root's database path.
//!
//! **Locks.** rpm waits without end for its transaction lock (a POSIX write lock
//! on `DB/.rpm.lock`) and dnf for its own: harden waits for rpm's up to
//! [`WAIT`] before starting dnf, runs dnf with `exit_on_lock`, and retries while
//! dnf reports its lock taken, for the same bound; then a clear error.
//!
//! Limits: this machine's rpm must be able to write the root's database (Debian
//! 12's rpm 4.18 reads RHEL 8's Berkeley DB but writes only sqlite, RHEL 9 and
//! later); a repository `gpgkey=file://` the root has not imported yet is read
//! from this machine's path (dnf's `--installroot` rule).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl, openat};
use nix::sys::stat::Mode;

use super::Host;
use super::facts::find_binary;
use super::fs::{self, Kind};
use super::runner::{Cmd, Runner};
use super::tools::{AS_NOBODY, bwrap_namespaces};

/// How long a lock held by another rpm or dnf is waited for (apt waits as long).
pub const WAIT: Duration = Duration::from_secs(120);

/// [`WAIT`], or in debug builds `HARDEN_LOCK_WAIT_MS` (as for the account locks).
fn wait() -> Duration {
    super::locks::bounded(WAIT)
}

/// The most a root's rpm database may hold to be copied for reading.
const MAX_DB_BYTES: u64 = 2 << 30;

/// dnf's exit status when `exit_on_lock` found its lock taken.
const DNF_LOCKED: i32 = 200;

/// The query: one package a line. `gpg-pubkey` entries (imported signing keys)
/// are not packages and are left out.
const QUERY: &str = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\n";

/// Whether `name` is a valid RPM package name: ASCII letters, digits, `.`, `_`,
/// `+` and `-`, starting with a letter or digit (so never an option).
#[must_use]
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(c))
}

/// Whether `v` is an `[EPOCH:]VERSION-RELEASE` as [`parse_query`] records it.
#[must_use]
pub fn valid_version(v: &str) -> bool {
    v.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && v.len() <= 255
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._+~^:-".contains(&c))
}

/// The installed packages of a query's output: name → `[EPOCH:]VERSION-RELEASE`
/// (the epoch only when it is not 0, as dnf spells a package `NAME-VERSION`).
#[must_use]
pub fn parse_query(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(epoch), Some(version), Some(release)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if name == "gpg-pubkey" || !valid_name(name) {
            continue;
        }
        let evr = match epoch {
            "0" | "" => format!("{version}-{release}"),
            e => format!("{e}:{version}-{release}"),
        };
        out.insert(name.to_string(), evr);
    }
    out
}

/// The root's rpm database directory (logical path), found without following a
/// symlink of the root.
///
/// # Errors
/// No database, or one behind a symlink.
pub fn database(root: &Path) -> Result<PathBuf, String> {
    let sysimage = Path::new("/usr/lib/sysimage/rpm");
    let holds_db = |dir: &Path| -> Result<bool, String> {
        Ok(fs::entries(root, dir)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|(n, k)| *k == Kind::File && (n == "rpmdb.sqlite" || n == "Packages")))
    };
    if fs::lstat(root, sysimage)
        .map_err(|e| e.to_string())?
        .is_some_and(|m| m.kind == Kind::Dir)
        && holds_db(sysimage)?
    {
        return Ok(sysimage.to_path_buf());
    }
    let var = Path::new("/var/lib/rpm");
    match fs::lstat(root, var)
        .map_err(|e| e.to_string())?
        .map(|m| m.kind)
    {
        Some(Kind::Dir) if holds_db(var)? => Ok(var.to_path_buf()),
        Some(Kind::Symlink) => Err(fs::FsError::Symlink { path: var.into() }.to_string()),
        _ => Err(format!(
            "no rpm database in {} or {}: not an rpm-based root",
            sysimage.display(),
            var.display()
        )),
    }
}

/// This machine's `name`, or an error naming the Debian package that has it.
fn machine(name: &str, package: &str, why: &str) -> Result<PathBuf, String> {
    find_binary(Path::new("/"), name)
        .ok_or_else(|| format!("this machine has no `{name}` (Debian package `{package}`): {why}"))
}

/// Whether this machine has the dnf that changes packages (of the running
/// system, or of a root through `--installroot`).
///
/// # Errors
/// It has none: the message names the package to install.
pub fn dnf_ready() -> Result<(), String> {
    machine(
        "dnf",
        "dnf",
        "it installs and removes the packages of RHEL-family roots",
    )
    .map(|_| ())
}

/// A root's rpm database as read (never through a symlink of the root): its
/// directory and its regular files (but rpm's lock and Berkeley DB's
/// environment files), at most [`MAX_DB_BYTES`].
pub struct Database {
    path: PathBuf,
    files: Vec<(OsString, Vec<u8>)>,
}

impl Database {
    /// Reads the database of `root` ([`database`] finds it).
    ///
    /// # Errors
    /// No database, one behind a symlink, or one too large.
    pub fn read(root: &Path) -> Result<Self, String> {
        let path = database(root)?;
        let mut files = Vec::new();
        let mut total = 0u64;
        for (name, kind) in fs::entries(root, &path).map_err(|e| e.to_string())? {
            let n = name.to_string_lossy();
            if kind != Kind::File || n == ".rpm.lock" || n.starts_with("__db.") {
                continue;
            }
            let logical = path.join(&name);
            total += fs::lstat(root, &logical)
                .map_err(|e| e.to_string())?
                .map_or(0, |m| m.len);
            if total > MAX_DB_BYTES {
                return Err(format!(
                    "{}: the rpm database is larger than {} MiB; refusing to read it",
                    path.display(),
                    MAX_DB_BYTES >> 20
                ));
            }
            if let Some(bytes) = fs::read(root, &logical).map_err(|e| e.to_string())? {
                files.push((name, bytes));
            }
        }
        Ok(Self { path, files })
    }

    /// The directory, as a logical path of the root.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole database as one byte string: equal keys, equal databases, so
    /// equal answers to a query.
    #[must_use]
    pub fn key(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let mut key = Vec::new();
        for (name, bytes) in &self.files {
            key.extend_from_slice(name.as_bytes());
            key.push(0);
            key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            key.extend_from_slice(bytes);
        }
        key
    }

    /// The packages the database holds: on the running system (`live`) its own
    /// `rpm -qa`; otherwise this machine's rpm on a copy, confined (see the
    /// module docs).
    ///
    /// # Errors
    /// A query that fails, or missing tools.
    pub fn query(
        &self,
        live: bool,
        runner: &dyn Runner,
    ) -> Result<BTreeMap<String, String>, String> {
        if live {
            let out = runner
                .run(&Cmd::new(["rpm", "-qa", "--qf", QUERY]))
                .map_err(|e| e.to_string())?;
            return if out.success() {
                Ok(parse_query(&out.stdout))
            } else {
                Err(format!("rpm -qa failed: {}", out.brief()))
            };
        }
        let why = "it reads the root's rpm database, confined";
        let rpm = machine("rpm", "rpm", why)?;
        let bwrap = machine("bwrap", "bubblewrap", why)?;
        let copy = self.copy()?;
        let mut argv: Vec<OsString> = Vec::new();
        if nix::unistd::geteuid().is_root() {
            argv.push(machine("setpriv", "util-linux", why)?.into_os_string());
            argv.extend(AS_NOBODY.map(OsString::from));
        }
        argv.push(bwrap.into_os_string());
        argv.extend(bwrap_namespaces("harden-rpm").map(OsString::from));
        argv.extend(
            [
                "--die-with-parent",
                "--new-session",
                "--clearenv",
                "--setenv",
                "PATH",
                "/usr/bin:/bin",
                "--setenv",
                "LC_ALL",
                "C",
                "--setenv",
                "HOME",
                "/rpmdb",
            ]
            .map(OsString::from),
        );
        // This machine's programs and libraries, and /etc for the loader's cache
        // and rpm's own configuration; the top-level links of a merged /usr as they are.
        for top in [
            "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
        ] {
            let host = Path::new("/").join(top);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&host) {
                        argv.extend(["--symlink".into(), target.into_os_string(), host.into()]);
                    }
                }
                Ok(m) if m.is_dir() => {
                    argv.extend(["--ro-bind".into(), host.clone().into(), host.into()]);
                }
                _ => {}
            }
        }
        argv.extend(
            [
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind",
            ]
            .map(OsString::from),
        );
        argv.push(copy.path().as_os_str().to_owned());
        argv.extend(["/rpmdb", "--"].map(OsString::from));
        argv.push(rpm.into_os_string());
        argv.extend(["--dbpath", "/rpmdb", "-qa", "--qf", QUERY].map(OsString::from));
        let mut cmd = Cmd::new(argv);
        cmd.timeout = Duration::from_secs(300);
        let out = runner.run(&cmd).map_err(|e| e.to_string())?;
        if out.success() {
            Ok(parse_query(&out.stdout))
        } else {
            Err(format!(
                "reading {} with this machine's rpm (confined) failed: {}",
                self.path.display(),
                out.brief()
            ))
        }
    }

    /// Writes the files into a fresh temp directory that the sandbox's
    /// `nobody` owns (sqlite needs to write beside a database in WAL mode).
    fn copy(&self) -> Result<tempfile::TempDir, String> {
        use std::os::unix::fs::PermissionsExt;
        let io = |e: std::io::Error| format!("copying the rpm database: {e}");
        let dir = tempfile::Builder::new()
            .prefix("harden-rpmdb-")
            .tempdir()
            .map_err(io)?;
        let owner = nix::unistd::geteuid().is_root().then_some(65534);
        for (name, bytes) in &self.files {
            let to = dir.path().join(name);
            std::fs::write(&to, bytes).map_err(io)?;
            std::os::unix::fs::chown(&to, owner, owner).map_err(io)?;
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        std::os::unix::fs::chown(dir.path(), owner, owner).map_err(io)?;
        Ok(dir)
    }
}

/// What one dnf run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dnf {
    Install,
    Remove,
    /// `install --assumeno`: resolves the names as an install would (from the
    /// root's repositories, their metadata refreshed) and changes no package.
    Resolve,
}

/// The holder of rpm's transaction lock on the database `db` of `root`, if
/// another process holds it: `Some(pid)` (0 when the kernel cannot name it).
fn rpm_lock_holder(root: &Path, db: &Path) -> Result<Option<i32>, String> {
    let Some(dir) = fs::open_dir(root, db).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let fd = match openat(
        dir.as_fd(),
        ".rpm.lock",
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(format!("{}/.rpm.lock: open: {e}", db.display())),
    };
    let mut probe = nix::libc::flock {
        l_type: i16::try_from(nix::libc::F_WRLCK).unwrap_or(1),
        l_whence: i16::try_from(nix::libc::SEEK_SET).unwrap_or(0),
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(fd.as_fd(), FcntlArg::F_GETLK(&mut probe))
        .map_err(|e| format!("{}/.rpm.lock: fcntl: {e}", db.display()))?;
    Ok((i32::from(probe.l_type) != nix::libc::F_UNLCK).then_some(probe.l_pid))
}

/// Waits, up to [`WAIT`] from `start`, until no other process holds rpm's lock.
fn wait_for_rpm_lock(root: &Path, db: &Path, start: Instant) -> Result<(), String> {
    loop {
        let Some(pid) = rpm_lock_holder(root, db)? else {
            return Ok(());
        };
        if start.elapsed() >= wait() {
            let holder = if pid > 0 {
                format!(" (pid {pid})")
            } else {
                String::new()
            };
            return Err(format!(
                "{}/.rpm.lock is locked by another process{holder} (waited {:?}); try again when it is done",
                db.display(),
                wait()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The private `HOME` of one dnf run under `--root`: `.rpmmacros` naming the
/// root's database path, and a copy of the root's `dnf.conf` (an empty `[main]`
/// when it has none, so this machine's is never read).
fn dnf_home(root: &Path, db: &Path) -> Result<tempfile::TempDir, String> {
    let io = |e: std::io::Error| format!("preparing dnf: {e}");
    let home = tempfile::Builder::new()
        .prefix("harden-dnf-")
        .tempdir()
        .map_err(io)?;
    std::fs::write(
        home.path().join(".rpmmacros"),
        format!("%_dbpath {}\n", db.display()),
    )
    .map_err(io)?;
    let conf = fs::read(root, Path::new("/etc/dnf/dnf.conf"))
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| b"[main]\n".to_vec());
    std::fs::write(home.path().join("dnf.conf"), conf).map_err(io)?;
    Ok(home)
}

/// Sets up the root's private /proc, /dev and /run where it has those
/// directories (never making any), then runs the command.
const NAMESPACE_SCRIPT: &str = r#"set -e
r=$1; shift
mount --make-rprivate /
if [ -d "$r/proc" ] && [ ! -L "$r/proc" ]; then mount -t proc proc "$r/proc"; fi
if [ -d "$r/dev" ] && [ ! -L "$r/dev" ]; then mount --rbind /dev "$r/dev"; fi
if [ -d "$r/run" ] && [ ! -L "$r/run" ]; then mount -t tmpfs -o mode=755 tmpfs "$r/run"; fi
exec "$@""#;

/// Runs dnf for `names` on the host (see the module docs for how it is confined).
///
/// # Errors
/// dnf's failure, briefly, or a lock still held after [`WAIT`].
pub fn dnf(host: &Host, what: Dnf, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        wait_for_rpm_lock(&host.root, &database(&host.root)?, start)?;
        let out = dnf_once(host, what, names)?;
        if out.success() {
            return Ok(());
        }
        if out.code != Some(DNF_LOCKED) {
            return Err(format!("dnf failed: {}", out.brief()));
        }
        if start.elapsed() >= wait() {
            return Err(format!(
                "dnf's lock in {} is held by another dnf (waited {:?}); try again when it is done: {}",
                host.root.display(),
                wait(),
                out.brief()
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One dnf run, whatever its outcome.
fn dnf_once(host: &Host, what: Dnf, names: &[String]) -> Result<super::runner::Output, String> {
    let root = &host.root;
    let home = if host.is_live() {
        None
    } else {
        Some(dnf_home(root, &database(root)?)?)
    };
    let cmd = dnf_command(
        root,
        home.as_ref().map(tempfile::TempDir::path),
        what,
        names,
    )?;
    host.runner.run(&cmd).map_err(|e| e.to_string())
}

/// Which of `names` the root's repositories do not know, as dnf resolves them
/// for an install (names, then what packages provide), changing no package:
/// `Ok(None)` when dnf could not tell (its lock taken, its repositories
/// unreachable), which leaves the names to the install itself.
///
/// # Errors
/// dnf cannot be started.
pub fn unknown(host: &Host, names: &[String]) -> Result<Option<Vec<String>>, String> {
    if names.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let out = dnf_once(host, Dnf::Resolve, names)?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let missing = parse_no_match(&text, names);
    // `--assumeno` ends every run that resolved with 1 ("Operation aborted").
    let resolved = out.success()
        || out.code == Some(1) && (!missing.is_empty() || text.contains("Operation aborted"));
    Ok(resolved.then_some(missing))
}

/// The names dnf reported it found no match for (`No match for argument: NAME`,
/// dnf 4 and 5 alike in the C locale), in the order of `names`.
#[must_use]
pub fn parse_no_match(text: &str, names: &[String]) -> Vec<String> {
    let said: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("No match for argument: "))
        .map(str::trim)
        .collect();
    names
        .iter()
        .filter(|n| said.contains(&n.as_str()))
        .cloned()
        .collect()
}

/// The dnf command line: on the running system its dnf as it is; for a root
/// (`home`: [`dnf_home`]), this machine's dnf on `--installroot` in private
/// namespaces.
fn dnf_command(
    root: &Path,
    home: Option<&Path>,
    what: Dnf,
    names: &[String],
) -> Result<Cmd, String> {
    let dnf = machine(
        "dnf",
        "dnf",
        "it installs and removes the packages of RHEL-family roots",
    )?;
    let mut argv: Vec<OsString> = Vec::new();
    if home.is_some() {
        argv.extend(Cmd::namespaced_sh(NAMESPACE_SCRIPT).map(OsString::from));
        argv.push(root.as_os_str().to_owned());
    }
    argv.extend(
        [
            "env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL=C",
        ]
        .map(OsString::from),
    );
    let joined = |prefix: &str, path: &Path| {
        let mut s = OsString::from(prefix);
        s.push(path);
        s
    };
    if let Some(home) = home {
        argv.push(joined("HOME=", home));
    }
    argv.push(dnf.into_os_string());
    argv.extend(
        [
            "-y",
            "--setopt=exit_on_lock=True",
            "--setopt=install_weak_deps=False",
            "--setopt=clean_requirements_on_remove=False",
        ]
        .map(OsString::from),
    );
    if let Some(home) = home {
        let r = root.display();
        argv.push(joined("--installroot=", root));
        argv.push("--noplugins".into());
        argv.push(joined("--config=", &home.join("dnf.conf")));
        argv.push(
            format!(
                "--setopt=reposdir={r}/etc/yum.repos.d,{r}/etc/yum/repos.d,{r}/etc/distro.repos.d"
            )
            .into(),
        );
    }
    argv.push(
        match what {
            Dnf::Install | Dnf::Resolve => "install",
            Dnf::Remove => "remove",
        }
        .into(),
    );
    if what == Dnf::Resolve {
        argv.push("--assumeno".into());
    }
    argv.extend(names.iter().map(OsString::from));
    let mut cmd = Cmd::new(argv);
    cmd.timeout = Duration::from_secs(1800);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_output_gives_name_and_evr_without_keys() {
        let text = "bash\t0\t5.1.8\t9.el9\nNetworkManager\t1\t1.46.0\t26.el9_4\n\
                    gpg-pubkey\t0\tfd431d51\t4ae0493b\n-evil\t0\t1\t1\nshort\t0\n";
        let got = parse_query(text);
        assert_eq!(got.get("bash").map(String::as_str), Some("5.1.8-9.el9"));
        assert_eq!(
            got.get("NetworkManager").map(String::as_str),
            Some("1:1.46.0-26.el9_4")
        );
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn names_dnf_found_no_match_for() {
        let names: Vec<String> = ["harden-extra", "nope", "nope2", "no"]
            .map(String::from)
            .into();
        let text = "Last metadata expiration check: 0:00:01 ago.\n\
                    No match for argument: nope2\nNo match for argument: nope\n\
                    Error: Unable to find a match: nope nope2\n";
        assert_eq!(parse_no_match(text, &names), ["nope", "nope2"]);
        assert!(parse_no_match("Operation aborted.\n", &names).is_empty());
    }

    #[test]
    fn names_and_versions() {
        for ok in [
            "bash",
            "NetworkManager",
            "python3-PyYAML",
            "libstdc++",
            "perl-IO_Socket",
            "0ad",
            "R",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a;b", "x\n", "../x", "@core", "a=b"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for ok in [
            "5.1.8-9.el9",
            "1:1.46.0-26.el9_4",
            "2.0~rc1-1",
            "1.0^git1-2",
        ] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "-1", "1 2", "1;x", "1\n"] {
            assert!(!valid_version(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_database_is_found_without_following_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        assert!(
            database(root)
                .unwrap_err()
                .contains("not an rpm-based root")
        );
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        std::fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), "").unwrap();
        assert_eq!(database(root).unwrap(), Path::new("/var/lib/rpm"));
        // Fedora: the database in /usr/lib/sysimage, /var/lib/rpm a link to it.
        std::fs::create_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
        std::fs::write(root.join("usr/lib/sysimage/rpm/rpmdb.sqlite"), "").unwrap();
        assert_eq!(database(root).unwrap(), Path::new("/usr/lib/sysimage/rpm"));
        std::fs::remove_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
        std::fs::remove_dir_all(root.join("var/lib/rpm")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", root.join("var/lib/rpm")).unwrap();
        assert!(database(root).unwrap_err().contains("symlink"));
    }
}
