//! `env_file`: Postiz `.env` edits, values never printed, read back by a real
//! shell, idempotent and rolled back exactly.

use std::process::Command;

use crate::support::*;

const ENV: &str = "# Postiz\nexport JWT_SECRET='jwt-do-not-print'\nDATABASE_URL=\"postgresql://postiz:db-do-not-print@localhost/postiz\"\nAPI_LIMIT=300 # per hour\nDISABLE_REGISTRATION=false\n";
const PATH: &str = "opt/postiz/.env";

fn playbook(env: &Env, set: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!(
            "name: postiz\ntasks:\n  - name: Postiz limits\n    id: postiz.env\n    severity: high\n    env_file:\n      path: /{PATH}\n      handler: restart postiz\n      set: {{ {set} }}\n"
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// `KEY`'s value as a real shell sees it after sourcing the file.
fn shell_value(env: &Env, key: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(". \"$1\"; printf %s \"${key}\""))
        .arg("sh")
        .arg(env.path(PATH))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn values_are_never_shown_and_a_shell_reads_them_back() {
    let env = Env::new();
    env.write(PATH, ENV);
    env.chmod(PATH, 0o600);
    let p = playbook(
        &env,
        "API_LIMIT: 30, DISABLE_REGISTRATION: 'true', STORAGE_SECRET: 'new $ecret do-not-print'",
    );
    let before = env.tree();
    for args in [
        vec!["plan", "-p", p.as_str()],
        vec!["plan", "-p", p.as_str(), "--format", "json"],
    ] {
        let out = env.harden(&args);
        expect_code(&out, 0);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("set API_LIMIT"), "{all}");
        for secret in ["do-not-print", "API_LIMIT=30"] {
            assert!(!all.contains(secret), "{secret} shown:\n{all}");
        }
    }
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("do-not-print"), "{all}");
    assert_eq!(
        env.read(PATH),
        ENV.replace("API_LIMIT=300", "API_LIMIT=30")
            .replace("=false", "=true")
            + "STORAGE_SECRET=\"new \\$ecret do-not-print\"\n"
    );
    assert_eq!(env.mode(PATH), 0o600);
    assert_eq!(shell_value(&env, "API_LIMIT"), "30");
    assert_eq!(
        shell_value(&env, "STORAGE_SECRET"),
        "new $ecret do-not-print"
    );
    assert_eq!(shell_value(&env, "JWT_SECRET"), "jwt-do-not-print");

    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn a_value_that_cannot_be_written_is_an_error_without_the_value() {
    let env = Env::new();
    env.write(PATH, ENV);
    let p = playbook(&env, "API_LIMIT: \"30\\nhunter2\"");
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("API_LIMIT") && !err.contains("hunter2"),
        "{err}"
    );
    let p = env.playbook(
        "missing.yml",
        "tasks:\n  - name: e\n    id: e\n    env_file: { path: /opt/none/.env, set: { A: 1 } }\n",
    );
    let out = env.harden(&["plan", "-p", p.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn mode_is_enforced_with_or_without_a_content_change() {
    let env = Env::new();
    env.write(PATH, ENV);
    env.chmod(PATH, 0o644);
    let p = env.playbook(
        "mode.yml",
        &format!("tasks:\n  - name: e\n    id: postiz.env\n    env_file: {{ path: /{PATH}, mode: \"0600\", set: {{ API_LIMIT: 300 }} }}\n"),
    );
    let p = p.to_str().unwrap();
    let out = env.harden(&["plan", "-p", p]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("mode 0644 -> 0600"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert_eq!(env.mode(PATH), 0o600);
    assert_eq!(env.read(PATH), ENV);
    env.chmod(PATH, 0o644);
    let p2 = env.playbook(
        "mode2.yml",
        &format!("tasks:\n  - name: e\n    id: postiz.env\n    env_file: {{ path: /{PATH}, mode: \"0600\", set: {{ API_LIMIT: 30 }} }}\n"),
    );
    expect_code(
        &env.harden(&["apply", "--yes", "-p", p2.to_str().unwrap()]),
        2,
    );
    assert_eq!(env.mode(PATH), 0o600);
    expect_code(
        &env.harden(&["plan", "-p", p2.to_str().unwrap(), "--detailed-exitcode"]),
        0,
    );
}
