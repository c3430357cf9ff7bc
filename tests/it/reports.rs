//! Run reports, the journal summary line and Prometheus metrics: every check,
//! apply and rollback leaves a bounded report; `plan` writes nothing.

use std::collections::BTreeMap;

use crate::support::*;

/// The passwd mode (critical) and a kernel drop-in (low).
fn drift() -> Playbook {
    Playbook::new("reports")
        .task(
            Task::new(
                "files.passwd",
                "file",
                json!({ "path": "/etc/passwd", "mode": "0644", "owner": "root", "group": "root" }),
            )
            .name("Passwd mode")
            .severity("critical"),
        )
        .task(
            Task::new(
                "kernel.sysctl",
                "sysctl",
                json!({ "settings": { "kernel.kptr_restrict": 2 } }),
            )
            .name("Kernel drop-in")
            .severity("low"),
        )
}

/// The drift playbook on a root whose passwd is world-writable.
fn drifted() -> Test {
    Test::new()
        .file_mode("etc/passwd", 0o666)
        .playbook(&drift())
}

/// Parses a Prometheus text exposition: `name{labels}` to value; checks every
/// sample has HELP and TYPE lines before it.
fn parse_metrics(text: &str) -> BTreeMap<String, String> {
    let mut typed = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap();
            assert_eq!(it.next(), Some("gauge"), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(typed.contains(name), "{name} has no TYPE line");
        value.parse::<f64>().unwrap();
        out.insert(series.to_string(), value.to_string());
    }
    out
}

#[test]
fn check_reports_drift_and_metrics_parse_back() {
    let env = drifted();
    let metrics = env.base.join("harden.prom");
    let line = env
        .run(&[
            "check",
            "-p",
            env.pb(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ])
        .code(2)
        .stderr();
    assert!(
        line.contains("harden: 0 compliant, 2 drift (1 critical), 0 failed, 0 skipped: drift, ")
            && line.contains(" ms"),
        "{line}"
    );
    let r = &env.reports()[0];
    assert_eq!(r["command"], "check");
    assert_eq!(r["result"], "drift");
    assert_eq!(r["exit_code"], 2);
    assert_eq!(r["harden_version"], env!("CARGO_PKG_VERSION"));
    assert!(r["duration_ms"].is_u64());
    let ids: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["files.passwd", "kernel.sysctl"]);
    assert_eq!(r["changes"][0]["severity"], "critical");
    assert_eq!(r["changes"][0]["result"], "drift");
    let m = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(
        m[r#"harden_drift{command="check",severity="critical"}"#],
        "1"
    );
    assert_eq!(m[r#"harden_drift{command="check",severity="low"}"#], "1");
    assert_eq!(m[r#"harden_drift{command="check",severity="high"}"#], "0");
    assert_eq!(
        m[r#"harden_last_run_exit_code{command="check",result="drift"}"#],
        "2"
    );
    assert_eq!(
        m[r#"harden_last_run_success{command="check",result="drift"}"#],
        "0"
    );
    let ts: f64 = m[r#"harden_last_run_timestamp_seconds{command="check",result="drift"}"#]
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - ts).abs() < 600.0, "{ts} vs {now}");
    // Atomic: no temp file is left next to it.
    let left: Vec<_> = std::fs::read_dir(&env.base)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn apply_and_rollback_report_and_history_lists_runs() {
    let env = drifted();
    let metrics = env.base.join("m.prom");
    env.apply_args(&["--metrics-file", metrics.to_str().unwrap()])
        .code(2)
        .stderr_has(
            "harden: 0 compliant, 2 drift, 0 failed, 0 skipped: 2 change(s) applied (1 critical), committed, ",
        );
    let parsed = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(
        parsed[r#"harden_changes_applied{command="apply",result="committed"}"#],
        "2"
    );
    assert_eq!(
        parsed[r#"harden_last_run_success{command="apply",result="committed"}"#],
        "1"
    );
    env.rollback().code(0);
    let all = env.reports();
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|r| {
            (
                r["command"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("apply", "committed"), ("rollback", "committed")]);
    assert!(all[0]["txn"].is_string());
    assert_eq!(all[0]["changes"][0]["result"], "applied");
    assert_eq!(all[0]["applied"], 2);
    assert_eq!(all[0]["failed"], 0);
    let runs = env.run(&["history", "--runs"]).stdout();
    assert!(
        runs.contains("apply") && runs.contains("rollback"),
        "{runs}"
    );
}

#[test]
fn refused_apply_is_reported_as_an_error_run() {
    let env = Env::new();
    let p = env.playbook(
        "bad.yml",
        "name: bad\ntasks: [ { name: x, id: x, nosuchmodule: {} } ]\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    expect_code(&out, 1);
    let r = &env.reports()[0];
    assert_eq!(r["result"], "error");
    assert_eq!(r["exit_code"], 1);
    assert!(
        r["message"].as_str().unwrap().contains("nosuchmodule"),
        "{r}"
    );
}

#[test]
fn reports_are_bounded_and_plan_writes_none() {
    let env = Test::new().playbook(&drift());
    env.plan().code(0);
    assert!(!env.state.exists(), "plan wrote the state directory");
    for _ in 0..4 {
        env.run(&["check", "-p", env.pb(), "--keep-reports", "2"])
            .code(2);
    }
    assert_eq!(env.reports().len(), 2);
    env.check().code(2);
    assert_eq!(env.reports().len(), 3);
}

#[test]
fn a_failed_apply_reports_its_changes_as_failed() {
    let env = Env::new();
    let p = env.playbook(
        "v.yml",
        r#"
name: rejected
tasks:
  - name: Motd the validator rejects
    id: files.motd
    file: { path: /etc/motd, content: "hi\n", mode: "0644", owner: root, group: root, validate: ["/bin/false", "%s"] }
"#,
    );
    let metrics = env.base.join("m.prom");
    // The transaction's own check rejects it (the per-rule check before it,
    // which would leave the rule out, is skipped by fault injection).
    let out = env.harden_env(
        &[
            "apply",
            "--yes",
            "-p",
            p.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        &[("HARDEN_FAULT", "skip-precheck")],
    );
    expect_code(&out, 4);
    assert!(
        stderr(&out).contains(
            "harden: 0 compliant, 1 drift, 0 failed, 0 skipped: 0 change(s) applied (0 critical), validation-failed, "
        ),
        "{}",
        stderr(&out)
    );
    let r = &env.reports()[0];
    assert_eq!(r["result"], "validation-failed");
    assert_eq!(r["exit_code"], 4);
    assert_eq!(r["failed"], 1);
    assert_eq!(r["changes"][0]["result"], "not-installed");
    let m = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(
        m[r#"harden_changes_failed{command="apply",result="validation-failed"}"#],
        "1"
    );
    assert_eq!(
        m[r#"harden_last_run_success{command="apply",result="validation-failed"}"#],
        "0"
    );
}
