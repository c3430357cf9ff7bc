//! `sshd`: effective values over Include and Match, real `sshd -t`/`-T` in a
//! private mount namespace on applied roots, the anti-lockout guard, and a real
//! sshd on loopback in a network namespace. Nothing here touches the machine's own
//! `/etc/ssh` or `/run`: every sshd runs under `unshare -m` with a tmpfs `/run` and
//! the root's `/etc/ssh` bound over `/etc/ssh`.

use std::process::Command;

use crate::support::*;

const DEBIAN12: &str = include_str!("fixtures/debian12_sshd_config");
const CLOUD_INIT: &str = "PasswordAuthentication yes\n";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd9HrMacoZeEZJDomDeVB54VYHO85nBdc7IiXkeJxLR test\n";

/// A Debian 12 root with the default `sshd_config` and a cloud-init drop-in.
fn debian_root() -> Test {
    Test::new()
        .file("etc/ssh/sshd_config", DEBIAN12)
        .file("etc/ssh/sshd_config.d/50-cloud-init.conf", CLOUD_INIT)
        .dir("home/alice")
        .dir("root")
}

fn add_key(env: &Env, home: &str) {
    env.write(&format!("{home}/.ssh/authorized_keys"), KEY);
    env.chmod(&format!("{home}/.ssh/authorized_keys"), 0o600);
}

/// The SSH daemon rule with `params`.
fn ssh(params: &serde_json::Value) -> Playbook {
    Playbook::new("ssh").task(Task::new("ssh.harden", "sshd", params.clone()).name("SSH daemon"))
}

/// The SSH daemon rule setting `settings`.
fn settings(settings: &serde_json::Value) -> Playbook {
    ssh(&json!({ "settings": settings }))
}

/// The settings the first tests harden with.
fn harden() -> serde_json::Value {
    json!({
        "PermitRootLogin": "no",
        "PasswordAuthentication": false,
        "KbdInteractiveAuthentication": false,
        "MaxAuthTries": 3,
        "LoginGraceTime": 60,
        "X11Forwarding": false,
        "LogLevel": "VERBOSE"
    })
}

/// The shell prologue of every namespace below: private mounts, tmpfs /run with
/// /run/sshd, the root's /etc/ssh over /etc/ssh, a throw-away host key.
const PROLOGUE: &str = "set -e; mount --make-rprivate /; mount -t tmpfs -o mode=755 tmpfs /run; mkdir -m 755 /run/sshd; mount --bind \"$R/etc/ssh\" /etc/ssh; ssh-keygen -q -t ed25519 -N '' -f /run/hk </dev/null >/dev/null;";

/// `sshd -T` of the applied root for a connection (`-C` spec), in a namespace.
fn sshd_t(env: &Env, conn: &str) -> String {
    require("sshd");
    run_ok(
        Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(format!(
                "{PROLOGUE} exec /usr/sbin/sshd -T -f /etc/ssh/sshd_config -o HostKey=/run/hk -C \"$1\""
            ))
            .args(["sh", conn])
            .env("R", &env.root),
    )
}

const DEFAULT_CONN: &str = "user=alice,host=client.example,addr=192.0.2.10";

fn has(t: &str, line: &str) -> bool {
    t.lines().any(|l| l == line)
}

#[test]
fn debian_default_with_cloud_init_drop_in_converges_and_rolls_back() {
    let env = debian_root().playbook(&settings(&harden()));
    add_key(&env, "home/alice");
    let before = env.tree();

    // sshd -T before: the cloud-init drop-in wins.
    assert!(has(
        &sshd_t(&env, DEFAULT_CONN),
        "passwordauthentication yes"
    ));

    env.plan()
        .stdout_has("neutralises /etc/ssh/sshd_config.d/50-cloud-init.conf:1")
        .stdout_has("neutralise `PasswordAuthentication yes` (line 1)")
        .stdout_has("sshd -t");
    assert_eq!(env.tree(), before, "plan wrote something");

    // Idempotent, and rollback restores the tree byte for byte.
    env.converge_from(&before, |_| applied_debian_default(&env));
}

/// The applied Debian default: values before the Include, the rest untouched,
/// the cloud-init drop-in neutralised, and the real sshd agreeing.
fn applied_debian_default(env: &Env) {
    // Main file: values before the Include, the rest byte for byte.
    let main = env.read("etc/ssh/sshd_config");
    let inc = main.find("Include /etc/ssh/sshd_config.d/*.conf").unwrap();
    let managed = [
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "MaxAuthTries 3",
        "LoginGraceTime 60",
        "X11Forwarding no",
        "LogLevel VERBOSE",
    ];
    for l in managed {
        let at = main
            .find(&format!("{l}\n"))
            .unwrap_or_else(|| panic!("{l}\n{main}"));
        assert!(at < inc, "{l} after Include:\n{main}");
    }
    let kept: Vec<&str> = main
        .lines()
        .filter(|l| !l.ends_with("# disabled by harden") && !managed.contains(l))
        .collect();
    let orig: Vec<&str> = DEBIAN12
        .lines()
        .filter(|l| *l != "KbdInteractiveAuthentication no" && *l != "X11Forwarding yes")
        .collect();
    assert_eq!(kept, orig, "unrelated lines changed");
    assert!(main.contains("# X11Forwarding yes  # disabled by harden"));
    assert_eq!(
        env.read("etc/ssh/sshd_config.d/50-cloud-init.conf"),
        "# PasswordAuthentication yes  # disabled by harden\n"
    );

    assert_eq!(env.mode("etc/ssh/sshd_config"), 0o644, "mode kept");
    // The real sshd agrees on every effective value.
    let t = sshd_t(env, DEFAULT_CONN);
    for l in [
        "permitrootlogin no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "maxauthtries 3",
        "logingracetime 60",
        "x11forwarding no",
        "loglevel VERBOSE",
    ] {
        assert!(has(&t, l), "{l} not effective:\n{t}");
    }
}

#[test]
fn match_blocks_are_never_edited() {
    let main =
        format!("{DEBIAN12}Match User backup\n\tPasswordAuthentication yes\n\tX11Forwarding yes\n");
    let env = debian_root()
        .file("etc/ssh/sshd_config", &main)
        .playbook(&settings(&harden()));
    add_key(&env, "home/alice");
    env.plan()
        .stdout_has("inside a Match block applies to matching connections");
    env.apply().code(2);
    let after = env.read("etc/ssh/sshd_config");
    assert!(
        after.ends_with("Match User backup\n\tPasswordAuthentication yes\n\tX11Forwarding yes\n")
    );
    assert!(has(
        &sshd_t(&env, DEFAULT_CONN),
        "passwordauthentication no"
    ));
    assert!(has(
        &sshd_t(&env, "user=backup,host=h,addr=192.0.2.1"),
        "passwordauthentication yes"
    ));
}

#[test]
fn unknown_mac_is_rejected_by_sshd_t_and_nothing_is_installed() {
    require("sshd");
    let env = debian_root().playbook(&settings(
        &json!({ "MACs": "hmac-sha2-256-etm@openssh.com,hmac-foo" }),
    ));
    add_key(&env, "home/alice");
    let before = env.tree();
    env.apply().code(6).stderr_has("hmac-foo");
    assert_eq!(env.tree(), before);
}

#[test]
fn subsystem_is_never_duplicated_into_a_drop_in() {
    require("sshd");
    let env = debian_root();
    add_key(&env, "home/alice");
    // A valid start: the sftp subsystem defined only in a drop-in. Moving it to the
    // main file is valid only with both edits, which each candidate's check sees.
    env.write(
        "etc/ssh/sshd_config",
        &DEBIAN12.replace("Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n", ""),
    );
    env.write(
        "etc/ssh/sshd_config.d/60-sftp.conf",
        "Subsystem sftp internal-sftp\n",
    );
    env.set_playbook(&settings(&json!({ "Subsystem": "sftp internal-sftp" })));
    env.apply().code(2);
    assert_eq!(
        env.read("etc/ssh/sshd_config.d/60-sftp.conf"),
        "# Subsystem sftp internal-sftp  # disabled by harden\n"
    );
    let main = env.read("etc/ssh/sshd_config");
    assert_eq!(
        main.matches("\nSubsystem").count() + usize::from(main.starts_with("Subsystem")),
        1,
        "{main}"
    );
    assert!(has(
        &sshd_t(&env, DEFAULT_CONN),
        "subsystem sftp internal-sftp"
    ));
}

#[test]
fn modern_crypto_keeps_only_supported_recommended_algorithms() {
    let env = debian_root().playbook(
        &Playbook::unnamed()
            .task(Task::new("ssh.crypto", "sshd", json!({ "crypto": "modern" })).name("c")),
    );
    add_key(&env, "home/alice");
    env.apply().code(2);
    let t = sshd_t(&env, DEFAULT_CONN);
    let get = |k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")))
            .unwrap_or_else(|| panic!("{k} missing"))
            .to_string()
    };
    let macs = get("macs");
    assert!(macs.split(',').all(|m| m.contains("-etm@")), "{macs}");
    assert!(
        get("ciphers")
            .split(',')
            .all(|c| c.starts_with("chacha20") || c.starts_with("aes"))
    );
    assert!(get("kexalgorithms").split(',').all(|k| k.contains("25519")));
    assert!(
        !get("hostkeyalgorithms").contains("ssh-rsa,")
            && !get("hostkeyalgorithms").contains("ecdsa")
    );
    env.replan().code(0);
}

/// Asserts the plan is refused (naming `words`), apply fails the rule alone and
/// changes nothing, and with the fix applied (`fix`) the same playbook applies.
fn refused_then_passes(env: &Test, words: &[&str], fix: impl Fn()) {
    let before = env.tree();
    let text = env.plan().both();
    assert_has(&text, "anti-lockout");
    for w in words {
        assert_has(&text, w);
    }
    assert_has(&env.apply().code(6).stderr(), "anti-lockout");
    assert_eq!(env.tree(), before, "refused apply changed the tree");
    fix();
    env.apply().code(2);
}

#[test]
fn guard_passwords_off_without_any_key() {
    let env = debian_root().playbook(&settings(&json!({ "PasswordAuthentication": false })));
    refused_then_passes(
        &env,
        &[
            "no account allowed to log in has a usable authorized key",
            "alice",
        ],
        || add_key(&env, "home/alice"),
    );
}

#[test]
fn guard_honours_authorized_keys_file_with_tokens() {
    let env = debian_root();
    env.write(
        "etc/ssh/sshd_config.d/10-keys.conf",
        "AuthorizedKeysFile /etc/ssh/keys/%u\n",
    );
    // A key in the home directory does not count when sshd looks elsewhere.
    add_key(&env, "home/alice");
    env.set_playbook(&settings(&json!({ "PasswordAuthentication": false })));
    refused_then_passes(&env, &["/etc/ssh/keys/%u"], || {
        env.write("etc/ssh/keys/alice", KEY);
    });
}

/// The Debian root where alice has a key and an account bob exists (no key).
fn alice_with_a_key_and_bob() -> Test {
    let env = debian_root().file(
        "etc/passwd",
        &format!("{PASSWD}bob:x:1001:1001::/home/bob:/bin/bash\n"),
    );
    add_key(&env, "home/alice");
    env
}

#[test]
fn guard_allow_users_excluding_the_session_user() {
    let env = alice_with_a_key_and_bob();
    let before = env.tree();
    env.set_playbook(&settings(&json!({ "AllowUsers": ["bob"] })));
    let p = env.pb();
    let alice = [("SUDO_USER", "alice")];
    let plan = env.harden_env(&["plan", "-p", p], &alice);
    assert_has(
        &stdout(&plan),
        "exclude `alice`, the account running this session",
    );
    assert_has(
        &stdout(&plan),
        "exclude every account with an authorized key (alice)",
    );
    expect_code(&env.harden_env(&["apply", "--yes", "-p", p], &alice), 6);
    assert_eq!(env.tree(), before);
    // Bob runs the session and has a key: nobody is shut out.
    std::fs::create_dir_all(env.path("home/bob")).unwrap();
    add_key(&env, "home/bob");
    expect_code(
        &env.harden_env(&["apply", "--yes", "-p", p], &[("SUDO_USER", "bob")]),
        2,
    );
}

#[test]
fn guard_allow_users_session_user_then_passes() {
    let env = alice_with_a_key_and_bob();
    let before = env.tree();
    let bob = [("SUDO_USER", "bob")];
    env.set_playbook(&settings(&json!({ "AllowUsers": ["bob"] })));
    let out = env.harden_env(&["apply", "--yes", "-p", env.pb()], &bob);
    // Bob (the session) stays allowed, but nobody with a key would be: still refused.
    expect_code(&out, 6);
    assert_eq!(env.tree(), before);
    env.set_playbook(&settings(&json!({ "AllowUsers": ["alice", "bob"] })));
    expect_code(
        &env.harden_env(&["apply", "--yes", "-p", env.pb()], &bob),
        2,
    );
    assert!(has(&sshd_t(&env, DEFAULT_CONN), "allowusers alice"));
}

#[test]
fn guard_root_login_off_when_root_is_the_only_way_in() {
    let env = debian_root().playbook(&settings(&json!({ "PermitRootLogin": "no" })));
    add_key(&env, "root");
    refused_then_passes(
        &env,
        &["PermitRootLogin no", "root is the only account"],
        || add_key(&env, "home/alice"),
    );
}

#[test]
fn guard_port_change_under_socket_activation() {
    let env = debian_root();
    add_key(&env, "home/alice");
    std::fs::create_dir_all(env.path("etc/systemd/system/sockets.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/ssh.socket",
        env.path("etc/systemd/system/sockets.target.wants/ssh.socket"),
    )
    .unwrap();
    env.set_playbook(&settings(&json!({ "Port": 2222 })));
    refused_then_passes(&env, &["ssh.socket is enabled"], || {
        std::fs::remove_file(env.path("etc/systemd/system/sockets.target.wants/ssh.socket"))
            .unwrap();
    });
}

#[test]
fn guard_port_not_allowed_by_the_firewall() {
    let env = debian_root();
    add_key(&env, "home/alice");
    env.write("etc/ufw/ufw.conf", "ENABLED=yes\n");
    env.write(
        "etc/ufw/user.rules",
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n",
    );
    env.set_playbook(&settings(&json!({ "Port": 2222 })));
    refused_then_passes(&env, &["does not allow tcp/2222"], || {
        env.write(
            "etc/ufw/user.rules",
            "### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 2222 -j ACCEPT\n",
        );
    });
}

#[test]
fn accept_lockout_risk_overrides_loudly() {
    let env = debian_root().playbook(&settings(&json!({ "PasswordAuthentication": false })));
    env.apply_args(&["--i-accept-lockout-risk"])
        .code(2)
        .stderr_has("anti-lockout");
}

/// End to end: the applied root's config runs a real sshd inside `unshare -n -m -p`
/// (loopback only, private /run, the root's /etc/ssh bound over /etc/ssh, alice
/// added to a private copy of /etc/passwd). Key login works; password and root
/// login are refused.
#[test]
fn real_sshd_on_loopback_key_login_only() {
    use std::os::unix::fs::PermissionsExt;
    require("sshd");
    require("ssh");
    let env = debian_root();
    let key = env.base.join("id_ed25519");
    let public = ssh_keygen(&key);
    for home in ["home/alice", "root"] {
        env.write(&format!("{home}/.ssh/authorized_keys"), &public);
        env.chmod(&format!("{home}/.ssh/authorized_keys"), 0o600);
        env.chmod(&format!("{home}/.ssh"), 0o700);
    }
    for (p, uid) in [
        ("home/alice", 4242),
        ("home/alice/.ssh", 4242),
        ("home/alice/.ssh/authorized_keys", 4242),
    ] {
        std::os::unix::fs::chown(env.path(p), Some(uid), Some(uid)).unwrap();
    }
    for d in [
        env.base.as_path(),
        env.root.as_path(),
        &env.path("home"),
        &env.path("home/alice"),
    ] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut with_port = harden();
    with_port["Port"] = json!(2222);
    env.set_playbook(&settings(&with_port));
    env.apply().code(2);

    let script = r#"set -e
mount --make-rprivate /
ip link set lo up
mount -t tmpfs -o mode=755 tmpfs /run; mkdir -m 755 /run/sshd
mount --bind "$R/etc/ssh" /etc/ssh
mount --bind "$R/root" /root
cp /etc/passwd /run/passwd
echo "alice:x:4242:4242::$R/home/alice:/bin/bash" >> /run/passwd
mount --bind /run/passwd /etc/passwd
cp /etc/shadow /run/shadow
echo "alice:*:19000:0:99999:7:::" >> /run/shadow
mount --bind /run/shadow /etc/shadow
ssh-keygen -q -t ed25519 -N '' -f /run/hk </dev/null >/dev/null
/usr/sbin/sshd -f /etc/ssh/sshd_config -h /run/hk -E /run/sshd.log
set +e
o="-F /dev/null -i $K -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5"
for i in 1 2 3 4 5 6 7 8 9 10; do ssh $o alice@127.0.0.1 true 2>/dev/null && break; sleep 0.2; done
ssh $o alice@127.0.0.1 true; echo "key=$?"
ssh $o -o PubkeyAuthentication=no alice@127.0.0.1 true 2>&1; echo "password=$?"
ssh $o root@127.0.0.1 true 2>&1; echo "root=$?"
cat /run/sshd.log
"#;
    let text = both(
        &Command::new("unshare")
            .args(["-n", "-m", "-p", "-f", "--mount-proc", "sh", "-c", script])
            .env("R", &env.root)
            .env("K", &key)
            .output()
            .unwrap(),
    );
    assert!(text.contains("key=0"), "{text}");
    assert!(text.contains("Permission denied (publickey)"), "{text}");
    assert!(!text.contains("password=0"), "{text}");
    assert!(
        !text.contains("root=0") && text.contains("root=255"),
        "{text}"
    );
    assert!(text.contains("ROOT LOGIN REFUSED"), "{text}");
}

/// A moduli file in the real format: two comment lines and groups of 2048, 3072
/// and 4096 bits (the size field is the bit length less one).
const MODULI: &str = "\
# Time Type Tests Tries Size Generator Modulus
20230330000000 2 6 100 2047 2 C1
20230330000001 2 6 100 2047 5 C2
# a comment between groups stays
20230330000002 2 6 100 3071 2 D1
20230330000003 2 6 100 4095 5 E1
";

#[test]
fn small_moduli_are_dropped_and_the_main_file_gets_its_mode() {
    let env = debian_root()
        .file("etc/ssh/moduli", MODULI)
        .file_mode("etc/ssh/sshd_config", 0o644)
        .playbook(&ssh(&json!({
            "settings": { "X11Forwarding": false },
            "mode": "0600",
            "moduli_min_bits": 3072
        })));
    add_key(&env, "home/alice");
    let before = env.tree();
    env.plan()
        .code(0)
        .stdout_has("drop 2 group-exchange moduli under 3072 bits (2 kept)")
        .stdout_has("mode 0644 -> 0600");
    assert_eq!(env.tree(), before, "plan wrote something");

    env.converge_from(&before, |_| applied_moduli(&env));

    // A mode-only drift is planned by itself.
    env.apply().code(2);
    env.chmod("etc/ssh/sshd_config", 0o644);
    let text = env.plan().stdout();
    assert!(
        text.contains("mode 0644 -> 0600") && text.contains("1 change"),
        "{text}"
    );
    env.apply().code(2);
    assert_eq!(env.mode("etc/ssh/sshd_config"), 0o600);
}

/// The applied moduli rule: small groups gone, comments kept, mode enforced,
/// sshd still reading the result; a second plan says so in words.
fn applied_moduli(env: &Test) {
    let moduli = env.read("etc/ssh/moduli");
    assert!(!moduli.contains(" 2047 "), "{moduli}");
    assert!(
        moduli.contains(" 3071 2 D1") && moduli.contains(" 4095 5 E1"),
        "{moduli}"
    );
    assert!(
        moduli.contains("# a comment between groups stays"),
        "{moduli}"
    );
    assert_eq!(env.mode("etc/ssh/sshd_config"), 0o600);
    assert!(has(
        &sshd_t(env, "user=alice,host=h,addr=1.2.3.4"),
        "x11forwarding no"
    ));
    env.plan().stdout_has("0 changes");
}

#[test]
fn a_bound_no_group_meets_is_refused() {
    let env = debian_root()
        .file("etc/ssh/moduli", MODULI)
        .playbook(&ssh(&json!({ "moduli_min_bits": 8192 })));
    env.plan().code(1).stderr_has("has no group that large");
}
