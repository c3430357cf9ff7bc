//! The `akkoma` playbook on real deployments built on the cached Debian 12
//! root: untouched; an OTP release (the install Akkoma recommends: the
//! release's own Erlang runtime under /opt/akkoma, no elixir on the host, the
//! config in /etc/akkoma/config.exs); a source install (prod.secret.exs, run by
//! mix). On each: apply exits 2 with no rule failed, the plan is then empty,
//! `check` exits 0, the root's own sshd -T (hardened values), fail2ban-client
//! -t, nginx -t, ufw and apt-config pass, the app's config is read back by the
//! app's own runtime, and rollback restores the root. `media_url` is required:
//! without it the config rules fail with the reason and the rest applies.
//!
//! The OTP release is a real one, made inside the root by Debian's elixir
//! (`mix release` of an application named `pleroma`, as Akkoma's is), after
//! which elixir is removed from the root: the shape of Akkoma's release (bin/
//! pleroma, erts-*, lib, releases) with its runtime, not Akkoma itself.

use crate::debian_root::{debian12, in_root};
use crate::deploy::{SESSION, admin, admin_and_certificate, assert_ran, assert_sshd, converge};
use crate::support::*;

const DOMAIN: &str = "social.example.org";
const MEDIA: &str = "media_url=https://media.example.net/media/";

/// The admin and a certificate for `DOMAIN`, and Akkoma's system account (as
/// its install guide makes it).
fn deploy_host(env: &Env) {
    admin_and_certificate(env, DOMAIN);
    in_root(
        env,
        "useradd -r -s /bin/false -m -d /var/lib/akkoma -U akkoma",
    );
}

/// The instance's own settings, before harden's block.
const CONFIG: &str = "import Config\n\nconfig :pleroma, Pleroma.Web.Endpoint,\n  url: [host: \"social.example.org\", scheme: \"https\", port: 443],\n  secret_key_base: \"fixture-not-a-real-key\"\n\nconfig :pleroma, :instance, name: \"Fixture\", email: \"admin@example.org\"\n";

/// An OTP release in /opt/akkoma, its config in /etc/akkoma, its unit; no elixir.
fn otp_layout(env: &Env) {
    in_root(
        env,
        "export HOME=/tmp/build LC_ALL=C.UTF-8; mkdir -p $HOME; cd $HOME; \
         mix new pleroma >/dev/null; cd pleroma; MIX_ENV=prod mix release --quiet >/dev/null 2>&1; \
         mv _build/prod/rel/pleroma /opt/akkoma; chown -R akkoma:akkoma /opt/akkoma; \
         cd /; rm -rf /tmp/build; dpkg -r elixir >/dev/null 2>&1; \
         install -d -m 750 -o akkoma -g akkoma /etc/akkoma",
    );
    assert!(
        !env.path("usr/bin/elixir").exists(),
        "elixir still in the root"
    );
    env.write("etc/akkoma/config.exs", CONFIG);
    env.chmod("etc/akkoma/config.exs", 0o640);
    env.write(
        "etc/systemd/system/akkoma.service",
        "[Unit]\nDescription=Akkoma social network\nAfter=network.target postgresql.service\n\n[Service]\nUser=akkoma\nWorkingDirectory=/opt/akkoma\nEnvironment=\"HOME=/var/lib/akkoma\"\nExecStart=/opt/akkoma/bin/pleroma start\nExecReload=/bin/kill $MAINPID\nKillMode=process\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
    );
}

/// A source install: the checkout's prod.secret.exs and the unit that runs mix.
fn source_layout(env: &Env) {
    env.write("opt/akkoma/config/prod.secret.exs", CONFIG);
    env.write(
        "etc/systemd/system/akkoma.service",
        "[Unit]\nDescription=Akkoma social network\nAfter=network.target postgresql.service\n\n[Service]\nUser=akkoma\nWorkingDirectory=/opt/akkoma\nEnvironment=\"HOME=/var/lib/akkoma\"\nEnvironment=\"MIX_ENV=prod\"\nExecStart=/usr/bin/mix phx.server\nExecReload=/bin/kill $MAINPID\nKillMode=process\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    in_root(env, "chown -R akkoma:akkoma /opt/akkoma");
}

/// The exposure scores (before, after) the plan measured for the unit.
fn exposure(text: &str) -> (f64, f64) {
    let line = text
        .lines()
        .find(|l| l.contains("akkoma.service.d/50-harden.conf") && l.contains("exposure "))
        .unwrap_or_else(|| panic!("no exposure measured:\n{text}"));
    let scores = line.rsplit("exposure ").next().unwrap();
    let (a, b) = scores.split_once(" -> ").unwrap();
    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
}

fn assert_host_hardened(text: &str, ran: &[(&'static str, String)]) {
    assert_sshd(
        ran,
        &[
            "permitrootlogin no",
            "passwordauthentication no",
            "kbdinteractiveauthentication no",
            "authenticationmethods publickey",
            "allowusers deploy",
            "maxauthtries 3",
        ],
    );
    assert_ran(ran, &crate::debian_root::POSTIZ_VALIDATORS);
    for want in [
        "/etc/nginx/conf.d/harden-akkoma.conf: create site social.example.org -> http://127.0.0.1:4000",
        "hardening drop-in (strict)",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
}

/// The site as Akkoma's example sets it up.
fn assert_site(env: &Env) {
    let site = env.read("etc/nginx/conf.d/harden-akkoma.conf");
    for want in [
        "proxy_pass http://127.0.0.1:4000;",
        "client_max_body_size 16m;",
        "ignore_invalid_headers off;",
        "location ^~ /media {\n        return 404;",
        "location ^~ /proxy {\n        return 404;",
        "add_header X-Permitted-Cross-Domain-Policies \"none\" always;",
        "connect-src 'self' wss://social.example.org;",
        "add_header Referrer-Policy \"same-origin\" always;",
    ] {
        assert!(site.contains(want), "{want} missing:\n{site}");
    }
}

#[test]
fn akkoma_on_an_otp_release() {
    let env = debian12();
    deploy_host(&env);
    otp_layout(&env);
    let d = format!("domain={DOMAIN}");
    let args = ["-e", d.as_str(), "-e", MEDIA];

    // Applied: the config checked and read back by the release's own runtime.
    let out = env.harden_env(
        &[&["apply", "--yes", "-p", "akkoma"][..], &args].concat(),
        &SESSION,
    );
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("skipped akkoma.config: /opt/akkoma/config/prod.secret.exs does not exist"),
        "{text}"
    );
    let config = env.read("etc/akkoma/config.exs");
    assert!(
        config.starts_with(CONFIG),
        "the instance's settings were not kept:\n{config}"
    );
    assert!(
        config.contains("base_url: \"https://media.example.net/media/\""),
        "{config}"
    );
    let read_back = in_root(
        &env,
        "/opt/akkoma/bin/pleroma eval 'c = Config.Reader.read!(\"/etc/akkoma/config.exs\"); IO.puts(c[:pleroma][Pleroma.Upload][:base_url]); IO.inspect(c[:pleroma][Pleroma.Web.Endpoint][:http]); IO.inspect(c[:pleroma][Pleroma.Web.Endpoint][:secure_cookie_flag])'",
    );
    for want in [
        "https://media.example.net/media/",
        "[ip: {127, 0, 0, 1}, port: 4000]",
        "true",
    ] {
        assert!(read_back.contains(want), "{want} missing:\n{read_back}");
    }
    let (before, after) = exposure(&text);
    println!("akkoma.service exposure (OTP unit): {before} -> {after}");
    assert!(after < before && after < 3.0, "{before} -> {after}");
    assert_site(&env);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);

    let (text, ran) = converge(&env, "akkoma", &args);
    assert_host_hardened(&text, &ran);

    // No media_url: the config rule fails and says why; the rest applies.
    let before = env.tree();
    let out = env.harden_env(&["apply", "--yes", "-p", "akkoma", "-e", &d], &SESSION);
    expect_code(&out, 6);
    // The release's own message is shown; the instance's domain in it is a value
    // of the secret config, so that value alone is masked.
    assert!(
        stderr(&out).contains("rule akkoma.config-otp: /etc/akkoma/config.exs: validator `/opt/akkoma/bin/pleroma eval")
            && stderr(&out).contains("` rejected the candidate (exit 1)")
            && stderr(&out).contains("media_url is required: uploads belong on another domain than [secret hidden] (-e media_url=URL)")
            && !stderr(&out).contains("fixture-not-a-real-key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("etc/akkoma/config.exs"), CONFIG);
    assert!(
        env.path("etc/systemd/system/akkoma.service.d/50-harden.conf")
            .is_file()
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);

    // No release beside the config: no validator can run, and the rule says so.
    std::fs::rename(
        env.path("opt/akkoma/bin/pleroma"),
        env.path("opt/akkoma/bin/pleroma.moved"),
    )
    .unwrap();
    let out = env.harden_env(
        &[&["apply", "--yes", "-p", "akkoma"][..], &args].concat(),
        &SESSION,
    );
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("rule akkoma.config-otp: /etc/akkoma/config.exs: no `/opt/akkoma/bin/pleroma` to validate with"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("etc/akkoma/config.exs"), CONFIG);
}

#[test]
fn akkoma_on_a_source_install() {
    require("elixir");
    let env = debian12();
    deploy_host(&env);
    source_layout(&env);
    let d = format!("domain={DOMAIN}");
    let args = ["-e", d.as_str(), "-e", MEDIA];
    let (text, ran) = converge(&env, "akkoma", &args);
    assert!(
        text.contains("skipped akkoma.config-otp: /etc/akkoma/config.exs does not exist"),
        "{text}"
    );
    assert!(
        ran.iter().any(|r| r.0 == "elixir"),
        "the config was not read back"
    );
    assert_host_hardened(&text, &ran);
    let (before, after) = exposure(&text);
    println!("akkoma.service exposure (source unit): {before} -> {after}");
    assert!(after < before && after < 3.0, "{before} -> {after}");

    // A media URL on the instance's own domain is no boundary: refused.
    let out = env.harden_env(
        &[
            "apply",
            "--yes",
            "-p",
            "akkoma",
            "-e",
            &d,
            "-e",
            "media_url=https://social.example.org/media/",
        ],
        &SESSION,
    );
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains(
            "media_url is required: uploads belong on another domain than social.example.org"
        ),
        "{}",
        stderr(&out)
    );
}

/// Untouched, nobody has a key: the guard refuses the SSH rule, which fails
/// alone with `sshd_config` untouched; the rest converges (Akkoma's own rules are
/// skipped: no Akkoma installed). With an admin account that has a key, the
/// whole playbook converges, SSH rule included.
#[test]
fn akkoma_on_an_untouched_debian12_root() {
    let env = debian12();
    let sshd_config = env.read("etc/ssh/sshd_config");
    let before = env.tree();
    let d = format!("domain={DOMAIN}");
    let out = env.harden(&["apply", "--yes", "-p", "akkoma", "-e", &d, "-e", MEDIA]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("akkoma.sshd: anti-lockout:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("etc/ssh/sshd_config"), sshd_config);
    let text = stdout(&out);
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(
        failed.len() == 1 && failed[0].contains("akkoma.sshd"),
        "{text}"
    );
    let args = ["-e", d.as_str(), "-e", MEDIA, "--skip-tags", "ssh"];
    for skip in [
        "akkoma.config:",
        "akkoma.config-otp:",
        "akkoma.unit:",
        "akkoma.nginx:",
    ] {
        assert!(
            text.contains(&format!("skipped {skip}")),
            "{skip} not skipped:\n{text}"
        );
    }
    expect_code(
        &env.harden(&[&["plan", "-p", "akkoma", "--detailed-exitcode"][..], &args].concat()),
        0,
    );
    expect_code(
        &env.harden(&[&["check", "-p", "akkoma"][..], &args].concat()),
        0,
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);

    // With the admin account every real host has (a key), nothing is left out.
    admin(&env);
    let (text, ran) = converge(&env, "akkoma", &["-e", d.as_str(), "-e", MEDIA]);
    assert!(text.contains("akkoma.sshd"), "{text}");
    assert_sshd(
        &ran,
        &[
            "permitrootlogin no",
            "passwordauthentication no",
            "authenticationmethods publickey",
            "allowusers deploy",
        ],
    );
}
