//! `ini`: journald.conf, coredump.conf and drop-ins edited in place, one section
//! at a time. The first active assignment is set, later ones commented out, a
//! missing key appended, a missing section or drop-in created; the rest stays byte
//! for byte. The effective values are read back the way systemd reads them:
//! `systemd-analyze cat-config --root` (the main file, then the drop-ins in order)
//! and the last assignment of a key in its section wins.

use crate::debian_root::{debian12, in_root};
use crate::support::*;

const JOURNALD: &str = "#  This file is part of systemd.\n#\n# See journald.conf(5) for details.\n\n\
    [Journal]\n#Storage=auto\n#Compress=yes\nStorage=volatile\n#SystemMaxUse=\n\n\
    [Journal]\nStorage=auto\n";

/// The effective value of `key` in `section` from `cat-config` output, as
/// systemd's parser reads it: comments skipped, the last assignment wins.
fn effective(cat_config: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut value = None;
    for line in cat_config.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        } else if let Some((k, v)) = line.split_once('=')
            && current == section
            && k.trim() == key
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// `systemd-analyze cat-config --root=ROOT NAME` (private /run), asserting success.
fn cat_config(env: &Env, name: &str) -> String {
    require("systemd-analyze");
    let out = private_run("systemd-analyze")
        .arg("cat-config")
        .arg(format!("--root={}", env.root.display()))
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success(), "cat-config: {}", stderr(&out));
    stdout(&out)
}

/// A persistent journal, and no core dumps through a drop-in.
fn logging() -> Playbook {
    Playbook::new("ini")
        .task(
            Task::new(
                "logging.journald",
                "ini",
                json!({
                    "path": "/etc/systemd/journald.conf",
                    "section": "Journal",
                    "settings": { "Storage": "persistent", "Compress": "yes", "ForwardToSyslog": "no" }
                }),
            )
            .name("Persistent journal"),
        )
        .task(
            Task::new(
                "kernel.coredump",
                "ini",
                json!({
                    "path": "/etc/systemd/coredump.conf.d/50-harden.conf",
                    "create": true,
                    "section": "Coredump",
                    "settings": { "Storage": "none", "ProcessSizeMax": 0 }
                }),
            )
            .name("No core dumps"),
        )
}

#[test]
fn journald_and_a_coredump_drop_in_read_back_by_cat_config() {
    let env = Test::new()
        .file("etc/systemd/journald.conf", JOURNALD)
        .file(
            "etc/systemd/coredump.conf",
            "[Coredump]\n#Storage=external\n",
        )
        .playbook(&logging());
    let before = env.tree();
    assert_eq!(
        effective(
            &cat_config(&env, "systemd/journald.conf"),
            "Journal",
            "Storage"
        )
        .as_deref(),
        Some("auto")
    );

    env.plan_read_only()
        .code(0)
        .stdout_has("[Journal] set Compress, ForwardToSyslog, Storage")
        .stdout_has("create file: [Coredump] set ProcessSizeMax, Storage");

    env.converge_from(&before, |_| {
        assert_eq!(
            env.read("etc/systemd/journald.conf"),
            // New keys go after the last assignment of the section's last header.
            JOURNALD
                .replace("Storage=volatile\n", "Storage=persistent\n")
                .replace(
                    "\n[Journal]\nStorage=auto\n",
                    "\n[Journal]\n#Storage=auto\nCompress=yes\nForwardToSyslog=no\n"
                )
        );
        assert_eq!(
            env.read("etc/systemd/coredump.conf.d/50-harden.conf"),
            "[Coredump]\nProcessSizeMax=0\nStorage=none\n"
        );
        let journald = cat_config(&env, "systemd/journald.conf");
        for (key, want) in [
            ("Storage", "persistent"),
            ("Compress", "yes"),
            ("ForwardToSyslog", "no"),
        ] {
            assert_eq!(
                effective(&journald, "Journal", key).as_deref(),
                Some(want),
                "{journald}"
            );
        }
        let coredump = cat_config(&env, "systemd/coredump.conf");
        assert!(
            coredump.contains("coredump.conf.d/50-harden.conf"),
            "{coredump}"
        );
        assert_eq!(
            effective(&coredump, "Coredump", "Storage").as_deref(),
            Some("none")
        );
        assert_eq!(
            effective(&coredump, "Coredump", "ProcessSizeMax").as_deref(),
            Some("0")
        );
    });
}

#[test]
fn malformed_files_and_values_are_errors_naming_the_place() {
    let env = Env::new();
    env.write(
        "etc/systemd/logind.conf",
        "KillUserProcesses=yes\n[Login]\n",
    );
    let task = |params: &str| {
        let p = env.playbook(
            "bad.yml",
            &format!("tasks:\n  - name: t\n    id: t\n    ini: {params}\n"),
        );
        env.harden(&["plan", "-p", p.to_str().unwrap()])
    };
    let out = task(
        "{ path: /etc/systemd/logind.conf, section: Login, settings: { KillUserProcesses: \"yes\" } }",
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("/etc/systemd/logind.conf") && err.contains("line 1"),
        "{err}"
    );
    let out = task(
        "{ path: /etc/systemd/journald.conf, section: Journal, settings: { Storage: \"auto\\nSeal=no\" } }",
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("bad.yml:4:") && err.contains("one line"),
        "{err}"
    );
    let out = task(
        "{ path: /etc/systemd/journald.conf, section: \"Jour\\nnal\", settings: { Storage: auto } }",
    );
    expect_code(&out, 1);
    assert!(stderr(&out).contains("one line"), "{}", stderr(&out));
}

/// Debian 12's own journald.conf and coredump.conf, read back by the root's own
/// `systemd-analyze cat-config` inside it.
#[test]
fn debian12_journald_and_coredump() {
    let env = Test::on(debian12()).playbook(&logging());
    let original = env.read("etc/systemd/journald.conf");
    let before = env.tree();
    env.plan().code(0);
    assert_eq!(env.tree(), before, "plan wrote something");
    env.converge_from(&before, |_| {
        assert_eq!(
            env.read("etc/systemd/journald.conf"),
            original.replace(
                "[Journal]\n",
                "[Journal]\nCompress=yes\nForwardToSyslog=no\nStorage=persistent\n"
            )
        );
        let journald = in_root(&env, "systemd-analyze cat-config systemd/journald.conf");
        assert_eq!(
            effective(&journald, "Journal", "Storage").as_deref(),
            Some("persistent")
        );
        assert_eq!(
            effective(&journald, "Journal", "ForwardToSyslog").as_deref(),
            Some("no")
        );
        let coredump = in_root(&env, "systemd-analyze cat-config systemd/coredump.conf");
        assert!(
            coredump.contains("/etc/systemd/coredump.conf.d/50-harden.conf"),
            "{coredump}"
        );
        assert_eq!(
            effective(&coredump, "Coredump", "Storage").as_deref(),
            Some("none")
        );
    });
}
