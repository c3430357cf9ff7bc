//! `plan` shows drift and writes nothing, anywhere.

use crate::support::*;

const PB: &str = r#"
name: demo
tasks:
  - name: Kernel hardening
    id: kernel.sysctl
    severity: high
    tags: [kernel]
    sysctl:
      settings:
        net.ipv4.ip_forward: 0
        kernel.kptr_restrict: 2
  - name: App secrets are private
    id: files.app-env
    severity: critical
    file:
      path: /opt/app/.env
      mode: "0600"
      owner: root
      group: root
      content: "DB_PASSWORD=hunter2-very-secret\n"
      secret: true
"#;

#[test]
fn plan_writes_nothing_not_even_the_state_dir() {
    let env = Env::new();
    env.write("etc/sysctl.d/10-old.conf", "net.ipv4.ip_forward = 1\n");
    let pb = env.playbook("pb.yml", PB);
    let before = env.tree();
    for format in ["human", "json"] {
        let out = env.harden(&["plan", "-p", pb.to_str().unwrap(), "--format", format]);
        expect_code(&out, 0);
    }
    assert_eq!(env.tree(), before, "plan changed the root");
    assert!(!env.state.exists(), "plan created the state directory");
    // `check` changes nothing on the host either; it only appends its run report.
    let out = env.harden(&["check", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 2);
    assert_eq!(env.tree(), before, "check changed the root");
    let state = fingerprint(&env.state);
    let paths: Vec<&str> = state.keys().map(String::as_str).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    // The state directory, the marker saying harden made it, the report.
    assert!(
        paths[0].is_empty() && paths[1] == ".harden-state" && paths[2] == "reports",
        "{paths:?}"
    );
    assert!(
        paths[3].starts_with("reports/") && paths[3].ends_with("-check.json"),
        "{paths:?}"
    );
}

#[test]
fn plan_shows_changes_and_detailed_exitcode() {
    let env = Env::new();
    let pb = env.playbook("pb.yml", PB);
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap(), "--detailed-exitcode"]);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("[high] kernel.sysctl"), "{text}");
    assert!(text.contains("+kernel.kptr_restrict = 2"), "{text}");
    assert!(text.contains("live kernel values not managed"), "{text}");
    assert!(
        text.contains("Plan: 2 changes (1 critical, 1 high)"),
        "{text}"
    );
}

#[test]
fn secrets_never_appear_in_plan_output() {
    let env = Env::new();
    env.write("opt/app/.env", "DB_PASSWORD=old-secret-value\n");
    let pb = env.playbook("pb.yml", PB);
    for format in ["human", "json"] {
        let out = env.harden(&["plan", "-p", pb.to_str().unwrap(), "--format", format]);
        expect_code(&out, 0);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !all.contains("hunter2"),
            "{format}: new secret leaked:\n{all}"
        );
        assert!(
            !all.contains("old-secret"),
            "{format}: old secret leaked:\n{all}"
        );
    }
}

#[test]
fn json_plan_is_stable() {
    let env = Env::new();
    let pb = env.playbook("pb.yml", PB);
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap(), "--format", "json"]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = regex_escape(env.root.to_str().unwrap());
    insta::with_settings!({filters => vec![(root.as_str(), "[ROOT]")]}, {
        insta::assert_json_snapshot!("json_plan", doc);
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn embedded_baseline_plans_on_a_debian_root() {
    let env = Env::new();
    env.chmod("etc/passwd", 0o664);
    let out = env.harden(&["plan"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("harden plan: baseline"), "{text}");
    assert!(text.contains("files.passwd"), "{text}");
    assert!(text.contains("mode 0664 -> 0644"), "{text}");
}

#[test]
fn a_symlink_at_a_managed_path_is_refused() {
    let env = Env::new();
    let outside = env.base.join("outside");
    std::fs::write(&outside, "x").unwrap();
    std::fs::create_dir_all(env.path("opt/app")).unwrap();
    std::os::unix::fs::symlink(&outside, env.path("opt/app/.env")).unwrap();
    let pb = env.playbook("pb.yml", PB);
    let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "x");
}
