//! `rsyslog`: the drop-in passes the real `rsyslogd -N1` on a staged copy of the
//! root's whole configuration (main file, other drop-ins, the candidate) before
//! install; the daemon is never started.

use crate::support::*;

const FILE: &str = "etc/rsyslog.d/central.conf";

/// A root with Debian's rsyslog.conf (from this machine) and an existing drop-in.
fn rsyslog_env() -> Env {
    require("rsyslogd");
    let env = Env::new();
    env.write(
        "etc/rsyslog.conf",
        &std::fs::read_to_string("/etc/rsyslog.conf").unwrap(),
    );
    env.write(
        "etc/rsyslog.d/20-other.conf",
        ":msg, contains, \"UFW\" -/var/log/ufw.log\n",
    );
    env
}

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: logs\ntasks:\n  - name: Central logging\n    id: logs.central\n    severity: medium\n    rsyslog:\n      name: central\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

const TLS: &str = "      rules: [\"auth,authpriv.* /var/log/postiz/auth.log\"]\n      forward:\n        target: logs.example.org\n        tls: { ca_file: /etc/ssl/certs/ca-certificates.crt, permitted_peers: [logs.example.org, \"*.example.org\"] }\n";

#[test]
fn tls_forwarding_drop_in_passes_rsyslogd_converges_and_rolls_back() {
    let env = rsyslog_env();
    let p = playbook(&env, TLS);
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    let got = env.read(FILE);
    assert!(
        got.contains("auth,authpriv.* /var/log/postiz/auth.log\n"),
        "{got}"
    );
    assert!(
        got.contains("StreamDriverPermittedPeers=\"logs.example.org,*.example.org\""),
        "{got}"
    );
    assert!(got.contains("port=\"6514\" protocol=\"tcp\""), "{got}");
    assert!(stdout(&out).contains("restart rsyslog"), "{}", stdout(&out));
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn rsyslogd_rejects_an_unknown_action_parameter_and_nothing_changes() {
    let env = rsyslog_env();
    let p = playbook(
        &env,
        "      rules: [\"auth.* action(type=\\\"omfwd\\\" target=\\\"x\\\" bogus=\\\"1\\\")\"]\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains("validator `rsyslogd -N1 -f /etc/rsyslog.conf` rejected")
            && err.contains("parameter 'bogus' not known"),
        "{err}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn the_check_reads_the_roots_other_drop_ins_through_the_staged_main() {
    let env = rsyslog_env();
    // A broken drop-in already in the root: the staged configuration includes it,
    // so a good candidate is refused too (rsyslogd would not start on the host).
    env.write(
        "etc/rsyslog.d/10-broken.conf",
        "*.* action(type=\"omfwd\" nope=\"1\")\n",
    );
    let p = playbook(&env, TLS);
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("10-broken.conf"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
}

#[test]
fn a_main_file_without_the_include_is_warned_about() {
    let env = rsyslog_env();
    env.write("etc/rsyslog.conf", "auth.* /var/log/auth.log\n");
    let out = env.harden(&["plan", "-p", &playbook(&env, TLS)]);
    expect_code(&out, 0);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("does not include /etc/rsyslog.d/"), "{text}");
}
