//! kill -9 at every point of an apply: each touched file is old or new, never
//! partial; the next run reports the interrupted transaction; rollback restores the
//! tree exactly. Uses the debug-build fault injection `HARDEN_CRASH_AT`.

use std::collections::BTreeMap;

use crate::support::*;

const PB: &str = r#"
name: crash
tasks:
  - name: Kernel drop-in
    id: kernel.sysctl
    sysctl: { settings: { net.ipv4.ip_forward: 0, kernel.kptr_restrict: 2 } }
  - name: Env file
    id: files.app-env
    file: { path: /opt/app/.env, mode: "0600", content: "SECRET=new\n" }
  - name: Passwd
    id: files.passwd
    file: { path: /etc/passwd, mode: "0644" }
"#;

fn setup() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.write(
        "etc/sysctl.d/99-harden.conf",
        "# old\nnet.ipv4.ip_forward = 1\n",
    );
    env.chmod("etc/passwd", 0o600);
    let pb = env.playbook("pb.yml", PB);
    (env, pb)
}

/// The crash points of this playbook's apply, in order.
fn points() -> Vec<String> {
    // ops: write sysctl file, mkdir /opt, mkdir /opt/app, write .env, chmod passwd
    let mut v = vec!["after-snapshot".to_string(), "after-journal".to_string()];
    // ops: 0 write sysctl file, 1 mkdir /opt, 2 mkdir /opt/app, 3 write .env,
    // 4 chmod passwd; writes also stop between staging and rename.
    for i in 0..5 {
        if i == 0 || i == 3 {
            v.push(format!("op-{i}-staged"));
        }
        v.push(format!("op-{i}-done"));
    }
    v.extend(["before-handlers", "before-verify", "before-clear-journal"].map(String::from));
    v
}

fn content_is_old_or_new(
    env: &Env,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) {
    let now = env.tree();
    for (path, state) in &now {
        let old = before.get(path);
        let new = after.get(path);
        let ok = old == Some(state) || new == Some(state)
            // A directory or file that exists in one of the two states with
            // another mode is still whole (a chmod is atomic).
            || old.zip(Some(state)).is_some_and(|(o, s)| same_content(o, s))
            || new.zip(Some(state)).is_some_and(|(n, s)| same_content(n, s));
        assert!(
            ok || path.contains(".harden."),
            "{path}: neither old nor new: {state}"
        );
    }
}

fn same_content(a: &str, b: &str) -> bool {
    a.split(' ').take(2).eq(b.split(' ').take(2))
}

#[test]
fn kill_9_anywhere_leaves_old_or_new_and_rollback_restores() {
    let (clean, pb) = setup();
    let before = clean.tree();
    expect_code(
        &clean.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]),
        2,
    );
    let after = clean.tree();

    for point in points() {
        let (env, pb) = setup();
        assert_eq!(env.tree(), before);
        let p = pb.to_str().unwrap();
        let out = env.harden_env(&["apply", "--yes", "-p", p], &[("HARDEN_CRASH_AT", &point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the apply was not killed\n{}",
            stderr(&out)
        );
        content_is_old_or_new(&env, &before, &after);

        let journal = env.state.join("journal.json").exists();
        if point == "before-clear-journal" {
            // Finished and recorded: a stale journal is not an interruption.
            assert_eq!(env.tree(), after, "{point}");
            let out = env.harden(&["apply", "--yes", "-p", p]);
            expect_code(&out, 0);
            expect_code(&env.harden(&["rollback", "--yes"]), 0);
            assert_eq!(env.tree(), before, "{point}");
            continue;
        }
        if point == "after-snapshot" {
            // Killed before the journal: nothing was written.
            assert!(!journal);
            assert_eq!(env.tree(), before, "{point}");
            continue;
        }
        assert!(journal, "{point}: no journal left behind");
        // The next run reports the interrupted transaction and refuses to apply.
        let out = env.harden(&["plan", "-p", p]);
        expect_code(&out, 0);
        assert!(
            stderr(&out).contains("was interrupted"),
            "{point}: {}",
            stderr(&out)
        );
        let out = env.harden(&["apply", "--yes", "-p", p]);
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains("interrupted"),
            "{point}: {}",
            stderr(&out)
        );
        let hist = stdout(&env.harden(&["history"]));
        assert!(hist.contains("interrupted"), "{point}: {hist}");
        // Rollback restores the tree exactly, temp files included.
        let out = env.harden(&["rollback", "--yes"]);
        expect_code(&out, 0);
        assert_eq!(
            env.tree(),
            before,
            "{point}: rollback did not restore the tree"
        );
        // And the host is usable again.
        expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
        assert_eq!(env.tree(), after, "{point}");
    }
}

#[test]
fn kill_9_during_rollback_is_resumed_by_the_next_rollback() {
    let (env, pb) = setup();
    let before = env.tree();
    expect_code(
        &env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]),
        2,
    );
    let out = env.harden_env(
        &["rollback", "--yes"],
        &[("HARDEN_CRASH_AT", "rollback-restored")],
    );
    assert_eq!(out.status.code(), None);
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(env.tree(), before);
}
