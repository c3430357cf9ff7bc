//! The embedded playbooks on a real Debian 12 root: debootstrap minbase plus the
//! packages the playbooks manage, built once by `scripts/debian-root` (which
//! `scripts/test` runs first) and cached as a tarball under `target/`. Each test
//! extracts its own copy, adds what the application's deployment would (its files,
//! an admin account with a key), applies the playbook (exit 2), plans it again
//! (empty), runs the root's own validators inside it (chroot in a private mount
//! namespace: `sshd -t`, `visudo -c`, `fail2ban-client -t`, `nginx -t`, ...) and
//! rolls back to a byte-identical tree.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::*;

/// The cached root tarball; fails loudly when it has not been built.
fn cached_root() -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debian-root");
    let out = Command::new(script).arg("--path").output().unwrap();
    assert!(out.status.success(), "{script} --path: {}", stderr(&out));
    let path = PathBuf::from(stdout(&out).trim());
    assert!(
        path.is_file(),
        "the cached Debian 12 root {} is missing: run scripts/debian-root (scripts/test does)",
        path.display()
    );
    path
}

/// A fresh copy of the cached Debian 12 root.
pub fn debian12() -> Env {
    let env = Env::empty();
    let out = Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(cached_root())
        .arg("-C")
        .arg(&env.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {}", stderr(&out));
    env
}

/// Mounts a private /proc, /dev and tmpfs /run on the root (`$1`) inside mount,
/// network and PID namespaces of its own, then runs `$2` with the root's `/bin/sh`
/// in a chroot. Mounts, firewall rules and processes die with the namespaces; the
/// machine's own never change.
/// `/proc/sys` is read-only but for `net` (per network namespace): the kernel's
/// global settings stay out of reach.
pub const CHROOT: &str = "set -e; mount --make-rprivate /; mount -t proc proc \"$1/proc\"; \
    mount --bind \"$1/proc/sys\" \"$1/proc/sys\"; mount -o remount,bind,ro \"$1/proc/sys\"; \
    mount --bind \"$1/proc/sys/net\" \"$1/proc/sys/net\"; \
    mount -o remount,bind,rw \"$1/proc/sys/net\"; \
    mount --rbind /dev \"$1/dev\"; mount -t tmpfs -o mode=755 tmpfs \"$1/run\"; \
    exec chroot \"$1\" /bin/sh -ec \"$2\"";

/// Runs `script` inside the root and returns its output, asserting success.
#[track_caller]
pub fn in_root(env: &Env, script: &str) -> String {
    let out: Output = Command::new("unshare")
        .args(["-m", "-n", "-p", "-f", "sh", "-c", CHROOT, "sh"])
        .arg(&env.root)
        .arg(script)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "in the root: {script}\n{text}");
    text
}

/// The real validators of every configuration the playbooks manage that exists
/// in the root, each run by the root's own binary. Returns the names of those
/// run, with their output.
pub(crate) fn validate(env: &Env) -> Vec<(&'static str, String)> {
    let mut ran = Vec::new();
    if env.path("etc/ssh/sshd_config").is_file() {
        // -t, then the effective settings (-T) for a connection as deploy.
        let effective = in_root(
            env,
            "mkdir -m 755 /run/sshd; /usr/sbin/sshd -t -f /etc/ssh/sshd_config; \
             /usr/sbin/sshd -T -f /etc/ssh/sshd_config -C user=deploy,host=h,addr=192.0.2.1",
        );
        ran.push(("sshd", effective));
    }
    if env.path("etc/sudoers").is_file() {
        in_root(
            env,
            "/usr/sbin/visudo -c; for f in /etc/sudoers.d/*; do /usr/sbin/visudo -c -f \"$f\"; done",
        );
        ran.push(("visudo", String::new()));
    }
    // Only a configuration harden manages: Debian 12's stock one fails `-t` on a
    // root without /var/log/auth.log (no rsyslog; Debian bug #1037437), and the
    // postiz playbook's jails are what fix it (`backend = systemd` for sshd).
    if env.path("etc/fail2ban/jail.d/harden.local").is_file() {
        in_root(env, "fail2ban-client -c /etc/fail2ban -t");
        // `-t` misses a backend that cannot load: start the server for real (its
        // bans would land in this throw-away network namespace), database on tmpfs.
        let status = in_root(
            env,
            "mount -t tmpfs tmpfs /var/lib/fail2ban; mkdir -p /run/fail2ban; \
             fail2ban-client -x --logtarget STDERR start; fail2ban-client status; \
             fail2ban-client stop",
        );
        let jails = status
            .lines()
            .find(|l| l.contains("Jail list:"))
            .unwrap_or_default()
            .to_string();
        let ours = env.read("etc/fail2ban/jail.d/harden.local");
        let names = ours
            .lines()
            .filter_map(|l| l.strip_prefix('[')?.strip_suffix(']'))
            .filter(|n| *n != "DEFAULT");
        for jail in names {
            assert!(jails.contains(jail), "{jail} not started:\n{status}");
        }
        ran.push(("fail2ban", String::new()));
    }
    if env.path("etc/nginx/nginx.conf").is_file() {
        // As root, `nginx -t` creates its temp dirs: give it a throw-away place.
        in_root(
            env,
            "mount -t tmpfs tmpfs /var/lib/nginx; /usr/sbin/nginx -t -q",
        );
        ran.push(("nginx", String::new()));
        for site in std::fs::read_dir(env.path("etc/nginx/conf.d")).unwrap() {
            let site = site.unwrap().path();
            if site
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("harden-")
            {
                let text = std::fs::read_to_string(&site).unwrap();
                serve_https(env, &text);
                ran.push(("nginx serving", String::new()));
            }
        }
    }
    if env
        .path("etc/ufw/ufw.conf")
        .is_file()
        .then(|| env.read("etc/ufw/ufw.conf"))
        .is_some_and(|c| c.contains("ENABLED=yes"))
    {
        // What ufw.service runs at boot, into this throw-away network namespace.
        let status = in_root(env, "/lib/ufw/ufw-init start; ufw status verbose");
        assert!(status.contains("Status: active"), "{status}");
        assert!(status.contains("Default: deny (incoming)"), "{status}");
        // Every rule harden wrote (`### tuple ### allow tcp 22 ...`) is loaded.
        let rules = env.read("etc/ufw/user.rules");
        for t in rules
            .lines()
            .filter_map(|l| l.strip_prefix("### tuple ### "))
        {
            let f: Vec<&str> = t.split_whitespace().collect();
            let want = format!("{}/{}", f[2], f[1]);
            assert!(status.contains(&want), "{want} not loaded:\n{status}");
        }
        ran.push(("ufw", String::new()));
    }
    if env.path("etc/apt/apt.conf.d").is_dir() {
        in_root(env, "apt-config dump >/dev/null");
        ran.push(("apt-config", String::new()));
    }
    if env.path("opt/akkoma/config/prod.secret.exs").is_file() {
        in_root(
            env,
            "HOME=/root elixir -e 'Config.Reader.read!(\"/opt/akkoma/config/prod.secret.exs\")'",
        );
        ran.push(("elixir", String::new()));
    }
    ran
}

/// The root's nginx serving on loopback in network, mount and PID namespaces of
/// its own (temp dirs and logs on tmpfs), and the real response headers of a site
/// harden wrote: HTTPS with HSTS and the other security headers (the app behind it
/// is not running, the headers come with the 502).
fn serve_https(env: &Env, site: &str) {
    require("curl");
    require("ip");
    let domain = site
        .lines()
        .find_map(|l| l.trim().strip_prefix("server_name "))
        .unwrap()
        .trim_end_matches(';')
        .to_string();
    let script = "set -e; mount --make-rprivate /; mount -t proc proc \"$1/proc\"; \
        mount --rbind /dev \"$1/dev\"; mount -t tmpfs -o mode=755 tmpfs \"$1/run\"; \
        mount -t tmpfs tmpfs \"$1/var/lib/nginx\"; mount -t tmpfs tmpfs \"$1/var/log/nginx\"; \
        ip link set lo up; chroot \"$1\" /usr/sbin/nginx; \
        curl -sSk -D - -o /dev/null --resolve \"$2:443:127.0.0.1\" \"https://$2/\"";
    let headers = run_ok(
        Command::new("unshare")
            .args(["-m", "-n", "-p", "-f", "sh", "-c", script, "sh"])
            .arg(&env.root)
            .arg(&domain),
    )
    .to_ascii_lowercase();
    for want in [
        "strict-transport-security: max-age=",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy:",
        "content-security-policy:",
    ] {
        assert_has(&headers, want);
    }
    assert!(
        !headers.contains("server: nginx/"),
        "version shown:\n{headers}"
    );
}

/// `converge` (apply exits 2, the plan is then empty, rollback restores the
/// tree byte for byte) with the root's own validators run on the applied root.
/// Returns the validators that ran, with their output.
fn converge(env: &Test) -> Vec<(&'static str, String)> {
    let mut ran = Vec::new();
    env.converge(|out| {
        println!("{}", out.stdout()); // shown on failure or with --nocapture
        // The root has its tools: they, not this machine's, check its candidates
        // (confined: docs/safety.md).
        for l in out
            .stdout()
            .lines()
            .filter(|l| l.contains("candidates are checked"))
        {
            assert!(l.contains("the root's own"), "{l}");
        }
        ran = validate(env);
    });
    ran
}

fn names(ran: &[(&'static str, String)]) -> Vec<&'static str> {
    ran.iter().map(|r| r.0).collect()
}

#[test]
fn baseline_converges_a_fresh_debian12_root() {
    let ran = names(&converge(&Test::on(debian12()).embedded("baseline")));
    assert!(ran.contains(&"sshd"), "{ran:?}");
}

/// The validators a converged Postiz (or Akkoma) host runs, in order.
pub(crate) const POSTIZ_VALIDATORS: [&str; 7] = [
    "sshd",
    "visudo",
    "fail2ban",
    "nginx",
    "nginx serving",
    "ufw",
    "apt-config",
];

pub(crate) const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd9HrMacoZeEZJDomDeVB54VYHO85nBdc7IiXkeJxLR test\n";

/// What the Postiz deployment adds to the host: the admin account (in group
/// `admin`, with a key), the app's directory, secrets and log, nginx's error log
/// (nginx has run) and a certificate.
fn deploy_postiz(env: &Env) {
    crate::deploy::admin_and_certificate(env, "postiz.example.org");
    env.write("opt/postiz/.env", "JWT_SECRET=abc\nRATE_LIMIT_MAX=1000\n");
    env.chmod("opt/postiz/.env", 0o644);
    std::fs::create_dir_all(env.path("opt/postiz/backups")).unwrap();
    env.chmod("opt/postiz", 0o775);
    env.write("var/log/postiz/auth.log", "");
    if !env.path("var/log/nginx/error.log").exists() {
        env.write("var/log/nginx/error.log", "");
    }
}

#[test]
fn postiz_converges_a_debian12_root_and_its_validators_pass() {
    let env = debian12();
    deploy_postiz(&env);
    let ran = converge(
        &Test::on(env)
            .embedded("postiz")
            .args(&["-e", "ssh_users=[deploy]"])
            .env("SUDO_USER", "deploy"),
    );
    let effective = &ran[0].1;
    for want in [
        "permitrootlogin no",
        "passwordauthentication no",
        "authenticationmethods publickey",
        "allowusers deploy",
        "maxauthtries 3",
        "loglevel VERBOSE",
    ] {
        assert!(
            effective.lines().any(|l| l == want),
            "sshd -T lacks {want}:\n{effective}"
        );
    }
    assert_eq!(names(&ran), POSTIZ_VALIDATORS, "validators run");
}

#[test]
fn akkoma_converges_a_debian12_root() {
    let env = debian12();
    crate::playbooks::akkoma_source(&env);
    let ran = names(&converge(&Test::on(env).embedded("akkoma").args(&[
        "-e",
        "domain=social.example.org",
        "-e",
        "media_url=https://media.example.net/media/",
        // No admin with a key here: the SSH rule's guard would refuse the plan
        // (tests/it/deploy_akkoma.rs runs it with one).
        "--skip-tags",
        "ssh",
    ])));
    assert!(ran.contains(&"elixir"), "{ran:?}");
}

/// `service` on the real root: ssh disabled (its `multi-user.target.wants` link
/// and its `sshd.service` alias go), `ctrl-alt-del.target` masked; the real
/// `systemctl --root` agrees, planning again is empty, and rollback restores
/// the tree byte for byte (systemctl agrees again).
#[test]
fn services_disable_ssh_and_mask_ctrl_alt_del_on_a_debian12_root() {
    let env = Test::on(debian12()).playbook(
        &Playbook::new("svc")
            .task(
                Task::new(
                    "svc.ssh",
                    "service",
                    json!({ "name": "ssh", "enabled": false }),
                )
                .name("No remote shell"),
            )
            .task(
                Task::new(
                    "svc.cad",
                    "service",
                    json!({ "name": "ctrl-alt-del.target", "masked": true }),
                )
                .name("No reboot on Ctrl-Alt-Del"),
            ),
    );
    let units = ["ssh.service", "sshd.service", "ctrl-alt-del.target"];
    let before_said = crate::service::is_enabled(&env.root, &units);
    assert_eq!(before_said, ["enabled", "alias", "alias"]);
    env.converge(|out| {
    let text = out.stdout();
    for want in [
        "/etc/systemd/system/sshd.service: disable ssh.service: remove symlink",
        "/etc/systemd/system/multi-user.target.wants/ssh.service: disable ssh.service: remove symlink",
        "/etc/systemd/system/ctrl-alt-del.target: mask: create symlink -> /dev/null",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert_eq!(
        crate::service::is_enabled(&env.root, &units[..1]),
        ["disabled"]
    );
    assert_eq!(
        crate::service::is_enabled(&env.root, &units[2..]),
        ["masked"]
    );
    });
    assert_eq!(crate::service::is_enabled(&env.root, &units), before_said);
}
