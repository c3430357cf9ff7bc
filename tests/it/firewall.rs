//! `firewall:` with the real tools: ufw inside `unshare -n -m` with `--datadir` in
//! the temp root (never the machine's own `/etc/ufw`), `firewall-offline-cmd
//! --system-config` on a temp copy, and the SSH anti-lockout guard.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// The example playbook the README points at.
const FULL: &str = include_str!("../../examples/firewall.yml");

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {}", from.display());
}

/// A root with the machine's ufw package files (disabled), its state pointing
/// only into the root.
pub(crate) fn ufw_root() -> Env {
    let env = Env::new();
    add_ufw(&env);
    env
}

/// Adds the machine's ufw package files to a root, disabled, with ufw's sysctl
/// file inside the root.
pub(crate) fn add_ufw(env: &Env) {
    require("ufw");
    require("iptables");
    std::fs::create_dir_all(env.path("etc/default")).unwrap();
    std::fs::create_dir_all(env.path("lib")).unwrap();
    copy_tree(Path::new("/etc/ufw"), &env.path("etc/ufw"));
    copy_tree(Path::new("/lib/ufw"), &env.path("lib/ufw"));
    let defaults = std::fs::read_to_string("/etc/default/ufw").unwrap();
    let sysctl = env.path("etc/ufw/sysctl.conf");
    let defaults: String = defaults
        .lines()
        .map(|l| {
            if l.starts_with("IPT_SYSCTL=") {
                format!("IPT_SYSCTL={}\n", sysctl.display())
            } else if l.starts_with("DEFAULT_INPUT_POLICY=") {
                "DEFAULT_INPUT_POLICY=\"ACCEPT\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    env.write("etc/default/ufw", &defaults);
    let conf = env
        .read("etc/ufw/ufw.conf")
        .replace("ENABLED=yes", "ENABLED=no");
    env.write("etc/ufw/ufw.conf", &conf);
}

/// The files of `/etc` (what the module and rollback manage).
fn etc(env: &Env) -> std::collections::BTreeMap<String, String> {
    env.tree()
        .into_iter()
        .filter(|(k, _)| k.starts_with("etc"))
        .collect()
}

/// The host firewall rule with `params`.
fn fw(params: serde_json::Value) -> Task {
    Task::new("net.firewall", "firewall", params).name("fw")
}

fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("=={name}=="))
        .unwrap_or_else(|| panic!("no {name}:\n{text}"));
    let rest = &text[start + name.len() + 4..];
    &rest[..rest.find("==").unwrap_or(rest.len())]
}

#[test]
fn ufw_apply_loads_in_a_namespace_plan_is_empty_and_rollback_restores_files_and_rules() {
    let env = ufw_root();
    let pb = env.playbook("pb.yml", FULL);
    let before = etc(&env);
    let machine_ufw = fingerprint(Path::new("/etc/ufw"));
    // Everything runs in one throw-away network namespace; `fwsync` does with the
    // root as data dir what the `sync ufw` handler does on a live host.
    let script = r#"
        H="$1"; R="$2"; S="$3"; PB="$4"
        fwsync() {
            if grep -qx ENABLED=yes "$R/etc/ufw/ufw.conf"; then
                ufw --rootdir=/ --datadir="$R" --force enable
            else
                ufw --rootdir=/ --datadir="$R" disable
            fi >/dev/null 2>&1
        }
        "$H" apply --yes -p "$PB" --root "$R" --state-dir "$S" >/dev/null 2>&1; echo "==APPLY==$?"
        "$H" plan -p "$PB" --root "$R" --state-dir "$S" --detailed-exitcode >/dev/null 2>&1; echo "==REPLAN==$?"
        fwsync
        echo "==STATUS=="; ufw --rootdir=/ --datadir="$R" status verbose 2>/dev/null
        echo "==IPT1=="; iptables-save
        "$H" rollback --yes --root "$R" --state-dir "$S" >/dev/null 2>&1; echo "==ROLLBACK==$?"
        fwsync
        echo "==IPT2=="; iptables-save
        echo "==END=="
    "#;
    let out = Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", script, "sh"])
        .arg(env!("CARGO_BIN_EXE_harden"))
        .arg(&env.root)
        .arg(&env.state)
        .arg(&pb)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("==APPLY==2"), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("==REPLAN==0"),
        "plan after apply not empty:\n{text}"
    );
    let status = section(&text, "STATUS");
    assert!(status.contains("Status: active"), "{status}");
    assert!(
        status.contains("Default: deny (incoming), allow (outgoing)"),
        "{status}"
    );
    for want in [
        "22/tcp",
        "# ssh",
        "443/tcp",
        "2222/tcp",
        "LIMIT IN",
        "10.0.0.0/8",
    ] {
        assert!(status.contains(want), "{want} missing:\n{status}");
    }
    let ipt1 = section(&text, "IPT1");
    assert!(ipt1.contains(":INPUT DROP"), "{ipt1}");
    assert!(
        ipt1.contains("-A ufw-user-input -p tcp -m tcp --dport 443 -j ACCEPT"),
        "{ipt1}"
    );
    assert!(ipt1.contains("-s 10.0.0.0/8"), "{ipt1}");
    assert!(text.contains("==ROLLBACK==0"), "{text}");
    let ipt2 = section(&text, "IPT2");
    assert!(
        !ipt2.contains("--dport 443"),
        "rules left after rollback:\n{ipt2}"
    );
    assert!(!ipt2.contains(":INPUT DROP"), "{ipt2}");
    assert_eq!(etc(&env), before, "rollback did not restore the files");
    assert_eq!(
        fingerprint(Path::new("/etc/ufw")),
        machine_ufw,
        "the machine's /etc/ufw changed"
    );
}

#[test]
fn ufw_purge_removes_unlisted_rules_and_keeps_listed_ones() {
    let env = Test::on(ufw_root()).playbook_yaml(FULL);
    env.apply().code(2);
    env.set_playbook(&Playbook::new("fw").task(fw(json!({
        "purge": true,
        "rules": [{ "allow": "22/tcp", "comment": "ssh" }, { "allow": "80/tcp" }]
    }))));
    env.plan()
        .stdout_has("added: allow 80/tcp")
        .stdout_has("removed: allow 443/tcp, limit 2222/tcp, allow 5432/tcp from 10.0.0.0/8")
        .stdout_has("kept: allow 22/tcp");
    // Rolled back, the purge gives the example's rules back.
    env.converge(|_| {
        let rules = env.read("etc/ufw/user.rules");
        assert!(
            rules.contains("--dport 80 ") && rules.contains("--dport 22 "),
            "{rules}"
        );
        assert!(
            !rules.contains("--dport 443") && !rules.contains("5432"),
            "{rules}"
        );
    });
}

#[test]
fn default_deny_without_the_ssh_port_is_refused_and_with_it_passes() {
    let env = ufw_root();
    env.write(
        "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
    );
    env.write("etc/ssh/sshd_config.d/port.conf", "Port 2200\n");
    let deny = |rules: serde_json::Value| {
        Playbook::new("fw").task(fw(json!({
            "default_incoming": "deny",
            "enabled": true,
            "rules": rules
        })))
    };
    let env = Test::on(env).playbook(&deny(json!([
        { "allow": "22/tcp" },
        { "allow": "2200/tcp", "from": "10.0.0.0/8" }
    ])));
    let before = env.tree();
    env.apply()
        .code(6)
        .stderr_has("anti-lockout")
        .stderr_has("SSH port 2200");
    assert_eq!(env.tree(), before, "a refused plan changed the root");

    env.set_playbook(&deny(json!([{ "limit": "2200/tcp" }])));
    env.apply().code(2);

    // Removing the rule that keeps the SSH port open is refused too.
    env.set_playbook(&Playbook::new("fw").task(fw(json!({
        "purge": true,
        "rules": [{ "allow": "443/tcp" }]
    }))));
    env.apply().code(6).stderr_has("SSH port 2200");
    env.apply_args(&["--i-accept-lockout-risk"]).code(2);
}

#[test]
fn ufw_is_refused_while_firewalld_is_active() {
    let env = ufw_root();
    env.write("etc/firewalld/firewalld.conf", "DefaultZone=public\n");
    std::fs::create_dir_all(env.path("etc/systemd/system/multi-user.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/firewalld.service",
        env.path("etc/systemd/system/multi-user.target.wants/firewalld.service"),
    )
    .unwrap();
    let pb = env.playbook(
        "pb.yml",
        &FULL.replace("default_incoming", "backend: ufw\n      default_incoming"),
    );
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("while firewalld is active"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn firewalld_offline_apply_passes_check_config_and_plans_empty_after() {
    require("firewall-offline-cmd");
    let env = Test::new().playbook_yaml(FULL);
    copy_tree(Path::new("/etc/firewalld"), &env.path("etc/firewalld"));
    env.plan()
        .stdout_has("firewalld zone public")
        .stdout_has("target default -> DROP");
    env.converge(|_| {
        let cmd = |args: &[&str]| {
            let out = Command::new("firewall-offline-cmd")
                .arg("--system-config")
                .arg(env.path("etc/firewalld"))
                .args(["--default-config", "/usr/lib/firewalld"])
                .args(args)
                .output()
                .unwrap();
            expect_code(&out, 0);
            stdout(&out)
        };
        cmd(&["--check-config"]);
        let all = cmd(&["--zone=public", "--list-all"]);
        assert!(all.contains("target: DROP"), "{all}");
        assert!(all.contains("22/tcp") && all.contains("443/tcp"), "{all}");
        assert!(
            all.contains(r#"source address="10.0.0.0/8" port port="5432""#),
            "{all}"
        );
        assert!(
            all.contains(r#"port port="2222" protocol="tcp" accept limit value="6/m""#),
            "{all}"
        );
    });
}

#[test]
fn the_guard_follows_an_sshd_port_change_earlier_in_the_same_plan() {
    let env = ufw_root();
    env.write(
        "etc/ssh/sshd_config",
        "Port 22\nPasswordAuthentication no\n",
    );
    let pb = |allow: &str| {
        Playbook::new("move")
            .task(
                Task::new("ssh.port", "sshd", json!({ "settings": { "Port": 2222 } }))
                    .name("sshd port"),
            )
            .task(fw(json!({
                "default_incoming": "deny",
                "enabled": true,
                "rules": [{ "allow": allow }]
            })))
    };
    let env = Test::on(env).playbook(&pb("22/tcp"));
    env.plan().code(0).stdout_has("SSH port 2222");
    env.set_playbook(&pb("2222/tcp"));
    let text = env.plan().code(0).stdout();
    assert!(!text.contains("SSH port"), "{text}");
}
