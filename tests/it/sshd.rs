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
fn debian_root() -> Env {
    let env = Env::new();
    env.write("etc/ssh/sshd_config", DEBIAN12);
    env.write("etc/ssh/sshd_config.d/50-cloud-init.conf", CLOUD_INIT);
    std::fs::create_dir_all(env.path("home/alice")).unwrap();
    std::fs::create_dir_all(env.path("root")).unwrap();
    env
}

fn add_key(env: &Env, home: &str) {
    env.write(&format!("{home}/.ssh/authorized_keys"), KEY);
    env.chmod(&format!("{home}/.ssh/authorized_keys"), 0o600);
}

fn pb(env: &Env, settings: &str) -> String {
    env.playbook(
        "sshd.yml",
        &format!(
            "name: ssh\ntasks:\n  - name: SSH daemon\n    id: ssh.harden\n    sshd: {{ settings: {settings} }}\n"
        ),
    )
    .display()
    .to_string()
}

const HARDEN: &str = r#"{ PermitRootLogin: "no", PasswordAuthentication: false, KbdInteractiveAuthentication: false, MaxAuthTries: 3, LoginGraceTime: 60, X11Forwarding: false, LogLevel: VERBOSE }"#;

/// The shell prologue of every namespace below: private mounts, tmpfs /run with
/// /run/sshd, the root's /etc/ssh over /etc/ssh, a throw-away host key.
const PROLOGUE: &str = "set -e; mount --make-rprivate /; mount -t tmpfs -o mode=755 tmpfs /run; mkdir -m 755 /run/sshd; mount --bind \"$R/etc/ssh\" /etc/ssh; ssh-keygen -q -t ed25519 -N '' -f /run/hk </dev/null >/dev/null;";

/// `sshd -T` of the applied root for a connection (`-C` spec), in a namespace.
fn sshd_t(env: &Env, conn: &str) -> String {
    require("sshd");
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "{PROLOGUE} exec /usr/sbin/sshd -T -f /etc/ssh/sshd_config -o HostKey=/run/hk -C \"$1\""
        ))
        .args(["sh", conn])
        .env("R", &env.root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sshd -T failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const DEFAULT_CONN: &str = "user=alice,host=client.example,addr=192.0.2.10";

fn has(t: &str, line: &str) -> bool {
    t.lines().any(|l| l == line)
}

#[test]
fn debian_default_with_cloud_init_drop_in_converges_and_rolls_back() {
    let env = debian_root();
    add_key(&env, "home/alice");
    let before = env.tree();
    let p = pb(&env, HARDEN);

    // sshd -T before: the cloud-init drop-in wins.
    assert!(has(
        &sshd_t(&env, DEFAULT_CONN),
        "passwordauthentication yes"
    ));

    let plan = env.harden(&["plan", "-p", &p]);
    let text = stdout(&plan);
    assert!(
        text.contains("neutralises /etc/ssh/sshd_config.d/50-cloud-init.conf:1"),
        "{text}"
    );
    assert!(
        text.contains("neutralise `PasswordAuthentication yes` (line 1)"),
        "{text}"
    );
    assert!(text.contains("sshd -t"), "{text}");
    assert_eq!(env.tree(), before, "plan wrote something");

    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);

    // Main file: values before the Include, the rest byte for byte.
    let main = env.read("etc/ssh/sshd_config");
    let inc = main.find("Include /etc/ssh/sshd_config.d/*.conf").unwrap();
    for l in [
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "MaxAuthTries 3",
        "LoginGraceTime 60",
        "X11Forwarding no",
        "LogLevel VERBOSE",
    ] {
        let at = main
            .find(&format!("{l}\n"))
            .unwrap_or_else(|| panic!("{l}\n{main}"));
        assert!(at < inc, "{l} after Include:\n{main}");
    }
    let managed = [
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "MaxAuthTries 3",
        "LoginGraceTime 60",
        "X11Forwarding no",
        "LogLevel VERBOSE",
    ];
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
    let t = sshd_t(&env, DEFAULT_CONN);
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

    // Idempotent.
    let again = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&again, 0);

    // Rollback restores the tree byte for byte.
    let rb = env.harden(&["rollback", "--yes"]);
    expect_code(&rb, 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn match_blocks_are_never_edited() {
    let env = debian_root();
    add_key(&env, "home/alice");
    let main =
        format!("{DEBIAN12}Match User backup\n\tPasswordAuthentication yes\n\tX11Forwarding yes\n");
    env.write("etc/ssh/sshd_config", &main);
    let p = pb(&env, HARDEN);
    let plan = env.harden(&["plan", "-p", &p]);
    assert!(
        stdout(&plan).contains("inside a Match block applies to matching connections"),
        "{}",
        stdout(&plan)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
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
    let env = debian_root();
    add_key(&env, "home/alice");
    let before = env.tree();
    let p = pb(
        &env,
        r#"{ MACs: "hmac-sha2-256-etm@openssh.com,hmac-foo" }"#,
    );
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("hmac-foo"), "{}", stderr(&out));
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
    let p = pb(&env, r#"{ Subsystem: "sftp internal-sftp" }"#);
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
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
    let env = debian_root();
    add_key(&env, "home/alice");
    let p = env
        .playbook(
            "c.yml",
            "tasks:\n  - name: c\n    id: ssh.crypto\n    sshd: { crypto: modern }\n",
        )
        .display()
        .to_string();
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
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
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
}

/// Asserts the plan is refused (naming `words`), apply changes nothing, and with the
/// fix applied (`fix`) the same playbook applies.
fn refused_then_passes(env: &Env, p: &str, envs: &[(&str, &str)], words: &[&str], fix: impl Fn()) {
    let before = env.tree();
    let plan = env.harden_env(&["plan", "-p", p], envs);
    let text = format!("{}{}", stdout(&plan), stderr(&plan));
    assert!(text.contains("anti-lockout"), "{text}");
    for w in words {
        assert!(text.contains(w), "`{w}` not in\n{text}");
    }
    let out = env.harden_env(&["apply", "--yes", "-p", p], envs);
    expect_code(&out, 1);
    assert_eq!(env.tree(), before, "refused apply changed the tree");
    fix();
    let out = env.harden_env(&["apply", "--yes", "-p", p], envs);
    expect_code(&out, 2);
}

#[test]
fn guard_passwords_off_without_any_key() {
    let env = debian_root();
    let p = pb(&env, "{ PasswordAuthentication: false }");
    refused_then_passes(
        &env,
        &p,
        &[],
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
    let p = pb(&env, "{ PasswordAuthentication: false }");
    refused_then_passes(&env, &p, &[], &["/etc/ssh/keys/%u"], || {
        env.write("etc/ssh/keys/alice", KEY);
    });
}

#[test]
fn guard_allow_users_excluding_the_session_user() {
    let env = debian_root();
    add_key(&env, "home/alice");
    env.write(
        "etc/passwd",
        &format!("{PASSWD}bob:x:1001:1001::/home/bob:/bin/bash\n"),
    );
    let before = env.tree();
    let p = pb(&env, "{ AllowUsers: [bob] }");
    let alice = [("SUDO_USER", "alice")];
    let plan = env.harden_env(&["plan", "-p", &p], &alice);
    let text = stdout(&plan);
    assert!(
        text.contains("exclude `alice`, the account running this session"),
        "{text}"
    );
    assert!(
        text.contains("exclude every account with an authorized key (alice)"),
        "{text}"
    );
    expect_code(&env.harden_env(&["apply", "--yes", "-p", &p], &alice), 1);
    assert_eq!(env.tree(), before);
    // Bob runs the session and has a key: nobody is shut out.
    std::fs::create_dir_all(env.path("home/bob")).unwrap();
    add_key(&env, "home/bob");
    expect_code(
        &env.harden_env(&["apply", "--yes", "-p", &p], &[("SUDO_USER", "bob")]),
        2,
    );
}

#[test]
fn guard_allow_users_session_user_then_passes() {
    let env = debian_root();
    add_key(&env, "home/alice");
    env.write(
        "etc/passwd",
        &format!("{PASSWD}bob:x:1001:1001::/home/bob:/bin/bash\n"),
    );
    let before = env.tree();
    let p = pb(&env, "{ AllowUsers: [bob] }");
    let out = env.harden_env(&["apply", "--yes", "-p", &p], &[("SUDO_USER", "bob")]);
    // Bob (the session) stays allowed, but nobody with a key would be: still refused.
    expect_code(&out, 1);
    assert_eq!(env.tree(), before);
    let p = pb(&env, "{ AllowUsers: [alice, bob] }");
    expect_code(
        &env.harden_env(&["apply", "--yes", "-p", &p], &[("SUDO_USER", "bob")]),
        2,
    );
    assert!(has(&sshd_t(&env, DEFAULT_CONN), "allowusers alice"));
}

#[test]
fn guard_root_login_off_when_root_is_the_only_way_in() {
    let env = debian_root();
    add_key(&env, "root");
    let p = pb(&env, r#"{ PermitRootLogin: "no" }"#);
    refused_then_passes(
        &env,
        &p,
        &[],
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
    let p = pb(&env, "{ Port: 2222 }");
    refused_then_passes(&env, &p, &[], &["ssh.socket is enabled"], || {
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
    let p = pb(&env, "{ Port: 2222 }");
    refused_then_passes(&env, &p, &[], &["does not allow tcp/2222"], || {
        env.write(
            "etc/ufw/user.rules",
            "### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 2222 -j ACCEPT\n",
        );
    });
}

#[test]
fn accept_lockout_risk_overrides_loudly() {
    let env = debian_root();
    let p = pb(&env, "{ PasswordAuthentication: false }");
    let out = env.harden(&["apply", "--yes", "--i-accept-lockout-risk", "-p", &p]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("anti-lockout"), "{}", stderr(&out));
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
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
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
    let settings = HARDEN.replace(" }", ", Port: 2222 }");
    let p = pb(&env, &settings);
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);

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
    let out = Command::new("unshare")
        .args(["-n", "-m", "-p", "-f", "--mount-proc", "sh", "-c", script])
        .env("R", &env.root)
        .env("K", &key)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
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
    let env = debian_root();
    add_key(&env, "home/alice");
    env.write("etc/ssh/moduli", MODULI);
    env.chmod("etc/ssh/sshd_config", 0o644);
    let p = env.playbook(
        "sshd.yml",
        "name: ssh\ntasks:\n  - name: SSH daemon\n    id: ssh.harden\n    sshd: { settings: { X11Forwarding: false }, mode: \"0600\", moduli_min_bits: 3072 }\n",
    );
    let p = p.display().to_string();
    let before = env.tree();
    let plan = env.harden(&["plan", "-p", &p]);
    expect_code(&plan, 0);
    let text = stdout(&plan);
    assert!(
        text.contains("drop 2 group-exchange moduli under 3072 bits (2 kept)"),
        "{text}"
    );
    assert!(text.contains("mode 0644 -> 0600"), "{text}");
    assert_eq!(env.tree(), before, "plan wrote something");

    let apply = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&apply, 2);
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
        &sshd_t(&env, "user=alice,host=h,addr=1.2.3.4"),
        "x11forwarding no"
    ));

    let empty = env.harden(&["plan", "-p", &p]);
    assert!(stdout(&empty).contains("0 changes"), "{}", stdout(&empty));
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the root");

    // A mode-only drift is planned by itself.
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    env.chmod("etc/ssh/sshd_config", 0o644);
    let again = env.harden(&["plan", "-p", &p]);
    let text = stdout(&again);
    assert!(
        text.contains("mode 0644 -> 0600") && text.contains("1 change"),
        "{text}"
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    assert_eq!(env.mode("etc/ssh/sshd_config"), 0o600);
}

#[test]
fn a_bound_no_group_meets_is_refused() {
    let env = debian_root();
    env.write("etc/ssh/moduli", MODULI);
    let p = env.playbook(
        "sshd.yml",
        "name: ssh\ntasks:\n  - name: SSH daemon\n    id: ssh.harden\n    sshd: { moduli_min_bits: 8192 }\n",
    );
    let out = env.harden(&["plan", "-p", &p.display().to_string()]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("has no group that large"),
        "{}",
        stderr(&out)
    );
}
