//! The embedded guide playbooks: each loads and plans against a bare Debian-like
//! root (missing apps skipped by `when:`), and applied to a root that has the
//! apps' files, converges (exit 2, then an empty plan) and rolls back exactly.

use std::path::Path;

use crate::support::*;

/// The bare root plus Debian's games and news accounts.
fn debian_env() -> Env {
    let env = Env::new();
    env.write(
        "etc/passwd",
        &format!("{PASSWD}games:x:5:60:games:/usr/games:/usr/sbin/nologin\nnews:x:9:9:news:/var/spool/news:/usr/sbin/nologin\n"),
    );
    env.write("etc/group", &format!("{GROUP}games:x:60:\nnews:x:9:\n"));
    env.write(
        "etc/shadow",
        "root:*:19000:0:99999:7:::\ngames:*:19000:0:99999:7:::\nnews:*:19000:0:99999:7:::\n",
    );
    env.chmod("etc/shadow", 0o640);
    env
}

#[test]
fn both_playbooks_plan_on_a_bare_root_and_skip_missing_apps() {
    let env = Test::on(debian_env()).embedded("postiz");
    let text = env.plan().code(0).stdout();
    for want in [
        "postiz.sysctl",
        "postiz.user",
        "postiz.lock-games",
        "skipped postiz.env: /opt/postiz/.env does not exist",
        "skipped postiz.docker: no `dockerd` binary",
        "skipped postiz.packages: /var/lib/dpkg/status does not exist",
        "skipped postiz.nginx:",
        "skipped postiz.fail2ban:",
        "skipped postiz.firewall: /etc/ufw does not exist",
        "skipped postiz.compose: /opt/postiz does not exist",
        "skipped postiz.backups:",
        "skipped postiz.apparmor: /etc/apparmor.d does not exist",
        "skipped postiz.rsyslog: /etc/rsyslog.conf does not exist",
        "skipped postiz.opt-mount: /etc/fstab has no entry for /opt",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // The baseline's rules (common) plan; Akkoma's are skipped.
    let text = Test::on(debian_env())
        .embedded("akkoma")
        .plan()
        .code(0)
        .stdout();
    assert!(
        text.contains("skipped akkoma.unit: ") && text.contains("skipped akkoma.config-otp: "),
        "{text}"
    );
}

/// Everything the Postiz guide touches, as on a real host.
fn postiz_env() -> Env {
    for tool in [
        "visudo",
        "fail2ban-client",
        "fail2ban-regex",
        "nginx",
        "openssl",
        "docker-compose",
        "apparmor_parser",
        "rsyslogd",
        "findmnt",
    ] {
        require(tool);
    }
    let env = debian_env();
    env.write(
        "etc/sudoers",
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
    );
    env.chmod("etc/sudoers", 0o440);
    env.write("opt/postiz/.env", "JWT_SECRET=abc\nRATE_LIMIT_MAX=1000\n");
    env.chmod("opt/postiz/.env", 0o644);
    env.write(
        "opt/postiz/docker-compose.yml",
        "services:\n  app:\n    image: ghcr.io/gitroomhq/postiz-app:v2.18.0\n  postgres:\n    image: postgres:latest\n",
    );
    env.write("opt/postiz/backups/db.sql.gz.gpg", "encrypted");
    env.write(
        "opt/postiz/backups/SHA256SUMS",
        "2b8a1bb5bd6d2b79ee8c3a6c0c4b2b3a8f51ad0c75ba9f6fd0a3f0c5a4f4b2a1  db.sql.gz.gpg\n",
    );
    env.chmod("opt/postiz/backups/db.sql.gz.gpg", 0o644);
    env.chmod("opt/postiz", 0o775);
    copy_tree(Path::new("/etc/fail2ban"), &env.path("etc/fail2ban"));
    // python3-systemd, for the journal jails (sshd, the app's).
    env.write("usr/lib/python3/dist-packages/systemd/journal.py", "");
    std::fs::create_dir_all(env.path("etc/apt/apt.conf.d")).unwrap();
    std::fs::create_dir_all(env.path("etc/apparmor.d")).unwrap();
    env.write(
        "etc/fstab",
        "# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/sdb1  /opt  ext4  defaults  0  2\n",
    );
    env.write(
        "etc/rsyslog.conf",
        &std::fs::read_to_string("/etc/rsyslog.conf").unwrap(),
    );
    crate::firewall::add_ufw(&env);
    env.write(
        "etc/docker/daemon.json",
        "{\n  \"data-root\": \"/srv/docker\"\n}\n",
    );
    // Docker is installed (the container_host fact reads its daemon's binary).
    env.write("usr/sbin/dockerd", "#!/bin/sh\nexit 1\n");
    env.chmod("usr/sbin/dockerd", 0o755);
    env.write("var/log/nginx/error.log", "");
    crate::nginx::self_signed_cert(
        &env,
        "etc/letsencrypt/live/postiz.example.org/fullchain.pem",
        "etc/letsencrypt/live/postiz.example.org/privkey.pem",
    );
    env
}

#[test]
fn postiz_converges_then_plans_empty_then_rolls_back() {
    let env = Test::on(postiz_env()).embedded("postiz");
    env.converge(|out| applied_postiz(&env, out));
}

/// The applied Postiz guide: every file it manages as the guide says.
fn applied_postiz(env: &Env, out: &Run) {
    assert!(!out.stdout().contains("abc"), "secret shown");
    assert_eq!(env.mode("opt/postiz/.env"), 0o600);
    assert_eq!(env.mode("opt/postiz"), 0o755);
    assert_eq!(env.mode("opt/postiz/backups"), 0o700);
    assert_eq!(env.mode("opt/postiz/backups/db.sql.gz.gpg"), 0o600);
    assert_has(&out.stdout(), "checksum of `db.sql.gz.gpg` does not match");
    assert_has(
        &out.stdout(),
        "service `postgres` runs image `postgres:latest`",
    );
    // The app runs as the service account's uid, with Postiz's own API limit.
    let uid = env.uid_gid("postiz");
    let over = env.read("opt/postiz/docker-compose.harden.yml");
    assert!(
        over.contains(&format!("  \"app\":\n    user: \"{uid}\"\n")),
        "{over}"
    );
    assert!(over.contains("\"API_LIMIT\": \"30\""), "{over}");
    assert_eq!(
        env.read("opt/postiz/.env"),
        "JWT_SECRET=abc\nRATE_LIMIT_MAX=1000\n"
    );
    assert!(env.read("etc/ufw/ufw.conf").contains("ENABLED=yes"));
    assert!(env.read("etc/ufw/user.rules").contains("--dport 443"));
    assert!(
        env.read("etc/docker/daemon.json")
            .starts_with("{\n  \"data-root\": \"/srv/docker\",\n")
    );
    assert!(
        env.read("etc/apt/apt.conf.d/52harden-unattended-upgrades")
            .contains("APT::Periodic::Unattended-Upgrade \"1\";")
    );
    assert!(env.read("etc/shadow").contains("games:!*:"));
    assert!(
        env.read("etc/sysctl.d/99-harden.conf")
            .contains("kernel.unprivileged_bpf_disabled = 2")
    );
    assert!(
        env.read("etc/sudoers.d/postiz-admin")
            .contains("timestamp_timeout=5")
    );
    assert!(
        env.read("etc/fail2ban/filter.d/postiz-auth.conf")
            .contains("^.*?Failed login attempt.*?<ADDR>")
    );
    assert!(
        env.read("etc/nginx/conf.d/harden-postiz.conf")
            .contains("rate=10r/s")
    );
    assert!(
        env.read("etc/apparmor.d/docker-postiz")
            .contains("profile docker-postiz flags=")
    );
    assert!(
        env.read("etc/fstab")
            .ends_with("/dev/sdb1  /opt  ext4  defaults,noexec,nosuid,nodev  0  2\n")
    );
    assert!(
        env.read("etc/rsyslog.d/postiz.conf")
            .contains(":programname, isequal, \"postiz\" /var/log/postiz/app.log\n& stop\n")
    );
    assert!(
        env.read("etc/rsyslog.d/postiz.conf")
            .contains(":programname, isequal, \"dockerd\" /var/log/postiz/docker.log\n& stop\n")
    );
    assert!(
        env.read("etc/docker/daemon.json")
            .contains("\"ip\": \"127.0.0.1\"")
    );
}

/// An Akkoma source install's files: the checkout's `prod.secret.exs` and the
/// unit that runs it.
pub(crate) fn akkoma_source(env: &Env) {
    env.write(
        "opt/akkoma/config/prod.secret.exs",
        "import Config\n\nconfig :pleroma, Pleroma.Web.Endpoint, secret_key_base: \"k\"\n",
    );
    env.write(
        "etc/systemd/system/akkoma.service",
        "[Unit]\nDescription=Akkoma\n\n[Service]\nUser=akkoma\nExecStart=/opt/akkoma/bin/pleroma start\n",
    );
}

#[test]
fn akkoma_config_and_unit_converge() {
    require("elixir");
    require("systemd-analyze");
    let env = Test::on(debian_env())
        .embedded("akkoma")
        .args(&["-e", "media_url=https://media.example.net/media/"]);
    akkoma_source(&env);
    // A source install has elixir (the check uses the root's own where it can).
    std::fs::create_dir_all(env.path("usr/bin")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/elixir", env.path("usr/bin/elixir")).unwrap();
    env.plan().code(0).stdout_has("exposure ");
    env.converge(|_| {
        assert!(
            env.read("opt/akkoma/config/prod.secret.exs")
                .contains("secure_cookie_flag: true")
        );
        assert!(
            env.read("etc/systemd/system/akkoma.service.d/50-harden.conf")
                .contains("CapabilityBoundingSet=~CAP_SYS_ADMIN ")
        );
    });
}
