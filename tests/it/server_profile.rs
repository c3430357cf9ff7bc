//! The `server` profile on the real Debian 12 root, with an admin account that
//! logs in with a key. It installs packages (auditd, rsyslog, cron, ntpsec, AIDE,
//! ...) with the root's own apt, so a first apply also makes rules applicable
//! that `when:` skipped (cron's files): it names them, a second apply converges
//! them, and the plan is then empty. The root's own validators pass, the audit
//! rules parse with the root's own `auditctl`, sshd's effective settings are the
//! hardened ones, and the admin's key still logs in against the root's own sshd
//! while passwords and root are refused. Rolling both transactions back restores
//! the installed package set and every file harden wrote.

use std::collections::BTreeMap;
use std::process::Command;

use crate::debian_root::{CHROOT, debian12, in_root, validate};
use crate::support::*;

const TRUST: (&str, &str) = ("HARDEN_TRUST_ROOT_PACKAGES", "1");
const SESSION: (&str, &str) = ("SUDO_USER", "admin");

/// Paths apt, dpkg and the packages' maintainer scripts own, which a purge does
/// not put back byte for byte: package lists, caches and logs, dpkg's and ucf's
/// records, the system accounts and groups packages create (Debian policy keeps
/// them after a purge), and the empty /etc/apparmor.d/disable that ntpsec's
/// purge removes; and /tmp, where the login check below leaves its files.
/// Everything else must be as it was.
const PACKAGE_BOOKKEEPING: [&str; 15] = [
    "var/lib/apt",
    "var/lib/ucf",
    "etc/apparmor.d/disable",
    "tmp",
    "var/cache",
    "var/log",
    "var/lib/dpkg",
    "var/lib/systemd/deb-systemd-helper-enabled",
    "var/lib/systemd/deb-systemd-helper-masked",
    "etc/passwd",
    "etc/group",
    "etc/shadow",
    "etc/gshadow",
    "etc/subuid",
    "etc/subgid",
];

fn installed(env: &Env) -> String {
    in_root(
        env,
        "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' | sort",
    )
}

/// The transaction id of an apply, from its summary line.
fn txn_of(out: &std::process::Output) -> String {
    let err = stderr(out);
    err.split("committed as transaction ")
        .nth(1)
        .and_then(|rest| rest.split([';', '\n', ' ']).next())
        .unwrap_or_else(|| panic!("no transaction in:\n{err}"))
        .to_string()
}

fn admin_with_key(env: &Env) -> std::path::PathBuf {
    require("ssh-keygen");
    in_root(
        env,
        "useradd -m -s /bin/bash admin; install -d -m 700 -o admin -g admin /home/admin/.ssh",
    );
    let key = env.base.join("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    env.write("home/admin/.ssh/authorized_keys", &public);
    env.chmod("home/admin/.ssh/authorized_keys", 0o600);
    in_root(env, "chown admin:admin /home/admin/.ssh/authorized_keys");
    key
}

/// Each rule line of `rules` through the root's own `auditctl`, in a user
/// namespace: the kernel refuses audit requests from any user namespace but the
/// first, so nothing is ever loaded; auditctl parses the rule first and says what
/// is wrong with it, then finds the audit system out of reach. Returns the lines
/// it rejects, with what it said, and how many it checked.
fn auditctl_rejects(env: &Env, rules: &str) -> (Vec<String>, usize) {
    let mut rejected = Vec::new();
    let mut checked = 0;
    for line in rules
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let out = Command::new("unshare")
            .args(["-U", "-r", "-m", "-n", "-p", "-f"])
            .arg(format!("--mount-proc={}", env.path("proc").display()))
            .arg("chroot")
            .arg(&env.root)
            .arg("/usr/sbin/auditctl")
            .args(line.split_whitespace())
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let said = format!("{}{}", stdout(&out), stderr(&out));
        if !said.lines().all(|l| l == "The audit system is disabled") || said.is_empty() {
            rejected.push(format!("{line}: {said}"));
        }
        checked += 1;
    }
    (rejected, checked)
}

#[test]
fn server_profile_converges_and_the_admin_key_still_logs_in() {
    let env = debian12();
    let key = admin_with_key(&env);
    let envs = [SESSION, TRUST];
    let before = env.tree();
    let packages_before = installed(&env);

    let first = env.harden_env(&["apply", "--yes", "-p", "server"], &envs);
    expect_code(&first, 2);
    println!("{}", stdout(&first));
    let said = stderr(&first);
    assert!(
        said.contains("apply again to converge them") && said.contains("files.crontab"),
        "cron's files are not left to the next run:\n{said}"
    );
    let second = env.harden_env(&["apply", "--yes", "-p", "server"], &envs);
    expect_code(&second, 2);
    assert!(
        !stderr(&second).contains("apply again"),
        "{}",
        stderr(&second)
    );
    let plan = env.harden_env(&["plan", "-p", "server", "--detailed-exitcode"], &envs);
    expect_code(&plan, 0);

    // What the profile installs and enables, as systemctl sees it.
    let now = installed(&env);
    for pkg in [
        "auditd ",
        "rsyslog ",
        "cron ",
        "ntpsec ",
        "aide ",
        "logrotate ",
    ] {
        assert!(
            now.lines()
                .any(|l| l.starts_with(pkg) && l.split_whitespace().last() == Some("ii")),
            "{pkg}not installed:\n{now}"
        );
    }
    let units = [
        "auditd.service",
        "rsyslog.service",
        "cron.service",
        "ntpsec.service",
    ];
    assert_eq!(
        crate::service::is_enabled(&env.root, &units),
        ["enabled"; 4],
        "{units:?}"
    );
    let (rejected, checked) =
        auditctl_rejects(&env, &env.read("etc/audit/rules.d/99-harden.rules"));
    assert!(
        rejected.is_empty() && checked > 40,
        "{checked} rules: {rejected:#?}"
    );
    // The check can fail: a misspelt system call and a bad permission are caught.
    let (rejected, _) = auditctl_rejects(
        &env,
        "-a always,exit -F arch=b64 -S settimeofdayz -k time-change\n-w /etc/passwd -p wz -k identity\n",
    );
    assert_eq!(rejected.len(), 2, "{rejected:#?}");

    let ran = validate(&env);
    let ran_names: Vec<&str> = ran.iter().map(|r| r.0).collect();
    for want in ["sshd", "visudo", "fail2ban", "ufw", "apt-config"] {
        assert!(
            ran_names.contains(&want),
            "{want} did not run: {ran_names:?}"
        );
    }
    sshd_is_hardened(&env, &ran.iter().find(|r| r.0 == "sshd").unwrap().1);
    key_login(&env, &key);

    // Both transactions back, newest first: the package set and every file harden
    // wrote are as before.
    for txn in [txn_of(&second), txn_of(&first)] {
        expect_code(&env.harden_env(&["rollback", "--yes", &txn], &[TRUST]), 0);
    }
    assert_eq!(installed(&env), packages_before, "packages not restored");
    let after = env.tree();
    let kept = |k: &String| {
        !PACKAGE_BOOKKEEPING
            .iter()
            .any(|p| k == p || k.starts_with(&format!("{p}/")) || k.starts_with(&format!("{p}-")))
    };
    let differ: Vec<&String> = before
        .iter()
        .filter(|(k, v)| kept(k) && after.get(*k) != Some(v))
        .map(|(k, _)| k)
        .chain(after.keys().filter(|k| kept(k) && !before.contains_key(*k)))
        .collect();
    assert!(differ.is_empty(), "rollback did not restore: {differ:?}");
    // The accounts harden's rules never touch: only packages' system accounts came.
    let users = |t: &BTreeMap<String, String>| t.get("home/admin").cloned();
    assert_eq!(users(&before), users(&after));
}

/// sshd's effective settings (`sshd -T`) are the hardened ones, with no SHA-1,
/// NIST curve, ECDSA or small group-exchange primes left.
fn sshd_is_hardened(env: &Env, effective: &str) {
    for line in [
        "permitrootlogin no",
        "permitemptypasswords no",
        "permituserenvironment no",
        "passwordauthentication no",
        "maxauthtries 4",
        "clientaliveinterval 300",
        "banner /etc/issue.net",
        "hostkey /etc/ssh/ssh_host_ed25519_key",
    ] {
        assert!(effective.contains(line), "{line} missing:\n{effective}");
    }
    for gone in ["ecdsa", "nistp", "sha1", "diffie-hellman-group14"] {
        for l in effective.lines().filter(|l| {
            [
                "kexalgorithms",
                "ciphers",
                "macs",
                "hostkeyalgorithms",
                "hostkey ",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        }) {
            assert!(!l.contains(gone), "{gone} still offered: {l}");
        }
    }
    let moduli = env.read("etc/ssh/moduli");
    assert!(
        moduli.lines().filter(|l| !l.starts_with('#')).all(|l| l
            .split_whitespace()
            .nth(4)
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 3071),
        "moduli under 3072 bits are left"
    );
}

/// The root's own sshd in network, mount and PID namespaces of its own: the
/// admin's key logs in; a password attempt and root are refused, and the server
/// offers keys only.
fn key_login(env: &Env, key: &std::path::Path) {
    std::fs::copy(key, env.path("tmp/id_ed25519")).unwrap();
    let login = "mkdir -m 755 /run/sshd; \
        /usr/sbin/sshd -E /tmp/sshd.log; set +e; \
        o='-F /dev/null -i /tmp/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5'; \
        for i in 1 2 3 4 5 6 7 8 9 10; do ssh $o admin@127.0.0.1 true 2>/dev/null && break; sleep 0.3; done; \
        ssh $o admin@127.0.0.1 true; echo key=$?; \
        ssh $o -o PubkeyAuthentication=no admin@127.0.0.1 true 2>&1; echo password=$?; \
        ssh $o root@127.0.0.1 true 2>&1; echo root=$?; cat /tmp/sshd.log";
    let out = Command::new("unshare")
        .args(["-m", "-n", "-p", "-f", "sh", "-c"])
        .arg(format!("ip link set lo up; {CHROOT}"))
        .arg("sh")
        .arg(&env.root)
        .arg(login)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("key=0"),
        "the admin's key login failed:\n{text}"
    );
    assert!(
        text.contains("Permission denied (publickey).") && !text.contains("password)"),
        "{text}"
    );
    assert!(
        text.contains("password=255") && text.contains("root=255"),
        "{text}"
    );
}

/// A PAM client for the root's own libpam (its python3, ctypes): for each
/// `user:password` argument, `pam_authenticate` then `pam_acct_mgmt` through the
/// service `harden-pamtest` (common-auth and common-account, as every login
/// service includes them); prints `user rc` per attempt. Failure delays are
/// skipped (`PAM_FAIL_DELAY`), so a run takes no time.
const PAM_CLIENT: &str = r#"
import ctypes, sys
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_uint, c_void_p, cast, sizeof
pam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL("libc.so.6")
libc.calloc.restype = c_void_p
libc.strdup.restype = c_void_p
libc.strdup.argtypes = [c_char_p]
class Message(Structure):
    _fields_ = [("msg_style", c_int), ("msg", c_char_p)]
class Response(Structure):
    _fields_ = [("resp", c_void_p), ("resp_retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Message)), POINTER(POINTER(Response)), c_void_p)
class Conv(Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", c_void_p)]
DELAY = CFUNCTYPE(None, c_int, c_uint, c_void_p)
no_delay = DELAY(lambda rc, usec, data: None)
pam.pam_set_item.argtypes = [c_void_p, c_int, c_void_p]
def attempt(user, password):
    def conv(n, msgs, resp, data):
        arr = cast(libc.calloc(n, sizeof(Response)), POINTER(Response))
        for i in range(n):
            if msgs[i].contents.msg_style in (1, 2):
                arr[i].resp = libc.strdup(password.encode())
        resp[0] = arr
        return 0
    c = Conv(CONV(conv), None)
    h = c_void_p()
    rc = pam.pam_start(b"harden-pamtest", user.encode(), byref(c), byref(h))
    if rc == 0:
        pam.pam_set_item(h, 10, cast(no_delay, c_void_p))
        rc = pam.pam_authenticate(h, 0)
        if rc == 0:
            rc = pam.pam_acct_mgmt(h, 0)
    pam.pam_end(h, rc)
    return rc
for a in sys.argv[1:]:
    user, password = a.split(":", 1)
    print(user, attempt(user, password), flush=True)
"#;

/// The attempts, in order, through the root's own PAM stack in one session
/// (one /run, so `pam_faillock`'s records last across them); `rc` per attempt.
fn pam_attempts(env: &Env, attempts: &[&str]) -> Vec<i32> {
    env.write("tmp/pam-client.py", PAM_CLIENT);
    let out = in_root(
        env,
        &format!("python3 /tmp/pam-client.py {}", attempts.join(" ")),
    );
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(_, rc)| rc.trim().parse().unwrap())
        .collect()
}

/// `pam_faillock` in the root's own PAM stack (the real common-auth and
/// common-account, the real libpam and `pam_unix`): five wrong passwords lock a
/// user, whose right password is then refused; fewer are cleared by a right one;
/// root is never locked. Before the profile nothing locks (the check can fail);
/// rollback restores the PAM files byte for byte.
#[test]
fn faillock_locks_a_user_and_never_root_in_the_roots_own_pam_stack() {
    let env = debian12();
    require("python3");
    in_root(
        &env,
        "useradd -m alice; useradd -m bob; \
         printf 'alice:Right-1-pass\\nbob:Right-2-pass\\nroot:Root-3-pass\\n' | chpasswd",
    );
    env.write(
        "etc/pam.d/harden-pamtest",
        "@include common-auth\n@include common-account\n",
    );
    let wrong5 = |u: &str| -> Vec<String> { (0..5).map(|_| format!("{u}:wrong")).collect() };
    let locking: Vec<String> = [
        vec!["alice:Right-1-pass".to_string()],
        wrong5("alice"),
        vec!["alice:Right-1-pass".to_string()],
        wrong5("root"),
        wrong5("root"),
        vec!["root:Root-3-pass".to_string()],
        wrong5("bob")[..4].to_vec(),
        vec!["bob:Right-2-pass".to_string()],
        wrong5("bob")[..4].to_vec(),
        vec!["bob:Right-2-pass".to_string()],
    ]
    .concat();
    let attempts: Vec<&str> = locking.iter().map(String::as_str).collect();
    // PAM_SUCCESS 0, PAM_AUTH_ERR 7.
    let ok_at = |rcs: &[i32]| -> Vec<usize> {
        rcs.iter()
            .enumerate()
            .filter(|(_, rc)| **rc == 0)
            .map(|(i, _)| i)
            .collect()
    };
    let before_rcs = pam_attempts(&env, &attempts);
    assert_eq!(before_rcs.len(), attempts.len(), "{before_rcs:?}");
    // Without faillock: every right password works, whatever came before.
    assert_eq!(ok_at(&before_rcs), [0, 6, 17, 22, 27], "{before_rcs:?}");

    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", "server", "--tags", "pam,accounts"]);
    expect_code(&out, 2);
    let auth = env.read("etc/pam.d/common-auth");
    assert!(
        auth.contains("pam_faillock.so preauth") && auth.contains("pam_faillock.so authsucc"),
        "{auth}"
    );
    expect_code(
        &env.harden(&[
            "plan",
            "-p",
            "server",
            "--tags",
            "pam,accounts",
            "--detailed-exitcode",
        ]),
        0,
    );
    let rcs = pam_attempts(&env, &attempts);
    assert_eq!(rcs.len(), attempts.len(), "{rcs:?}");
    // alice's right password after five wrong ones is refused (locked); root's
    // works after ten; bob's four wrong ones are cleared by his right one twice.
    assert_eq!(ok_at(&rcs), [0, 17, 22, 27], "{rcs:?}");
    assert_ne!(rcs[6], 0);

    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the root");
}
