//! The Debian package `scripts/package` builds (`target/debian/harden_*.deb`):
//! it holds the binary, the man page, the completions, the copyright and the
//! changelog where Debian puts them; lintian finds nothing wrong; its binary
//! needs glibc 2.28 at most; on the Debian 12 root of `scripts/debian-root` it
//! installs with `dpkg -i`, runs, enables nothing, keeps `/var/lib/harden` on
//! remove and leaves nothing behind on purge; and the units `harden timer
//! install` writes there pass `systemd-analyze verify` with the man page
//! installed. The normal build makes no package, so these tests are
//! `#[ignore]`d in the normal run; `scripts/package --check` builds the package
//! and runs them (`.ci/run` does, after `scripts/test`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::debian_root::debian12;
use crate::support::*;

const DEB_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-1");
/// The newest glibc symbol version the binary may ask for (Debian 10, RHEL 8).
const GLIBC_MAX: (u32, u32) = (2, 28);
/// Where `scripts/package` leaves the binary it packaged (and examples/ansible ships).
const ZIG_BINARY: &str = "target/x86_64-unknown-linux-gnu/release/harden";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The package of this version; fails loudly when it has not been built.
fn deb() -> PathBuf {
    let path = manifest_dir().join(format!("target/debian/harden_{DEB_VERSION}_amd64.deb"));
    assert!(
        path.is_file(),
        "{} is missing: run scripts/package --check",
        path.display()
    );
    path
}

#[track_caller]
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The package's files, unpacked into a temp dir.
fn unpacked() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb())
        .arg(dir.path()));
    dir
}

fn gunzip(path: &Path) -> String {
    stdout(&run(Command::new("gzip").arg("-dc").arg(path)))
}

/// Like `debian_root::in_root`, with the root bind-mounted on itself first: in
/// the chroot `/` is then a mount point, which `harden timer install` needs (it
/// runs `systemd-analyze verify` under its own `unshare -m`, and unshare cannot
/// make `/` private where it is not a mount).
const CHROOT: &str = "set -e; mount --make-rprivate /; mount --bind \"$1\" \"$1\"; \
    mount -t proc proc \"$1/proc\"; mount --bind \"$1/proc/sys\" \"$1/proc/sys\"; \
    mount -o remount,bind,ro \"$1/proc/sys\"; mount --rbind /dev \"$1/dev\"; \
    mount -t tmpfs -o mode=755 tmpfs \"$1/run\"; exec chroot \"$1\" /bin/sh -ec \"$2\"";

/// Runs `script` in the root (private mount, network and PID namespaces),
/// asserting success; returns stdout and stderr together.
#[track_caller]
fn in_root(env: &Env, script: &str) -> String {
    let out = run(Command::new("unshare")
        .args(["-m", "-n", "-p", "-f", "sh", "-c", CHROOT, "sh"])
        .arg(&env.root)
        .arg(script)
        .env("LC_ALL", "C"));
    format!("{}{}", stdout(&out), stderr(&out))
}

/// A fresh Debian 12 root with the package installed by `dpkg -i`.
fn installed() -> (Env, BTreeMap<String, String>) {
    let env = debian12();
    let pristine = env.tree();
    std::fs::copy(deb(), env.path("tmp/harden.deb")).unwrap();
    let out = in_root(&env, "dpkg -i /tmp/harden.deb; rm /tmp/harden.deb");
    assert!(
        out.contains("Setting up harden (") && !out.to_lowercase().contains("warning"),
        "dpkg -i:\n{out}"
    );
    (env, pristine)
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn package_holds_binary_man_page_completions_and_docs_and_enables_nothing() {
    let listing = stdout(&run(Command::new("dpkg-deb").arg("-c").arg(deb())));
    let files: BTreeMap<&str, &str> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(
                matches!(f[1], "0/0" | "root/root"),
                "not owned by root: {l}"
            );
            (f[5].trim_start_matches('.'), f[0])
        })
        .collect();
    for (path, mode) in [
        ("/usr/bin/harden", "-rwxr-xr-x"),
        ("/usr/share/man/man1/harden.1.gz", "-rw-r--r--"),
        (
            "/usr/share/bash-completion/completions/harden",
            "-rw-r--r--",
        ),
        ("/usr/share/zsh/vendor-completions/_harden", "-rw-r--r--"),
        (
            "/usr/share/fish/vendor_completions.d/harden.fish",
            "-rw-r--r--",
        ),
        ("/usr/share/doc/harden/copyright", "-rw-r--r--"),
        ("/usr/share/doc/harden/changelog.Debian.gz", "-rw-r--r--"),
        (
            "/usr/share/doc/harden/third-party-licenses.gz",
            "-rw-r--r--",
        ),
    ] {
        assert_eq!(files.get(path), Some(&mode), "{path} in:\n{listing}");
    }
    // Nothing that would start or schedule anything: no units, no /etc, no
    // postinst.
    for path in files.keys() {
        assert!(
            path.starts_with("/usr/bin/") || path.starts_with("/usr/share/"),
            "{path}: the package ships only the program and its documentation"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(deb())
        .arg(dir.path()));
    let mut scripts: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    scripts.sort();
    assert_eq!(scripts, ["control", "md5sums", "postrm"]);

    // The man page and completions are the committed ones, which
    // cli::man_page_and_completions_are_current keeps true to the CLI.
    let files = unpacked();
    let docs = manifest_dir().join("docs");
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap();
    assert_eq!(
        gunzip(&files.path().join("usr/share/man/man1/harden.1.gz")),
        read(docs.join("harden.1"))
    );
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/harden"),
        ("zsh", "usr/share/zsh/vendor-completions/_harden"),
        ("fish", "usr/share/fish/vendor_completions.d/harden.fish"),
    ] {
        assert_eq!(
            read(files.path().join(path)),
            read(docs.join(format!("completions/harden.{shell}"))),
            "{path}"
        );
    }
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn copyright_is_machine_readable_and_changelog_is_this_version() {
    let files = unpacked();
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap();
    // Machine-readable copyright: the DEP-5 header, and a stand-alone License
    // paragraph for every licence the Files paragraph names.
    let copyright = read(files.path().join("usr/share/doc/harden/copyright"));
    assert!(
        copyright.starts_with(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        ),
        "{copyright}"
    );
    let files_license = copyright
        .split("\n\n")
        .find(|p| p.starts_with("Files: *"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("License: ")))
        .expect("a `Files: *` paragraph with a License");
    for name in files_license.split(" or ") {
        assert!(
            copyright.contains(&format!("\n\nLicense: {name}\n")),
            "no License: {name} paragraph in\n{copyright}"
        );
    }

    // The changelog's newest entry is this version, and so is the package's.
    let changelog = gunzip(
        &files
            .path()
            .join("usr/share/doc/harden/changelog.Debian.gz"),
    );
    assert!(
        changelog.starts_with(&format!("harden ({DEB_VERSION}) ")),
        "{changelog}"
    );
    let version = stdout(&run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(deb())
        .arg("Version")));
    assert_eq!(version.trim(), DEB_VERSION);
    let notices = gunzip(
        &files
            .path()
            .join("usr/share/doc/harden/third-party-licenses.gz"),
    );
    assert!(notices.contains("\nclap "), "{}", &notices[..500]);
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn lintian_finds_no_errors_or_warnings() {
    require("lintian");
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--display-info"])
        .arg(deb())
        .output()
        .unwrap();
    // Information tags (I:) are shown but accepted.
    let tags = stdout(&out);
    assert!(
        out.status.success() && !tags.lines().any(|l| l.starts_with(['E', 'W'])),
        "lintian: {}\n{tags}{}",
        out.status,
        stderr(&out)
    );
}

/// Every `GLIBC_x.y` version the binary's dynamic symbols ask for.
fn glibc_versions(binary: &Path) -> Vec<(u32, u32)> {
    let out = run(Command::new("objdump").arg("-T").arg(binary));
    let mut versions: Vec<(u32, u32)> = stdout(&out)
        .split_whitespace()
        .filter_map(|w| w.trim_matches(['(', ')']).strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut n = v.split('.').map(str::parse::<u32>);
            Some((n.next()?.ok()?, n.next()?.ok()?))
        })
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn packaged_and_ansible_binaries_need_glibc_2_28_at_most() {
    require("objdump");
    let files = unpacked();
    for binary in [
        files.path().join("usr/bin/harden"),
        manifest_dir().join(ZIG_BINARY),
    ] {
        let versions = glibc_versions(&binary);
        let newest = *versions
            .last()
            .unwrap_or_else(|| panic!("{}: no GLIBC_ symbol versions", binary.display()));
        assert!(
            newest <= GLIBC_MAX,
            "{} needs GLIBC_{}.{} (all: {versions:?})",
            binary.display(),
            newest.0,
            newest.1
        );
    }
    let depends = stdout(&run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb())
        .arg("Depends")));
    assert_eq!(depends.trim(), "libc6 (>= 2.28)");
    let recommends = stdout(&run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb())
        .arg("Recommends")));
    assert_eq!(recommends.trim(), "bubblewrap", "validators need bwrap");
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn installs_runs_and_purges_cleanly_on_debian12() {
    let (env, pristine) = installed();
    let out = in_root(
        &env,
        "command -v harden; harden --version; harden plan; dpkg --verify harden",
    );
    assert!(
        out.starts_with(&format!(
            "/usr/bin/harden\nharden {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    assert!(out.contains("\nPlan: "), "{out}");
    // Installing enabled nothing, and `plan` wrote nothing: no state directory,
    // no unit, and outside dpkg's own records and the package's files the tree is
    // as it was.
    assert!(!env.path("var/lib/harden").exists());
    let installed = env.tree();
    let listed = in_root(&env, "dpkg -L harden");
    for (path, before) in &pristine {
        if !dpkg_bookkeeping(path) {
            assert_eq!(installed.get(path), Some(before), "{path} changed");
        }
    }
    for path in installed.keys() {
        assert!(
            pristine.contains_key(path)
                || dpkg_bookkeeping(path)
                || listed.lines().any(|l| l == format!("/{path}")),
            "{path} appeared, not a file of the package"
        );
    }

    // The admin's data: a check report and the timer, then `dpkg -r`.
    in_root(
        &env,
        "harden check >/dev/null 2>&1 || [ $? = 2 ]; harden timer install --yes",
    );
    in_root(&env, "dpkg -r harden");
    assert!(!env.path("usr/bin/harden").exists());
    assert!(
        env.path("var/lib/harden/reports").is_dir(),
        "remove keeps the state directory"
    );
    assert!(env.path("etc/systemd/system/harden.timer").is_file());

    // Purge: nothing of harden is left, not even what it wrote for the admin.
    in_root(&env, "dpkg --purge harden");
    let purged = env.tree();
    let mut left: Vec<String> = purged
        .iter()
        .filter(|(p, fp)| !dpkg_bookkeeping(p) && pristine.get(*p) != Some(*fp))
        .map(|(p, _)| p.clone())
        .collect();
    left.extend(
        pristine
            .keys()
            .filter(|p| !dpkg_bookkeeping(p) && !purged.contains_key(*p))
            .map(|p| format!("{p} (gone)")),
    );
    assert!(left.is_empty(), "after dpkg --purge: {left:#?}");
}

/// What dpkg itself updates on any install or removal.
fn dpkg_bookkeeping(path: &str) -> bool {
    matches!(
        path,
        "var/lib/dpkg/status" | "var/lib/dpkg/status-old" | "var/log/dpkg.log"
    ) || path.starts_with("var/lib/dpkg/info/harden.")
}

#[test]
#[ignore = "needs the .deb: run by scripts/package --check"]
fn timer_units_verify_clean_with_the_man_page_installed() {
    require("systemd-analyze");
    require("man");
    let (env, _) = installed();
    in_root(&env, "harden timer install --yes --every 1h");
    let service = env.read("etc/systemd/system/harden.service");
    assert!(
        service.contains("\nDocumentation=man:harden(1)\n"),
        "{service}"
    );
    assert!(
        service.contains("\nExecStart=/usr/bin/harden check\n"),
        "{service}"
    );
    // The machine's systemd-analyze on the root's units (`--root`: unit paths and
    // ExecStart= resolve inside it; nothing from the root runs), and man(1) on the
    // root's manual pages.
    let verify = |env: &Env| {
        private_run("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", env.root.display()))
            .args([
                "/etc/systemd/system/harden.service",
                "/etc/systemd/system/harden.timer",
            ])
            .env("MANPATH", env.path("usr/share/man"))
            .output()
            .unwrap()
    };
    let out = verify(&env);
    assert!(
        out.status.success() && stdout(&out).is_empty() && stderr(&out).is_empty(),
        "systemd-analyze verify: {}\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    // The man page is what makes it clean: without it, verify complains.
    std::fs::remove_file(env.path("usr/share/man/man1/harden.1.gz")).unwrap();
    let out = verify(&env);
    assert!(
        stderr(&out).contains("man harden(1)"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
