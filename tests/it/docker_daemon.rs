//! `docker_daemon`: daemon.json merged with unrelated keys and their order kept,
//! keys and types checked by harden, idempotent whatever the formatting, rolled
//! back exactly. (This machine has no dockerd, and Debian 12's has no
//! `--validate`: the built-in check is the validator.)

use crate::support::*;

const FILE: &str = "etc/docker/daemon.json";
const MINE: &str = "{\n    \"data-root\": \"/srv/docker\",\n    \"log-opts\": { \"labels\": \"app\" },\n    \"dns\": [\"192.0.2.53\"]\n}\n";

fn playbook(env: &Env, settings: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: docker\ntasks:\n  - name: Docker daemon\n    id: docker.daemon\n    severity: high\n    docker_daemon:\n      settings: {settings}\n"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

const HARDEN: &str = r#"{ live-restore: true, no-new-privileges: true, icc: false, userland-proxy: false, log-driver: json-file, log-opts: { max-size: "10m", max-file: "3" } }"#;

#[test]
fn merge_keeps_unrelated_keys_in_order_then_converges_and_rolls_back() {
    let env = Env::new();
    env.write(FILE, MINE);
    let p = playbook(&env, HARDEN);
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    // Not reloadable: a warning, and only a reload is planned.
    assert!(
        stdout(&out).contains("take effect only when docker restarts"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("then: reload docker"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    let v: serde_json::Value = serde_json::from_str(&env.read(FILE)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "data-root",
            "log-opts",
            "dns",
            "icc",
            "live-restore",
            "log-driver",
            "no-new-privileges",
            "userland-proxy"
        ]
    );
    assert_eq!(
        v["log-opts"],
        serde_json::json!({"labels": "app", "max-file": "3", "max-size": "10m"})
    );
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    // Same values, other formatting: nothing to do.
    let compact = serde_json::to_string(&v).unwrap();
    std::fs::write(env.path(FILE), &compact).unwrap();
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    std::fs::write(
        env.path(FILE),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn unknown_keys_wrong_types_and_broken_files_are_refused() {
    let env = Env::new();
    for (settings, want) in [
        (
            "{ no-new-privilege: true }",
            "not a dockerd daemon.json option",
        ),
        ("{ live-restore: \"yes\" }", "must be true or false"),
        ("{ log-opts: { max-file: 3 } }", "quote numbers"),
    ] {
        let out = env.harden(&["plan", "-p", &playbook(&env, settings)]);
        expect_code(&out, 1);
        assert!(stderr(&out).contains(want), "{settings}: {}", stderr(&out));
    }
    env.write(FILE, "{ \"debug\": true, }\n");
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &playbook(&env, HARDEN)]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("is not a JSON object"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
}
