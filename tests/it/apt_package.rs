//! `package` on the real Debian 12 root from `scripts/debian-root`, with the root's
//! own apt and dpkg: plan reads only the dpkg database and writes nothing; apply
//! installs and removes; the plan is then empty; rollback purges what came and
//! reinstalls what went, so the installed set is as before. An unknown package is
//! that rule's error with nothing installed, and an untrusted root is refused.

use crate::debian_root::{debian12, in_root};
use crate::support::*;

const TRUST: (&str, &str) = ("HARDEN_TRUST_ROOT_PACKAGES", "1");

fn installed(env: &Env) -> String {
    in_root(
        env,
        "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' | sort",
    )
}

/// tree installed, libpwquality-tools removed, on a fresh Debian 12 root the
/// test trusts to run its own package tools.
fn install_and_remove() -> Test {
    Test::on(debian12())
        .env(TRUST.0, TRUST.1)
        .playbook(&install_and_remove_rules(
            ["pkg.tree", "tree is there", "tree"],
            ["pkg.no-pwscore", "no pwscore", "libpwquality-tools"],
        ))
}

/// Two rules, each `[id, name, package]`: `install` is there, `remove` is not.
pub(crate) fn install_and_remove_rules(install: [&str; 3], remove: [&str; 3]) -> Playbook {
    Playbook::new("pkg")
        .task(Task::new(install[0], "package", json!({ "names": [install[2]] })).name(install[1]))
        .task(
            Task::new(
                remove[0],
                "package",
                json!({ "names": [remove[2]], "state": "absent" }),
            )
            .name(remove[1]),
        )
}

/// The round trip every package manager owes, on `env` (whose playbook installs
/// and removes): the plan names `planned` and writes nothing, packages included;
/// apply changes something and `applied` checks the root; the plan is then
/// empty; `rollback --dry-run` names `undo` and writes nothing; rollback
/// restores the installed set as `installed` reads it.
pub(crate) fn round_trip(
    env: &Test,
    installed: impl Fn(&Env) -> String,
    planned: &[&str],
    applied: impl FnOnce(),
    undo: &str,
) {
    let before = installed(env);
    let plan = env.plan_read_only().code(0);
    for want in planned {
        assert_has(&plan.stdout(), want);
    }
    assert_eq!(installed(env), before, "plan changed packages");
    env.apply().code(2);
    applied();
    env.plan().code(0).stdout_has("0 changes");
    env.rollback_preview().stdout_has(undo);
    env.rollback().code(0);
    assert_eq!(
        installed(env),
        before,
        "rollback did not restore the package set"
    );
}

#[test]
fn install_and_remove_then_roll_both_back() {
    let env = install_and_remove();
    let before = installed(&env);
    assert!(before.contains("libpwquality-tools "), "{before}");
    assert!(!before.contains("\ntree "), "{before}");
    round_trip(
        &env,
        installed,
        &["install tree", "remove libpwquality-tools"],
        || {
            let after = installed(&env);
            assert!(
                after.contains("\ntree ") || after.starts_with("tree "),
                "{after}"
            );
            assert!(!after.contains("libpwquality-tools "), "{after}");
            assert!(
                !env.path("usr/sbin/policy-rc.d").exists(),
                "the policy-rc.d harden made is left in the root"
            );
        },
        "packages: purge tree; reinstall libpwquality-tools=",
    );
}

#[test]
fn an_unknown_package_installs_nothing() {
    let env = debian12();
    // Package lists, as after `apt-get update`, that know only `tree`.
    env.write(
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
        "Package: tree\nVersion: 2.1.0-1\nArchitecture: amd64\n\n",
    );
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: no such package\n    id: pkg.nope\n    package: { names: [tree, harden-no-such-package] }\n",
    );
    let before = env.tree();
    let out = env.harden_env(
        &["apply", "--yes", "-p", &pb.display().to_string()],
        &[TRUST],
    );
    expect_code(&out, 6);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("know no package harden-no-such-package; nothing is installed"),
        "{said}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn on_a_root_without_lists_an_unknown_package_fails_only_its_rule() {
    // The Debian 12 root has no package lists: apply updates them before the
    // transaction, as the install would, and the new lists answer for each rule.
    let env = Test::on(debian12()).env(TRUST.0, TRUST.1).playbook(
        &Playbook::new("pkg")
            .task(Task::new(
                "pkg.tree",
                "package",
                json!({ "names": ["tree"] }),
            ))
            .task(Task::new(
                "pkg.nope",
                "package",
                json!({ "names": ["harden-no-such-package"] }),
            )),
    );
    assert_has(&env.plan().code(0).both(), "apt-get update");
    assert_has(
        &env.apply().code(6).both(),
        "know no package harden-no-such-package; nothing is installed",
    );
    let now = installed(&env);
    assert!(now.contains("\ntree "), "tree was not installed:\n{now}");
    assert!(!now.contains("harden-no-such-package"), "{now}");
}

#[test]
fn package_lists_behind_a_symlink_out_of_the_root_are_never_read() {
    let env = debian12();
    // On the host, this directory would know the package.
    let planted = env.base.join("lists");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::write(planted.join("x_Packages"), "Package: harden-planted\n\n").unwrap();
    std::fs::remove_dir_all(env.path("var/lib/apt/lists")).unwrap();
    std::os::unix::fs::symlink(&planted, env.path("var/lib/apt/lists")).unwrap();
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: planted\n    id: pkg.planted\n    package: { names: [harden-planted] }\n",
    );
    let out = env.harden_env(&["plan", "-p", &pb.display().to_string()], &[TRUST]);
    expect_code(&out, 1);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("FAILED pkg.planted") && said.contains("symlink"),
        "{said}"
    );
}

#[test]
fn a_package_apt_cannot_install_rolls_the_transaction_back() {
    let env = debian12();
    // Lists that name a package apt has no archive entry for: the plan passes,
    // apt refuses at apply, and nothing of the transaction stays.
    env.write(
        "var/lib/apt/lists/stray_Packages",
        "Package: harden-phantom\nVersion: 1.0\nArchitecture: all\n\n",
    );
    env.write("etc/motd", "before\n");
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: motd\n    id: motd\n    file: { path: /etc/motd, content: \"after\\n\" }\n  - name: phantom\n    id: pkg.phantom\n    package: { names: [harden-phantom] }\n",
    );
    let before = installed(&env);
    let out = env.harden_env(
        &["apply", "--yes", "-p", &pb.display().to_string()],
        &[TRUST],
    );
    expect_code(&out, 4);
    assert!(stderr(&out).contains("apt-get failed"), "{}", stderr(&out));
    assert_eq!(installed(&env), before);
    assert_eq!(
        env.read("etc/motd"),
        "before\n",
        "the file rule was not rolled back"
    );
}

#[test]
fn an_untrusted_root_never_runs_its_package_manager() {
    refused_untrusted(&install_and_remove());
}

/// Planning `env`'s playbook without the test's trust is refused, naming the
/// variable that grants it.
pub(crate) fn refused_untrusted(env: &Test) {
    // Env's own runner: without the test's environment.
    Run(env.harden(&["plan", "-p", env.pb()]))
        .code(1)
        .stderr_has("HARDEN_TRUST_ROOT_PACKAGES=1");
}

#[test]
fn names_are_checked_when_the_playbook_is_read() {
    let env = Env::new();
    for (names, msg) in [
        ("[]", "lists no package"),
        ("[\"tree; rm -rf /\"]", "is not a package name"),
        ("[\"-tree\"]", "is not a package name"),
        ("[tree, tree]", "listed twice"),
    ] {
        let pb = env.playbook(
            "pkg.yml",
            &format!(
                "name: pkg\ntasks:\n  - name: p\n    id: p\n    package: {{ names: {names} }}\n"
            ),
        );
        let out = env.harden(&["plan", "-p", &pb.display().to_string()]);
        expect_code(&out, 1);
        assert!(stderr(&out).contains(msg), "{names}: {}", stderr(&out));
        assert!(
            !stdout(&out).contains("FAILED"),
            "{names}: not at load time"
        );
    }
}

/// An RPM name (capitals) is a playbook's to use on RHEL-family roots; on a
/// Debian root it is that rule's error, before any database is read.
#[test]
fn an_rpm_name_fails_its_rule_on_a_debian_root() {
    let env = Env::new();
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: p\n    id: p\n    package: { names: [NetworkManager] }\n",
    );
    let out = env.harden(&["plan", "-p", &pb.display().to_string()]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("FAILED p")
            && stderr(&out).contains("`NetworkManager` is not a Debian package name"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// A rule that writes into a directory a package of the same transaction then
/// fills (auditd's rules.d, before auditd is installed) rolls back whole: the
/// restore runs backwards, so the package is purged before the directory the
/// transaction made is removed (it failed: "not empty now; left in place").
#[test]
fn a_directory_a_package_filled_after_the_rule_made_it_rolls_back() {
    let env = debian12();
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: audit rules\n    id: audit.rules\n    file: { path: /etc/audit/rules.d/60-test.rules, content: \"-w /etc/passwd -p wa -k identity\\n\", mode: \"0640\" }\n  - name: auditd\n    id: audit.package\n    package: { names: [auditd] }\n",
    );
    let pb = pb.display().to_string();
    let before = installed(&env);
    expect_code(&env.harden_env(&["apply", "--yes", "-p", &pb], &[TRUST]), 2);
    assert!(env.path("etc/audit/auditd.conf").is_file());
    expect_code(
        &env.harden_env(&["plan", "-p", &pb, "--detailed-exitcode"], &[TRUST]),
        0,
    );
    let preview = stdout(&env.harden_env(&["rollback", "--dry-run"], &[TRUST]));
    let rb = env.harden_env(&["rollback", "--yes"], &[TRUST]);
    expect_code(&rb, 0);
    assert_eq!(installed(&env), before, "the package set is not restored");
    assert!(
        !env.path("etc/audit").exists(),
        "the directory the transaction made is left:\n{}",
        stderr(&rb)
    );
    // The preview lists the steps in the order the rollback took them.
    let purge = preview.find("packages: purge").unwrap();
    let rules = preview.find("/etc/audit/rules.d/60-test.rules").unwrap();
    assert!(purge < rules, "{preview}");
}

/// A rule that `when:` skipped because its file was missing, when a package of
/// the same apply brings that file (cron's /etc/crontab, auditd's auditd.conf):
/// the apply commits and names the rule for the next run (it rolled the whole
/// transaction back as "still to change after apply"); the next apply converges
/// it and the plan is then empty.
#[test]
fn a_rule_a_package_makes_applicable_is_left_to_the_next_apply() {
    let env = debian12();
    let pb = env.playbook(
        "pkg.yml",
        "name: pkg\ntasks:\n  - name: auditd.conf private\n    id: audit.conf-mode\n    when: { exists: /etc/audit/auditd.conf }\n    file: { path: /etc/audit/auditd.conf, mode: \"0600\" }\n  - name: auditd\n    id: audit.package\n    package: { names: [auditd] }\n",
    );
    let pb = pb.display().to_string();
    let first = env.harden_env(&["apply", "--yes", "-p", &pb], &[TRUST]);
    expect_code(&first, 2);
    let said = stderr(&first);
    assert!(
        said.contains("committed")
            && said.contains("audit.conf-mode")
            && said.contains("apply again"),
        "{said}"
    );
    assert_eq!(env.mode("etc/audit/auditd.conf") & 0o777, 0o640);
    expect_code(&env.harden_env(&["apply", "--yes", "-p", &pb], &[TRUST]), 2);
    assert_eq!(env.mode("etc/audit/auditd.conf") & 0o777, 0o600);
    expect_code(
        &env.harden_env(&["plan", "-p", &pb, "--detailed-exitcode"], &[TRUST]),
        0,
    );
}

/// A root whose `/proc` is a symlink (to `/etc`, which outside the root is this
/// machine's) never gets apt's namespace: the package rules fail, naming the
/// link, before any mount or any program of the root; nothing changes.
#[test]
fn a_root_whose_proc_is_a_symlink_never_runs_apt() {
    let env = install_and_remove();
    std::fs::remove_dir(env.path("proc")).unwrap();
    std::os::unix::fs::symlink("/etc", env.path("proc")).unwrap();
    let before = env.tree();
    let packages = installed(&env);
    env.plan()
        .code(1)
        .stdout_has("FAILED pkg.tree")
        .stdout_has("/proc is a symlink");
    env.apply().code(6).stdout_has("FAILED pkg.no-pwscore");
    assert_eq!(before, env.tree(), "apply changed the root");
    assert_eq!(installed(&env), packages);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&env.root.display().to_string()),
        "{mounts}"
    );
}
