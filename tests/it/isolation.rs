//! One broken rule never blocks the rest (issue 11, Puppet's model): a rule that
//! cannot be planned, or whose candidate its validator rejects, is an error entry
//! for that rule; every other rule is planned and applied; `apply` exits 6 and
//! names the failed rules; `--strict` applies nothing; `check` counts failed and
//! skipped rules as not compliant and its report names them. Parse errors and the
//! anti-lockout guards still stop everything.

use crate::support::*;

/// Five rules: two good, one the root cannot plan (no such unit), one skipped by
/// `when:`, one whose candidate its validator rejects.
const MIXED: &str = r#"
name: mixed
tasks:
  - name: Passwd mode
    id: files.passwd
    severity: critical
    file: { path: /etc/passwd, mode: "0644", owner: root, group: root }
  - name: A unit the root lacks
    id: svc.ghost
    service: { name: ghost, enabled: true }
  - name: Only on RedHat
    id: rh.only
    when: { os_family: redhat }
    file: { path: /etc/rh, content: "x\n" }
  - name: Motd the validator rejects
    id: files.motd
    file: { path: /etc/motd, content: "hi\n", validate: ["/bin/false", "%s"] }
  - name: Issue
    id: files.issue
    file: { path: /etc/issue, content: "Authorized uses only\n" }
"#;

const GHOST: &str = "the root has no unit ghost.service";

fn mixed() -> (Env, String) {
    let env = Env::new();
    env.chmod("etc/passwd", 0o666);
    let p = env.playbook("mixed.yml", MIXED).display().to_string();
    (env, p)
}

fn ids(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule_id"].as_str().unwrap())
        .collect()
}

#[test]
fn plan_shows_every_rule_and_a_line_per_failed_rule() {
    let (env, p) = mixed();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    let text = stdout(&out);
    for want in [
        "files.passwd (Passwd mode)",
        "files.motd (Motd the validator rejects)",
        "files.issue (Issue)",
        "FAILED svc.ghost: the root has no unit ghost.service",
        "skipped rh.only: os_family is debian",
        "Plan: 3 changes (1 critical, 2 medium), 1 rule failed, 1 skipped.",
    ] {
        assert!(text.contains(want), "`{want}` not in\n{text}");
    }
    assert!(
        stderr(&out).contains(&format!("harden: error: rule svc.ghost: {GHOST}")),
        "{}",
        stderr(&out)
    );
    assert!(!env.state.exists(), "plan wrote the state directory");

    let out = env.harden(&["plan", "-p", &p, "--format", "json"]);
    expect_code(&out, 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["errors"].as_array().unwrap().len(), 1, "{doc}");
    let e = &doc["errors"][0];
    assert_eq!(e["rule_id"], "svc.ghost");
    assert_eq!(e["task"], "A unit the root lacks");
    assert!(e["message"].as_str().unwrap().starts_with(GHOST), "{e}");
    assert_eq!(
        doc["skipped"],
        serde_json::json!([{"rule_id": "rh.only", "reason": "os_family is debian, not redhat"}])
    );
    assert_eq!(doc["summary"]["errors"], 1);
    assert_eq!(doc["summary"]["skipped"], 1);
    assert_eq!(
        ids(&doc["changes"]),
        ["files.passwd", "files.motd", "files.issue"]
    );
}

#[test]
fn check_exits_2_and_its_report_names_the_failed_and_the_skipped_rules() {
    let (env, p) = mixed();
    // Converge the good rules first: what is left is only the failed and the
    // skipped rule, and neither is compliant.
    let good = env.playbook(
        "good.yml",
        &MIXED
            .split("\n  - ")
            .filter(|t| !t.contains("svc.ghost") && !t.contains("files.motd"))
            .collect::<Vec<_>>()
            .join("\n  - "),
    );
    expect_code(
        &env.harden(&["apply", "--yes", "-p", good.to_str().unwrap()]),
        2,
    );
    let out = env.harden(&[
        "check",
        "-p",
        &p,
        "--tags",
        "files.passwd,svc.ghost,rh.only,files.issue",
    ]);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("failed svc.ghost: {GHOST}")),
        "{text}"
    );
    assert!(
        text.contains("skipped rh.only: os_family is debian"),
        "{text}"
    );
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "harden: 2 compliant, 0 drift (0 critical), 1 failed, 1 skipped: failed, "
        ),
        "{err}"
    );
    // The failed rule is named above the summary line.
    let named = err.find(&format!("harden: error: rule svc.ghost: {GHOST}"));
    assert!(
        named.is_some_and(|at| at < err.find(last).unwrap()),
        "{err}"
    );
    let r = env.reports().pop().unwrap();
    assert_eq!(r["command"], "check");
    assert_eq!(r["result"], "failed");
    assert_eq!(r["exit_code"], 2);
    assert_eq!(ids(&r["errors"]), ["svc.ghost"]);
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(GHOST)
    );
    assert_eq!(ids(&r["skipped"]), ["rh.only"]);
    assert_eq!(r["skipped"][0]["reason"], "os_family is debian, not redhat");
    assert_eq!(
        r["rules"],
        serde_json::json!({"compliant": 2, "drift": 0, "failed": 1, "skipped": 1})
    );
}

#[test]
fn apply_converges_the_rest_exits_6_and_names_the_failed_rules() {
    let (env, p) = mixed();
    let metrics = env.base.join("m.prom");
    let out = env.harden(&[
        "apply",
        "--yes",
        "-p",
        &p,
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    expect_code(&out, 6);
    // Applied: the good rules. Not: the rejected candidate, the skipped rule.
    assert_eq!(env.mode("etc/passwd"), 0o644);
    assert_eq!(env.read("etc/issue"), "Authorized uses only\n");
    assert!(
        !env.path("etc/motd").exists(),
        "a rejected candidate was installed"
    );
    assert!(!env.path("etc/rh").exists());
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let n = lines.len();
    assert!(n >= 3, "{err}");
    assert!(
        lines[n - 3].starts_with(&format!("harden: error: rule svc.ghost: {GHOST}")),
        "{err}"
    );
    assert!(
        lines[n - 2].starts_with(
            "harden: error: rule files.motd: /etc/motd: validator `/bin/false /etc/motd` rejected the candidate (exit 1)"
        ),
        "{err}"
    );
    assert!(
        lines[n - 1].starts_with(
            "harden: 0 compliant, 2 drift, 2 failed, 1 skipped: 2 change(s) applied (1 critical), partial, "
        ),
        "{err}"
    );
    assert!(stdout(&out).contains("FAILED files.motd: /etc/motd: validator"));
    let r = env.reports().pop().unwrap();
    assert_eq!(r["result"], "partial");
    assert_eq!(r["exit_code"], 6);
    assert_eq!(r["applied"], 2);
    assert_eq!(ids(&r["errors"]), ["svc.ghost", "files.motd"]);
    assert_eq!(ids(&r["skipped"]), ["rh.only"]);
    assert_eq!(ids(&r["changes"]), ["files.passwd", "files.issue"]);
    assert_eq!(r["changes"][0]["result"], "applied");
    let m = std::fs::read_to_string(&metrics).unwrap();
    for want in [
        "harden_rules{command=\"apply\",status=\"failed\"} 2",
        "harden_rules{command=\"apply\",status=\"skipped\"} 1",
        "harden_rules{command=\"apply\",status=\"drift\"} 2",
        "harden_rule_failed{command=\"apply\",rule_id=\"svc.ghost\"} 1",
        "harden_rule_failed{command=\"apply\",rule_id=\"files.motd\"} 1",
        "harden_last_run_success{command=\"apply\",result=\"partial\"} 0",
        "harden_last_run_exit_code{command=\"apply\",result=\"partial\"} 6",
    ] {
        assert!(m.contains(want), "`{want}` not in\n{m}");
    }
    // Applied once: again, only the failed rules are left, and nothing changes.
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert_eq!(env.tree(), before);
    let history = stdout(&env.harden(&["history"]));
    assert_eq!(history.lines().count(), 1, "{history}");
}

#[test]
fn strict_applies_nothing_when_any_rule_fails() {
    let (env, p) = mixed();
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "--strict", "-p", &p]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("--strict: 1 rule(s) failed (svc.ghost), nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
    assert!(!env.state.join("txn").exists(), "a transaction was started");
    // Without the unplannable rule, the rejected candidate alone refuses it too.
    let out = env.harden(&[
        "apply",
        "--yes",
        "--strict",
        "--skip-tags",
        "svc.ghost",
        "-p",
        &p,
    ]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("--strict: 1 rule(s) failed (files.motd), nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
    // Only good rules left: it applies.
    let out = env.harden(&[
        "apply",
        "--yes",
        "--strict",
        "--skip-tags",
        "svc.ghost,files.motd",
        "-p",
        &p,
    ]);
    expect_code(&out, 2);
}

#[test]
fn a_second_rule_on_the_same_path_fails_alone() {
    let env = Env::new();
    let p = env.playbook(
        "twice.yml",
        "tasks:\n  - {name: first, id: motd.first, file: {path: /etc/motd, content: \"a\\n\"}}\n  - {name: second, id: motd.second, file: {path: /etc/motd, content: \"b\\n\"}}\n  - {name: issue, id: issue, file: {path: /etc/issue, content: \"c\\n\"}}\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains(
            "harden: error: rule motd.second: /etc/motd is also changed by rule motd.first; one path, one rule"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("etc/motd"), "a\n");
    assert_eq!(env.read("etc/issue"), "c\n");
}

#[test]
fn a_parse_error_still_stops_everything() {
    let env = Env::new();
    let p = env.playbook(
        "bad.yml",
        "tasks:\n  - {name: good, id: good, file: {path: /etc/motd, content: \"a\\n\"}}\n  - {name: bad, id: bad, file: {path: /etc/issue, contnet: \"c\\n\"}}\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("bad.yml:3:"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(env.tree(), before);
}

#[test]
fn a_rule_the_anti_lockout_guard_refuses_fails_alone() {
    let env = Env::new();
    env.write("etc/ssh/sshd_config", "PasswordAuthentication yes\n");
    std::fs::create_dir_all(env.path("root")).unwrap();
    std::fs::create_dir_all(env.path("home/alice")).unwrap();
    let p = env.playbook(
        "guard.yml",
        "tasks:\n  - {name: ghost, id: svc.ghost, service: {name: ghost, enabled: true}}\n  - {name: motd, id: motd, file: {path: /etc/motd, content: \"a\\n\"}}\n  - {name: ssh, id: ssh.keys, sshd: {settings: {PasswordAuthentication: false, KbdInteractiveAuthentication: false}}}\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    expect_code(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains("harden: error: rule ssh.keys: anti-lockout:")
            && err.contains("--i-accept-lockout-risk"),
        "{err}"
    );
    assert!(
        err.contains(&format!("harden: error: rule svc.ghost: {GHOST}")),
        "{err}"
    );
    // The refused rule wrote nothing; the rule the guard passed is applied.
    assert_eq!(
        env.read("etc/ssh/sshd_config"),
        "PasswordAuthentication yes\n"
    );
    assert_eq!(env.read("etc/motd"), "a\n");
    // Accepting the risk applies it, loudly.
    let out = env.harden(&[
        "apply",
        "--yes",
        "--i-accept-lockout-risk",
        "-p",
        p.to_str().unwrap(),
    ]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("WARNING: applying despite"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.read("etc/ssh/sshd_config")
            .contains("PasswordAuthentication no")
    );
}

#[test]
fn a_plan_file_carries_the_failed_and_skipped_rules() {
    let (env, p) = mixed();
    let file = env.base.join("mixed.plan");
    let out = env.harden(&["plan", "-p", &p, "-o", file.to_str().unwrap()]);
    expect_code(&out, 1);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(ids(&saved["body"]["plan"]["errors"]), ["svc.ghost"]);
    assert_eq!(ids(&saved["body"]["plan"]["skipped"]), ["rh.only"]);
    let out = env.harden(&["apply", "--yes", file.to_str().unwrap()]);
    expect_code(&out, 6);
    assert_eq!(env.mode("etc/passwd"), 0o644);
    assert!(!env.path("etc/motd").exists());
    // The unit appears: the rule no longer fails, so the reviewed plan is stale.
    env.chmod("etc/passwd", 0o666);
    std::fs::remove_file(env.path("etc/issue")).unwrap();
    let out = env.harden(&["plan", "-p", &p, "-o", file.to_str().unwrap()]);
    expect_code(&out, 1);
    env.write(
        "etc/systemd/system/ghost.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", file.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("is stale, nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
}
