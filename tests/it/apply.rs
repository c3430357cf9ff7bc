//! `apply`: converge, verify, snapshot, validate, lock, roll back.

use crate::support::*;

fn pb_files(env: &Env) -> std::path::PathBuf {
    env.playbook(
        "pb.yml",
        r#"
name: files
tasks:
  - name: Kernel drop-in
    id: kernel.sysctl
    sysctl: { settings: { net.ipv4.ip_forward: 0, kernel.kptr_restrict: 2 } }
  - name: App dir
    id: files.app-dir
    file: { path: /opt/app, state: directory, mode: "0755", owner: root, group: root, recurse: true, file_mode: "0644", dir_mode: "0755" }
  - name: Env file
    id: files.app-env
    severity: critical
    file: { path: /opt/app.env, mode: "0600", owner: root, group: root, content: "A=1\n", secret: true }
  - name: Passwd
    id: files.passwd
    file: { path: /etc/passwd, mode: "0644", owner: root, group: root }
"#,
    )
}

fn drifted(env: &Env) {
    env.write("opt/app/bin/run", "#!/bin/sh\n");
    env.write("opt/app/README", "hi\n");
    env.chmod("opt/app/README", 0o666);
    env.chmod("opt/app/bin", 0o777);
    std::os::unix::fs::chown(env.path("opt/app/README"), Some(1000), Some(1000)).unwrap();
    env.chmod("etc/passwd", 0o666);
}

#[test]
fn apply_converges_then_plan_is_empty() {
    let env = Env::new();
    drifted(&env);
    let pb = pb_files(&env);
    let p = pb.to_str().unwrap();
    let out = env.harden(&["apply", "--yes", "-p", p]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("committed as transaction"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.mode("etc/passwd"), 0o644);
    assert_eq!(env.mode("opt/app/README"), 0o644);
    assert_eq!(env.mode("opt/app/bin"), 0o755);
    assert_eq!(env.mode("opt/app.env"), 0o600);
    assert_eq!(
        env.read("etc/sysctl.d/99-harden.conf")
            .lines()
            .filter(|l| l.contains('='))
            .count(),
        2
    );
    let out = env.harden(&["plan", "-p", p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    let out = env.harden(&["apply", "--yes", "-p", p]);
    expect_code(&out, 0);
    let out = env.harden(&["check", "-p", p]);
    expect_code(&out, 0);
}

#[test]
fn rollback_restores_content_mode_owner_and_can_itself_be_rolled_back() {
    let env = Env::new();
    drifted(&env);
    env.write(
        "etc/sysctl.d/99-harden.conf",
        "# mine\nnet.ipv4.ip_forward = 1\n",
    );
    let pb = pb_files(&env);
    let p = pb.to_str().unwrap();
    let before = env.tree();
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    let applied = env.tree();
    assert_ne!(before, applied);
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(
        env.tree(),
        before,
        "rollback did not restore the tree exactly"
    );
    // Rolling back the rollback returns to the applied state.
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(
        env.tree(),
        applied,
        "rollback of the rollback did not return to applied"
    );
    let hist = stdout(&env.harden(&["history"]));
    assert_eq!(hist.lines().count(), 3, "{hist}");
    assert!(hist.contains("reverted by"), "{hist}");
}

#[test]
fn a_rejected_candidate_fails_its_rule_alone_and_strict_applies_nothing() {
    require("visudo");
    let env = Env::new();
    let pb = env.playbook(
        "pb.yml",
        r#"
tasks:
  - name: Passwd
    id: files.passwd
    file: { path: /etc/passwd, mode: "0644" }
  - name: Sudo policy
    id: sudo.policy
    file:
      path: /etc/sudoers.d/harden
      mode: "0440"
      owner: root
      group: root
      content: "%admin ALL=(ALL:ALL) ALL\nDefaults timestamp_timeout=five\nthis is not sudoers\n"
      validate: [visudo, -c, -f, "%s"]
"#,
    );
    env.chmod("etc/passwd", 0o600);
    let before = env.tree();
    // All or nothing: the rejected rule refuses the whole apply.
    let out = env.harden(&["apply", "--yes", "--strict", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("--strict: 1 rule(s) failed (sudo.policy), nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before, "--strict changed the tree");
    // By default the rejected rule fails alone: the other rule is applied.
    let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains(
            "harden: error: rule sudo.policy: /etc/sudoers.d/harden: validator `visudo -c -f"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        !env.path("etc/sudoers.d/harden").exists(),
        "a rejected candidate was installed"
    );
    assert_eq!(env.mode("etc/passwd"), 0o644);
    // The same policy, corrected, passes the real visudo.
    let good = std::fs::read_to_string(&pb)
        .unwrap()
        .replace("five", "5")
        .replace("this is not sudoers\\n", "");
    let pb = env.playbook("good.yml", &good);
    let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 2);
    assert_eq!(env.mode("etc/sudoers.d/harden"), 0o440);
}

#[test]
fn a_second_concurrent_apply_fails_at_once_without_interleaving() {
    let env = Env::new();
    // The first run holds the lock while its (slow) validator runs.
    let slow = env.playbook(
        "slow.yml",
        r#"
tasks:
  - name: Slow
    id: slow
    file: { path: /etc/slow, content: "x\n", validate: [sh, -c, "sleep 3", sh, "%s"] }
"#,
    );
    let fast = env.playbook(
        "fast.yml",
        "tasks:\n  - {name: Fast, id: fast, file: {path: /etc/fast, content: \"y\\n\"}}\n",
    );
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("harden"))
        .args(["apply", "--yes", "-p", slow.to_str().unwrap(), "--root"])
        .arg(&env.root)
        .arg("--state-dir")
        .arg(&env.state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock (its journal exists).
    // (It checks the candidate once before the transaction, once inside.)
    let journal = env.state.join("journal.json");
    for _ in 0..1000 {
        if journal.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        journal.exists(),
        "first apply never started its transaction"
    );
    let out = env.harden(&["apply", "--yes", "-p", fast.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("another harden run holds the lock"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("etc/fast").exists());
    assert_eq!(first.wait().unwrap().code(), Some(2));
    assert_eq!(env.read("etc/slow"), "x\n");
}

#[test]
fn apply_without_tty_and_without_yes_refuses() {
    let env = Env::new();
    env.chmod("etc/passwd", 0o600);
    let before = env.tree();
    let out = env.harden(&["apply"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
}

#[test]
fn state_dir_and_snapshots_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.chmod("etc/passwd", 0o600);
    expect_code(
        &env.harden(&["apply", "--yes", "--tags", "files.passwd,files.shadow"]),
        2,
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.state), 0o700);
    for entry in walk(&env.state) {
        let m = mode(&entry);
        if entry.is_dir() {
            assert_eq!(m, 0o700, "{}", entry.display());
        } else {
            assert_eq!(m, 0o600, "{}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}
