//! `systemd_unit`: hardening drop-ins measured with the real `systemd-analyze
//! security --offline` on a staged copy, applied, converged and rolled back.

use crate::support::*;

const UNIT: &str = "[Unit]\nDescription=Demo daemon\n\n[Service]\nExecStart=/usr/bin/demo --listen 127.0.0.1:4000\n\n[Install]\nWantedBy=multi-user.target\n";

/// A usr-merged root (`/lib -> usr/lib`) with the unit in `/usr/lib/systemd/system`.
fn unit_env() -> Env {
    require("systemd-analyze");
    let env = Env::new();
    env.write("usr/lib/systemd/system/demo.service", UNIT);
    std::os::unix::fs::symlink("usr/lib", env.path("lib")).unwrap();
    env
}

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: units\ntasks:\n  - name: Harden demo\n    id: unit.demo\n    systemd_unit:\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// `(before, after)` from the change summary `exposure B -> A`.
fn scores(out: &str) -> (f64, f64) {
    let rest = out
        .split("exposure ")
        .nth(1)
        .unwrap_or_else(|| panic!("no exposure in\n{out}"));
    let mut it = rest.split_whitespace();
    let b = it.next().unwrap().parse().unwrap();
    assert_eq!(it.next(), Some("->"));
    let a = it.next().unwrap().parse().unwrap();
    (b, a)
}

#[test]
fn strict_scores_lower_than_guide_which_scores_lower_than_none() {
    let env = unit_env();
    let guide = playbook(&env, "      unit: demo.service\n      level: guide\n");
    let out = env.harden(&["plan", "-p", &guide]);
    expect_code(&out, 0);
    let (none, with_guide) = scores(&stdout(&out));
    // restart defaults to true: daemon-reload first, then the restart.
    assert!(
        stdout(&out).contains("then: systemctl daemon-reload, restart demo.service"),
        "{}",
        stdout(&out)
    );
    let strict = playbook(&env, "      unit: demo.service\n      level: strict\n");
    let out = env.harden(&["plan", "-p", &strict]);
    expect_code(&out, 0);
    let (none2, with_strict) = scores(&stdout(&out));
    assert!((none - none2).abs() < f64::EPSILON);
    assert!(
        with_strict < with_guide && with_guide < none,
        "strict {with_strict}, guide {with_guide}, none {none}"
    );
    // TESTING.md measured 9.6 bare and 8.0 with the guide's six directives.
    assert!((none - 9.6).abs() < 0.05 && (with_guide - 8.0).abs() < 0.05);
}

#[test]
fn apply_then_plan_is_empty_then_rollback_is_byte_identical() {
    let env = unit_env();
    let p = playbook(
        &env,
        "      unit: demo.service\n      level: strict\n      restart: false\n      directives: { ReadWritePaths: [/var/lib/demo, /var/log/demo] }\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    let text = env.read("etc/systemd/system/demo.service.d/50-harden.conf");
    for want in [
        "[Service]\nPrivateTmp=true\nProtectHome=true\nProtectSystem=full\nPrivateDevices=true\nNoNewPrivileges=true\nCapabilityBoundingSet=~CAP_SYS_ADMIN ",
        "SystemCallFilter=@system-service\n",
        "ReadWritePaths=/var/lib/demo\nReadWritePaths=/var/log/demo\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    assert_eq!(
        env.mode("etc/systemd/system/demo.service.d/50-harden.conf"),
        0o644
    );
    // Offline root: the handlers are reported as skipped, not failed.
    assert!(stderr(&out).contains("daemon-reload"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("restart demo.service"),
        "{}",
        stderr(&out)
    );
    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the tree");
}

#[test]
fn unknown_directive_names_are_rejected_by_harden() {
    let env = unit_env();
    let p = playbook(
        &env,
        "      unit: demo.service\n      directives: { ProtectSystm: strict }\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("ProtectSystm"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
}

#[test]
fn values_systemd_cannot_parse_are_rejected_by_systemd_analyze() {
    let env = unit_env();
    let p = playbook(
        &env,
        "      unit: demo.service\n      directives: { ProtectSystem: sometimes }\n",
    );
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("systemd rejects the drop-in") && err.contains("sometimes"),
        "{err}"
    );
}

#[test]
fn a_missing_unit_is_an_error_and_when_skips_it() {
    let env = unit_env();
    let p = playbook(&env, "      unit: akkoma.service\n");
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("akkoma.service not found"),
        "{}",
        stderr(&out)
    );
    let p = env.playbook(
        "skip.yml",
        "tasks:\n  - name: Harden akkoma\n    id: unit.akkoma\n    when: { exists: /etc/systemd/system/akkoma.service }\n    systemd_unit: { unit: akkoma.service }\n",
    );
    let out = env.harden(&["plan", "-p", p.to_str().unwrap(), "--detailed-exitcode"]);
    expect_code(&out, 0);
}
