//! `apply --confirm-within`: unless `harden confirm` runs in time, a detached
//! watchdog rolls the transaction back, even when the apply process was killed
//! right after its first write. Every test waits with bounded polling and proves
//! its watchdog exited.

use std::time::{Duration, Instant};

use crate::support::*;

const PB: &str = r#"
name: confirm
tasks:
  - name: Env file
    id: files.env
    file: { path: /etc/app.env, mode: "0600", content: "NEW=1\n" }
  - name: Passwd
    id: files.passwd
    file: { path: /etc/passwd, mode: "0644" }
"#;

fn setup() -> (Env, String) {
    let env = Env::new();
    env.write("etc/app.env", "OLD=1\n");
    env.chmod("etc/passwd", 0o600);
    let pb = env.playbook("pb.yml", PB).display().to_string();
    (env, pb)
}

/// The watchdog's pid recorded in the pending file.
fn watchdog_pid(env: &Env) -> u32 {
    let text = std::fs::read_to_string(env.state.join("pending-confirm.json"))
        .expect("no pending-confirm.json after apply --confirm-within");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    u32::try_from(v["watchdog_pid"].as_u64().expect("no watchdog pid")).unwrap()
}

/// Running (a zombie waiting for its reaper counts as exited).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// Polls `cond` for up to `secs` seconds; kills the watchdog and fails otherwise.
fn wait_for(what: &str, secs: u64, pid: u32, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unconfirmed_apply_is_rolled_back_by_the_watchdog() {
    let (env, pb) = setup();
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &pb, "--confirm-within", "2"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("harden confirm"), "{}", stderr(&out));
    let pid = watchdog_pid(&env);
    assert_eq!(env.read("etc/app.env"), "NEW=1\n");
    assert!(alive(pid), "the watchdog does not outlive the apply");
    // A second apply must not interleave with the pending confirmation.
    let again = env.harden(&["apply", "--yes", "-p", &pb]);
    expect_code(&again, 1);
    assert!(stderr(&again).contains("waits for `harden confirm`"));
    wait_for("the watchdog to revert", 20, pid, || env.tree() == before);
    wait_for("the watchdog to exit", 20, pid, || !alive(pid));
    assert!(!env.state.join("pending-confirm.json").exists());
    let hist = stdout(&env.harden(&["history"]));
    assert!(hist.contains("reverted by"), "{hist}");
    let late = env.harden(&["confirm"]);
    expect_code(&late, 1);
    assert!(stderr(&late).contains("too late"), "{}", stderr(&late));
}

#[test]
fn confirmed_apply_stays() {
    let (env, pb) = setup();
    let out = env.harden(&["apply", "--yes", "-p", &pb, "--confirm-within", "2"]);
    expect_code(&out, 2);
    let pid = watchdog_pid(&env);
    let after = env.tree();
    let ok = env.harden(&["confirm"]);
    expect_code(&ok, 0);
    assert!(
        stdout(&ok).contains("confirmed transaction"),
        "{}",
        stdout(&ok)
    );
    wait_for("the watchdog to exit", 20, pid, || !alive(pid));
    // Past the deadline, nothing moved.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(env.tree(), after);
    expect_code(&env.harden(&["plan", "-p", &pb, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["confirm"]), 1);
}

#[test]
fn a_manual_rollback_settles_the_pending_confirmation() {
    let (env, pb) = setup();
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &pb, "--confirm-within", "30"]);
    expect_code(&out, 2);
    let pid = watchdog_pid(&env);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
    wait_for("the watchdog to exit", 20, pid, || !alive(pid));
    assert!(!env.state.join("pending-confirm.json").exists());
    expect_code(&env.harden(&["apply", "--yes", "-p", &pb]), 2);
}

#[test]
fn watchdog_reverts_even_when_the_apply_is_killed() {
    // Right after arming (nothing written yet), right after the first write, and
    // after the commit before the window was refreshed.
    for point in ["after-arm", "op-0-done", "after-commit-confirm"] {
        let (env, pb) = setup();
        let before = env.tree();
        let out = env.harden_env(
            &["apply", "--yes", "-p", &pb, "--confirm-within", "2"],
            &[("HARDEN_CRASH_AT", point)],
        );
        assert_eq!(
            out.status.code(),
            None,
            "{point}: not killed: {}",
            stderr(&out)
        );
        if point != "after-arm" {
            assert_eq!(
                env.read("etc/app.env"),
                "NEW=1\n",
                "{point}: no write happened"
            );
        }
        let pid = watchdog_pid(&env);
        wait_for("the watchdog to revert", 20, pid, || env.tree() == before);
        wait_for("the watchdog to exit", 20, pid, || !alive(pid));
        assert!(!env.state.join("journal.json").exists(), "{point}");
        expect_code(&env.harden(&["apply", "--yes", "-p", &pb]), 2);
    }
}

#[test]
fn a_failed_apply_disarms_its_watchdog() {
    let (env, _) = setup();
    env.write(
        "etc/sudoers",
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
    );
    env.chmod("etc/sudoers", 0o440);
    let pb = env.playbook(
        "bad.yml",
        "name: bad\ntasks:\n  - name: Bad sudoers\n    id: sudo.bad\n    sudoers: { name: bad, content: [\"this is not sudoers\"] }\n",
    );
    let before = env.tree();
    let out = env.harden(&[
        "apply",
        "--yes",
        "-p",
        pb.to_str().unwrap(),
        "--confirm-within",
        "30",
    ]);
    expect_code(&out, 6);
    assert!(!env.state.join("pending-confirm.json").exists());
    assert_eq!(env.tree(), before);
}
