//! `fail2ban`: jails and tested filters, checked with the real `fail2ban-regex` at
//! plan time and the real `fail2ban-client -t` on a staged copy before install.

use std::path::Path;

use crate::support::*;

/// A root with the machine's stock `/etc/fail2ban`, the logs the jails read, and
/// no syslog files (journald only, as Debian 12 by default).
fn f2b_env() -> Env {
    require("fail2ban-client");
    require("fail2ban-regex");
    let env = Env::new();
    copy_tree(Path::new("/etc/fail2ban"), &env.path("etc/fail2ban"));
    env.write("var/log/postiz/auth.log", "");
    env.write("var/log/nginx/error.log", "");
    // python3-systemd, which fail2ban's systemd backend loads.
    env.write(PY_SYSTEMD, "");
    env
}

const PY_SYSTEMD: &str = "usr/lib/python3/dist-packages/systemd/journal.py";

/// The Postiz jails with the app's filter built on `failregex`, tested on a
/// failed and a good login line.
fn postiz_jails(failregex: &str) -> Playbook {
    Playbook::new("f2b").task(
        Task::new(
            "f2b.jails",
            "fail2ban",
            json!({
                "defaults": { "bantime": 3600, "findtime": 600, "maxretry": 5 },
                "jails": {
                    "sshd": { "enabled": true },
                    "nginx-limit-req": { "enabled": true, "logpath": "/var/log/nginx/*error.log" },
                    "postiz-auth": {
                        "enabled": true,
                        "filter": "postiz-auth",
                        "logpath": "/var/log/postiz/auth.log",
                        "bantime": 7200
                    }
                },
                "filters": {
                    "postiz-auth": {
                        "failregex": [failregex],
                        "tests": [
                            {
                                "line": "2026-11-23 10:00:01 Failed login attempt for admin from 203.0.113.7",
                                "host": "203.0.113.7"
                            },
                            { "line": "2026-11-23 10:00:02 Login ok for admin from 198.51.100.4" }
                        ]
                    }
                }
            }),
        )
        .name("fail2ban jails"),
    )
}

const GOOD: &str = r"^.*?Failed login attempt.*?<ADDR>";
const GUIDE: &str = r"^.*Failed login attempt.*<HOST>.*$";

#[test]
fn postiz_jails_apply_validated_and_plan_is_then_empty() {
    let env = Test::on(f2b_env()).playbook(&postiz_jails(GOOD));
    env.plan().code(0).stdout_has("backend = systemd");
    env.converge(|_| applied_postiz_jails(&env));
}

/// The applied Postiz jails: the files written, the stock ones kept, and the
/// real tools agreeing on the applied root.
fn applied_postiz_jails(env: &Env) {
    let jails = env.read("etc/fail2ban/jail.d/harden.local");
    for want in [
        "[DEFAULT]\nbantime = 3600\nfindtime = 600\nmaxretry = 5\n",
        "[sshd]\nenabled = true\nbackend = systemd\n",
        "[postiz-auth]\nbantime = 7200\nenabled = true\nfilter = postiz-auth\nlogpath = /var/log/postiz/auth.log\n",
    ] {
        assert!(jails.contains(want), "{jails}");
    }
    // No stock postiz-auth.conf: the filter is a .conf; the stock files are kept.
    let filter = env.path("etc/fail2ban/filter.d/postiz-auth.conf");
    assert!(
        env.read("etc/fail2ban/filter.d/postiz-auth.conf")
            .contains("failregex = ^.*?Failed")
    );
    assert_eq!(
        env.read("etc/fail2ban/jail.conf"),
        std::fs::read_to_string("/etc/fail2ban/jail.conf").unwrap()
    );

    // Real tools on the applied root: the filter captures the right address...
    let log = env.base.join("t.log");
    std::fs::write(
        &log,
        "2026-11-23 10:00:01 Failed login attempt for admin from 203.0.113.7\n",
    )
    .unwrap();
    let re = std::process::Command::new("fail2ban-regex")
        .args(["-o", "ip"])
        .arg(&log)
        .arg(&filter)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&re.stdout).trim(), "203.0.113.7");
    // ...and the whole applied configuration passes fail2ban-client -t, with
    // the root's /var/log over /var/log in a private mount namespace.
    let out = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --make-rprivate / && mount --bind \"$1/var/log\" /var/log && exec fail2ban-client -c \"$1/etc/fail2ban\" -t",
            "sh",
        ])
        .arg(&env.root)
        .output()
        .unwrap();
    expect_code(&out, 0);
}

#[test]
fn the_guides_greedy_filter_is_flagged_and_nothing_is_installed() {
    let env = Test::on(f2b_env()).playbook(&postiz_jails(GUIDE));
    let before = env.tree();
    env.apply()
        .code(6)
        .stderr_has("captured 0.0.0.7 but expected 203.0.113.7");
    assert_eq!(env.tree(), before);
}

#[test]
fn a_configuration_fail2ban_client_rejects_installs_nothing_and_exits_6() {
    let env = f2b_env();
    let before = env.tree();
    let pb = env.playbook(
        "pb.yml",
        "name: x\ntasks:\n  - name: J\n    id: f2b.bad\n    fail2ban:\n      jails:\n        sshd: { enabled: true, action: no-such-action }\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("no-such-action"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
}

#[test]
fn a_missing_logpath_is_a_clear_error() {
    let env = Test::on(f2b_env()).playbook(&postiz_jails(GOOD));
    std::fs::remove_file(env.path("var/log/postiz/auth.log")).unwrap();
    env.plan().code(1).stderr_has(
        "logpath /var/log/postiz/auth.log matches no file under the root; this root logs to the journal only",
    );
}

/// Found on a real Debian 12 root installed without recommends: fail2ban's
/// systemd backend needs python3-systemd, else the server refuses to start every
/// jail while `fail2ban-client -t` passes.
#[test]
fn a_systemd_backend_without_python3_systemd_is_an_error() {
    let env = Test::on(f2b_env()).playbook(&postiz_jails(GOOD));
    std::fs::remove_file(env.path(PY_SYSTEMD)).unwrap();
    let before = env.tree();
    env.apply()
        .code(6)
        .stderr_has("jail sshd: backend systemd needs python3-systemd");
    assert_eq!(env.tree(), before);
    // Given explicitly, the same.
    env.set_playbook(
        &Playbook::new("x").task(
            Task::new(
                "f2b.x",
                "fail2ban",
                json!({ "jails": { "sshd": { "enabled": true, "backend": "systemd" } } }),
            )
            .name("F"),
        ),
    );
    env.plan().code(1).stderr_has("python3-systemd");
    env.write(PY_SYSTEMD, "");
    env.plan().code(0);
}

#[test]
fn a_filter_with_a_stock_conf_goes_to_a_local_file() {
    let env = f2b_env();
    let pb = env.playbook(
        "pb.yml",
        r#"
name: x
tasks:
  - name: F
    id: f2b.sshd-extra
    fail2ban:
      # Debian's stock sshd jail has no log file on a journald-only root; without
      # this jail (and the backend harden then adds) the staged check rejects it.
      jails: { sshd: { enabled: true } }
      filters:
        sshd:
          failregex: ['^.*?Invalid user \S+ from <ADDR>']
          tests: [ { line: "Invalid user bob from 192.0.2.9 port 22", host: 192.0.2.9 } ]
"#,
    );
    let stock = env.read("etc/fail2ban/filter.d/sshd.conf");
    expect_code(
        &env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]),
        2,
    );
    assert!(
        env.read("etc/fail2ban/filter.d/sshd.local")
            .contains("Invalid user")
    );
    assert_eq!(env.read("etc/fail2ban/filter.d/sshd.conf"), stock);
}

/// Two rules, two jail files (`name`): the nginx jail can wait for its log
/// under its own `when:` while the others apply. The app's jail reads the
/// journal (`backend = systemd`, `journalmatch` on the container's tag), and
/// its filter is proved on lines as fail2ban's journal backend builds them
/// (`HOST IDENT[PID]: MESSAGE`, after journalctl's ISO timestamp).
#[test]
fn named_jail_files_and_a_journal_jail_with_a_journal_tested_filter() {
    let env = f2b_env();
    std::fs::remove_file(env.path("var/log/nginx/error.log")).unwrap();
    let pb = env.playbook(
        "pb.yml",
        r#"
name: x
tasks:
  - name: App jails
    id: f2b.app
    fail2ban:
      jails:
        sshd: { enabled: true }
        postiz-auth: { enabled: true, filter: postiz-auth, backend: systemd, journalmatch: "CONTAINER_TAG=postiz" }
      filters:
        postiz-auth:
          failregex: ['^.*?Failed login attempt.*?<ADDR>']
          tests:
            - { line: "2026-11-23T10:00:01.000000+0000 web1 postiz[812]: [Nest] 41 WARN Failed login attempt for a@example.org from 203.0.113.7", host: 203.0.113.7 }
            - { line: "2026-11-23T10:00:02.000000+0000 web1 postiz[812]: Failed login attempt for b@example.org from 2001:db8::42", host: "2001:db8::42" }
            - { line: "2026-11-23T10:00:03.000000+0000 web1 postiz[812]: Login ok for c@example.org from 198.51.100.4" }
  - name: nginx jail
    id: f2b.nginx
    when: { exists: /var/log/nginx/error.log }
    fail2ban:
      name: nginx
      jails:
        nginx-limit-req: { enabled: true, logpath: /var/log/nginx/*error.log }
"#,
    );
    let p = pb.to_str().unwrap();
    let out = env.harden(&["apply", "--yes", "-p", p]);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("skipped f2b.nginx: /var/log/nginx/error.log does not exist"),
        "{}",
        stdout(&out)
    );
    assert!(
        env.read("etc/fail2ban/jail.d/harden.local").contains(
            "[postiz-auth]\nbackend = systemd\nenabled = true\nfilter = postiz-auth\njournalmatch = CONTAINER_TAG=postiz\n"
        )
    );
    // nginx has run: its jail gets a file of its own, the first one untouched.
    env.write("var/log/nginx/error.log", "");
    let first = env.read("etc/fail2ban/jail.d/harden.local");
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert!(
        env.read("etc/fail2ban/jail.d/harden-nginx.local")
            .contains("[nginx-limit-req]\n")
    );
    assert_eq!(env.read("etc/fail2ban/jail.d/harden.local"), first);
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
    // The guide's greedy filter fails on the same journal lines.
    let greedy = env.playbook(
        "greedy.yml",
        &std::fs::read_to_string(&pb).unwrap().replace(
            "'^.*?Failed login attempt.*?<ADDR>'",
            "'^.*Failed login attempt.*<HOST>.*$'",
        ),
    );
    let out = env.harden(&["plan", "-p", greedy.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("captured 0.0.0.7"),
        "{}",
        stderr(&out)
    );
    let bad = env.playbook("bad.yml", "name: x\ntasks:\n  - name: F\n    id: f2b.bad\n    fail2ban: { name: ../x, jails: { sshd: { enabled: true } } }\n");
    let out = env.harden(&["plan", "-p", bad.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("`../x` is not a jail file name"),
        "{}",
        stderr(&out)
    );
}
