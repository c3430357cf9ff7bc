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

/// The central logging rule (drop-in `central`) with `params`.
fn central(params: &serde_json::Value) -> Playbook {
    let mut all = json!({ "name": "central" });
    all.as_object_mut()
        .unwrap()
        .extend(params.as_object().unwrap().clone());
    Playbook::new("logs").task(
        Task::new("logs.central", "rsyslog", all)
            .name("Central logging")
            .severity("medium"),
    )
}

/// TLS forwarding of auth logs to logs.example.org, with a local copy.
fn tls() -> Playbook {
    central(&json!({
        "rules": ["auth,authpriv.* /var/log/postiz/auth.log"],
        "forward": {
            "target": "logs.example.org",
            "tls": {
                "ca_file": "/etc/ssl/certs/ca-certificates.crt",
                "permitted_peers": ["logs.example.org", "*.example.org"]
            }
        }
    }))
}

#[test]
fn tls_forwarding_drop_in_passes_rsyslogd_converges_and_rolls_back() {
    let env = Test::on(rsyslog_env()).playbook(&tls());
    env.converge(|out| {
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
        assert_has(&out.stdout(), "restart rsyslog");
    });
}

#[test]
fn rsyslogd_rejects_an_unknown_action_parameter_and_nothing_changes() {
    let env = Test::on(rsyslog_env()).playbook(&central(&json!({
        "rules": ["auth.* action(type=\"omfwd\" target=\"x\" bogus=\"1\")"]
    })));
    let before = env.tree();
    let err = env.apply().code(6).stderr();
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
    let env = Test::on(env).playbook(&tls());
    let before = env.tree();
    env.apply().code(6).stderr_has("10-broken.conf");
    assert_eq!(env.tree(), before);
}

#[test]
fn a_main_file_without_the_include_is_warned_about() {
    let env = Test::on(rsyslog_env())
        .file("etc/rsyslog.conf", "auth.* /var/log/auth.log\n")
        .playbook(&tls());
    assert_has(
        &env.plan().code(0).both(),
        "does not include /etc/rsyslog.d/",
    );
}
