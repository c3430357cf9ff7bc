//! What the deployment tests (`deploy_postiz`, `deploy_akkoma`) share: the
//! operator's side of a deployment on the Debian 12 root (an admin account
//! with a key, a certificate for the domain) and the convergence every layout
//! must pass: apply exits 2 with no rule failed or refused, the plan is then
//! empty, `check` exits 0, the root's own validators pass, and rollback
//! restores the root byte for byte.

use std::collections::BTreeSet;
use std::process::Command;

use crate::debian_root::{KEY, in_root, validate};
use crate::support::*;

/// The session of the admin applying the playbook (the anti-lockout guard
/// checks this account keeps a way in).
pub const SESSION: [(&str, &str); 1] = [("SUDO_USER", "deploy")];

/// The admin account `deploy` (group `admin`, a key) and a certificate for
/// `domain` where Let's Encrypt puts it.
pub fn admin_and_certificate(env: &Env, domain: &str) {
    admin(env);
    require("openssl");
    let live = env.path(&format!("etc/letsencrypt/live/{domain}"));
    std::fs::create_dir_all(&live).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={domain}"), "-keyout"])
        .arg(live.join("privkey.pem"))
        .arg("-out")
        .arg(live.join("fullchain.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The rule ids a run skipped.
pub fn skipped(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("skipped "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// The admin account `deploy` (group `admin`) that logs in with a key, as on
/// every real deployment.
pub fn admin(env: &Env) {
    in_root(
        env,
        "groupadd admin; useradd -m -s /bin/bash -G admin deploy; \
         install -d -m 700 -o deploy -g deploy /home/deploy/.ssh",
    );
    env.write("home/deploy/.ssh/authorized_keys", KEY);
    env.chmod("home/deploy/.ssh/authorized_keys", 0o600);
    in_root(env, "chown deploy:deploy /home/deploy/.ssh/authorized_keys");
}

/// `harden SUBCOMMAND -p PLAYBOOK ARGS` as the admin.
fn run(env: &Env, head: &[&str], playbook: &str, args: &[&str]) -> std::process::Output {
    let mut command = head.to_vec();
    command.extend(["-p", playbook]);
    command.extend_from_slice(args);
    env.harden_env(&command, &SESSION)
}

/// Apply (exit 2, no rule failed or refused), an empty plan, `check` 0, the
/// root's validators, rollback to the same tree. Returns apply's output and
/// the validators that ran, with their output.
pub fn converge(env: &Env, playbook: &str, args: &[&str]) -> (String, Vec<(&'static str, String)>) {
    let before = env.tree();
    let out = run(env, &["apply", "--yes"], playbook, args);
    expect_code(&out, 2);
    let text = stdout(&out);
    println!("{text}");
    assert!(
        !text.contains("FAILED") && !text.contains("REFUSED"),
        "{text}"
    );
    expect_code(
        &run(env, &["plan", "--detailed-exitcode"], playbook, args),
        0,
    );
    expect_code(&run(env, &["check"], playbook, args), 0);
    let ran = validate(env);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    let after = env.tree();
    let differ: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k)
        .chain(after.keys().filter(|k| !before.contains_key(*k)))
        .collect();
    assert!(differ.is_empty(), "rollback did not restore: {differ:?}");
    (text, ran)
}

/// `sshd -T` (as `deploy`) shows each of `want`.
pub fn assert_sshd(ran: &[(&'static str, String)], want: &[&str]) {
    let effective = &ran.iter().find(|r| r.0 == "sshd").unwrap().1;
    for w in want {
        assert!(
            effective.lines().any(|l| l == *w),
            "sshd -T lacks {w}:\n{effective}"
        );
    }
}

/// Each validator of `want` ran.
pub fn assert_ran(ran: &[(&'static str, String)], want: &[&str]) {
    let names: Vec<&str> = ran.iter().map(|r| r.0).collect();
    for v in want {
        assert!(names.contains(v), "{v} did not run: {names:?}");
    }
}
