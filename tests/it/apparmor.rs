//! `apparmor`: profiles pass the real `apparmor_parser` (parse only) before
//! install, against the target root's abstractions when it has them; the kernel
//! is never touched (an offline root, and this machine's kernel has no AppArmor).

use crate::support::*;

const FILE: &str = "etc/apparmor.d/docker-postiz";

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: aa\ntasks:\n  - name: Confine the app\n    id: aa.app\n    severity: medium\n    apparmor:\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn builtin_profile_installs_converges_and_rolls_back() {
    require("apparmor_parser");
    let env = Env::new();
    let p = playbook(&env, "      name: docker-postiz\n");
    let before = env.tree();
    let plan = env.harden(&["plan", "-p", &p]);
    expect_code(&plan, 0);
    let text = format!("{}{}", stdout(&plan), stderr(&plan));
    assert!(text.contains("not loaded: offline root"), "{text}");
    assert!(text.contains("this machine's /etc/apparmor.d"), "{text}");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    let got = env.read(FILE);
    assert!(got.contains("profile docker-postiz flags=(attach_disconnected,mediate_deleted) {"));
    assert_eq!(env.mode(FILE), 0o644);
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn the_real_parser_rejects_a_broken_profile_and_nothing_changes() {
    require("apparmor_parser");
    let env = Env::new();
    let p = playbook(
        &env,
        "      name: app\n      content: |\n        profile app {\n          /app/** rwz,\n        }\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains("apparmor_parser") && err.contains("rejected"),
        "{err}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn includes_resolve_in_the_roots_own_profile_directory() {
    require("apparmor_parser");
    let env = Env::new();
    let p = playbook(
        &env,
        "      name: app\n      content: |\n        profile app {\n          #include <abstractions/only-in-root>\n        }\n",
    );
    // The machine has no such abstraction: with the root's directory it parses.
    env.write(
        "etc/apparmor.d/abstractions/only-in-root",
        "  /srv/app/** r,\n",
    );
    let before = env.tree();
    let plan = env.harden(&["plan", "-p", &p]);
    assert!(
        !stdout(&plan).contains("this machine's"),
        "{}",
        stdout(&plan)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
    // Without it in the root, the same profile fails the parse.
    std::fs::remove_file(env.path("etc/apparmor.d/abstractions/only-in-root")).unwrap();
    let before = env.tree();
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 6);
    assert_eq!(env.tree(), before);
}

#[test]
fn a_profile_name_that_is_not_a_plain_file_name_is_refused() {
    let env = Env::new();
    let out = env.harden(&["plan", "-p", &playbook(&env, "      name: ../x\n")]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("rule aa.app"), "{}", stderr(&out));
    let out = env.harden(&["plan", "-p", &playbook(&env, "      name: nope\n")]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("no built-in profile `nope`"),
        "{}",
        stderr(&out)
    );
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
