//! Tests named after the bug they pin.

use std::time::SystemTime;

use crate::support::*;

/// What `findmnt` (libblkid's cache) and `systemd-analyze` (a units-load marker)
/// wrote into the machine's own `/run` before they ran with a private one.
fn run_markers() -> Vec<(&'static str, Option<SystemTime>)> {
    [
        "/run/blkid",
        "/run/blkid/blkid.tab",
        "/run/systemd/systemd-units-load",
    ]
    .into_iter()
    .map(|p| {
        (
            p,
            std::fs::symlink_metadata(p).and_then(|m| m.modified()).ok(),
        )
    })
    .collect()
}

#[test]
fn findmnt_and_systemd_analyze_validators_wrote_into_the_machines_run() {
    require("findmnt");
    require("systemd-analyze");
    let before = run_markers();
    let env = Env::new();
    env.write(
        "etc/fstab",
        "UUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/sdb1 /opt ext4 defaults 0 2\n",
    );
    let pb = env.playbook(
        "m.yml",
        "tasks:\n  - {name: opt, id: m.opt, mount_options: {path: /opt, options: [nodev]}}\n",
    );
    expect_code(
        &env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]),
        2,
    );
    let env = Env::new();
    std::fs::create_dir_all(env.path("etc/systemd/system")).unwrap();
    crate::timer::with_harden(&env);
    expect_code(&env.harden(&["timer", "install", "--yes"]), 0);
    assert_eq!(
        run_markers(),
        before,
        "a validator wrote into the machine's /run"
    );
}

/// A transaction whose outcome could not be written cleared its journal anyway,
/// so nothing pointed the operator at it. Here writing the outcome is made
/// impossible (a directory where `result.json` goes) while the (slow,
/// confined) validator runs, then it rejects the candidate.
#[test]
fn an_outcome_that_could_not_be_recorded_still_cleared_the_journal() {
    let env = Env::new();
    let pb = env.playbook(
        "pb.yml",
        "tasks:\n  - name: x\n    id: x\n    file: {path: /etc/x.conf, content: \"x\\n\", validate: [sh, -c, \"sleep 2; exit 1\", sh, \"%s\"]}\n",
    );
    let before = env.tree();
    // The rejection must come from the transaction's own check, not the
    // per-rule check before it (which would leave the rule out instead).
    let apply = std::process::Command::new(assert_cmd::cargo::cargo_bin("harden"))
        .args(["apply", "--yes", "-p", pb.to_str().unwrap(), "--root"])
        .arg(&env.root)
        .arg("--state-dir")
        .arg(&env.state)
        .env("HARDEN_FAULT", "skip-precheck")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the transaction is journaled, its result.json becomes a directory.
    let journal = env.state.join("journal.json");
    for _ in 0..300 {
        if journal.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(journal.exists(), "the apply never started its transaction");
    for entry in std::fs::read_dir(env.state.join("txn")).unwrap() {
        std::fs::create_dir(entry.unwrap().path().join("result.json")).unwrap();
    }
    let out = apply.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(env.tree(), before, "a rejected candidate was installed");
    // The unfinished transaction is reported, not forgotten.
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    assert!(stderr(&out).contains("was interrupted"), "{}", stderr(&out));
    // Once the obstacle is gone, rollback settles it and the tree is as before.
    for entry in std::fs::read_dir(env.state.join("txn")).unwrap() {
        let _ = std::fs::remove_dir(entry.unwrap().path().join("result.json"));
    }
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
    expect_code(&env.harden(&["plan", "-p", pb.to_str().unwrap()]), 0);
}
