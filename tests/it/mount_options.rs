//! `mount_options`: the fstab edit changes one entry's options field only, passes
//! the real `findmnt --verify`, converges and rolls back; nothing is remounted.

use crate::support::*;

const FSTAB: &str = "# /etc/fstab: static file system information.\n#\n# <file system> <mount point>   <type>  <options>       <dump>  <pass>\nUUID=0a1b-2c3d /               ext4    errors=remount-ro 0       1\n/dev/sdb1\t/opt\text4\tdefaults,exec\t0\t2\n\n# swap was on /dev/sda5 during installation\nUUID=9f8e none            swap    sw              0       0\n";

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: mounts\ntasks:\n  - name: Mount options\n    id: mounts.opt\n    severity: medium\n    mount_options:\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn opt_gets_its_options_other_bytes_kept_converges_and_rolls_back() {
    require("findmnt");
    let env = Env::new();
    env.write("etc/fstab", FSTAB);
    let p = playbook(
        &env,
        "      path: /opt\n      options: [noexec, nosuid, nodev]\n",
    );
    let before = env.tree();
    let plan = env.harden(&["plan", "-p", &p]);
    expect_code(&plan, 0);
    assert!(
        stdout(&plan).contains("takes effect at the next mount/reboot"),
        "{}",
        stdout(&plan)
    );
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    assert!(
        !stdout(&out).contains("mount -o remount"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        env.read("etc/fstab"),
        FSTAB.replace("defaults,exec\t", "defaults,noexec,nosuid,nodev\t")
    );
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn findmnt_rejects_a_new_entry_with_a_filesystem_type_the_kernel_lacks() {
    require("findmnt");
    let env = Env::new();
    env.write("etc/fstab", FSTAB);
    std::fs::create_dir_all(env.path("srv")).unwrap();
    let p = playbook(
        &env,
        "      path: /srv\n      options: [nodev]\n      device: /dev/sdd1\n      fstype: ext44\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains("findmnt --verify: new problems") && err.contains("ext44 seems unsupported"),
        "{err}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn an_entry_written_with_a_trailing_slash_is_the_same_mount_point() {
    require("findmnt");
    let env = Env::new();
    env.write("etc/fstab", "/dev/sdc1 /srv/ ext4 defaults 0 2\n");
    let p = playbook(&env, "      path: /srv\n      options: [nodev]\n");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    assert_eq!(
        env.read("etc/fstab"),
        "/dev/sdc1 /srv/ ext4 defaults,nodev 0 2\n"
    );
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
}

#[test]
fn a_missing_entry_is_created_only_with_device_and_fstype() {
    require("findmnt");
    let env = Env::new();
    env.write("etc/fstab", FSTAB);
    std::fs::create_dir_all(env.path("dev/shm")).unwrap();
    let bare = playbook(
        &env,
        "      path: /dev/shm\n      options: [noexec, nosuid, nodev]\n",
    );
    let out = env.harden(&["plan", "-p", &bare]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("no fstab entry for /dev/shm; give `device` and `fstype`"),
        "{}",
        stderr(&out)
    );
    let p = playbook(
        &env,
        "      path: /dev/shm\n      options: [noexec, nosuid, nodev]\n      device: tmpfs\n      fstype: tmpfs\n      remount: true\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("not remounted: offline root"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        env.read("etc/fstab"),
        format!("{FSTAB}tmpfs\t/dev/shm\ttmpfs\tdefaults,noexec,nosuid,nodev\t0\t0\n")
    );
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
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
