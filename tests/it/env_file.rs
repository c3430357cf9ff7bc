//! `env_file`: Postiz `.env` edits, values never printed, read back by a real
//! shell, idempotent and rolled back exactly.

use std::process::Command;

use crate::support::*;

const ENV: &str = "# Postiz\nexport JWT_SECRET='jwt-do-not-print'\nDATABASE_URL=\"postgresql://postiz:db-do-not-print@localhost/postiz\"\nAPI_LIMIT=300 # per hour\nDISABLE_REGISTRATION=false\n";
const PATH: &str = "opt/postiz/.env";

/// The Postiz limits rule setting `set` in the `.env` file.
fn postiz_env(set: &serde_json::Value) -> Playbook {
    Playbook::new("postiz").task(
        Task::new(
            "postiz.env",
            "env_file",
            json!({ "path": format!("/{PATH}"), "handler": "restart postiz", "set": set }),
        )
        .name("Postiz limits")
        .severity("high"),
    )
}

/// The rule `postiz.env` setting `set` with the file mode `0600`.
fn mode_0600(set: &serde_json::Value) -> Playbook {
    Playbook::new("postiz").task(Task::new(
        "postiz.env",
        "env_file",
        json!({ "path": format!("/{PATH}"), "mode": "0600", "set": set }),
    ))
}

/// `KEY`'s value as a real shell sees it after sourcing the file.
fn shell_value(env: &Env, key: &str) -> String {
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!(". \"$1\"; printf %s \"${key}\""))
            .arg("sh")
            .arg(env.path(PATH)),
    )
}

#[test]
fn values_are_never_shown_and_a_shell_reads_them_back() {
    let t = Test::new()
        .file(PATH, ENV)
        .file_mode(PATH, 0o600)
        .playbook(&postiz_env(&json!({
            "API_LIMIT": 30,
            "DISABLE_REGISTRATION": "true",
            "STORAGE_SECRET": "new $ecret do-not-print"
        })));
    let before = t.tree();
    for args in [vec![], vec!["--format", "json"]] {
        let all = t.plan_args(&args).code(0).both();
        assert_has(&all, "set API_LIMIT");
        for secret in ["do-not-print", "API_LIMIT=30"] {
            assert!(!all.contains(secret), "{secret} shown:\n{all}");
        }
    }
    t.converge_from(&before, |out| {
        let all = out.both();
        assert!(!all.contains("do-not-print"), "{all}");
        assert_eq!(
            t.read(PATH),
            ENV.replace("API_LIMIT=300", "API_LIMIT=30")
                .replace("=false", "=true")
                + "STORAGE_SECRET=\"new \\$ecret do-not-print\"\n"
        );
        assert_eq!(t.mode(PATH), 0o600);
        assert_eq!(shell_value(&t, "API_LIMIT"), "30");
        assert_eq!(shell_value(&t, "STORAGE_SECRET"), "new $ecret do-not-print");
        assert_eq!(shell_value(&t, "JWT_SECRET"), "jwt-do-not-print");
    });
}

#[test]
fn a_value_that_cannot_be_written_is_an_error_without_the_value() {
    let t = Test::new()
        .file(PATH, ENV)
        .playbook(&postiz_env(&json!({ "API_LIMIT": "30\nhunter2" })));
    let err = t.plan().code(1).stderr();
    assert!(
        err.contains("API_LIMIT") && !err.contains("hunter2"),
        "{err}"
    );
    t.set_playbook(&Playbook::unnamed().task(Task::new(
        "e",
        "env_file",
        json!({ "path": "/opt/none/.env", "set": { "A": 1 } }),
    )));
    t.plan().code(1).stderr_has("does not exist");
}

#[test]
fn mode_is_enforced_with_or_without_a_content_change() {
    let t = Test::new()
        .file(PATH, ENV)
        .file_mode(PATH, 0o644)
        .playbook(&mode_0600(&json!({ "API_LIMIT": 300 })));
    t.plan().code(0).stdout_has("mode 0644 -> 0600");
    t.apply().code(2);
    assert_eq!(t.mode(PATH), 0o600);
    assert_eq!(t.read(PATH), ENV);
    t.chmod(PATH, 0o644);
    t.set_playbook(&mode_0600(&json!({ "API_LIMIT": 30 })));
    t.apply().code(2);
    assert_eq!(t.mode(PATH), 0o600);
    t.replan().code(0);
}
