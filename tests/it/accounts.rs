//! `user` and `sudoers`: account databases edited under the shadow-utils locks with
//! modes and owners kept, the anti-lockout guard, and visudo-validated drop-ins.

use std::os::unix::fs::MetadataExt;

use crate::support::*;

const HASH: &str = "$y$j9T$saltsaltsalt$hashhashhashhashhashhashhashhashhashhash";

/// A Debian-like root with all four account databases (shadow and gshadow 0640
/// root:shadow), the machine's `login.defs` and `sudoers`, and `/etc/.pwd.lock`.
fn accounts_env() -> Env {
    let env = Env::new();
    env.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\ngames:x:5:60:games:/usr/games:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n",
    );
    env.write(
        "etc/group",
        "root:x:0:\nshadow:x:42:\ngames:x:60:\nalice:x:1000:\n",
    );
    env.write(
        "etc/shadow",
        &format!("root:{HASH}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\ngames:*:19000:0:99999:7:::\nalice:{HASH}:19000:0:99999:7:::\n"),
    );
    env.write(
        "etc/gshadow",
        "root:*::\nshadow:*::\ngames:*::\nalice:!::\n",
    );
    for f in ["etc/shadow", "etc/gshadow"] {
        env.chmod(f, 0o640);
        std::os::unix::fs::chown(env.path(f), Some(0), Some(42)).unwrap();
    }
    env.write("etc/.pwd.lock", "");
    env.chmod("etc/.pwd.lock", 0o600);
    std::fs::copy("/etc/login.defs", env.path("etc/login.defs")).unwrap();
    std::fs::copy("/etc/sudoers", env.path("etc/sudoers")).unwrap();
    env.chmod("etc/sudoers", 0o440);
    env.write("etc/sudoers.d/README", "# drop-ins\n");
    env
}

/// A service account for Postiz, and games locked.
fn users() -> Playbook {
    Playbook::new("accounts")
        .task(
            Task::new(
                "accounts.postiz",
                "user",
                json!({
                    "name": "postiz",
                    "system": true,
                    "shell": "/bin/false",
                    "home": "/opt/postiz",
                    "create_home": false
                }),
            )
            .name("Postiz service account"),
        )
        .task(
            Task::new(
                "accounts.lock-games",
                "user",
                json!({ "name": "games", "locked": true, "shell": "/usr/sbin/nologin" }),
            )
            .name("Lock games"),
        )
}

/// A single-rule playbook `x`.
fn one(id: &str, name: &str, module: &str, params: serde_json::Value) -> Playbook {
    Playbook::new("x").task(Task::new(id, module, params).name(name))
}

fn owner(env: &Env, rel: &str) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(env.path(rel)).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn user_creates_system_account_locks_games_then_plan_is_empty_and_rollback_restores() {
    let env = Test::on(accounts_env()).playbook(&users());
    let before = env.tree();

    let text = env.plan().code(0).stdout();
    assert!(text.contains("passwd: postiz: uid"), "{text}");
    assert!(
        text.contains("shadow: games: hash: \"*\" -> \"!*\""),
        "{text}"
    );
    let json = env.plan_args(&["--format", "json"]).stdout();
    for shown in [&text, &json] {
        assert!(
            !shown.contains("$y$"),
            "a hash leaked into the plan:\n{shown}"
        );
    }
    assert!(json.contains("\"redacted\": true"), "{json}");

    // Rollback restores all four databases byte-identical with modes.
    env.converge_from(&before, |_| applied_users(&env));
}

/// The applied account rules: postiz created where login.defs says, games
/// locked, everything else and the databases' modes and owners kept.
fn applied_users(env: &Env) {
    let passwd = env.read("etc/passwd");
    // login.defs: SYS_UID_MAX defaults to UID_MIN - 1 = 999, nothing taken there.
    assert!(
        passwd.contains("postiz:x:999:999::/opt/postiz:/bin/false\n"),
        "{passwd}"
    );
    assert!(env.read("etc/group").ends_with("postiz:x:999:\n"));
    assert!(env.read("etc/gshadow").ends_with("postiz:!::\n"));
    let shadow = env.read("etc/shadow");
    assert!(
        shadow.contains("\ngames:!*:19000:0:99999:7:::\n"),
        "{shadow}"
    );
    assert!(
        shadow.contains(&format!("alice:{HASH}:")),
        "others untouched"
    );
    assert!(
        shadow
            .lines()
            .any(|l| l.starts_with("postiz:!:") && l.ends_with("::::::")),
        "{shadow}"
    );
    assert!(!env.path("opt/postiz").exists(), "create_home: false");
    for (f, want) in [
        ("etc/passwd", (0o644, 0, 0)),
        ("etc/shadow", (0o640, 0, 42)),
        ("etc/group", (0o644, 0, 0)),
        ("etc/gshadow", (0o640, 0, 42)),
    ] {
        assert_eq!(owner(env, f), want, "{f}");
    }
    // The .lock files were removed, and no temp file was left.
    let etc: Vec<String> = std::fs::read_dir(env.path("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !etc.iter().any(|n| {
            let lock = std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("lock"));
            lock && n != ".pwd.lock" || n.starts_with(".harden")
        }),
        "{etc:?}"
    );
}

#[test]
fn locking_the_sessions_own_account_or_root_is_refused() {
    let lock_alice = one(
        "accounts.alice",
        "Lock alice",
        "user",
        json!({ "name": "alice", "locked": true }),
    );
    let alice = Test::on(accounts_env())
        .env("SUDO_USER", "alice")
        .playbook(&lock_alice);
    let before = alice.tree();
    // The guard fails the rule alone (exit 6) and writes nothing.
    assert_has(
        &alice.apply().code(6).both(),
        "the account running this session",
    );
    assert_eq!(alice.tree(), before);

    alice.set_playbook(&one(
        "accounts.root",
        "No root shell",
        "user",
        json!({ "name": "root", "shell": "/usr/sbin/nologin" }),
    ));
    assert_has(&alice.apply().code(6).both(), "it is root");
    assert_eq!(alice.tree(), before);

    // Another user's session may lock alice.
    alice.set_playbook(&lock_alice);
    let out = alice.harden_env(
        &["apply", "--yes", "-p", alice.pb()],
        &[("SUDO_USER", "bob")],
    );
    expect_code(&out, 2);
    let env = alice;
    assert!(env.read("etc/shadow").contains(&format!("alice:!{HASH}:")));
}

#[test]
fn a_live_passwd_lock_is_honoured_and_a_stale_one_broken() {
    let env = Test::on(accounts_env()).playbook(&users());
    let p = env.pb();
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    env.write("etc/shadow.lock", &holder.id().to_string());
    let before = env.tree();
    let out = env.harden_env(
        &["apply", "--yes", "-p", p],
        &[("HARDEN_LOCK_WAIT_MS", "300")],
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("/etc/shadow.lock is locked by another process"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.tree(),
        before,
        "nothing changed, and our own passwd.lock was released"
    );

    // Now its holder is dead: the lock is stale and is broken, as shadow-utils does.
    let out = env.harden(&["apply", "--yes", "-p", p]);
    expect_code(&out, 2);
    assert!(!env.path("etc/shadow.lock").exists());
}

#[test]
fn real_useradd_is_kept_out_while_a_lock_is_held() {
    // The convention harden follows is the one shadow-utils checks: a FILE.lock
    // with a live pid makes `useradd --prefix` give up.
    require("useradd");
    let env = accounts_env();
    env.write("etc/passwd.lock", &std::process::id().to_string());
    let out = std::process::Command::new("useradd")
        .args(["--prefix", env.root.to_str().unwrap(), "-r", "intruder"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot lock"));
    assert!(!env.read("etc/passwd").contains("intruder"));
}

/// The sudo policy drop-in `harden`.
fn sudo_policy() -> Playbook {
    Playbook::new("sudo").task(
        Task::new(
            "sudo.policy",
            "sudoers",
            json!({
                "name": "harden",
                "content": ["%admin ALL=(ALL:ALL) ALL", "Defaults timestamp_timeout=5"]
            }),
        )
        .name("Sudo policy"),
    )
}

#[test]
fn sudoers_drop_in_is_validated_installed_0440_and_plan_is_then_empty() {
    require("visudo");
    let env = Test::on(accounts_env()).playbook(&sudo_policy());
    env.converge(|_| {
        assert_eq!(owner(&env, "etc/sudoers.d/harden"), (0o440, 0, 0));
        let text = env.read("etc/sudoers.d/harden");
        assert!(text.ends_with("%admin ALL=(ALL:ALL) ALL\nDefaults timestamp_timeout=5\n"));
        let check = std::process::Command::new("visudo")
            .args([
                "-c",
                "-f",
                env.path("etc/sudoers.d/harden").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(check.status.success(), "{check:?}");
    });

    // A mode drifted by hand is put back.
    env.apply().code(2);
    env.chmod("etc/sudoers.d/harden", 0o644);
    env.apply().code(2);
    assert_eq!(env.mode("etc/sudoers.d/harden"), 0o440);
}

#[test]
fn sudoers_syntax_error_installs_nothing_and_exits_6() {
    require("visudo");
    let env = Test::on(accounts_env()).playbook(&one(
        "sudo.bad",
        "Bad",
        "sudoers",
        json!({ "name": "harden", "content": ["%admin ALL=(ALL:ALL"] }),
    ));
    let before = env.tree();
    env.apply().code(6).stderr_has("visudo");
    assert_eq!(env.tree(), before);
}

#[test]
fn sudoers_names_sudo_ignores_and_a_sudoers_without_includedir_are_errors() {
    let env = Test::on(accounts_env()).playbook(&sudo_policy());
    for name in ["harden.conf", "harden~"] {
        env.set_playbook(&one(
            "sudo.x",
            "S",
            "sudoers",
            json!({ "name": name, "content": ["Defaults env_reset"] }),
        ));
        env.plan().code(1).stderr_has("sudo ignores");
    }
    let main = env
        .read("etc/sudoers")
        .replace("@includedir /etc/sudoers.d", "");
    env.write("etc/sudoers", &main);
    env.set_playbook(&sudo_policy());
    env.plan()
        .code(1)
        .stderr_has("does not include /etc/sudoers.d");
}
