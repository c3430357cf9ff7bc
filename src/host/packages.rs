//! Packages of a root, through the package manager its OS family uses:
//! [`Manager::Dpkg`] (Debian, Ubuntu, and any root not RHEL-family) or
//! [`Manager::Rpm`] (RHEL-family, [`super::rpm`]). Here: the installed set
//! (dpkg's from its database `var/lib/dpkg/status`, parsed in-process: planning
//! runs nothing), whether a Debian root's package lists know a name, and the
//! runs that install, remove, purge or reinstall packages.
//!
//! On the running system apt runs as it is (non-interactive, keeping changed
//! configuration files, waiting a bounded time for the dpkg lock). Under `--root`
//! the root's own apt and dpkg run chrooted into it, in private mount, PID, IPC
//! and UTS namespaces with their own `/proc`, `/dev` and tmpfs `/run`, and a
//! `policy-rc.d` that forbids starting services, so an offline root never gets a
//! running daemon; a root where one of the directories that mounts onto or
//! writes in is a symlink (which `mount` and the shell would follow out of the
//! root) is refused. Those are the root's programs and maintainer scripts running
//! as root: harden does that only for a root the operator declares trusted
//! ([`TRUST_ENV`]); for any other root a package rule is refused. The same
//! declaration holds for RHEL-family roots, whose packages' scriptlets run as
//! root (chrooted) under this machine's dnf.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::Host;
use super::facts::OsFamily;
use super::rpm;
use super::runner::{Cmd, Runner, SystemRunner};

/// The environment variable that declares a `--root` trusted to run its own
/// package manager (an image the operator built).
pub const TRUST_ENV: &str = "HARDEN_TRUST_ROOT_PACKAGES";

const STATUS: &str = "/var/lib/dpkg/status";
const LISTS: &str = "/var/lib/apt/lists";

/// The package manager of a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// apt and dpkg.
    Dpkg,
    /// dnf and rpm.
    Rpm,
}

impl Manager {
    /// The manager of an OS family: rpm for RHEL-family, dpkg otherwise (a root
    /// without a dpkg database then says so).
    #[must_use]
    pub fn of(family: OsFamily) -> Self {
        if family == OsFamily::Redhat {
            Self::Rpm
        } else {
            Self::Dpkg
        }
    }

    /// The front end that changes packages, as the plan names it.
    #[must_use]
    pub fn front_end(self) -> &'static str {
        match self {
            Self::Dpkg => "apt",
            Self::Rpm => "dnf",
        }
    }
}

/// The package manager of the host's root.
#[must_use]
pub fn manager(host: &Host) -> Manager {
    Manager::of(host.facts.os_family)
}

/// Whether `name` is a package name of some manager harden drives (Debian's or
/// RPM's rules; never starting with `-`): what a playbook may name.
#[must_use]
pub fn valid_any_name(name: &str) -> bool {
    valid_name(name) || rpm::valid_name(name)
}

/// Whether a saved `name` → `version` record (a snapshot's installed set) is a
/// package name and version of Debian's or RPM's kind.
#[must_use]
pub fn valid_record(name: &str, version: &str) -> bool {
    valid_any_name(name) && rpm::valid_version(version)
}

/// Whether `name` is a valid Debian package name.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b.len() <= 128
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(c))
}

/// The installed packages of a dpkg status file: name → version (a package
/// counts as installed when its status is `install ok installed`). One pass
/// over the lines, looking only at the three fields it needs: planning reads
/// the file once per rule, so this is on the hot path of a large playbook.
#[must_use]
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let (mut name, mut version, mut installed) = (None, None, false);
    let mut flush = |name: &mut Option<&str>, version: &mut Option<&str>, installed: &mut bool| {
        if let (Some(n), true) = (name.take(), *installed) {
            out.insert(n.to_string(), version.unwrap_or_default().to_string());
        }
        *version = None;
        *installed = false;
    };
    for line in text.split('\n') {
        match line.as_bytes().first() {
            None => flush(&mut name, &mut version, &mut installed),
            Some(b'P') => {
                if let Some(v) = line.strip_prefix("Package: ") {
                    name = Some(v.trim());
                }
            }
            Some(b'V') => {
                if let Some(v) = line.strip_prefix("Version: ") {
                    version = Some(v.trim());
                }
            }
            Some(b'S') => {
                if let Some(v) = line.strip_prefix("Status: ") {
                    installed = v.trim() == "install ok installed";
                }
            }
            Some(_) => {}
        }
    }
    flush(&mut name, &mut version, &mut installed);
    out
}

/// A dpkg status file's bytes as text: checked as UTF-8 (fast), repaired
/// lossily only when it is not.
fn status_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The packages installed in the root: name → version.
///
/// # Errors
/// When the database is missing or unreadable (not a dpkg or rpm system), or
/// the tools that read an rpm database are missing.
pub fn installed(host: &Host) -> Result<BTreeMap<String, String>, String> {
    installed_with(&host.root, manager(host), host.runner.as_ref())
}

/// [`installed`] for a root given by path alone (a transaction's snapshot):
/// its manager from its `os-release`, this machine's tools.
///
/// # Errors
/// As [`installed`].
pub fn installed_at(root: &Path) -> Result<BTreeMap<String, String>, String> {
    let release = super::fs::read_resolving(root, Path::new("/etc/os-release"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let family = super::facts::parse_os_release(&release).1;
    installed_with(root, Manager::of(family), &SystemRunner)
}

fn installed_with(
    root: &Path,
    manager: Manager,
    runner: &dyn Runner,
) -> Result<BTreeMap<String, String>, String> {
    match manager {
        Manager::Rpm => {
            let db = rpm::Database::read(root)?;
            memo(Manager::Rpm, db.key(), |_| {
                db.query(root == Path::new("/"), runner)
            })
        }
        Manager::Dpkg => match super::fs::read(root, Path::new(STATUS)) {
            Ok(Some(b)) => memo(Manager::Dpkg, b, |b| Ok(parse_status(&status_text(b)))),
            Ok(None) => Err(format!("{STATUS} is missing: not a dpkg-based root")),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// The last package database read, whole (dpkg's status file, or an rpm
/// database as [`rpm::Database::key`] spells it), and the installed set it holds.
type Memo = Option<(Manager, Vec<u8>, BTreeMap<String, String>)>;
static LAST: std::sync::Mutex<Memo> = std::sync::Mutex::new(None);

/// The installed set of the database `key`: remembered from the last call when
/// the database is byte for byte the same, so planning again (or `check` after
/// `plan`) parses (or queries) it once. Keyed by the whole content, never by a
/// time stamp or inode, so it cannot answer for a changed database.
fn memo(
    manager: Manager,
    key: Vec<u8>,
    compute: impl FnOnce(&[u8]) -> Result<BTreeMap<String, String>, String>,
) -> Result<BTreeMap<String, String>, String> {
    if let Ok(last) = LAST.lock()
        && let Some((m, k, set)) = last.as_ref()
        && *m == manager
        && *k == key
    {
        return Ok(set.clone());
    }
    let set = compute(&key)?;
    if let Ok(mut last) = LAST.lock() {
        *last = Some((manager, key, set.clone()));
    }
    Ok(set)
}

/// The root's uncompressed package lists (`*_Packages` regular files; lists kept
/// compressed, as some container images configure apt, do not count).
fn lists(host: &Host) -> Result<Vec<std::path::PathBuf>, String> {
    let dir = Path::new(LISTS);
    Ok(super::fs::entries(&host.root, dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(name, kind)| {
            *kind == super::fs::Kind::File && name.to_string_lossy().ends_with("_Packages")
        })
        .map(|(name, _)| dir.join(name))
        .collect())
}

/// Every package name the root's package lists know, or `None` when it has no
/// lists yet (`apt-get update` runs first at apply). Lists are read without
/// following a symlink of the root, each once, looking only at `Package:` lines.
///
/// # Errors
/// A list that cannot be read.
pub fn known(host: &Host) -> Result<Option<std::collections::HashSet<String>>, String> {
    let lists = lists(host)?;
    if lists.is_empty() {
        return Ok(None);
    }
    let mut names = std::collections::HashSet::new();
    for l in lists {
        let bytes = host
            .read(&l)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        for line in bytes.split(|b| *b == b'\n') {
            if let Some(n) = line.strip_prefix(b"Package: ")
                && let Ok(n) = std::str::from_utf8(n.trim_ascii())
            {
                names.insert(n.to_string());
            }
        }
    }
    Ok(Some(names))
}

/// Whether `path` (of the root) configures where a package manager finds
/// packages: repositories, their keys, apt's sources, dnf's configuration.
#[must_use]
pub fn configures_manager(path: &Path) -> bool {
    [
        "/etc/yum.repos.d",
        "/etc/yum",
        "/etc/distro.repos.d",
        "/etc/dnf",
        "/etc/pki/rpm-gpg",
        "/etc/apt",
    ]
    .iter()
    .any(|dir| path.starts_with(dir))
}

/// Which of `names` (to install) the root's package manager cannot find, asked
/// at apply before the transaction starts: on an rpm root dnf resolves them
/// from the root's repositories ([`rpm::unknown`]; their metadata refreshed, as
/// the install would). A Debian root with lists was asked at plan ([`known`]);
/// one without gets the `apt-get update` the install would run first, now, and
/// its new lists answer. `None` when the manager could not tell (or may not run
/// in this root): the install itself decides.
///
/// # Errors
/// dnf cannot be started; the new lists cannot be read.
pub fn unknown_at_apply(host: &Host, names: &[String]) -> Result<Option<Vec<String>>, String> {
    match manager(host) {
        Manager::Rpm => rpm::unknown(host, names),
        Manager::Dpkg => {
            if names.is_empty() || has_lists(host)? || run(host, &PackageRun::Update).is_err() {
                return Ok(None);
            }
            Ok(known(host)?.map(|known| {
                names
                    .iter()
                    .filter(|n| !known.contains(n.split_once('=').map_or(n.as_str(), |(n, _)| n)))
                    .cloned()
                    .collect()
            }))
        }
    }
}

/// Whether packages may be changed in this root: always on the running system;
/// under `--root` only when the operator declared it trusted.
///
/// # Errors
/// The refusal, saying how to declare the root trusted.
pub fn may_change(host: &Host) -> Result<(), String> {
    if host.is_live() {
        return Ok(());
    }
    if std::env::var_os(TRUST_ENV).is_some_and(|v| v == "1") {
        return match manager(host) {
            Manager::Dpkg => namespace_ready(host),
            // dnf's namespace mounts only onto directories that are not links.
            Manager::Rpm => Ok(()),
        };
    }
    Err(format!(
        "packages under --root run the root's own apt, dpkg and maintainer scripts as root \
         (chrooted, in private namespaces): harden does that only for a root you built; \
         set {TRUST_ENV}=1 to declare {} trusted",
        host.root.display()
    ))
}

/// The directories of the root apt's namespace mounts onto or writes in
/// ([`CHROOT_SCRIPT`]): each must be a directory of the root itself, never a
/// symlink, which `mount` and the shell would follow out of the root.
const NAMESPACE_DIRS: [&str; 6] = ["/proc", "/dev", "/run", "/etc", "/usr", "/usr/sbin"];

/// Whether apt's namespace can be set up in the root: none of
/// [`NAMESPACE_DIRS`] is a symlink or something other than a directory (read
/// without following a symlink). A missing one is no hazard to plan with (a
/// minimal root); apt's namespace refuses it when it runs ([`CHROOT_SCRIPT`]).
///
/// # Errors
/// The first that is a link or not a directory, and what it is.
fn namespace_ready(host: &Host) -> Result<(), String> {
    for dir in NAMESPACE_DIRS {
        let path = Path::new(dir);
        let what = match host.lstat(path).map_err(|e| e.to_string())? {
            Some(m) if m.kind == super::fs::Kind::Dir => continue,
            None => continue,
            Some(m) if m.kind == super::fs::Kind::Symlink => format!(
                "a symlink (-> {})",
                host.read_link(path)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default()
                    .display()
            ),
            Some(_) => "not a directory".to_string(),
        };
        return Err(format!(
            "{dir} is {what} in {}: apt runs in a root only with its own {} directories, \
             never mounting or writing through a link",
            host.root.display(),
            NAMESPACE_DIRS.join(", ")
        ));
    }
    Ok(())
}

/// What one package manager run does (named after apt's verbs; on rpm roots
/// dnf does the same, see [`run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRun {
    /// `apt-get update`.
    Update,
    /// `apt-get install NAME[=VERSION]...`.
    Install(Vec<String>),
    /// `apt-get remove NAME...` (configuration files stay, as `apt remove`).
    Remove(Vec<String>),
    /// `apt-get purge NAME...` (a rollback of packages that were not there).
    Purge(Vec<String>),
}

/// Runs the root's package manager: apt in the root (see the module docs for
/// how it is confined), or on an rpm root dnf ([`rpm::dnf`]): `Update` is
/// dnf's own business (it refreshes its metadata itself), `Remove` and `Purge`
/// are `dnf remove` (rpm keeps changed configuration files as `.rpmsave`
/// either way), and `NAME=VERSION` is dnf's `NAME-VERSION`.
///
/// # Errors
/// The package manager's failure, briefly.
pub fn run(host: &Host, what: &PackageRun) -> Result<(), String> {
    may_change(host)?;
    if manager(host) == Manager::Rpm {
        let spec = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .map(|n| match n.split_once('=') {
                    Some((name, version)) => format!("{name}-{version}"),
                    None => n.clone(),
                })
                .collect()
        };
        return match what {
            PackageRun::Update => Ok(()),
            PackageRun::Install(names) => rpm::dnf(host, rpm::Dnf::Install, &spec(names)),
            PackageRun::Remove(names) | PackageRun::Purge(names) => {
                rpm::dnf(host, rpm::Dnf::Remove, names)
            }
        };
    }
    let mut apt_args: Vec<String> = vec![
        "apt-get".into(),
        "-y".into(),
        "-q".into(),
        "-o".into(),
        "DPkg::Lock::Timeout=120".into(),
        "-o".into(),
        "Dpkg::Options::=--force-confdef".into(),
        "-o".into(),
        "Dpkg::Options::=--force-confold".into(),
    ];
    match what {
        PackageRun::Update => apt_args.push("update".into()),
        PackageRun::Install(names) => {
            apt_args.extend(["install".into(), "--no-install-recommends".into()]);
            apt_args.extend(names.iter().cloned());
        }
        PackageRun::Remove(names) => {
            apt_args.push("remove".into());
            apt_args.extend(names.iter().cloned());
        }
        PackageRun::Purge(names) => {
            apt_args.push("purge".into());
            apt_args.extend(names.iter().cloned());
        }
    }
    let env = [
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND=noninteractive",
        "LC_ALL=C",
    ];
    let mut argv: Vec<String> = Vec::new();
    if host.is_live() {
        argv.extend(["env".into(), "-i".into()]);
        argv.extend(env.iter().map(|s| (*s).to_string()));
    } else {
        argv.extend(Cmd::namespaced_sh(CHROOT_SCRIPT).map(String::from));
        argv.push(host.root.display().to_string());
        argv.extend(["env".into(), "-i".into()]);
        argv.extend(env.iter().map(|s| (*s).to_string()));
    }
    argv.extend(apt_args);
    let mut cmd = Cmd::new(argv);
    cmd.timeout = Duration::from_secs(1800);
    let out = host.runner.run(&cmd).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("apt-get failed: {}", out.brief()))
    }
}

/// Refuses a root where a directory it mounts onto or writes in is not one
/// ([`NAMESPACE_DIRS`]: checked before, again here), sets up the root's private
/// /proc, /dev, /run and a policy-rc.d that starts nothing, runs
/// `chroot ROOT "$@"`, and removes the policy-rc.d it made.
const CHROOT_SCRIPT: &str = r#"set -e
r=$1; shift
for d in proc dev run etc usr usr/sbin; do
  if [ -L "$r/$d" ] || [ ! -d "$r/$d" ]; then echo "harden: $r/$d is not a directory of the root (a symlink?): refusing to mount or write there" >&2; exit 97; fi
done
mount --make-rprivate /
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=755 tmpfs "$r/run"
if [ -e /etc/resolv.conf ] && [ -f "$r/etc/resolv.conf" ] && [ ! -L "$r/etc/resolv.conf" ]; then mount --bind /etc/resolv.conf "$r/etc/resolv.conf"; fi
made=
if [ ! -e "$r/usr/sbin/policy-rc.d" ] && [ ! -L "$r/usr/sbin/policy-rc.d" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"; made=1
fi
rc=0
chroot "$r" "$@" || rc=$?
if [ -n "$made" ]; then rm -f "$r/usr/sbin/policy-rc.d"; fi
exit $rc"#;

/// Whether the root has package lists (`apt-get update` has run); always on
/// an rpm root, whose dnf refreshes its metadata itself.
///
/// # Errors
/// The lists directory cannot be read.
pub fn has_lists(host: &Host) -> Result<bool, String> {
    Ok(manager(host) == Manager::Rpm || !lists(host)?.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_only_installed_packages() {
        let text = "Package: tree\nStatus: install ok installed\nVersion: 2.1.0-1\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: sudo\nVersion: 1.9.13p3-1+deb12u1\nStatus: install ok installed\n";
        let got = parse_status(text);
        assert_eq!(got.get("tree").map(String::as_str), Some("2.1.0-1"));
        assert_eq!(
            got.get("sudo").map(String::as_str),
            Some("1.9.13p3-1+deb12u1")
        );
        assert!(!got.contains_key("gone"));
    }

    #[test]
    fn a_changed_database_is_never_answered_from_memory() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let status = root.join("var/lib/dpkg/status");
        std::fs::create_dir_all(status.parent().unwrap()).unwrap();
        let one = "Package: tree\nStatus: install ok installed\nVersion: 2.1.0-1\n";
        std::fs::write(&status, one).unwrap();
        let read = || installed_with(root, Manager::Dpkg, &SystemRunner).unwrap();
        assert_eq!(read().keys().collect::<Vec<_>>(), ["tree"]);
        assert_eq!(read().keys().collect::<Vec<_>>(), ["tree"]);
        // Same length, same inode, one byte different.
        std::fs::write(&status, one.replace("tree", "wget")).unwrap();
        assert_eq!(read().keys().collect::<Vec<_>>(), ["wget"]);
    }

    /// The namespace script itself refuses a root whose /proc is a link (as
    /// when the root changed after the check): no mount, nothing run.
    #[test]
    fn the_namespace_script_never_mounts_through_a_link() {
        let t = tempfile::tempdir().unwrap();
        let (root, outside) = (t.path().join("root"), t.path().join("outside"));
        for d in ["dev", "run", "etc", "usr/sbin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("proc")).unwrap();
        let out = std::process::Command::new("unshare")
            .args(["-m", "--", "sh", "-c", CHROOT_SCRIPT, "sh"])
            .arg(&root)
            .args(["/bin/sh", "-c", "echo ran"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(97), "{said}");
        assert!(
            said.contains("/proc is not a directory of the root"),
            "{said}"
        );
        assert!(out.stdout.is_empty());
        assert!(!root.join("usr/sbin/policy-rc.d").exists());
    }

    #[test]
    fn names() {
        for ok in ["tree", "libpam-tmpdir", "g++", "libc6.1", "0ad"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "Tree", "-x", "a b", "a;b", "tree\n", "../x"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
