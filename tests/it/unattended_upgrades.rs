//! `unattended_upgrades`: the apt.conf.d file passes the real `apt-config` before
//! install, and apt reads back exactly the values and origins asked for.

use std::process::Command;

use crate::support::*;

const FILE: &str = "etc/apt/apt.conf.d/52harden-unattended-upgrades";

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: updates\ntasks:\n  - name: Security updates\n    id: updates.auto\n    severity: high\n    unattended_upgrades:\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// `apt-config -c FILE dump` lines starting with one of `prefixes`.
fn apt_dump(env: &Env, prefixes: &[&str]) -> Vec<String> {
    let out = Command::new("apt-config")
        .arg("-c")
        .arg(env.path(FILE))
        .arg("dump")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .map(str::to_string)
        .collect()
}

#[test]
fn apt_reads_back_the_settings_and_only_our_origins() {
    require("apt-config");
    let env = Env::new();
    std::fs::create_dir_all(env.path("etc/apt/apt.conf.d")).unwrap();
    let p = playbook(
        &env,
        "      settings: { Unattended-Upgrade::Automatic-Reboot: false, Unattended-Upgrade::Remove-Unused-Dependencies: true }\n      origins: [\"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\"]\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    let got = apt_dump(&env, &["APT::Periodic::", "Unattended-Upgrade::"]);
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
    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn names_and_values_apt_would_misread_are_rejected() {
    let env = Env::new();
    for body in [
        "      settings: { \"APT::Periodic::\": 1 }\n",
        "      settings: { Unattended-Upgrade::Mail: 'root\"; APT::X \"1' }\n",
        "      origins: [\"a\\\"b\"]\n",
    ] {
        let out = env.harden(&["plan", "-p", &playbook(&env, body)]);
        expect_code(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("rule updates.auto")
                && (err.contains("not an apt.conf option name")
                    || err.contains("cannot hold")
                    || err.contains("holds `\"`")),
            "{err}"
        );
    }
}
