//! `harden timer`: units written under a temp root pass the real
//! `systemd-analyze verify`, install is idempotent, remove leaves nothing behind.

use std::process::Command;

use crate::support::*;

const UNITS: &str = "etc/systemd/system";

/// A root that looks like a systemd host: the unit directory exists, and the
/// harden binary the service runs (this test's, by default) is in it too.
fn systemd_env() -> Env {
    let env = Env::new();
    std::fs::create_dir_all(env.path(UNITS)).unwrap();
    with_harden(&env);
    env
}

/// A stand-in for this harden binary at its own path inside the root.
pub fn with_harden(env: &Env) {
    let me = std::fs::canonicalize(assert_cmd::cargo::cargo_bin("harden")).unwrap();
    let rel = me.strip_prefix("/").unwrap().to_str().unwrap().to_string();
    env.write(&rel, "#!/bin/sh\n");
    env.chmod(&rel, 0o755);
}

/// Runs the real `systemd-analyze verify` on the installed units and returns
/// everything it said (it exits 0 on unknown keys, so its output counts too).
fn verify(env: &Env) -> (bool, String) {
    require("systemd-analyze");
    let out = private_run("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(env.path(&format!("{UNITS}/harden.service")))
        .arg(env.path(&format!("{UNITS}/harden.timer")))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// `harden timer install ARGS` succeeds and the real `systemd-analyze verify`
/// accepts both units without a word; returns the run and the service unit.
fn install_verified(env: &Env, args: &[&str]) -> (std::process::Output, String) {
    let mut command = vec!["timer", "install", "--yes"];
    command.extend_from_slice(args);
    let out = env.harden(&command);
    expect_code(&out, 0);
    let (ok, said) = verify(env);
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    let service = env.read(&format!("{UNITS}/harden.service"));
    (out, service)
}

fn key(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn install_writes_units_that_systemd_analyze_verifies() {
    let env = systemd_env();
    // Under --root the playbook is named as the service will see it: inside the root.
    env.write("etc/harden/site.yml", "name: t\ntasks: []\n");
    let outside = env.playbook("pb.yml", "name: t\ntasks: []\n");
    let refused = env.harden(&["timer", "install", "--yes", "-p", outside.to_str().unwrap()]);
    expect_code(&refused, 1);
    assert!(
        stderr(&refused).contains("inside the root"),
        "{}",
        stderr(&refused)
    );
    let (out, service) = install_verified(
        &env,
        &[
            "--every",
            "daily",
            "--mode",
            "check",
            "-p",
            "/etc/harden/site.yml",
            "--randomized-delay",
            "15m",
        ],
    );
    let timer = env.read(&format!("{UNITS}/harden.timer"));
    assert_eq!(key(&service, "Type"), ["oneshot"]);
    let exec = &key(&service, "ExecStart")[0];
    assert!(exec.ends_with(" check -p /etc/harden/site.yml"), "{exec}");
    assert_eq!(key(&service, "ProtectSystem"), ["strict"]);
    assert_eq!(key(&timer, "OnCalendar"), ["daily"]);
    assert_eq!(key(&timer, "Persistent"), ["true"]);
    assert_eq!(key(&timer, "RandomizedDelaySec"), ["15m"]);
    for unit in ["harden.service", "harden.timer"] {
        assert_eq!(env.mode(&format!("{UNITS}/{unit}")), 0o644);
    }
    // Without systemd running, it says what it did not do.
    assert!(
        stderr(&out).contains("enable --now harden.timer` skipped"),
        "{}",
        stderr(&out)
    );
    // The units went through a transaction: history shows it.
    assert!(stdout(&env.harden(&["history"])).contains("timer install"));
}

#[test]
fn apply_mode_converges_with_guards_on_and_counts_exit_2_as_success() {
    let env = systemd_env();
    let (_, service) = install_verified(&env, &["--every", "30min", "--mode", "apply"]);
    let exec = &key(&service, "ExecStart")[0];
    assert!(exec.ends_with(" apply --yes"), "{exec}");
    assert!(
        !service.contains("lockout") && !service.contains("confirm"),
        "{service}"
    );
    assert_eq!(key(&service, "SuccessExitStatus"), ["2"]);
    let timer = env.read(&format!("{UNITS}/harden.timer"));
    assert_eq!(key(&timer, "OnUnitActiveSec"), ["30min"]);
}

#[test]
fn install_twice_is_idempotent_and_remove_leaves_nothing_behind() {
    let env = systemd_env();
    let before = env.tree();
    expect_code(&env.harden(&["timer", "install", "--yes"]), 0);
    let installed = env.tree();
    assert_ne!(before, installed);
    let again = env.harden(&["timer", "install", "--yes"]);
    expect_code(&again, 0);
    assert!(
        stdout(&again).contains("Plan: 0 changes"),
        "{}",
        stdout(&again)
    );
    assert_eq!(env.tree(), installed);
    // An enable link left by `systemctl enable` goes too.
    std::fs::create_dir_all(env.path(&format!("{UNITS}/timers.target.wants"))).unwrap();
    std::os::unix::fs::symlink(
        "/etc/systemd/system/harden.timer",
        env.path(&format!("{UNITS}/timers.target.wants/harden.timer")),
    )
    .unwrap();
    let status = env.harden(&["timer", "status"]);
    expect_code(&status, 0);
    assert!(stdout(&status).contains("enabled (timers.target.wants link): yes"));
    expect_code(&env.harden(&["timer", "remove", "--yes"]), 0);
    std::fs::remove_dir(env.path(&format!("{UNITS}/timers.target.wants"))).unwrap();
    assert_eq!(env.tree(), before);
    expect_code(&env.harden(&["timer", "status"]), 1);
    let nothing = env.harden(&["timer", "remove", "--yes"]);
    expect_code(&nothing, 0);
    assert!(stderr(&nothing).contains("nothing to remove"));
}

#[test]
fn a_changed_schedule_updates_the_timer_only() {
    let env = systemd_env();
    expect_code(
        &env.harden(&["timer", "install", "--yes", "--every", "1h"]),
        0,
    );
    let service = env.read(&format!("{UNITS}/harden.service"));
    let out = env.harden(&["timer", "install", "--yes", "--every", "hourly"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("update harden.timer"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains("harden.service:"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.read(&format!("{UNITS}/harden.service")), service);
    assert_eq!(
        key(&env.read(&format!("{UNITS}/harden.timer")), "OnCalendar"),
        ["hourly"]
    );
}

#[test]
fn bad_schedules_and_playbooks_are_refused_before_anything_is_written() {
    let env = systemd_env();
    let before = env.tree();
    for args in [
        &["timer", "install", "--yes", "--every", "every tuesday-ish"][..],
        &["timer", "install", "--yes", "--randomized-delay", "soon"],
        &["timer", "install", "--yes", "-p", "/nonexistent/pb.yml"],
        &[
            "timer",
            "install",
            "--yes",
            "--metrics-file",
            "relative.prom",
        ],
    ] {
        let out = env.harden(args);
        expect_code(&out, 1);
    }
    assert_eq!(env.tree(), before);
    assert!(!env.state.exists());
}

/// The service is sandboxed: `systemd-analyze security --offline` scores the
/// check unit at most 2.5 and the apply unit at most 4.0 (a bare service: 9.6).
#[test]
fn the_service_is_sandboxed_by_systemd_analyze_security() {
    require("systemd-analyze");
    for (mode, threshold) in [("check", "25"), ("apply", "40")] {
        let env = systemd_env();
        expect_code(
            &env.harden(&["timer", "install", "--yes", "--mode", mode]),
            0,
        );
        let out = private_run("systemd-analyze")
            .args(["security", "--offline=true"])
            .arg(format!("--root={}", env.root.display()))
            .arg(format!("--threshold={threshold}"))
            .arg("harden.service")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        let overall = said
            .lines()
            .find(|l| l.contains("Overall exposure"))
            .unwrap_or("");
        assert!(out.status.success(), "{mode}: {overall}");
    }
}

/// The units are managed files: `harden rollback` undoes an install like any
/// other transaction.
#[test]
fn rollback_undoes_a_timer_install() {
    let env = systemd_env();
    let before = env.tree();
    expect_code(&env.harden(&["timer", "install", "--yes"]), 0);
    assert!(env.path(&format!("{UNITS}/harden.timer")).exists());
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pull convergence: playbooks live in a git checkout inside the root; the
/// service pulls it before each run. The pull command written into the unit is
/// run for real (real git, a local bare "origin"), and the new rule arrives.
#[test]
fn pull_git_updates_the_checkout_before_each_run() {
    require("git");
    let env = systemd_env();
    std::fs::create_dir_all(env.path("usr/bin")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/git", env.path("usr/bin/git")).unwrap();
    let origin = env.base.join("origin.git");
    let work = env.base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        &env.base,
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("site.yml"), "name: site\ntasks: []\n").unwrap();
    git(&work, &["add", "site.yml"]);
    git(&work, &["commit", "-q", "-m", "empty site"]);
    git(
        &work,
        &["push", "-q", origin.to_str().unwrap(), "HEAD:main"],
    );
    let checkout = env.path("srv/harden");
    git(
        &env.base,
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            checkout.to_str().unwrap(),
        ],
    );

    // Not a checkout: refused before anything is written.
    let out = env.harden(&[
        "timer",
        "install",
        "--pull-git",
        "/srv",
        "-p",
        "/srv/harden/site.yml",
    ]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("not a git checkout"),
        "{}",
        stderr(&out)
    );

    let (_, unit) = install_verified(
        &env,
        &[
            "--mode",
            "apply",
            "--pull-git",
            "/srv/harden",
            "-p",
            "/srv/harden/site.yml",
        ],
    );
    let pre = key(&unit, "ExecStartPre");
    assert_eq!(
        pre,
        vec!["-+/usr/bin/git -C /srv/harden pull --ff-only --quiet".to_string()],
        "{unit}"
    );
    let start = unit.find("ExecStartPre=").unwrap();
    assert!(
        start < unit.find("ExecStart=").unwrap(),
        "the pull must come before the run"
    );

    // The fleet's repository gains a rule.
    std::fs::write(
        work.join("site.yml"),
        "name: site\ntasks:\n  - {name: banner, id: site.banner, file: {path: /etc/issue.net, content: \"hi\\n\"}}\n",
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "banner"]);
    git(
        &work,
        &["push", "-q", origin.to_str().unwrap(), "HEAD:main"],
    );
    // Run the unit's own pull command (its checkout path mapped into the root).
    let argv: Vec<String> = pre[0]
        .trim_start_matches("-+")
        .split(' ')
        .map(|a| {
            if a == "/srv/harden" {
                checkout.display().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let st = Command::new(&argv[0]).args(&argv[1..]).status().unwrap();
    assert!(st.success());
    let pb = checkout.join("site.yml");
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("site.banner"), "{}", stdout(&out));
}

/// `harden` with `args` exactly as given (no `--root` added): for the order of
/// the global options.
fn raw(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("harden")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("HARDEN_CRASH_AT")
        .output()
        .unwrap()
}

#[test]
fn root_and_state_dir_go_before_or_after_any_subcommand() {
    let env = systemd_env();
    let (r, s) = (env.root.to_str().unwrap(), env.state.to_str().unwrap());
    // After the action, as docs/timer.md writes it.
    let out = raw(&[
        "timer",
        "install",
        "--yes",
        "--root",
        r,
        "--state-dir",
        s,
        "-q",
    ]);
    expect_code(&out, 0);
    assert!(env.path(&format!("{UNITS}/harden.timer")).exists());
    for args in [
        &["--root", r, "--state-dir", s, "timer", "status"][..],
        &["timer", "--root", r, "status", "--state-dir", s, "-v"],
        &["-q", "timer", "status", "--root", r, "--state-dir", s],
    ] {
        let out = raw(args);
        expect_code(&out, 0);
        assert!(
            stdout(&out).contains(&format!("root: {r}")),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    let out = raw(&["--root", r, "--state-dir", s, "history"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("timer install"), "{}", stdout(&out));
    let out = raw(&["timer", "remove", "--root", r, "--yes", "--state-dir", s]);
    expect_code(&out, 0);
    assert!(!env.path(&format!("{UNITS}/harden.timer")).exists());
    // The same for the other commands.
    expect_code(&raw(&["--root", r, "--state-dir", s, "plan", "-q"]), 0);
    expect_code(&raw(&["plan", "--root", r, "-v", "--state-dir", s]), 0);
}

#[test]
fn install_refuses_a_binary_the_root_does_not_have() {
    let env = Env::new();
    std::fs::create_dir_all(env.path(UNITS)).unwrap();
    let before = env.tree();
    let me = std::fs::canonicalize(assert_cmd::cargo::cargo_bin("harden")).unwrap();
    let out = env.harden(&["timer", "install", "--yes"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains(&format!(
            "harden: error: the service would run {}, which does not exist under the root {}; pass --binary PATH-IN-ROOT (the harden binary as the root sees it)",
            me.display(),
            env.root.display()
        )),
        "{}",
        stderr(&out)
    );
    let out = env.harden(&["timer", "install", "--yes", "--binary", "/usr/bin/harden"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("/usr/bin/harden, which does not exist"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
    // The image has its own harden: the error names it, and --binary uses it.
    env.write("usr/bin/harden", "#!/bin/sh\n");
    env.chmod("usr/bin/harden", 0o755);
    let out = env.harden(&["timer", "install", "--yes"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("; the root has one at /usr/bin/harden"),
        "{}",
        stderr(&out)
    );
    let out = env.harden(&["timer", "install", "--yes", "--binary", "/usr/bin/harden"]);
    expect_code(&out, 0);
    let service = env.read(&format!("{UNITS}/harden.service"));
    assert_eq!(key(&service, "ExecStart"), ["/usr/bin/harden check"]);
}

#[test]
fn install_and_remove_ask_like_apply_and_take_yes() {
    let env = systemd_env();
    let before = env.tree();
    let out = env.harden(&["timer", "install"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains(
            "no terminal to confirm on: pass --yes to install the timer without confirmation"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("harden.timer: install harden.timer"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.tree(), before);
    expect_code(&env.harden(&["timer", "install", "--yes"]), 0);
    // Nothing to change: nothing to ask.
    expect_code(&env.harden(&["timer", "install"]), 0);
    let installed = env.tree();
    let out = env.harden(&["timer", "remove"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("pass --yes to remove the timer without confirmation"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), installed);
    expect_code(&env.harden(&["timer", "remove", "-y"]), 0);
}
