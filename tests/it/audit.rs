//! Audit-only rules (`enforce: false`) and benchmark references: an audit-only
//! rule's drift is planned and reported but never applied, `check` counts it, and
//! the benchmark items a rule covers travel with its changes into the human plan,
//! the JSON plan and the check report.

use crate::support::*;

/// motd enforced private, issue only audited, each with its benchmark items.
fn audit() -> Playbook {
    Playbook::new("audit")
        .task(
            Task::new(
                "motd.mode",
                "file",
                json!({ "path": "/etc/motd", "mode": "0600" }),
            )
            .name("motd is private")
            .severity("low")
            .field("references", json!({ "cis": "1.7.1", "anssi": "R50" })),
        )
        .task(
            Task::new(
                "issue.mode",
                "file",
                json!({ "path": "/etc/issue", "mode": "0600" }),
            )
            .name("issue is private, but only audited")
            .severity("medium")
            .field("enforce", json!(false))
            .field("references", json!({ "cis": "1.7.2" })),
        )
}

/// motd and issue readable by all, and the audit playbook.
fn env() -> Test {
    Test::new()
        .file("etc/motd", "hello\n")
        .file_mode("etc/motd", 0o644)
        .file("etc/issue", "Debian\n")
        .file_mode("etc/issue", 0o644)
        .playbook(&audit())
}

/// The JSON plan.
fn json_plan(env: &Test) -> serde_json::Value {
    serde_json::from_str(&env.plan_args(&["--format", "json"]).stdout()).unwrap()
}

#[test]
fn an_audit_only_rule_is_planned_and_checked_but_never_applied() {
    let env = env();
    let text = env.plan().code(0).stdout();
    assert!(text.contains("Audit only"), "{text}");
    assert!(text.contains("issue.mode"), "{text}");
    assert!(text.contains("1 change"), "{text}");
    assert!(text.contains("1 audit-only finding"), "{text}");

    let v = json_plan(&env);
    assert_eq!(v["changes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["audit"][0]["rule_id"], "issue.mode", "{v}");
    assert_eq!(v["summary"]["audit"], 1, "{v}");

    env.apply().code(2);
    assert_eq!(env.mode("etc/motd"), 0o600);
    assert_eq!(
        env.mode("etc/issue"),
        0o644,
        "an audit-only rule changed the host"
    );

    // The enforced rule converged; the audited drift stays, and check says so.
    let v = json_plan(&env);
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["audit"].as_array().unwrap().len(), 1, "{v}");
    env.check()
        .code(2)
        .stdout_has("drift (audit only) [medium] issue.mode");
    // A second apply has nothing to do: audit-only drift is not work.
    env.apply().code(0);
    assert_eq!(env.mode("etc/issue"), 0o644);
}

#[test]
fn references_are_shown_in_plans_and_reports() {
    let env = env();
    let text = env.plan().stdout();
    assert!(text.contains("covers: anssi R50, cis 1.7.1"), "{text}");
    assert!(text.contains("covers: cis 1.7.2"), "{text}");
    let v = json_plan(&env);
    assert_eq!(v["changes"][0]["references"]["cis"], "1.7.1", "{v}");
    assert_eq!(v["audit"][0]["references"]["cis"], "1.7.2", "{v}");

    env.check().code(2);
    let r = env.newest_report();
    assert_eq!(r["changes"][0]["references"]["anssi"], "R50", "{r}");
    assert_eq!(r["audit"][0]["result"], "audit-only", "{r}");
    assert_eq!(r["by_severity"]["medium"], 1, "{r}");
}

#[test]
fn a_reference_must_be_a_map_of_strings() {
    Test::new()
        .playbook(
            &Playbook::new("bad").task(
                Task::new("x", "file", json!({ "path": "/etc/motd", "mode": "0600" }))
                    .field("references", json!(["cis"])),
            ),
        )
        .plan()
        .code(1)
        .stderr_has("references");
}
