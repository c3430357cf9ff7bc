//! `docker_daemon`: daemon.json merged with unrelated keys and their order kept,
//! keys and types checked by harden, idempotent whatever the formatting, rolled
//! back exactly. (This machine has no dockerd, and Debian 12's has no
//! `--validate`: the built-in check is the validator.)

use crate::support::*;

const FILE: &str = "etc/docker/daemon.json";
const MINE: &str = "{\n    \"data-root\": \"/srv/docker\",\n    \"log-opts\": { \"labels\": \"app\" },\n    \"dns\": [\"192.0.2.53\"]\n}\n";

/// The Docker daemon rule with `settings`.
fn docker(settings: &serde_json::Value) -> Playbook {
    Playbook::new("docker").task(
        Task::new(
            "docker.daemon",
            "docker_daemon",
            json!({ "settings": settings }),
        )
        .name("Docker daemon")
        .severity("high"),
    )
}

/// The hardened settings.
fn harden() -> serde_json::Value {
    json!({
        "live-restore": true,
        "no-new-privileges": true,
        "icc": false,
        "userland-proxy": false,
        "log-driver": "json-file",
        "log-opts": { "max-size": "10m", "max-file": "3" }
    })
}

#[test]
fn merge_keeps_unrelated_keys_in_order_then_converges_and_rolls_back() {
    let t = Test::new().file(FILE, MINE).playbook(&docker(&harden()));
    let before = t.tree();
    // Not reloadable: a warning, and only a reload is planned.
    t.plan()
        .code(0)
        .stdout_has("take effect only when docker restarts")
        .stdout_has("then: reload docker");
    t.converge_from(&before, |_| {
        let v: serde_json::Value = serde_json::from_str(&t.read(FILE)).unwrap();
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
        t.replan().code(0);
        // Same values, other formatting: nothing to do.
        let compact = serde_json::to_string(&v).unwrap();
        std::fs::write(t.path(FILE), &compact).unwrap();
        t.replan().code(0);
        std::fs::write(
            t.path(FILE),
            serde_json::to_string_pretty(&v).unwrap() + "\n",
        )
        .unwrap();
    });
}

#[test]
fn unknown_keys_wrong_types_and_broken_files_are_refused() {
    let t = Test::new();
    for (settings, want) in [
        (
            json!({ "no-new-privilege": true }),
            "not a dockerd daemon.json option",
        ),
        (json!({ "live-restore": "yes" }), "must be true or false"),
        (json!({ "log-opts": { "max-file": 3 } }), "quote numbers"),
    ] {
        t.set_playbook(&docker(&settings));
        let err = t.plan().code(1).stderr();
        assert!(err.contains(want), "{settings}: {err}");
    }
    let t = t
        .file(FILE, "{ \"debug\": true, }\n")
        .playbook(&docker(&harden()));
    let before = t.tree();
    t.apply().code(6).stderr_has("is not a JSON object");
    assert_eq!(t.tree(), before);
}
