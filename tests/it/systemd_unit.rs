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

/// The demo hardening rule with `params`, on the demo unit's root.
fn demo(params: serde_json::Value) -> Test {
    Test::on(unit_env()).playbook(&units(params))
}

fn units(params: serde_json::Value) -> Playbook {
    Playbook::new("units").task(Task::new("unit.demo", "systemd_unit", params).name("Harden demo"))
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
    let t = demo(json!({ "unit": "demo.service", "level": "guide" }));
    // restart defaults to true: daemon-reload first, then the restart.
    let out = t
        .plan()
        .code(0)
        .stdout_has("then: systemctl daemon-reload, restart demo.service");
    let (none, with_guide) = scores(&out.stdout());
    t.set_playbook(&units(json!({ "unit": "demo.service", "level": "strict" })));
    let (none2, with_strict) = scores(&t.plan().code(0).stdout());
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
    let t = demo(json!({
        "unit": "demo.service",
        "level": "strict",
        "restart": false,
        "directives": { "ReadWritePaths": ["/var/lib/demo", "/var/log/demo"] }
    }));
    t.converge(|out| {
        let text = t.read("etc/systemd/system/demo.service.d/50-harden.conf");
        for want in [
            "[Service]\nPrivateTmp=true\nProtectHome=true\nProtectSystem=full\nPrivateDevices=true\nNoNewPrivileges=true\nCapabilityBoundingSet=~CAP_SYS_ADMIN ",
            "SystemCallFilter=@system-service\n",
            "ReadWritePaths=/var/lib/demo\nReadWritePaths=/var/log/demo\n",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        assert_eq!(
            t.mode("etc/systemd/system/demo.service.d/50-harden.conf"),
            0o644
        );
        // Offline root: the handlers are reported as skipped, not failed.
        assert_has(&out.stderr(), "daemon-reload");
        assert!(
            !out.stderr().contains("restart demo.service"),
            "{}",
            out.stderr()
        );
    });
}

#[test]
fn unknown_directive_names_are_rejected_by_harden() {
    let t = demo(json!({ "unit": "demo.service", "directives": { "ProtectSystm": "strict" } }));
    let before = t.tree();
    t.apply().code(6).stderr_has("ProtectSystm");
    assert_eq!(t.tree(), before);
}

#[test]
fn values_systemd_cannot_parse_are_rejected_by_systemd_analyze() {
    let t = demo(json!({ "unit": "demo.service", "directives": { "ProtectSystem": "sometimes" } }));
    let err = t.plan().code(1).stderr();
    assert!(
        err.contains("systemd rejects the drop-in") && err.contains("sometimes"),
        "{err}"
    );
}

#[test]
fn a_missing_unit_is_an_error_and_when_skips_it() {
    let t = demo(json!({ "unit": "akkoma.service" }));
    t.plan().code(1).stderr_has("akkoma.service not found");
    t.set_playbook(
        &Playbook::unnamed().task(
            Task::new(
                "unit.akkoma",
                "systemd_unit",
                json!({ "unit": "akkoma.service" }),
            )
            .name("Harden akkoma")
            .when(json!({ "exists": "/etc/systemd/system/akkoma.service" })),
        ),
    );
    t.replan().code(0);
}
