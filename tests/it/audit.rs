//! Audit-only rules (`enforce: false`) and benchmark references: an audit-only
//! rule's drift is planned and reported but never applied, `check` counts it, and
//! the benchmark items a rule covers travel with its changes into the human plan,
//! the JSON plan and the check report.

use crate::support::*;

const PLAYBOOK: &str = r#"
name: audit
tasks:
  - name: motd is private
    id: motd.mode
    severity: low
    references: { cis: "1.7.1", anssi: "R50" }
    file: { path: /etc/motd, mode: "0600" }
  - name: issue is private, but only audited
    id: issue.mode
    severity: medium
    enforce: false
    references: { cis: "1.7.2" }
    file: { path: /etc/issue, mode: "0600" }
"#;

fn env() -> (Env, String) {
    let env = Env::new();
    env.write("etc/motd", "hello\n");
    env.chmod("etc/motd", 0o644);
    env.write("etc/issue", "Debian\n");
    env.chmod("etc/issue", 0o644);
    let pb = env.playbook("audit.yml", PLAYBOOK);
    (env, pb.display().to_string())
}

#[test]
fn an_audit_only_rule_is_planned_and_checked_but_never_applied() {
    let (env, pb) = env();
    let plan = env.harden(&["plan", "-p", &pb]);
    expect_code(&plan, 0);
    let text = stdout(&plan);
    assert!(text.contains("Audit only"), "{text}");
    assert!(text.contains("issue.mode"), "{text}");
    assert!(text.contains("1 change"), "{text}");
    assert!(text.contains("1 audit-only finding"), "{text}");

    let json = env.harden(&["plan", "-p", &pb, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["audit"][0]["rule_id"], "issue.mode", "{v}");
    assert_eq!(v["summary"]["audit"], 1, "{v}");

    let apply = env.harden(&["apply", "--yes", "-p", &pb]);
    expect_code(&apply, 2);
    assert_eq!(env.mode("etc/motd"), 0o600);
    assert_eq!(
        env.mode("etc/issue"),
        0o644,
        "an audit-only rule changed the host"
    );

    // The enforced rule converged; the audited drift stays, and check says so.
    let again = env.harden(&["plan", "-p", &pb, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["audit"].as_array().unwrap().len(), 1, "{v}");
    let check = env.harden(&["check", "-p", &pb]);
    expect_code(&check, 2);
    let out = stdout(&check);
    assert!(
        out.contains("drift (audit only) [medium] issue.mode"),
        "{out}"
    );
    // A second apply has nothing to do: audit-only drift is not work.
    let apply = env.harden(&["apply", "--yes", "-p", &pb]);
    expect_code(&apply, 0);
    assert_eq!(env.mode("etc/issue"), 0o644);
}

#[test]
fn references_are_shown_in_plans_and_reports() {
    let (env, pb) = env();
    let plan = env.harden(&["plan", "-p", &pb]);
    let text = stdout(&plan);
    assert!(text.contains("covers: anssi R50, cis 1.7.1"), "{text}");
    assert!(text.contains("covers: cis 1.7.2"), "{text}");
    let json = env.harden(&["plan", "-p", &pb, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changes"][0]["references"]["cis"], "1.7.1", "{v}");
    assert_eq!(v["audit"][0]["references"]["cis"], "1.7.2", "{v}");

    expect_code(&env.harden(&["check", "-p", &pb]), 2);
    let r = env.newest_report();
    assert_eq!(r["changes"][0]["references"]["anssi"], "R50", "{r}");
    assert_eq!(r["audit"][0]["result"], "audit-only", "{r}");
    assert_eq!(r["by_severity"]["medium"], 1, "{r}");
}

#[test]
fn a_reference_must_be_a_map_of_strings() {
    let env = Env::new();
    let pb = env.playbook(
        "bad.yml",
        "name: bad\ntasks:\n  - name: x\n    id: x\n    references: [cis]\n    file: { path: /etc/motd, mode: \"0600\" }\n",
    );
    let out = env.harden(&["plan", "-p", &pb.display().to_string()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("references"), "{}", stderr(&out));
}
