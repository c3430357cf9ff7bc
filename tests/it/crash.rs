//! kill -9 at every point of an apply: each touched file is old or new, never
//! partial; the next run reports the interrupted transaction; rollback restores the
//! tree exactly. The same for a recursive rule over 10,000 files, killed before,
//! during and after its writes, and during its rollback. Uses the debug-build fault
//! injection `HARDEN_CRASH_AT`.

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

/// A recursive rule changing every path of a 10,000-file tree (owner, group and
/// modes), the top directory included.
const TREE_PB: &str = r#"
name: tree
tasks:
  - name: Application tree
    id: files.tree
    file: { path: /srv/tree, state: directory, recurse: true, owner: alice, group: alice, mode: "0750", file_mode: "0640", dir_mode: "0750" }
"#;

const TREE_FILES: usize = 10_000;

/// `/srv/tree`: 10 directories of 10 directories of 100 files (root-owned, files
/// `0644`, directories `0755`).
fn tree_setup() -> (Env, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let top = env.path("srv/tree");
    for i in 0..TREE_FILES {
        let dir = top
            .join(format!("d{}", i / 1000))
            .join(format!("s{}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let f = dir.join(format!("f{i}"));
        std::fs::write(&f, format!("{i}\n")).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for d in walkdirs(&top) {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let pb = env.playbook("tree.yml", TREE_PB);
    (env, pb)
}

fn walkdirs(top: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![top.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        for e in std::fs::read_dir(&out[i]).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                out.push(e.path());
            }
        }
        i += 1;
    }
    out
}

/// Every path is exactly as before or exactly as after (kind, content, mode,
/// owner): the crash points fall between two paths' changes. Returns how many of
/// the paths the rule changes are old and how many new.
fn every_path_old_or_new(
    env: &Env,
    point: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (usize, usize) {
    let now = env.tree();
    assert_eq!(now.len(), before.len(), "{point}: paths came or went");
    let (mut old, mut new) = (0, 0);
    for (path, state) in &now {
        if before.get(path) == after.get(path) {
            assert_eq!(before.get(path), Some(state), "{point}: {path} changed");
        } else if before.get(path) == Some(state) {
            old += 1;
        } else if after.get(path) == Some(state) {
            new += 1;
        } else {
            panic!("{point}: {path}: neither old nor new: {state}");
        }
    }
    (old, new)
}

#[test]
fn a_10k_file_recursive_apply_killed_anywhere_is_old_or_new_and_rolls_back() {
    let (env, pb) = tree_setup();
    let p = pb.to_str().unwrap();
    let before = env.tree();
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    let after = env.tree();
    let changed = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .count();
    // Every file and directory of the tree (the state directory is not under the root).
    assert_eq!(changed, TREE_FILES + 100 + 10 + 1);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);

    // Op 0 is the top directory's own change; ops 1.. walk the tree below it.
    // They change distinct paths' metadata, so they are made in parallel
    // batches, and a crash point falls only between two batches: every path
    // is still old or new there, but op 1's point comes after the first batch.
    let last = TREE_FILES + 100 + 10;
    let points = [
        "after-journal".to_string(),
        "op-1-done".to_string(),
        format!("op-{}-done", last / 2),
        format!("op-{last}-done"),
        "before-verify".to_string(),
    ];
    for point in &points {
        let out = env.harden_env(&["apply", "--yes", "-p", p], &[("HARDEN_CRASH_AT", point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the apply was not killed\n{}",
            stderr(&out)
        );
        let (old, new) = every_path_old_or_new(&env, point, &before, &after);
        match point.as_str() {
            "after-journal" => assert_eq!(new, 0, "{point}"),
            p if p.ends_with("-done") && p != format!("op-{last}-done") => {
                assert!(old > 0 && new >= 2, "{point}: {old} old, {new} new");
            }
            _ => assert_eq!(old, 0, "{point}"),
        }
        assert!(env.state.join("journal.json").exists(), "{point}");
        expect_code(&env.harden(&["rollback", "--yes"]), 0);
        assert_eq!(
            env.tree(),
            before,
            "{point}: rollback did not restore the tree"
        );
    }

    // A rollback killed half way is resumed by the next one.
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    let point = format!("restore-{}-done", last / 2);
    let out = env.harden_env(&["rollback", "--yes"], &[("HARDEN_CRASH_AT", &point)]);
    assert_eq!(
        out.status.code(),
        None,
        "{point}: the rollback was not killed\n{}",
        stderr(&out)
    );
    let (old, new) = every_path_old_or_new(&env, &point, &before, &after);
    assert!(old > 0 && new > 0, "{point}: {old} old, {new} new");
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(
        env.tree(),
        before,
        "{point}: the second rollback did not restore the tree"
    );
    // And the host is usable again.
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert_eq!(env.tree(), after);
}
