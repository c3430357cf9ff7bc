//! The `postiz` playbook on real deployments, each built on the cached Debian 12
//! root: untouched; Postiz's official layout (`docker-compose.yaml`, service
//! `postiz`, secrets inline, ports 5000 and 8969 published on every address);
//! the guide's layout (`docker-compose.yml`, service `app`, `.env`, backups,
//! the database on an internal network). On each deployment: `apply -e
//! domain=D` exits 2 with every rule applied or skipped for a reason the test
//! names, the plan is then empty, `check` exits 0, Debian's `docker-compose
//! config` accepts the Compose file with the override, the root's own
//! `fail2ban-client -t`, `nginx -t`, `sshd -T` (hardened values), `ufw` and
//! `apt-config` pass, and rollback restores the root byte for byte.
//!
//! Fixtures under `fixtures/postiz-official` and `fixtures/postiz-guide` are
//! written from the public files' structure, not copied. Docker itself is not
//! in the root: a deployment's Docker is stood for by an executable at
//! `/usr/sbin/dockerd` (harden reads only its presence, the `container_host`
//! fact; it never runs), and Compose files are checked by this machine's
//! docker-compose.

use std::collections::BTreeSet;
use std::process::Command;

use crate::debian_root::{debian12, validate};
use crate::deploy::{
    SESSION, admin, admin_and_certificate, assert_ran, assert_sshd, converge, skipped,
};
use crate::support::*;

const DOMAIN: &str = "social.example.net";

/// What every Postiz deployment adds to the host: the admin and a certificate
/// for `DOMAIN`, and Docker (see the header).
fn deploy_host(env: &Env) {
    admin_and_certificate(env, DOMAIN);
    env.write(
        "usr/sbin/dockerd",
        "#!/bin/sh\n# Test fixture: marks this root as a Docker host (harden's container_host fact); never run.\nexit 1\n",
    );
    env.chmod("usr/sbin/dockerd", 0o755);
}

/// The probes, which only `check` evaluates.
const PROBES: [&str; 4] = [
    "postiz.monitor-logins",
    "postiz.monitor-containers",
    "postiz.monitor-disk",
    "postiz.monitor-listening",
];

/// [`converge`] with exactly `skips` (and the probes) skipped.
fn converge_skipping(
    env: &Env,
    args: &[&str],
    skips: &[&str],
) -> (String, Vec<(&'static str, String)>) {
    let (text, ran) = converge(env, "postiz", args);
    let mut want: BTreeSet<String> = skips.iter().map(|s| (*s).to_string()).collect();
    want.extend(PROBES.iter().map(|s| (*s).to_string()));
    assert_eq!(skipped(&text), want, "{text}");
    (text, ran)
}

/// `docker-compose config` on the user's file and harden's override, as the
/// app would be started; the merged configuration.
fn compose_config(env: &Env, user: &str) -> serde_json::Value {
    require("docker-compose");
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(env.path(user))
        .arg("-f")
        .arg(env.path("opt/postiz/docker-compose.harden.yml"))
        .arg("config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker-compose config: {}",
        stderr(&out)
    );
    serde_saphyr::from_str(&stdout(&out)).unwrap()
}

/// The database and redis sit on an internal network only; the app joins
/// `default` as well for its route out (the merged configuration `v`).
fn assert_internal_db(v: &serde_json::Value) {
    assert_eq!(v["networks"]["postiz-network"]["internal"], true);
    for (svc, want) in [
        ("postiz-postgres", &["postiz-network"][..]),
        ("postiz-redis", &["postiz-network"]),
        ("postiz", &["default", "postiz-network"]),
    ] {
        let mut nets: Vec<&str> = v["services"][svc]["networks"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        nets.sort_unstable();
        assert_eq!(nets, want, "{svc}");
    }
}

/// The uid:gid of an account of the root.
fn ids(env: &Env, name: &str) -> String {
    env.read("etc/passwd")
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == name).then(|| format!("{}:{}", f[2], f[3]))
        })
        .unwrap()
}

fn assert_sshd_hardened(ran: &[(&'static str, String)]) {
    assert_sshd(
        ran,
        &[
            "permitrootlogin no",
            "passwordauthentication no",
            "authenticationmethods publickey",
            "allowusers deploy",
            "maxauthtries 3",
            "x11forwarding no",
            "loglevel VERBOSE",
        ],
    );
}

/// Untouched, the root has no key for anyone: the anti-lockout guard refuses
/// the SSH rule (SSH keys only would lock everyone out) and says so; that rule
/// fails alone, `sshd_config` untouched, and every other rule applies or is
/// skipped by its `when:` with the reason, and the root converges. With an admin
/// account that has a key, the whole playbook converges, SSH rule included.
#[test]
fn postiz_on_an_untouched_debian12_root() {
    let env = debian12();
    let sshd_config = env.read("etc/ssh/sshd_config");
    let args = ["-e", &format!("domain={DOMAIN}"), "--skip-tags", "ssh"];
    let before = env.tree();
    let out = env.harden(&[
        "apply",
        "--yes",
        "-p",
        "postiz",
        "-e",
        &format!("domain={DOMAIN}"),
    ]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("postiz.sshd: anti-lockout: /etc/ssh/sshd_config turns password and keyboard-interactive login off, but no account allowed to log in has a usable authorized key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.read("etc/ssh/sshd_config"),
        sshd_config,
        "the refused rule wrote"
    );
    let text = stdout(&out);
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(
        failed.len() == 1 && failed[0].contains("postiz.sshd"),
        "{text}"
    );
    let mut want: BTreeSet<String> = [
        "postiz.opt-mount",
        "postiz.app-dir",
        "postiz.backups",
        "postiz.env",
        "postiz.docker",
        "postiz.compose",
        "postiz.rsyslog",
        "postiz.nginx",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    want.extend(PROBES.iter().map(|s| (*s).to_string()));
    assert_eq!(skipped(&text), want, "{text}");
    for why in [
        "skipped postiz.docker: no `dockerd` binary",
        "skipped postiz.compose: /opt/postiz does not exist",
        &format!(
            "skipped postiz.nginx: /etc/letsencrypt/live/{DOMAIN}/fullchain.pem does not exist"
        ),
    ] {
        assert!(text.contains(why), "{why} missing:\n{text}");
    }
    // No container runtime: forwarding goes off.
    assert!(
        env.read("etc/sysctl.d/99-harden-forwarding.conf")
            .contains("net.ipv4.ip_forward = 0")
    );
    expect_code(
        &env.harden(&[&["plan", "-p", "postiz", "--detailed-exitcode"][..], &args].concat()),
        0,
    );
    expect_code(
        &env.harden(&[&["check", "-p", "postiz"][..], &args].concat()),
        0,
    );
    assert_ran(
        &validate(&env),
        &["fail2ban", "ufw", "apt-config", "visudo"],
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the root");

    // With the admin account every real host has (a key), nothing is left out:
    // every rule applies or is skipped by its `when:`, sshd is hardened.
    admin(&env);
    let (text, ran) = converge(&env, "postiz", &["-e", &format!("domain={DOMAIN}")]);
    assert!(text.contains("postiz.sshd"), "{text}");
    assert_eq!(skipped(&text), want, "{text}");
    assert_sshd_hardened(&ran);
}

/// Postiz's official layout.
#[test]
fn postiz_on_the_official_layout() {
    let env = debian12();
    deploy_host(&env);
    let official = include_str!("fixtures/postiz-official/docker-compose.yaml");
    env.write("opt/postiz/docker-compose.yaml", official);
    env.chmod("opt/postiz/docker-compose.yaml", 0o644);
    env.chmod("opt/postiz", 0o775);

    // Before: the plan names the exposed ports and the secrets, never a value.
    let out = env.harden_env(
        &["plan", "-p", "postiz", "-e", &format!("domain={DOMAIN}")],
        &SESSION,
    );
    expect_code(&out, 0);
    let text = stdout(&out);
    for want in [
        "published ports reachable from other hosts until now, past the firewall (Docker's iptables rules come before ufw's): postiz 5000:5000, spotlight 8969:8969; on loopback only once docker restarts",
        "-> 0600 root:root: it holds secrets inline (postiz.JWT_SECRET, postiz.DATABASE_URL, postiz.LINKEDIN_CLIENT_SECRET, postiz-postgres.POSTGRES_PASSWORD)",
        "network `postiz-network` of postiz-postgres is declared internal (no route out of the host; postiz, spotlight keep their route out through the project's `default` network",
        "skipped postiz.ip-forward: container or VM host (dockerd installed)",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(
        !text.contains("fixture-jwt-secret"),
        "a secret shown:\n{text}"
    );
    assert!(!text.contains("no service publishes"), "{text}");

    // Applied: the Compose file, the override and daemon.json as the app will start.
    let d = format!("domain={DOMAIN}");
    expect_code(
        &env.harden_env(&["apply", "--yes", "-p", "postiz", "-e", &d], &SESSION),
        2,
    );
    assert_eq!(env.read("opt/postiz/docker-compose.yaml"), official);
    assert_eq!(env.mode("opt/postiz/docker-compose.yaml"), 0o600);
    let v = compose_config(&env, "opt/postiz/docker-compose.yaml");
    let app = &v["services"]["postiz"];
    let uid = ids(&env, "postiz");
    assert_eq!(app["user"], uid.as_str());
    assert_ne!(uid, "1000:1000");
    assert_eq!(app["environment"]["API_LIMIT"], "30");
    assert_eq!(app["logging"]["driver"], "journald");
    assert_eq!(app["logging"]["options"]["tag"], "postiz");
    let opts = app["security_opt"].as_array().unwrap();
    assert!(opts.contains(&"apparmor=docker-postiz".into()), "{opts:?}");
    assert!(opts.contains(&"no-new-privileges:true".into()), "{opts:?}");
    assert_eq!(app["read_only"], true);
    assert_eq!(v["services"]["postiz-postgres"]["privileged"], false);
    assert_internal_db(&v);
    let daemon: serde_json::Value =
        serde_json::from_str(&env.read("etc/docker/daemon.json")).unwrap();
    assert_eq!(daemon["ip"], "127.0.0.1");
    assert!(
        !env.read("etc/sysctl.d/99-harden.conf")
            .contains("ip_forward"),
        "forwarding turned off on a Docker host"
    );
    assert!(!env.path("etc/sysctl.d/99-harden-forwarding.conf").exists());
    let jails = env.read("etc/fail2ban/jail.d/harden.local");
    assert!(
        jails.contains("[postiz-auth]\nbackend = systemd\nbantime = 7200\nenabled = true\nfilter = postiz-auth\njournalmatch = CONTAINER_TAG=postiz\n"),
        "{jails}"
    );
    assert!(
        env.read("etc/nginx/conf.d/harden-postiz.conf")
            .contains(&format!("server_name {DOMAIN};")),
    );
    assert!(
        env.read("etc/nginx/conf.d/harden-postiz.conf")
            .contains("proxy_pass http://127.0.0.1:5000;"),
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);

    let (_, ran) = converge_skipping(
        &env,
        &["-e", &d],
        &[
            "postiz.opt-mount",
            "postiz.backups",
            "postiz.env",
            "postiz.rsyslog",
            "postiz.ip-forward",
        ],
    );
    assert_sshd_hardened(&ran);
    assert_ran(&ran, &crate::debian_root::POSTIZ_VALIDATORS);
}

/// The guide's layout: `docker-compose.yml`, the app as `app` publishing
/// 3000, its secrets in `.env`, backups, the database already internal.
#[test]
fn postiz_on_the_guides_layout() {
    let env = debian12();
    deploy_host(&env);
    env.write(
        "opt/postiz/docker-compose.yml",
        include_str!("fixtures/postiz-guide/docker-compose.yml"),
    );
    env.write(
        "opt/postiz/.env",
        "JWT_SECRET=fixture-secret\nPOSTGRES_PASSWORD=fixture-pw\n",
    );
    env.chmod("opt/postiz/.env", 0o644);
    std::fs::create_dir_all(env.path("opt/postiz/backups")).unwrap();
    env.chmod("opt/postiz", 0o775);
    let d = format!("domain={DOMAIN}");

    // The guide's nginx forwards to 3000: by default the plan says the port is wrong.
    let out = env.harden_env(&["plan", "-p", "postiz", "-e", &d], &SESSION);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("the reverse proxy forwards to port 5000, which no service publishes (published: app 3000:5000)"),
        "{text}"
    );
    assert!(!text.contains("is on network"), "{text}");
    assert!(!text.contains("holds secrets inline"), "{text}");

    let args = ["-e", &d, "-e", "app_port=3000"];
    expect_code(
        &env.harden_env(
            &[&["apply", "--yes", "-p", "postiz"][..], &args].concat(),
            &SESSION,
        ),
        2,
    );
    assert_eq!(env.mode("opt/postiz/.env"), 0o600);
    assert_eq!(env.mode("opt/postiz/backups"), 0o700);
    let v = compose_config(&env, "opt/postiz/docker-compose.yml");
    assert_eq!(v["services"]["app"]["user"], ids(&env, "postiz").as_str());
    assert_eq!(v["services"]["app"]["environment"]["API_LIMIT"], "30");
    assert_eq!(v["networks"]["internal-network"]["internal"], true);
    assert!(
        env.read("etc/nginx/conf.d/harden-postiz.conf")
            .contains("proxy_pass http://127.0.0.1:3000;"),
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);

    let (_, ran) = converge_skipping(
        &env,
        &args,
        &["postiz.opt-mount", "postiz.rsyslog", "postiz.ip-forward"],
    );
    assert_sshd_hardened(&ran);
}
