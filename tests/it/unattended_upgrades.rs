//! `unattended_upgrades`: the apt.conf.d file passes the real `apt-config` before
//! install, and apt reads back exactly the values and origins asked for.

use std::process::Command;

use crate::support::*;

const FILE: &str = "etc/apt/apt.conf.d/52harden-unattended-upgrades";

/// The security-updates rule with `params`.
fn updates(params: serde_json::Value) -> Playbook {
    Playbook::new("updates").task(
        Task::new("updates.auto", "unattended_upgrades", params)
            .name("Security updates")
            .severity("high"),
    )
}

/// `apt-config -c FILE dump` lines starting with one of `prefixes`.
fn apt_dump(env: &Env, prefixes: &[&str]) -> Vec<String> {
    run_ok(
        Command::new("apt-config")
            .arg("-c")
            .arg(env.path(FILE))
            .arg("dump"),
    )
    .lines()
    .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
    .map(str::to_string)
    .collect()
}

#[test]
fn apt_reads_back_the_settings_and_only_our_origins() {
    require("apt-config");
    let t = Test::new()
        .dir("etc/apt/apt.conf.d")
        .playbook(&updates(json!({
            "settings": {
                "Unattended-Upgrade::Automatic-Reboot": false,
                "Unattended-Upgrade::Remove-Unused-Dependencies": true
            },
            "origins": ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]
        })));
    t.converge(|_| {
        let got = apt_dump(&t, &["APT::Periodic::", "Unattended-Upgrade::"]);
        for want in [
            "APT::Periodic::Update-Package-Lists \"1\";",
            "APT::Periodic::Unattended-Upgrade \"1\";",
            "Unattended-Upgrade::Automatic-Reboot \"false\";",
            "Unattended-Upgrade::Remove-Unused-Dependencies \"true\";",
        ] {
            assert!(got.iter().any(|l| l == want), "{want} missing: {got:?}");
        }
        let origins: Vec<&String> = got
            .iter()
            .filter(|l| l.starts_with("Unattended-Upgrade::Origins-Pattern::"))
            .collect();
        assert_eq!(
            origins,
            [
                "Unattended-Upgrade::Origins-Pattern:: \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";"
            ],
            "#clear did not replace the list"
        );
    });
}

#[test]
fn names_and_values_apt_would_misread_are_rejected() {
    let t = Test::new();
    for params in [
        json!({ "settings": { "APT::Periodic::": 1 } }),
        json!({ "settings": { "Unattended-Upgrade::Mail": "root\"; APT::X \"1" } }),
        json!({ "origins": ["a\"b"] }),
    ] {
        t.set_playbook(&updates(params));
        let err = t.plan().code(1).stderr();
        assert!(
            err.contains("rule updates.auto")
                && (err.contains("not an apt.conf option name")
                    || err.contains("cannot hold")
                    || err.contains("holds `\"`")),
            "{err}"
        );
    }
}
