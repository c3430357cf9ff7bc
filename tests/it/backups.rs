//! `backups`: modes fixed, unencrypted / unchecksummed / corrupt backups reported
//! (checksums judged as the real `sha256sum -c` judges them), old backups
//! reported or pruned within `max_prune_bytes`, idempotent, rolled back exactly
//! (a pruned backup comes back).

use std::process::Command;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::support::*;

const DIR: &str = "opt/postiz/backups";

/// The Postiz backups rule with `extra` parameters.
fn backups(extra: &serde_json::Value) -> Playbook {
    let mut params = json!({ "path": format!("/{DIR}") });
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Playbook::new("b").task(
        Task::new("backups.postiz", "backups", params)
            .name("Backups")
            .severity("high"),
    )
}

fn sum(data: &str) -> String {
    format!("{:x}", Sha256::digest(data.as_bytes()))
}

fn age(env: &Env, name: &str, days: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(env.path(&format!("{DIR}/{name}")))
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
        .unwrap();
}

/// A directory as backups are usually left: world-readable, one good encrypted
/// backup, one unencrypted with a wrong SHA256SUMS line, one without checksum.
fn seed(env: &Env) {
    env.write(&format!("{DIR}/db-1.sql.gz.gpg"), "encrypted one");
    env.write(
        &format!("{DIR}/db-1.sql.gz.gpg.sha256"),
        &format!("{}  db-1.sql.gz.gpg\n", sum("encrypted one")),
    );
    env.write(&format!("{DIR}/db-2.sql.gz"), "plain two");
    env.write(
        &format!("{DIR}/SHA256SUMS"),
        &format!("{}  db-2.sql.gz\n", sum("something else")),
    );
    env.write(&format!("{DIR}/db-3.age"), "encrypted three");
    env.chmod(DIR, 0o755);
    for f in ["db-1.sql.gz.gpg", "db-2.sql.gz", "db-3.age"] {
        env.chmod(&format!("{DIR}/{f}"), 0o644);
    }
}

#[test]
fn modes_fixed_problems_reported_idempotent_and_rolled_back() {
    require("sha256sum");
    let env = Env::new();
    seed(&env);
    // The real tool's verdict on the same files, which harden's must match.
    let real = Command::new("sha256sum")
        .args(["-c", "db-1.sql.gz.gpg.sha256", "SHA256SUMS"])
        .current_dir(env.path(DIR))
        .output()
        .unwrap();
    assert!(
        stdout(&real).contains("db-1.sql.gz.gpg: OK"),
        "{}",
        stdout(&real)
    );
    assert!(
        stdout(&real).contains("db-2.sql.gz: FAILED"),
        "{}",
        stdout(&real)
    );
    let env = Test::on(env).playbook(&backups(&json!({})));
    let before = env.tree();
    let text = env.plan().code(0).stdout();
    assert!(text.contains("db-2.sql.gz is not encrypted"), "{text}");
    assert!(
        text.contains("checksum of `db-2.sql.gz` does not match"),
        "{text}"
    );
    assert!(text.contains("db-3.age has no checksum"), "{text}");
    assert!(!text.contains("db-1.sql.gz.gpg is not"), "{text}");
    assert!(!text.contains("checksum of `db-1"), "{text}");
    assert!(!text.contains("db-1.sql.gz.gpg has no"), "{text}");
    env.converge_from(&before, |_| {
        assert_eq!(env.mode(DIR), 0o700);
        for f in [
            "db-1.sql.gz.gpg",
            "db-1.sql.gz.gpg.sha256",
            "db-2.sql.gz",
            "db-3.age",
            "SHA256SUMS",
        ] {
            assert_eq!(env.mode(&format!("{DIR}/{f}")), 0o600, "{f}");
        }
        assert!(
            env.replan().stdout().contains("db-3.age has no checksum"),
            "still reported"
        );
    });
}

#[test]
fn old_backups_reported_pruned_within_the_limit_and_restored_by_rollback() {
    let env = Test::new().playbook(&backups(&json!({ "retention_days": 30 })));
    seed(&env);
    age(&env, "db-1.sql.gz.gpg", 40);
    let out = env
        .plan()
        .code(0)
        .stdout_has("older than 30 days: db-1.sql.gz.gpg, db-1.sql.gz.gpg.sha256")
        .stdout();
    assert!(!out.contains("remove backups"), "{out}");
    // Over the limit: refused, nothing planned for removal.
    env.set_playbook(&backups(
        &json!({ "retention_days": 30, "prune": true, "max_prune_bytes": 10 }),
    ));
    let out = env.plan().code(0).stdout_has("refusing to prune").stdout();
    assert!(!out.contains("remove backups"), "{out}");
    env.set_playbook(&backups(&json!({ "retention_days": 30, "prune": true })));
    env.converge(|_| {
        assert!(!env.path(&format!("{DIR}/db-1.sql.gz.gpg")).exists());
        assert!(!env.path(&format!("{DIR}/db-1.sql.gz.gpg.sha256")).exists());
        assert!(env.path(&format!("{DIR}/db-3.age")).exists());
    });
    assert_eq!(env.read(&format!("{DIR}/db-1.sql.gz.gpg")), "encrypted one");
}

#[test]
fn missing_directory_and_prune_without_retention_are_refused() {
    let env = Test::new().playbook(&backups(&json!({})));
    env.plan().code(1).stderr_has("does not exist");
    seed(&env);
    env.set_playbook(&backups(&json!({ "prune": true })));
    env.plan().code(1).stderr_has("needs `retention_days`");
}
