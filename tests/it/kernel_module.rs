//! `kernel_module`: one modprobe.d drop-in with `blacklist NAME` and `install NAME
//! /bin/false`, read back by the real `modprobe` (its configuration dump, and a
//! dry run of loading a disabled module, which runs `/bin/false` instead). Plan
//! writes nothing, apply then plan is empty, rollback restores the tree. On the
//! running system the plan notes the modules loaded now and unloads nothing.

use std::process::Command;

use crate::support::*;

/// The rare-modules rule, its list written as YAML (`km.yml`): the loader's
/// positions in errors are part of what is tested.
fn playbook(env: &Env, disable: &str) -> String {
    env.playbook(
        "km.yml",
        &format!(
            "name: km\ntasks:\n  - name: Rare modules\n    id: kernel.modules\n    kernel_module:\n      disable: [{disable}]\n"
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// The rare-modules rule disabling `disable`.
fn rare(disable: &[&str]) -> Playbook {
    Playbook::new("km").task(
        Task::new(
            "kernel.modules",
            "kernel_module",
            json!({ "disable": disable }),
        )
        .name("Rare modules"),
    )
}

/// `modprobe -C ROOT/etc/modprobe.d ARGS`, asserting success.
fn modprobe(env: &Env, args: &[&str]) -> String {
    require("modprobe");
    let out = Command::new("modprobe")
        .arg("-C")
        .arg(env.path("etc/modprobe.d"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "modprobe {args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn drop_in_read_back_by_modprobe_and_rolled_back() {
    let env = Test::new()
        .file(
            "etc/modprobe.d/local.conf",
            "options snd_hda_intel power_save=1\n",
        )
        .playbook(&rare(&["cramfs", "usb-storage", "dccp"]));
    let before = env.tree();
    env.plan_read_only()
        .code(0)
        .stdout_has("create drop-in: disable cramfs, usb-storage, dccp")
        .stdout_has("loaded modules not checked");
    env.converge_from(&before, |_| applied_rare(&env));

    // A changed list rewrites the drop-in harden owns.
    env.apply().code(2);
    env.set_playbook(&rare(&["cramfs"]));
    env.plan().stdout_has("-blacklist dccp");
}

/// The applied drop-in, as the real modprobe reads it.
fn applied_rare(env: &Env) {
    assert_eq!(env.mode("etc/modprobe.d/harden.conf"), 0o644);
    let config = modprobe(env, &["--showconfig"]);
    for want in [
        "blacklist cramfs",
        "install cramfs /bin/false",
        "blacklist usb_storage",
        "install usb_storage /bin/false",
        "install dccp /bin/false",
        "options snd_hda_intel power_save=1",
    ] {
        assert!(
            config.lines().any(|l| l == want),
            "{want} missing:\n{config}"
        );
    }
    // A dry run of loading it runs the install command, never the module.
    assert_eq!(
        modprobe(env, &["-n", "-v", "cramfs"]).trim(),
        "install /bin/false"
    );
}

#[test]
fn bad_names_are_refused_when_the_playbook_is_read() {
    let env = Env::new();
    for bad in [
        "\"cramfs\\ninstall sshd /bin/false\"",
        "\"a b\"",
        "usb-storage, usb_storage",
    ] {
        let out = env.harden(&["plan", "-p", &playbook(&env, bad)]);
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains("km.yml:6:"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    let p = env.playbook(
        "file.yml",
        "tasks:\n  - name: t\n    id: t\n    kernel_module: { disable: [cramfs], file: /etc/modprobe.d/harden }\n",
    );
    let out = env.harden(&["plan", "-p", p.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains(".conf"), "{}", stderr(&out));
}

/// On the running system: the plan names a disabled module that is loaded now
/// (or says it cannot tell, where /proc/modules is missing) and writes nothing.
#[test]
fn live_plan_notes_loaded_modules() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = std::fs::read_to_string("/proc/modules").ok();
    let first = loaded
        .as_deref()
        .and_then(|t| t.lines().next())
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string);
    let name = first.clone().unwrap_or_else(|| "cramfs".into());
    let p = dir.path().join("live.yml");
    std::fs::write(
        &p,
        format!(
            "tasks:\n  - name: t\n    id: kernel.modules\n    kernel_module: {{ disable: [{name}], file: /etc/modprobe.d/harden-test-never-written.conf }}\n"
        ),
    )
    .unwrap();
    let out = plan_live(dir.path(), &p);
    expect_code(&out, 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    match (first, loaded) {
        (Some(name), _) => assert!(
            all.contains(&format!("{name} is loaded now")) && all.contains("never unloads"),
            "{all}"
        ),
        (None, Some(_)) => assert!(!all.contains("is loaded now"), "{all}"),
        (None, None) => assert!(all.contains("/proc/modules is unreadable"), "{all}"),
    }
    assert!(!std::path::Path::new("/etc/modprobe.d/harden-test-never-written.conf").exists());
}
