//! The command line and generated artefacts.

use crate::support::*;

#[test]
fn playbook_schema_is_current() {
    let env = Env::new();
    let out = env.harden(&["schema"]);
    expect_code(&out, 0);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/playbook.schema.json"
    ))
    .unwrap_or_default();
    assert!(
        committed == stdout(&out),
        "docs/playbook.schema.json is stale: run `cargo run -- schema > docs/playbook.schema.json`"
    );
}

#[test]
fn modules_lists_the_catalogue() {
    let env = Env::new();
    let out = env.harden(&["modules"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("sysctl "), "{text}");
    assert!(text.contains("file "), "{text}");
}

#[test]
fn rollback_with_nothing_to_roll_back_is_a_clear_error() {
    let env = Env::new();
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("nothing to roll back"),
        "{}",
        stderr(&out)
    );
    let out = env.harden(&["rollback", "--yes", "20990101-000000000-000"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("no transaction"), "{}", stderr(&out));
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let out = assert_cmd::Command::cargo_bin("harden")
        .unwrap()
        .args(["plan", "--root", "/nonexistent/root"])
        .output()
        .unwrap();
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("/nonexistent/root"),
        "{}",
        stderr(&out)
    );
}

/// The committed man page and completions are generated from the one CLI
/// definition; this fails when a flag changed and they were not regenerated.
#[test]
fn man_page_and_completions_are_current() {
    let env = Env::new();
    let mut stale = Vec::new();
    let mut check = |args: &[&str], file: &str| {
        let out = env.harden(args);
        expect_code(&out, 0);
        let path = format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"));
        if std::fs::read_to_string(&path).unwrap_or_default() != stdout(&out)
            || stdout(&out).is_empty()
        {
            stale.push(format!(
                "docs/{file}: run `cargo run -q -- {} > docs/{file}`",
                args.join(" ")
            ));
        }
    };
    check(&["man"], "harden.1");
    for shell in ["bash", "zsh", "fish"] {
        check(
            &["completions", shell],
            &format!("completions/harden.{shell}"),
        );
    }
    assert!(
        stale.is_empty(),
        "stale generated files:\n{}",
        stale.join("\n")
    );
}

/// `docs/modules.md` is generated from the module specs, and every module's
/// example is a playbook harden loads and plans against a realistic root.
#[test]
fn module_reference_is_current_and_its_examples_plan() {
    // A Debian-like root with ufw's files, as on a host where ufw is installed.
    let env = crate::firewall::ufw_root();
    let out = env.harden(&["modules", "--markdown"]);
    expect_code(&out, 0);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/modules.md");
    assert!(
        std::fs::read_to_string(path).unwrap_or_default() == stdout(&out),
        "docs/modules.md is stale: run `cargo run -q -- modules --markdown > docs/modules.md`"
    );
    require("fail2ban-client");
    env.write(
        "etc/sudoers",
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
    );
    let copied = std::process::Command::new("cp")
        .args(["-a", "/etc/fail2ban"])
        .arg(env.path("etc/fail2ban"))
        .status()
        .unwrap();
    assert!(copied.success());
    // python3-systemd, for the fail2ban example's systemd backend.
    env.write("usr/lib/python3/dist-packages/systemd/journal.py", "");
    // What the nginx and systemd_unit examples expect to find on a host.
    crate::nginx::self_signed_cert(
        &env,
        "etc/ssl/certs/postiz.pem",
        "etc/ssl/private/postiz.key",
    );
    env.write(
        "etc/systemd/system/akkoma.service",
        "[Unit]\nDescription=Akkoma\n\n[Service]\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    // The units the service example manages, as Debian ships them.
    for (unit, text) in [
        (
            "ssh.service",
            "[Service]\nExecStart=/usr/sbin/sshd -D\n\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n",
        ),
        (
            "fail2ban.service",
            "[Service]\nExecStart=/usr/bin/fail2ban-server -xf start\n\n[Install]\nWantedBy=multi-user.target\n",
        ),
        ("ctrl-alt-del.target", "[Unit]\nDescription=Reboot\n"),
    ] {
        env.write(&format!("usr/lib/systemd/system/{unit}"), text);
    }
    // What the keyvalue and ini examples edit.
    env.write(
        "etc/login.defs",
        "PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\nUMASK\t\t022\n",
    );
    env.write("etc/security/faillock.conf", "# deny = 3\n");
    env.write("etc/systemd/journald.conf", "[Journal]\n#Storage=auto\n");
    // What the compose and backups examples expect to find.
    env.write(
        "opt/postiz/docker-compose.yml",
        "services:\n  app:\n    image: ghcr.io/gitroomhq/postiz-app:v2.18.0\n",
    );
    env.write("opt/postiz/backups/db.sql.gz.gpg", "encrypted");
    env.chmod("opt/postiz/backups/db.sql.gz.gpg", 0o644);
    // The package example installs auditd and removes telnet (a trusted root).
    env.write(
        "var/lib/dpkg/status",
        "Package: telnet\nStatus: install ok installed\nVersion: 0.17+2.4-2\n",
    );
    // The mount_options example edits the /opt entry.
    env.write(
        "etc/fstab",
        "# /etc/fstab\nUUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/sdb1 /opt ext4 defaults 0 2\n",
    );
    let text = stdout(&out);
    let examples: Vec<&str> = text
        .split("```yaml\n")
        .skip(1)
        .map(|s| s.split("```").next().unwrap())
        .collect();
    let modules = stdout(&env.harden(&["modules"])).lines().count();
    assert_eq!(examples.len(), modules, "one example per module");
    for (i, ex) in examples.iter().enumerate() {
        let pb = env.playbook(&format!("example{i}.yml"), ex);
        let out = env.harden_env(
            &["plan", "-p", pb.to_str().unwrap()],
            &[("HARDEN_TRUST_ROOT_PACKAGES", "1")],
        );
        expect_code(&out, 0);
        let planned = stdout(&out);
        if ex.contains("    probe:\n") {
            // Probes change nothing: plan lists them for `check`.
            assert!(
                planned.contains("a probe: evaluated by `harden check`"),
                "{planned}"
            );
            continue;
        }
        assert!(
            planned.contains("Plan:") && !planned.contains("Plan: 0 changes"),
            "the example changes nothing on a realistic root:\n{ex}\n{planned}"
        );
    }
}
