//! `mount_options`: the fstab edit changes one entry's options field only, passes
//! the real `findmnt --verify`, converges and rolls back; nothing is remounted.

use crate::support::*;

const FSTAB: &str = "# /etc/fstab: static file system information.\n#\n# <file system> <mount point>   <type>  <options>       <dump>  <pass>\nUUID=0a1b-2c3d /               ext4    errors=remount-ro 0       1\n/dev/sdb1\t/opt\text4\tdefaults,exec\t0\t2\n\n# swap was on /dev/sda5 during installation\nUUID=9f8e none            swap    sw              0       0\n";

/// The mount-options rule with `params`, on a root with `FSTAB`.
fn mounts(params: &serde_json::Value) -> Test {
    require("findmnt");
    Test::new().file("etc/fstab", FSTAB).playbook(&rule(params))
}

fn rule(params: &serde_json::Value) -> Playbook {
    Playbook::new("mounts").task(
        Task::new("mounts.opt", "mount_options", params.clone())
            .name("Mount options")
            .severity("medium"),
    )
}

#[test]
fn opt_gets_its_options_other_bytes_kept_converges_and_rolls_back() {
    let env = mounts(&json!({ "path": "/opt", "options": ["noexec", "nosuid", "nodev"] }));
    let before = env.tree();
    env.plan()
        .code(0)
        .stdout_has("takes effect at the next mount/reboot");
    env.converge_from(&before, |out| {
        assert!(
            !out.stdout().contains("mount -o remount"),
            "{}",
            out.stdout()
        );
        assert_eq!(
            env.read("etc/fstab"),
            FSTAB.replace("defaults,exec\t", "defaults,noexec,nosuid,nodev\t")
        );
    });
}

#[test]
fn findmnt_rejects_a_new_entry_with_a_filesystem_type_the_kernel_lacks() {
    let env = mounts(&json!({
        "path": "/srv",
        "options": ["nodev"],
        "device": "/dev/sdd1",
        "fstype": "ext44"
    }))
    .dir("srv");
    let before = env.tree();
    let err = env.apply().code(6).stderr();
    assert!(
        err.contains("findmnt --verify: new problems") && err.contains("ext44 seems unsupported"),
        "{err}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn an_entry_written_with_a_trailing_slash_is_the_same_mount_point() {
    let env = mounts(&json!({ "path": "/srv", "options": ["nodev"] }))
        .file("etc/fstab", "/dev/sdc1 /srv/ ext4 defaults 0 2\n");
    env.converge(|_| {
        assert_eq!(
            env.read("etc/fstab"),
            "/dev/sdc1 /srv/ ext4 defaults,nodev 0 2\n"
        );
    });
}

#[test]
fn a_missing_entry_is_created_only_with_device_and_fstype() {
    let env = mounts(&json!({ "path": "/dev/shm", "options": ["noexec", "nosuid", "nodev"] }))
        .dir("dev/shm");
    env.plan()
        .code(1)
        .stderr_has("no fstab entry for /dev/shm; give `device` and `fstype`");
    env.set_playbook(&rule(&json!({
        "path": "/dev/shm",
        "options": ["noexec", "nosuid", "nodev"],
        "device": "tmpfs",
        "fstype": "tmpfs",
        "remount": true
    })));
    env.converge(|out| {
        assert_has(&out.stdout(), "not remounted: offline root");
        assert_eq!(
            env.read("etc/fstab"),
            format!("{FSTAB}tmpfs\t/dev/shm\ttmpfs\tdefaults,noexec,nosuid,nodev\t0\t0\n")
        );
    });
}

#[test]
fn on_the_running_system_a_remount_is_planned_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let fstab = dir.path().join("fstab");
    std::fs::write(&fstab, "/dev/sdb1 /opt ext4 defaults 0 2\n").unwrap();
    for (remount, want, unwanted) in [
        (true, "mount -o remount /opt", "next mount/reboot"),
        (
            false,
            "takes effect at the next mount/reboot",
            "mount -o remount",
        ),
    ] {
        let pb = dir.path().join("pb.yml");
        std::fs::write(
            &pb,
            format!(
                "name: m\ntasks:\n  - name: opt\n    id: m.opt\n    mount_options:\n      path: /opt\n      options: [nodev]\n      fstab: {}\n      remount: {remount}\n",
                fstab.display()
            ),
        )
        .unwrap();
        let out = plan_live(dir.path(), &pb);
        expect_code(&out, 0);
        let text = stdout(&out);
        assert!(text.contains(want) && !text.contains(unwanted), "{text}");
    }
}
