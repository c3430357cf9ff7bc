//! `backups`: modes fixed, unencrypted / unchecksummed / corrupt backups reported
//! (checksums judged as the real `sha256sum -c` judges them), old backups
//! reported or pruned within `max_prune_bytes`, idempotent, rolled back exactly
//! (a pruned backup comes back).

use std::process::Command;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::support::*;

const DIR: &str = "opt/postiz/backups";

fn playbook(env: &Env, extra: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: b\ntasks:\n  - name: Backups\n    id: backups.postiz\n    severity: high\n    backups:\n      path: /{DIR}\n{extra}"),
    )
    .to_str()
    .unwrap()
    .to_string()
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
    let p = playbook(&env, "");
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("db-2.sql.gz is not encrypted"), "{text}");
    assert!(
        text.contains("checksum of `db-2.sql.gz` does not match"),
        "{text}"
    );
    assert!(text.contains("db-3.age has no checksum"), "{text}");
    assert!(!text.contains("db-1.sql.gz.gpg is not"), "{text}");
    assert!(!text.contains("checksum of `db-1"), "{text}");
    assert!(!text.contains("db-1.sql.gz.gpg has no"), "{text}");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
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
    let again = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&again, 0);
    assert!(
        stdout(&again).contains("db-3.age has no checksum"),
        "still reported"
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn old_backups_reported_pruned_within_the_limit_and_restored_by_rollback() {
    let env = Env::new();
    seed(&env);
    age(&env, "db-1.sql.gz.gpg", 40);
    let report = playbook(&env, "      retention_days: 30\n");
    let out = env.harden(&["plan", "-p", &report]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("older than 30 days: db-1.sql.gz.gpg, db-1.sql.gz.gpg.sha256"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("remove backups"), "{}", stdout(&out));
    // Over the limit: refused, nothing planned for removal.
    let capped = playbook(
        &env,
        "      retention_days: 30\n      prune: true\n      max_prune_bytes: 10\n",
    );
    let out = env.harden(&["plan", "-p", &capped]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("refusing to prune"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("remove backups"), "{}", stdout(&out));
    let prune = playbook(&env, "      retention_days: 30\n      prune: true\n");
    let before = env.tree();
    expect_code(&env.harden(&["apply", "--yes", "-p", &prune]), 2);
    assert!(!env.path(&format!("{DIR}/db-1.sql.gz.gpg")).exists());
    assert!(!env.path(&format!("{DIR}/db-1.sql.gz.gpg.sha256")).exists());
    assert!(env.path(&format!("{DIR}/db-3.age")).exists());
    expect_code(
        &env.harden(&["plan", "-p", &prune, "--detailed-exitcode"]),
        0,
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
    assert_eq!(env.read(&format!("{DIR}/db-1.sql.gz.gpg")), "encrypted one");
}

#[test]
fn missing_directory_and_prune_without_retention_are_refused() {
    let env = Env::new();
    let out = env.harden(&["plan", "-p", &playbook(&env, "")]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    seed(&env);
    let out = env.harden(&["plan", "-p", &playbook(&env, "      prune: true\n")]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("needs `retention_days`"),
        "{}",
        stderr(&out)
    );
}
