//! `rollback` behaves like `apply`: a preview that writes nothing, a question on
//! a terminal (`--yes` otherwise), outcomes in plain words, the same change counts
//! in `history` and `history --runs`, and a rollback of a rollback that redoes.

use crate::support::*;

const PLAYBOOK: &str = "name: t
tasks:
  - id: a
    name: a
    file: { path: /etc/a.conf, content: \"new\\n\", mode: \"0600\" }
  - id: b
    name: b
    file: { path: /etc/b.conf, content: \"b\\n\" }
  - id: c
    name: c
    sysctl: { settings: { net.ipv4.ip_forward: 0 } }
";

/// A root with `/etc/a.conf` and the playbook above applied (one transaction).
fn applied() -> (Env, String) {
    let env = Env::new();
    env.write("etc/a.conf", "old\n");
    let pb = env.playbook("pb.yml", PLAYBOOK);
    let out = env.harden(&["apply", "-p", pb.to_str().unwrap(), "--yes"]);
    expect_code(&out, 2);
    let txn = stderr(&out)
        .split("as transaction ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("transaction id")
        .to_string();
    (env, txn)
}

/// The state directory's files, for "wrote nothing" (the root's tree is not enough).
fn state_tree(env: &Env) -> std::collections::BTreeMap<String, String> {
    fingerprint(&env.state)
}

#[test]
fn dry_run_names_what_it_would_restore_and_writes_nothing() {
    let (env, txn) = applied();
    let (root, state) = (env.tree(), state_tree(&env));
    let out = env.harden(&["rollback", "--dry-run"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("rollback of transaction {txn} (apply of t")),
        "{text}"
    );
    for line in [
        "/etc/a.conf: restore the saved file (mode 0644, owner 0:0, content saved)",
        "/etc/b.conf: remove (it did not exist)",
        "/etc/sysctl.d: remove (it did not exist)",
        "/etc/sysctl.d/99-harden.conf: remove (it did not exist)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("Rollback would restore 4 entries of 3 change(s); nothing was written."),
        "{text}"
    );
    assert_eq!(env.tree(), root);
    assert_eq!(state_tree(&env), state);
    // A named transaction previews the same way; an unknown one is an error.
    expect_code(&env.harden(&["rollback", "--dry-run", &txn]), 0);
    let out = env.harden(&["rollback", "--dry-run", "20000101-000000000-000"]);
    expect_code(&out, 1);
    assert_eq!(state_tree(&env), state);
}

#[test]
fn rollback_asks_on_a_terminal_and_takes_yes() {
    let (env, _) = applied();
    let root = env.tree();
    let out = env.harden(&["rollback"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out)
            .contains("no terminal to confirm on: pass --yes to roll back without confirmation"),
        "{}",
        stderr(&out)
    );
    // It showed what it would have done.
    assert!(
        stdout(&out).contains("/etc/b.conf: remove"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.tree(), root);
    // The refusal is a run report; no transaction came of it.
    let history = stdout(&env.harden(&["history"]));
    assert_eq!(history.lines().count(), 1, "{history}");
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(env.read("etc/a.conf"), "old\n");
    assert!(!env.path("etc/b.conf").exists());
}

#[test]
fn outcomes_are_plain_words_and_both_histories_count_the_same_changes() {
    let (env, txn) = applied();
    expect_code(&env.harden(&["rollback", "-y"]), 0);
    let out = env.harden(&["rollback", "--yes", &txn]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "transaction {txn} was already rolled back; its changes are not in place"
        )),
        "{err}"
    );
    for enum_name in ["Reverted", "RolledBack", "ValidationFailed", "Committed"] {
        assert!(!err.contains(enum_name), "{err}");
    }
    let history = stdout(&env.harden(&["history"]));
    let runs = stdout(&env.harden(&["history", "--runs"]));
    let count = |text: &str, kind: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(&format!(" {kind} ")) && !l.contains(" error "))
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let at = words.iter().position(|w| *w == "changes").unwrap();
                words[at - 1].to_string()
            })
            .collect()
    };
    assert_eq!(count(&history, "apply"), ["3"], "{history}");
    assert_eq!(count(&runs, "apply"), ["3"], "{runs}");
    assert_eq!(count(&history, "rollback"), ["3"], "{history}");
    assert_eq!(count(&runs, "rollback"), ["3"], "{runs}");
}

#[test]
fn a_rollback_of_the_rollback_redoes_the_apply_in_a_directory_it_made() {
    let (env, _) = applied();
    let after_apply = env.tree();
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert!(!env.path("etc/sysctl.d").exists());
    // The latest committed transaction is the rollback: undoing it redoes the apply,
    // the directory before the file in it.
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(env.tree(), after_apply, "{}", stderr(&out));
}

#[test]
fn a_plan_file_for_another_root_names_the_root_to_use() {
    let (env, _) = applied();
    let pb = env.playbook("pb2.yml", "name: t2\ntasks:\n  - id: d\n    name: d\n    file: { path: /etc/d.conf, content: \"d\\n\" }\n");
    let plan = env.base.join("plan.json");
    expect_code(
        &env.harden(&[
            "plan",
            "-p",
            pb.to_str().unwrap(),
            "--out",
            plan.to_str().unwrap(),
        ]),
        0,
    );
    let other = Env::new();
    let before = other.tree();
    let out = other.harden(&["apply", plan.to_str().unwrap(), "--yes"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains(&format!(
            "it was made for root {}, not {}: run it with --root {}",
            env.root.display(),
            other.root.display(),
            env.root.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(other.tree(), before);
}

/// The preview is what the operator agrees to: when it cannot be written
/// (stdout on a full disk, a closed pipe), the rollback stops with the error
/// before restoring anything, and `--dry-run` does not claim success.
#[test]
fn a_preview_that_cannot_be_written_stops_the_rollback_before_any_change() {
    let (env, _) = applied();
    let (root, state) = (env.tree(), state_tree(&env));
    for args in [&["rollback", "--dry-run"][..], &["rollback", "--yes"]] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_harden"));
        cmd.args(&args[..1])
            .arg("--root")
            .arg(&env.root)
            .arg("--state-dir")
            .arg(&env.state)
            .args(&args[1..])
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create("/dev/full").unwrap());
        let out = cmd.output().unwrap();
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains("<stdout>"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(env.tree(), root, "{args:?}");
        // No transaction: only the run's report (as every run leaves) is new.
        let mut now = state_tree(&env);
        now.retain(|k, _| !k.starts_with("reports/"));
        let mut was = state.clone();
        was.retain(|k, _| !k.starts_with("reports/"));
        assert_eq!(now, was, "{args:?}");
    }
}
