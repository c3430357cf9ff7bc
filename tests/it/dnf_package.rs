//! `package` on a RHEL-family root, with real rpm and dnf: tiny packages built
//! by `rpmbuild` at test time, a local `file://` repository made by
//! `createrepo_c`, and a root whose rpm database `rpm --initdb` made, with a
//! Rocky Linux `os-release` and a dnf repository file of its own. Plan reads
//! the rpm database only (this machine's rpm, confined) and writes nothing;
//! apply installs (dependencies too) and removes with dnf; the plan is then
//! empty; rollback removes what came and reinstalls what went, so the installed
//! set is as before. A name the repositories do not know fails its rule alone
//! (nothing of it installed, the other rules applied), a
//! busy rpm lock is waited for a bounded time and then named, an untrusted
//! root is refused, and a database behind a symlink is never read.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const TRUST: (&str, &str) = ("HARDEN_TRUST_ROOT_PACKAGES", "1");

/// A spec: name, epoch, version, release, what it requires, a config file.
struct Spec {
    name: &'static str,
    epoch: Option<u32>,
    version: &'static str,
    release: &'static str,
    requires: Option<&'static str>,
    config: Option<&'static str>,
}

const SPECS: [Spec; 4] = [
    // What the playbook installs; it brings its dependency along.
    Spec {
        name: "harden-demo",
        epoch: None,
        version: "1.0",
        release: "1",
        requires: Some("python3-PyHarden"),
        config: None,
    },
    // An RPM name with capitals and a RHEL-style release with `_`.
    Spec {
        name: "python3-PyHarden",
        epoch: None,
        version: "2.0",
        release: "3.el9_2",
        requires: None,
        config: None,
    },
    // Installed in the root beforehand; the playbook removes it.
    Spec {
        name: "harden-old",
        epoch: Some(1),
        version: "0.9",
        release: "1",
        requires: None,
        config: Some("/etc/harden-old.conf"),
    },
    // Known to the repository, listed beside a name it does not know.
    Spec {
        name: "harden-extra",
        epoch: None,
        version: "1.0",
        release: "1",
        requires: None,
        config: None,
    },
];

/// Runs a setup command, asserting success; returns its stdout.
#[track_caller]
fn run(cmd: &mut Command) -> String {
    let out = cmd.env("LC_ALL", "C").output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Builds the packages into `BASE/repo` and makes it a repository.
fn build_repo(base: &Path) -> PathBuf {
    for tool in ["rpmbuild", "createrepo_c"] {
        require(tool);
    }
    let repo = base.join("repo");
    let top = base.join("rpmbuild");
    std::fs::create_dir_all(&repo).unwrap();
    for s in &SPECS {
        let epoch = s.epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        let requires = s
            .requires
            .map(|r| format!("Requires: {r}\n"))
            .unwrap_or_default();
        let file = s
            .config
            .map_or_else(|| format!("/usr/share/{}/README", s.name), String::from);
        let listed = if s.config.is_some() {
            format!("%config(noreplace) {file}")
        } else {
            file.clone()
        };
        let text = format!(
            "Name: {}\nVersion: {}\nRelease: {}\n{epoch}{requires}Summary: harden test package\n\
             License: MIT\nBuildArch: noarch\n%description\nA package for harden's tests.\n\
             %install\nmkdir -p %{{buildroot}}$(dirname {file})\n\
             echo '{} {}' > %{{buildroot}}{file}\n%files\n{listed}\n",
            s.name, s.version, s.release, s.name, s.version
        );
        let spec = base.join(format!("{}.spec", s.name));
        std::fs::write(&spec, text).unwrap();
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", repo.display()))
            .arg("--define")
            .arg("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")
            .arg("-bb")
            .arg(&spec));
    }
    run(Command::new("createrepo_c").arg("-q").arg(&repo));
    repo
}

/// `rpm` against the root's database.
fn rpm(env: &Env) -> Command {
    require("rpm");
    let mut cmd = Command::new("rpm");
    cmd.arg("--root")
        .arg(&env.root)
        .args(["--dbpath", "/var/lib/rpm"]);
    cmd
}

/// A Rocky Linux 9 root: an rpm database holding `harden-old`, os-release, the
/// local repository in `/etc/yum.repos.d`, dnf.conf, and the directories a
/// real root has (`/proc`, `/dev`, `/run`, `/tmp`).
fn rocky() -> Env {
    require("dnf");
    let env = Env::empty();
    let repo = build_repo(&env.base);
    env.write(
        "etc/os-release",
        "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
    );
    env.write(
        "etc/yum.repos.d/local.repo",
        &format!(
            "[local]\nname=harden test packages\nbaseurl=file://{}\nenabled=1\ngpgcheck=0\n",
            repo.display()
        ),
    );
    env.write("etc/dnf/dnf.conf", "[main]\ngpgcheck=1\nbest=True\n");
    for d in ["proc", "dev", "run", "tmp"] {
        std::fs::create_dir_all(env.path(d)).unwrap();
    }
    run(rpm(&env).arg("--initdb"));
    run(rpm(&env)
        .arg("-i")
        .arg(repo.join("harden-old-0.9-1.noarch.rpm")));
    env
}

/// The installed packages, `NAME EPOCH:VERSION-RELEASE` sorted, read by rpm.
fn installed(env: &Env) -> String {
    let text = run(rpm(env).args([
        "-qa",
        "--qf",
        "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n",
    ]));
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.join("\n")
}

/// No mount of the test survives it (harden's namespaces die with dnf).
fn no_mounts_under(root: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = root.display().to_string();
    assert!(
        !mounts.lines().any(|l| l.contains(&root)),
        "a mount under the root survived:\n{mounts}"
    );
}

/// harden-demo installed, harden-old removed, on the Rocky root the test
/// trusts to run its own package tools.
fn install_and_remove() -> Test {
    Test::on(rocky())
        .env(TRUST.0, TRUST.1)
        .playbook(&install_and_remove_rules())
}

fn install_and_remove_rules() -> Playbook {
    crate::apt_package::install_and_remove_rules(
        ["pkg.demo", "the demo is there", "harden-demo"],
        ["pkg.old", "the old one is gone", "harden-old"],
    )
}

#[test]
fn install_and_remove_then_roll_both_back() {
    let env = install_and_remove();
    assert_eq!(installed(&env), "harden-old 1:0.9-1");
    assert_eq!(env.read("etc/harden-old.conf"), "harden-old 0.9\n");
    crate::apt_package::round_trip(
        &env,
        installed,
        &["install harden-demo (dnf", "remove harden-old (dnf"],
        || {
            assert_eq!(
                installed(&env),
                "harden-demo 0:1.0-1\npython3-PyHarden 0:2.0-3.el9_2"
            );
            assert_eq!(
                env.read("usr/share/harden-demo/README"),
                "harden-demo 1.0\n"
            );
            assert!(!env.path("etc/harden-old.conf").exists());
            no_mounts_under(&env.root);
        },
        "packages: purge harden-demo python3-PyHarden; reinstall harden-old=1:0.9-1",
    );
    assert_eq!(env.read("etc/harden-old.conf"), "harden-old 0.9\n");
    assert!(!env.path("usr/share/harden-demo/README").exists());
    no_mounts_under(&env.root);
}

#[test]
fn a_name_the_repositories_do_not_know_fails_its_rule_alone() {
    let env = rocky();
    env.write("etc/motd", "before\n");
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: motd\n    id: motd\n    file: { path: /etc/motd, content: \"after\\n\" }\n\
         \x20 - name: the demo\n    id: pkg.demo\n    package: { names: [harden-demo] }\n\
         \x20 - name: no such package\n    id: pkg.nope\n    package: { names: [harden-extra, harden-no-such-package] }\n",
    );
    let pb = pb.display().to_string();
    let tree = env.tree();
    let plan = env.harden_env(&["plan", "-p", &pb], &[TRUST]);
    expect_code(&plan, 0);
    assert!(
        stdout(&plan).contains("dnf resolves the names at apply"),
        "{}",
        stdout(&plan)
    );
    assert_eq!(env.tree(), tree, "plan wrote something");
    let out = env.harden_env(&["apply", "--yes", "-p", &pb], &[TRUST]);
    expect_code(&out, 6);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("FAILED pkg.nope")
            && said.contains("the root's dnf repositories know no package harden-no-such-package; nothing is installed"),
        "{said}"
    );
    assert_eq!(
        installed(&env),
        "harden-demo 0:1.0-1\nharden-old 1:0.9-1\npython3-PyHarden 0:2.0-3.el9_2",
        "the failed rule installed something, or the others did not converge"
    );
    assert_eq!(
        env.read("etc/motd"),
        "after\n",
        "the file rule did not converge"
    );
    no_mounts_under(&env.root);
}

#[test]
fn a_busy_rpm_lock_is_waited_for_then_named() {
    let env = install_and_remove();
    let pb = env.pb();
    // rpm's transaction lock, held the way rpm holds it (a POSIX write lock).
    let lock = env.path("var/lib/rpm/.rpm.lock");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys, time\nf = open(sys.argv[1], 'r+')\nfcntl.lockf(f, fcntl.LOCK_EX)\n\
             print('held', flush=True)\ntime.sleep(60)\n",
        ])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "held\n");
    let before = installed(&env);
    let out = env.harden_env(
        &["apply", "--yes", "-p", pb],
        &[TRUST, ("HARDEN_LOCK_WAIT_MS", "1500")],
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    expect_code(&out, 4);
    let said = stderr(&out);
    assert!(
        said.contains("/var/lib/rpm/.rpm.lock is locked by another process")
            && said.contains(&format!("pid {}", holder.id())),
        "{said}"
    );
    assert_eq!(installed(&env), before, "packages changed under the lock");
}

#[test]
fn an_untrusted_root_never_runs_dnf() {
    let env = install_and_remove();
    let tree = env.tree();
    crate::apt_package::refused_untrusted(&env);
    assert_eq!(env.tree(), tree);
}

#[test]
fn an_rpm_database_behind_a_symlink_is_never_read() {
    let env = rocky();
    // On the host, this database would say harden-demo is installed.
    let planted = env.base.join("planted-rpm");
    std::fs::rename(env.path("var/lib/rpm"), &planted).unwrap();
    std::os::unix::fs::symlink(&planted, env.path("var/lib/rpm")).unwrap();
    let env = Test::on(env)
        .env(TRUST.0, TRUST.1)
        .playbook(&install_and_remove_rules());
    let said = env.plan().code(1).both();
    assert!(
        said.contains("FAILED pkg.demo") && said.contains("symlink"),
        "{said}"
    );
}

#[test]
fn rpm_names_are_accepted_where_debian_would_refuse_them() {
    let env = rocky();
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: capitals\n    id: pkg.caps\n    package: { names: [python3-PyHarden] }\n",
    );
    let out = env.harden_env(&["plan", "-p", &pb.display().to_string()], &[TRUST]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("install python3-PyHarden (dnf"),
        "{}",
        stdout(&out)
    );
}
