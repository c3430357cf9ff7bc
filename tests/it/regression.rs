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
    expect_code(&env.harden(&["timer", "install"]), 0);
    assert_eq!(
        run_markers(),
        before,
        "a validator wrote into the machine's /run"
    );
}
