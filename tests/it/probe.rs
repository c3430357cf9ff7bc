//! `probe:` rules, read-only health checks: only `check` evaluates them, and a
//! failed one is a finding (exit 2, a line of its own, in the run report and in
//! `harden_probe_ok` metrics); `plan` and `apply` list them as skipped and change
//! nothing for them. What needs the running system is skipped with the reason
//! under `--root`, while an offline root's `auth.log` is read as data. Live
//! probes run for real: `statvfs` on real paths, `/proc/net/tcp` inside a network
//! namespace with real listeners, this machine's own docker and init.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// A probe rule `id` of `severity`; `probe` is `{ KIND: PARAMETERS }`.
fn task(id: &str, severity: &str, probe: serde_json::Value) -> Task {
    Task::new(id, "probe", probe).name(id).severity(severity)
}

/// The monitoring playbook of `tasks`, written beside the root; its path.
fn playbook(env: &Env, tasks: Vec<Task>) -> String {
    let pb = tasks
        .into_iter()
        .fold(Playbook::new("monitoring"), Playbook::task);
    env.playbook("monitor.yml", &pb.render())
        .display()
        .to_string()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// `harden ARGS --root / --state-dir DIR/state`: for probes of the running
/// system (check reads only; its report goes to the temp state directory).
fn live(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("harden"))
        .arg(args[0])
        .args(["--root", "/", "--state-dir"])
        .arg(dir.join("state"))
        .args(&args[1..])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `check -p PLAYBOOK --metrics-file METRICS` through `harden` (on a root or
/// on the live system).
fn check_metrics(
    harden: impl FnOnce(&[&str]) -> std::process::Output,
    playbook: &str,
    metrics: &Path,
) -> std::process::Output {
    harden(&[
        "check",
        "-p",
        playbook,
        "--metrics-file",
        metrics.to_str().unwrap(),
    ])
}

/// An RFC 3339 time `secs_ago` before now, as rsyslog writes it, from `date`.
fn stamp(secs_ago: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = Command::new("date")
        .args([
            "-u",
            &format!("-d@{}", now - secs_ago),
            "+%Y-%m-%dT%H:%M:%S.123456+00:00",
        ])
        .output()
        .unwrap();
    stdout(&out).trim().to_string()
}

#[test]
fn plan_and_apply_skip_probes_and_change_nothing_for_them() {
    let env = Env::new();
    env.write("etc/motd", "hi\n");
    env.chmod("etc/motd", 0o644);
    let mut tasks = vec![task(
        "monitor.disk",
        "high",
        json!({ "disk_usage": { "path": "/", "max_percent": 0 } }),
    )];
    tasks.push(
        Task::new(
            "motd.mode",
            "file",
            json!({ "path": "/etc/motd", "mode": "0600" }),
        )
        .name("motd"),
    );
    let pb = playbook(&env, tasks);
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &pb]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(
            "skipped monitor.disk: a probe: evaluated by `harden check`, never by plan or apply"
        ),
        "{text}"
    );
    assert!(text.contains("1 change"), "{text}");
    assert_eq!(env.tree(), before, "plan wrote something");
    let v = json(&env.harden(&["plan", "-p", &pb, "--format", "json"]));
    assert_eq!(v["skipped"][0]["rule_id"], "monitor.disk", "{v}");
    assert_eq!(v["probes"], serde_json::json!([]), "{v}");
    assert_eq!(v["summary"]["probes_failed"], 0, "{v}");

    // A probe that would fail (0% on any file system) never fails an apply.
    let out = env.harden(&["apply", "--yes", "-p", &pb]);
    expect_code(&out, 2);
    assert_eq!(env.mode("etc/motd"), 0o600);
    let after = env.harden(&["plan", "-p", &pb, "--detailed-exitcode"]);
    expect_code(&after, 0);
}

#[test]
fn offline_roots_skip_what_needs_the_running_system_with_the_reason() {
    let env = Env::new();
    let pb = playbook(
        &env,
        vec![
            task(
                "monitor.disk",
                "high",
                json!({ "disk_usage": { "path": "/", "max_percent": 0 } }),
            ),
            task(
                "monitor.listening",
                "high",
                json!({ "listening": { "allowed_ports": [] } }),
            ),
            task(
                "monitor.containers",
                "medium",
                json!({ "containers_unhealthy": { "max": 0 } }),
            ),
            task(
                "monitor.ssh",
                "medium",
                json!({ "service_active": { "name": "ssh" } }),
            ),
            task(
                "monitor.logins",
                "medium",
                json!({ "failed_logins": { "within": "1h", "max": 0 } }),
            ),
        ],
    );
    let before = env.tree();
    let out = env.harden(&["check", "-p", &pb]);
    expect_code(&out, 0);
    let text = stdout(&out);
    let root = env.root.display().to_string();
    for (id, why) in [
        ("monitor.disk", "probe disk_usage: offline root"),
        ("monitor.listening", "probe listening: offline root"),
        (
            "monitor.containers",
            "probe containers_unhealthy: offline root",
        ),
        ("monitor.ssh", "probe service_active: offline root"),
        ("monitor.logins", "probe failed_logins: offline root"),
    ] {
        assert!(
            text.contains(&format!("skipped {id}: {why} {root}")),
            "{id}\n{text}"
        );
    }
    assert!(text.contains("no /var/log/auth.log"), "{text}");
    assert!(!text.contains("probe failed ["), "{text}");
    let summary = stderr(&out);
    assert!(
        summary.contains("0 compliant, 0 drift (0 critical), 0 failed, 5 skipped"),
        "{summary}"
    );
    assert_eq!(env.tree(), before, "check wrote under the root");
}

#[test]
fn failed_logins_are_read_from_an_offline_roots_auth_log() {
    let env = Env::new();
    let log = format!(
        "{old} web sshd[10]: Failed password for root from 203.0.113.7 port 1 ssh2\n\
         {a} web sshd[11]: Failed password for root from 203.0.113.7 port 2 ssh2\n\
         {a} web sshd[12]: Invalid user admin from 198.51.100.4 port 3\n\
         {a} web sshd[12]: Failed password for invalid user admin from 198.51.100.4 port 3 ssh2\n\
         {b} web sshd[13]: Connection closed by authenticating user root 198.51.100.9 port 4 [preauth]\n\
         {b} web sshd[14]: Accepted publickey for alice from 192.0.2.1 port 5 ssh2: ED25519 SHA256:x\n",
        old = stamp(2 * 86_400),
        a = stamp(600),
        b = stamp(60),
    );
    env.write("var/log/auth.log", &log);
    let strict = task(
        "monitor.logins",
        "critical",
        json!({ "failed_logins": { "within": "1h", "max": 2 } }),
    );
    let pb = playbook(&env, vec![strict]);
    let metrics = env.base.join("harden.prom");
    let out = check_metrics(|args| env.harden(args), &pb, &metrics);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("probe failed [critical] monitor.logins: 3 failed logins within 1h (max 2), in /var/log/auth.log"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("0 compliant, 1 drift (1 critical), 0 failed, 0 skipped: drift"),
        "{}",
        stderr(&out)
    );
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("harden_probe_ok{command=\"check\",rule_id=\"monitor.logins\"} 0"),
        "{m}"
    );
    assert!(
        m.contains("harden_last_run_success{command=\"check\",result=\"drift\"} 0"),
        "{m}"
    );
    let r = env.newest_report();
    assert_eq!(r["probes"][0]["rule_id"], "monitor.logins", "{r}");
    assert_eq!(r["probes"][0]["ok"], false, "{r}");
    assert_eq!(r["rules"]["drift"], 1, "{r}");

    // The same log over two days holds the older attempt too; within bounds, compliant.
    let pb = playbook(
        &env,
        vec![task(
            "monitor.logins",
            "medium",
            json!({ "failed_logins": { "within": "3d", "max": 4 } }),
        )],
    );
    let out = env.harden(&["check", "-p", &pb, "--format", "json"]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(v["probes"][0]["ok"], true, "{v}");
    assert_eq!(v["probes"][0]["probe"], "failed_logins", "{v}");
    assert_eq!(
        v["probes"][0]["message"], "4 failed logins within 3d (max 4), in /var/log/auth.log",
        "{v}"
    );
    assert_eq!(v["summary"]["compliant"], 1, "{v}");
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("rule_id=\"monitor.logins\"} 0"),
        "the metrics of the last run with them stay: {m}"
    );

    // A planted symlink is refused, never followed: the rule fails.
    std::fs::remove_file(env.path("var/log/auth.log")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", env.path("var/log/auth.log")).unwrap();
    let out = env.harden(&["check", "-p", &pb]);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("failed monitor.logins:") && text.contains("symlink"),
        "{text}"
    );
}

#[test]
fn disk_usage_of_real_file_systems() {
    let t = tempfile::tempdir().unwrap();
    let env = Env::empty();
    let dir = t.path().display().to_string();
    let pb = playbook(
        &env,
        vec![
            task(
                "monitor.root",
                "high",
                json!({ "disk_usage": { "path": "/", "max_percent": 100 } }),
            ),
            task(
                "monitor.tmp",
                "medium",
                json!({ "disk_usage": { "path": dir, "max_percent": 0 } }),
            ),
        ],
    );
    let metrics = t.path().join("harden.prom");
    let out = check_metrics(|args| live(t.path(), args), &pb, &metrics);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("probe failed [medium] monitor.tmp: {dir} is ")),
        "{text}"
    );
    assert!(text.contains("% full (max 0%)"), "{text}");
    assert!(
        !text.contains("monitor.root"),
        "a passed probe is no finding: {text}"
    );
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("harden_probe_ok{command=\"check\",rule_id=\"monitor.root\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("harden_probe_ok{command=\"check\",rule_id=\"monitor.tmp\"} 0"),
        "{m}"
    );

    // What df says, harden says.
    let out = live(t.path(), &["check", "-p", &pb, "--format", "json"]);
    let v = json(&out);
    let df = Command::new("df")
        .args(["--output=pcent", "/"])
        .output()
        .unwrap();
    let pcent = stdout(&df).lines().nth(1).unwrap().trim().to_string();
    assert_eq!(
        v["probes"][0]["message"],
        format!("/ is {pcent} full (max 100%)"),
        "{v}"
    );

    let missing = playbook(
        &env,
        vec![task(
            "monitor.gone",
            "low",
            json!({ "disk_usage": { "path": "/nonexistent/harden", "max_percent": 90 } }),
        )],
    );
    let out = live(t.path(), &["check", "-p", &missing]);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("failed monitor.gone: cannot measure: /nonexistent/harden"),
        "{}",
        stdout(&out)
    );
}

/// Runs `harden check --root / --format json -p PLAYBOOK` inside a new network
/// namespace (loopback up) in which python3 holds TCP listeners on `binds`
/// (`(address, port)`), inherited across its exec of harden: no wait, no race.
fn check_in_netns(dir: &Path, playbook: &str, binds: &[(&str, u16)]) -> std::process::Output {
    require("unshare");
    require("python3");
    require("ip");
    let socks: Vec<String> = binds
        .iter()
        .map(|(a, p)| {
            let fam = if a.contains(':') { "socket.AF_INET6" } else { "socket.AF_INET" };
            format!("s = socket.socket({fam}); s.bind(('{a}', {p})); s.listen(); s.set_inheritable(True); keep.append(s)")
        })
        .collect();
    let script = format!(
        "import os, socket, sys\nkeep = []\n{}\nos.execv(sys.argv[1], sys.argv[1:])\n",
        socks.join("\n")
    );
    let bin = assert_cmd::cargo::cargo_bin("harden");
    let state = dir.join("state");
    Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec python3 -c \"$0\" \"$@\"",
        ])
        .arg(&script)
        .arg(&bin)
        .args(["check", "--root", "/", "--format", "json", "--state-dir"])
        .arg(&state)
        .args(["-p", playbook])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn listening_ports_beyond_loopback_in_a_network_namespace() {
    let t = tempfile::tempdir().unwrap();
    let env = Env::empty();
    let binds = [
        ("0.0.0.0", 8081),
        ("127.0.0.1", 8082),
        ("::", 8083),
        ("::1", 8084),
    ];
    let pb = playbook(
        &env,
        vec![task(
            "monitor.listening",
            "high",
            json!({ "listening": { "allowed_ports": [22, 8083] } }),
        )],
    );
    let out = check_in_netns(t.path(), &pb, &binds);
    expect_code(&out, 2);
    let v = json(&out);
    assert_eq!(v["probes"][0]["ok"], false, "{v}");
    assert_eq!(
        v["probes"][0]["message"],
        "TCP ports listening beyond loopback outside [22, 8083]: 0.0.0.0:8081 (uid 0)",
        "loopback listeners (8082, 8084) and the allowed port (8083) are not findings: {v}"
    );
    assert_eq!(v["summary"]["probes_failed"], 1, "{v}");

    let pb = playbook(
        &env,
        vec![task(
            "monitor.listening",
            "high",
            json!({ "listening": { "allowed_ports": [8081] } }),
        )],
    );
    let out = check_in_netns(t.path(), &pb, &binds);
    expect_code(&out, 2);
    let v = json(&out);
    assert_eq!(
        v["probes"][0]["message"],
        "TCP ports listening beyond loopback outside [8081]: [::]:8083 (uid 0)",
        "{v}"
    );

    let out = check_in_netns(t.path(), &pb, &[("0.0.0.0", 8081), ("127.0.0.1", 9000)]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(v["probes"][0]["ok"], true, "{v}");
    assert_eq!(
        v["probes"][0]["message"], "no TCP port beyond loopback outside [8081]",
        "{v}"
    );
}

#[test]
fn services_and_containers_on_this_machine() {
    let t = tempfile::tempdir().unwrap();
    let env = Env::empty();
    let pb = playbook(
        &env,
        vec![
            task(
                "monitor.ssh",
                "medium",
                json!({ "service_active": { "name": "ssh.service" } }),
            ),
            task(
                "monitor.containers",
                "medium",
                json!({ "containers_unhealthy": { "max": 0 } }),
            ),
        ],
    );
    let out = live(t.path(), &["check", "-p", &pb, "--format", "json"]);
    let v = json(&out);
    let skipped = |id: &str| {
        v["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["rule_id"] == id)
            .map(|s| s["reason"].as_str().unwrap().to_string())
    };
    let probe = |id: &str| {
        v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["rule_id"] == id)
            .cloned()
    };
    if Path::new("/run/systemd/system").is_dir() {
        assert!(
            probe("monitor.ssh").is_some(),
            "systemd runs here: asked, {v}"
        );
    } else {
        assert_eq!(
            skipped("monitor.ssh").as_deref(),
            Some(
                "probe service_active: no running init here (systemd is not PID 1): cannot ask whether ssh.service is active"
            ),
            "{v}"
        );
    }
    let docker = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .any(|d| Path::new(d).join("docker").is_file());
    if !docker {
        assert_eq!(
            skipped("monitor.containers").as_deref(),
            Some("probe containers_unhealthy: docker is not installed"),
            "{v}"
        );
    } else if !Path::new("/var/run/docker.sock").exists()
        && std::env::var_os("DOCKER_HOST").is_none()
    {
        // The CLI without a daemon (as on this CI machine): the outage is a finding.
        let p = probe("monitor.containers").expect("docker installed: the probe runs");
        assert_eq!(p["ok"], false, "{v}");
        assert!(
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("`docker ps` failed: "),
            "{v}"
        );
        expect_code(&out, 2);
    } else {
        assert!(probe("monitor.containers").is_some(), "{v}");
    }
}

#[test]
fn bad_probe_parameters_fail_when_the_playbook_is_read() {
    for (probe, want) in [
        (
            "disk_usage: { path: /, max_percent: 101 }",
            "max_percent 101 is not between 0 and 100",
        ),
        (
            "failed_logins: { within: 1 hour ago, max: 3 }",
            "is not a time span",
        ),
        (
            "listening: { allowed_ports: [22, 65536] }",
            "port 65536 is out of range (1 to 65535)",
        ),
        (
            "open_ports: { allowed: [22] }",
            "unknown variant `open_ports`",
        ),
        (
            "service_active: { name: \"-H evil\" }",
            "is not a unit name",
        ),
    ] {
        let env = Env::new();
        // YAML as written: the loader's line numbers are part of the promise.
        let pb = env.playbook(
            "monitor.yml",
            &format!("name: monitoring\ntasks:\n  - name: monitor.x\n    id: monitor.x\n    severity: low\n    probe:\n      {probe}\n"),
        );
        let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
        expect_code(&out, 1);
        let err = stderr(&out);
        assert!(err.contains("monitor.yml:7:"), "{probe}: {err}");
        assert!(err.contains(want), "{probe}: {err}");
    }
}
