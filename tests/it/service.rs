//! `service`: units enabled, disabled, masked and unmasked as the symlinks
//! `systemctl` makes from `[Install]`, on temp roots. The real
//! `systemctl --root` agrees with harden after apply and after rollback; links
//! are created, retargeted and removed without ever being followed; rollback
//! restores the tree byte for byte; a unit the root lacks fails its rule only.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const VENDOR: &str = "usr/lib/systemd/system";

/// A root with units like Debian's: a service with an alias and a socket it
/// brings along (`Also=`), a static unit, and a target.
fn units() -> Env {
    let env = Env::new();
    env.write(
        &format!("{VENDOR}/app.service"),
        "[Unit]\nDescription=App\n\n[Service]\nExecStart=/bin/true\n\n[Install]\n\
         WantedBy=multi-user.target\nAlias=application.service\nAlso=app.socket\n",
    );
    env.write(
        &format!("{VENDOR}/app.socket"),
        "[Socket]\nListenStream=9999\n\n[Install]\nWantedBy=sockets.target\nRequiredBy=app.service\n",
    );
    env.write(
        &format!("{VENDOR}/static.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    env.write(
        &format!("{VENDOR}/multi-user.target"),
        "[Unit]\nDescription=Multi-User\n",
    );
    env.write(
        &format!("{VENDOR}/sockets.target"),
        "[Unit]\nDescription=Sockets\n",
    );
    std::fs::create_dir_all(env.path("etc/systemd/system")).unwrap();
    env
}

/// What the real `systemctl --root` says of each unit (`is-enabled`).
pub fn is_enabled(root: &Path, units: &[&str]) -> Vec<String> {
    require("systemctl");
    units
        .iter()
        .map(|u| {
            let out = Command::new("systemctl")
                .arg(format!("--root={}", root.display()))
                .args(["is-enabled", u])
                .output()
                .unwrap();
            let said = format!("{}{}", stdout(&out), stderr(&out));
            said.lines().next().unwrap_or_default().trim().to_string()
        })
        .collect()
}

fn pb(env: &Env, tasks: &str) -> String {
    env.playbook("svc.yml", &format!("name: svc\ntasks:\n{tasks}"))
        .to_string_lossy()
        .into_owned()
}

fn link(env: &Env, rel: &str) -> String {
    std::fs::read_link(env.path(rel))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn enable_makes_the_install_links_and_systemctl_agrees() {
    let env = units();
    let p = pb(
        &env,
        "  - name: app on\n    id: svc.app\n    service: { name: app, enabled: true }\n",
    );
    assert_eq!(
        is_enabled(&env.root, &["app.service", "app.socket"]),
        ["disabled", "disabled"]
    );
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    assert_eq!(env.tree(), before, "plan wrote something");
    let text = stdout(&out);
    for want in [
        "/etc/systemd/system/multi-user.target.wants/app.service: enable app.service: create symlink -> /usr/lib/systemd/system/app.service",
        "/etc/systemd/system/application.service: enable app.service: create symlink",
        "/etc/systemd/system/sockets.target.wants/app.socket: enable app.socket",
        "/etc/systemd/system/app.service.requires/app.socket: enable app.socket",
        "then: systemctl daemon-reload",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("daemon-reload skipped"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        link(
            &env,
            "etc/systemd/system/multi-user.target.wants/app.service"
        ),
        "/usr/lib/systemd/system/app.service"
    );
    assert_eq!(
        is_enabled(&env.root, &["app.service", "app.socket"]),
        ["enabled", "enabled"]
    );
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the tree");
    assert_eq!(
        is_enabled(&env.root, &["app.service", "app.socket"]),
        ["disabled", "disabled"]
    );
}

#[test]
fn disable_removes_every_link_to_the_unit_and_its_aliases_but_not_a_mask() {
    let env = units();
    let on = pb(
        &env,
        "  - name: app on\n    id: svc.app\n    service: { name: app, enabled: true }\n",
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &on]), 2);
    // An extra link an admin made by hand also names the unit: disable removes it.
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/app.service",
        env.path("etc/systemd/system/sockets.target.wants/app.service"),
    )
    .unwrap();
    let before = env.tree();
    let off = pb(
        &env,
        "  - name: app off\n    id: svc.app\n    service: { name: app.service, enabled: false }\n",
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &off]), 2);
    assert_eq!(
        is_enabled(&env.root, &["app.service", "app.socket"]),
        ["disabled", "disabled"]
    );
    let left: Vec<String> = fingerprint(&env.root)
        .into_iter()
        .filter(|(_, v)| v.starts_with("link"))
        .map(|(k, _)| k)
        .collect();
    assert!(left.is_empty(), "links left: {left:?}");
    // The .wants directories stay, as systemctl leaves them.
    assert!(
        env.path("etc/systemd/system/multi-user.target.wants")
            .is_dir()
    );
    expect_code(&env.harden(&["plan", "-p", &off, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn mask_and_unmask_link_to_dev_null_and_roll_back() {
    let env = units();
    let before = env.tree();
    let mask = pb(
        &env,
        "  - name: no app\n    id: svc.mask\n    service: { name: app, masked: true }\n",
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &mask]), 2);
    assert_eq!(link(&env, "etc/systemd/system/app.service"), "/dev/null");
    assert_eq!(is_enabled(&env.root, &["app.service"]), ["masked"]);
    expect_code(
        &env.harden(&["plan", "-p", &mask, "--detailed-exitcode"]),
        0,
    );
    // A masked unit cannot be enabled in the same breath.
    let both = pb(
        &env,
        "  - name: no app\n    id: svc.mask\n    service: { name: app, enabled: true }\n",
    );
    let out = env.harden(&["plan", "-p", &both]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("masked: false"), "{}", stderr(&out));
    let unmask = pb(
        &env,
        "  - name: app back\n    id: svc.mask\n    service: { name: app, masked: false }\n",
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &unmask]), 2);
    assert_eq!(env.tree(), before);
    // Roll back the unmask, then the mask: each restores exactly.
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(is_enabled(&env.root, &["app.service"]), ["masked"]);
}

#[test]
fn a_link_to_another_unit_is_retargeted_and_restored() {
    let env = units();
    env.write(
        &format!("{VENDOR}/old.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/old.service",
        env.path("etc/systemd/system/application.service"),
    )
    .unwrap();
    let before = env.tree();
    let p = pb(
        &env,
        "  - name: app on\n    id: svc.app\n    service: { name: app, enabled: true }\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("retarget symlink /usr/lib/systemd/system/old.service -> /usr/lib/systemd/system/app.service"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        link(&env, "etc/systemd/system/application.service"),
        "/usr/lib/systemd/system/app.service"
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
    assert_eq!(
        link(&env, "etc/systemd/system/application.service"),
        "/usr/lib/systemd/system/old.service"
    );
}

#[test]
fn links_are_never_followed() {
    let env = units();
    let outside = tempfile::tempdir().unwrap();
    // A planted directory link: enabling must not create anything through it.
    std::os::unix::fs::symlink(
        outside.path(),
        env.path("etc/systemd/system/multi-user.target.wants"),
    )
    .unwrap();
    let p = pb(
        &env,
        "  - name: app on\n    id: svc.app\n    service: { name: app, enabled: true }\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn a_unit_the_root_lacks_is_that_rules_error_and_a_static_unit_is_noted() {
    let env = units();
    let p = pb(
        &env,
        "  - name: ghost\n    id: svc.ghost\n    service: { name: nosuch, enabled: false }\n",
    );
    let out = env.harden(&["plan", "-p", &p]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("svc.ghost") && err.contains("the root has no unit nosuch.service"),
        "{err}"
    );
    let p = pb(
        &env,
        "  - name: static\n    id: svc.static\n    service: { name: static, enabled: true }\n",
    );
    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("no [Install] section (static)"),
        "{}",
        stdout(&out)
    );
    // state: offline, nothing runs: reported, never a change.
    let p = pb(
        &env,
        "  - name: run\n    id: svc.run\n    service: { name: app, state: started }\n",
    );
    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("state not managed (root"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_unit_file_in_etc_is_never_replaced_by_a_mask() {
    let env = units();
    env.write(
        "etc/systemd/system/local.service",
        "[Service]\nExecStart=/bin/true\n",
    );
    let p = pb(
        &env,
        "  - name: mask local\n    id: svc.local\n    service: { name: local, masked: true }\n",
    );
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("will not replace it"),
        "{}",
        stderr(&out)
    );
}

/// On the real Debian 12 root, harden and the real `systemctl --root` make the
/// same `/etc/systemd` link for link: one copy converged by harden (ssh and
/// fstrim.timer disabled, systemd-networkd enabled with its `Also=` units and
/// `Alias=`, ctrl-alt-del.target masked), another by `systemctl disable`,
/// `enable` and `mask`. Plan writes nothing, planning again after apply is
/// empty, `systemctl is-enabled` agrees, and rollback restores the tree byte
/// for byte. (`SysV` `rc?.d` links are systemctl's `systemd-sysv-install`
/// business, not harden's: skipped on both sides.)
#[test]
fn systemctl_makes_the_same_links_as_harden_on_a_debian12_root() {
    let ours = crate::debian_root::debian12();
    let theirs = crate::debian_root::debian12();
    let p = pb(
        &ours,
        "  - name: no ssh\n    id: svc.ssh\n    service: { name: ssh, enabled: false }\n\
         \x20 - name: no fstrim\n    id: svc.fstrim\n    service: { name: fstrim.timer, enabled: false }\n\
         \x20 - name: networkd\n    id: svc.networkd\n    service: { name: systemd-networkd, enabled: true }\n\
         \x20 - name: no reboot on ctrl-alt-del\n    id: svc.cad\n    service: { name: ctrl-alt-del.target, masked: true }\n",
    );
    let before = ours.tree();
    let plan = ours.harden(&["plan", "-p", &p]);
    expect_code(&plan, 0);
    assert_eq!(ours.tree(), before, "plan wrote something");
    assert!(
        stdout(&plan).contains("Plan: 9 changes"),
        "{}",
        stdout(&plan)
    );
    expect_code(&ours.harden(&["apply", "--yes", "-p", &p]), 2);
    expect_code(&ours.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);

    require("systemctl");
    for args in [
        &["disable", "ssh", "fstrim.timer"][..],
        &["enable", "systemd-networkd"],
        &["mask", "ctrl-alt-del.target"],
    ] {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", theirs.root.display()))
            .args(args)
            .env("SYSTEMCTL_SKIP_SYSV", "1")
            .output()
            .unwrap();
        expect_code(&out, 0);
    }
    assert_eq!(
        fingerprint(&ours.path("etc/systemd")),
        fingerprint(&theirs.path("etc/systemd")),
        "harden and systemctl --root made different links"
    );
    let units = [
        "ssh.service",
        "fstrim.timer",
        "systemd-networkd.service",
        "systemd-networkd.socket",
        "ctrl-alt-del.target",
    ];
    assert_eq!(
        is_enabled(&ours.root, &units),
        ["disabled", "disabled", "enabled", "enabled", "masked"]
    );

    expect_code(&ours.harden(&["rollback", "--yes"]), 0);
    assert_eq!(ours.tree(), before, "rollback did not restore the tree");
}

/// Units Debian ships masked (links to `/dev/null` in `/lib/systemd/system`:
/// `sudo.service`, `hwclock.service`) count as masked, as systemctl says:
/// `masked: true` (and `enabled: false`) on them plans nothing; enabling,
/// starting or unmasking one is that rule's error, naming the vendor's mask.
#[test]
fn units_the_vendor_masked_count_as_masked_on_a_debian12_root() {
    let env = crate::debian_root::debian12();
    let units = ["sudo.service", "hwclock.service"];
    for u in units {
        assert_eq!(link(&env, &format!("{VENDOR}/{u}")), "/dev/null", "{u}");
    }
    assert_eq!(is_enabled(&env.root, &units), ["masked", "masked"]);
    let p = pb(
        &env,
        "  - name: sudo stays masked\n    id: svc.sudo\n    service: { name: sudo, masked: true }\n\
         \x20 - name: hwclock stays off\n    id: svc.hwclock\n    service: { name: hwclock.service, masked: true, enabled: false }\n",
    );
    let before = env.tree();
    let plan = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&plan, 0);
    assert!(stdout(&plan).contains("0 changes"), "{}", stdout(&plan));
    assert_eq!(env.tree(), before, "plan wrote something");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 0);
    assert_eq!(
        env.tree(),
        before,
        "apply of a converged plan wrote something"
    );

    for (params, id) in [
        ("{ name: sudo, enabled: true }", "svc.enable"),
        ("{ name: sudo, masked: false }", "svc.unmask"),
        ("{ name: hwclock, state: started }", "svc.start"),
    ] {
        let p = pb(
            &env,
            &format!("  - name: vendor mask\n    id: {id}\n    service: {params}\n"),
        );
        let out = env.harden(&["plan", "-p", &p]);
        expect_code(&out, 1);
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            said.contains(&format!("FAILED {id}"))
                && said.contains("is masked by the vendor")
                && said.contains("-> /dev/null"),
            "{said}"
        );
        assert!(!said.contains("cannot read the unit"), "{said}");
    }
    assert_eq!(env.tree(), before);
}
