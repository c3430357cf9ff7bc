//! `apparmor`: profiles pass the real `apparmor_parser` (parse only) before
//! install, against the target root's abstractions when it has them; the kernel
//! is never touched (an offline root, and this machine's kernel has no AppArmor).

use crate::support::*;

const FILE: &str = "etc/apparmor.d/docker-postiz";

/// The confinement rule with `params`.
fn confine(params: serde_json::Value) -> Playbook {
    Playbook::new("aa").task(
        Task::new("aa.app", "apparmor", params)
            .name("Confine the app")
            .severity("medium"),
    )
}

#[test]
fn builtin_profile_installs_converges_and_rolls_back() {
    require("apparmor_parser");
    let t = Test::new().playbook(&confine(json!({ "name": "docker-postiz" })));
    let before = t.tree();
    let text = t.plan().code(0).both();
    assert_has(&text, "not loaded: offline root");
    assert_has(&text, "this machine's /etc/apparmor.d");
    t.converge_from(&before, |_| {
        let got = t.read(FILE);
        assert!(
            got.contains("profile docker-postiz flags=(attach_disconnected,mediate_deleted) {")
        );
        assert_eq!(t.mode(FILE), 0o644);
    });
}

#[test]
fn the_real_parser_rejects_a_broken_profile_and_nothing_changes() {
    require("apparmor_parser");
    let t = Test::new().playbook(&confine(json!({
        "name": "app",
        "content": "profile app {\n  /app/** rwz,\n}\n"
    })));
    let before = t.tree();
    let err = t.apply().code(6).stderr();
    assert!(
        err.contains("apparmor_parser") && err.contains("rejected"),
        "{err}"
    );
    assert_eq!(t.tree(), before);
}

#[test]
fn includes_resolve_in_the_roots_own_profile_directory() {
    require("apparmor_parser");
    // The machine has no such abstraction: with the root's directory it parses.
    let t = Test::new()
        .playbook(&confine(json!({
            "name": "app",
            "content": "profile app {\n  #include <abstractions/only-in-root>\n}\n"
        })))
        .file(
            "etc/apparmor.d/abstractions/only-in-root",
            "  /srv/app/** r,\n",
        );
    let before = t.tree();
    let plan = t.plan();
    assert!(
        !plan.stdout().contains("this machine's"),
        "{}",
        plan.stdout()
    );
    t.converge_from(&before, |_| {});
    // Without it in the root, the same profile fails the parse.
    std::fs::remove_file(t.path("etc/apparmor.d/abstractions/only-in-root")).unwrap();
    let before = t.tree();
    t.apply().code(6);
    assert_eq!(t.tree(), before);
}

#[test]
fn a_profile_name_that_is_not_a_plain_file_name_is_refused() {
    let t = Test::new().playbook(&confine(json!({ "name": "../x" })));
    t.plan().code(1).stderr_has("rule aa.app");
    t.set_playbook(&confine(json!({ "name": "nope" })));
    t.plan().code(1).stderr_has("no built-in profile `nope`");
}

#[test]
fn on_the_running_system_the_profile_loads_only_with_an_apparmor_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("pb.yml");
    std::fs::write(
        &pb,
        format!(
            "name: a\ntasks:\n  - name: p\n    id: a.p\n    apparmor:\n      name: docker-postiz\n      dir: {}\n",
            dir.path().join("apparmor.d").display()
        ),
    )
    .unwrap();
    let out = plan_live(dir.path(), &pb);
    expect_code(&out, 0);
    let text = stdout(&out);
    if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        assert!(text.contains("apparmor_parser -r"), "{text}");
    } else {
        assert!(
            text.contains("not loaded: kernel without AppArmor")
                && !text.contains("apparmor_parser -r"),
            "{text}"
        );
    }
}
