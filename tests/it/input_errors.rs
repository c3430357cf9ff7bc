//! Mistakes a user naturally makes get an error they can act on (issue 11): exit
//! 1, nothing written to the root, the file and line where there is one, a
//! did-you-mean and the valid values where there is a list, and the error line
//! before the one-line summary.

use crate::support::*;

const PB: &str = r#"
name: site
vars:
  domain: example.org
  app_dir: /opt/app
  env: "{{ app_dir }}/.env"
tasks:
  - name: Kernel
    id: kernel.sysctl
    tags: [kernel]
    sysctl: { settings: { kernel.kptr_restrict: 2 } }
  - name: Env file
    id: files.env
    tags: [files]
    file: { path: "{{ env }}", content: "DOMAIN={{ domain }}\n", mode: "0600" }
"#;

/// Runs `args` as `apply --yes` (the command that would write) and asserts exit
/// 1, an unchanged root, `want` in the error, and the error before the summary.
#[track_caller]
fn refused(env: &Env, args: &[&str], want: &str) {
    let before = env.tree();
    let mut all = vec!["apply", "--yes"];
    all.extend_from_slice(args);
    let out = env.harden(&all);
    expect_code(&out, 1);
    let err = stderr(&out);
    let at = err
        .find(want)
        .unwrap_or_else(|| panic!("`{want}` not in\n{err}"));
    let summary = err.rfind("harden: 0 compliant").expect("no summary line");
    assert!(at < summary, "the error comes after the summary:\n{err}");
    assert_eq!(
        err.lines().last().unwrap().find("harden: 0 compliant"),
        Some(0),
        "{err}"
    );
    assert_eq!(env.tree(), before, "{args:?} changed the root");
}

#[test]
fn unknown_tags_and_skip_tags_list_the_valid_ones() {
    let env = Env::new();
    let p = env.playbook("site.yml", PB).display().to_string();
    refused(
        &env,
        &["-p", &p, "--tags", "kernal"],
        "harden: error: --tags kernal: no selected task has this tag or rule id (did you mean `kernel`?); tags: files, kernel; rule ids: kernel.sysctl, files.env",
    );
    refused(
        &env,
        &["-p", &p, "--skip-tags", "kernel,fils"],
        "harden: error: --skip-tags fils: no selected task has this tag or rule id (did you mean `files`?)",
    );
    // check must not say "compliant" about a typo.
    let out = env.harden(&["check", "-p", &p, "--tags", "kernal"]);
    expect_code(&out, 1);
    // A rule id counts as a tag.
    expect_code(&env.harden(&["plan", "-p", &p, "--tags", "files.env"]), 0);
}

#[test]
fn an_undeclared_extra_var_is_an_error_with_a_suggestion() {
    let env = Env::new();
    let p = env.playbook("site.yml", PB).display().to_string();
    refused(
        &env,
        &["-p", &p, "-e", "domian=x.org"],
        "harden: error: unknown variable `domian` (-e, or the Ansible module's vars): no selected playbook declares it in `vars` or uses it (did you mean `domain`?); declared: app_dir, domain, env",
    );
    // Declared in an embedded playbook: fine.
    expect_code(
        &env.harden(&["plan", "-p", "postiz", "-e", "domain=x.org"]),
        0,
    );
}

#[test]
fn vars_may_use_other_vars_and_a_cycle_is_an_error() {
    let env = Env::new();
    let p = env.playbook("site.yml", PB).display().to_string();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("/opt/app/.env: create file"),
        "{}",
        stdout(&out)
    );
    // -e overrides the variable the other one is made of.
    let out = env.harden(&["plan", "-p", &p, "-e", "app_dir=/srv/app"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("/srv/app/.env: create file"),
        "{}",
        stdout(&out)
    );
    let cyc = env.playbook(
        "cycle.yml",
        "vars:\n  a: \"{{ b }}/x\"\n  b: \"{{ a }}/y\"\ntasks:\n  - {name: x, id: x, file: {path: \"/etc/{{ a }}\", content: \"x\\n\"}}\n",
    );
    refused(
        &env,
        &["-p", cyc.to_str().unwrap()],
        &format!(
            "harden: error: {}:3:6: variables refer to each other in a cycle: a -> b -> a",
            cyc.display()
        ),
    );
    let undefined = env.playbook(
        "undefined.yml",
        "vars:\n  base: /opt\n  env: \"{{ bse }}/.env\"\ntasks:\n  - {name: x, id: x, file: {path: \"{{ env }}\", content: \"x\\n\"}}\n",
    );
    refused(
        &env,
        &["-p", undefined.to_str().unwrap()],
        &format!(
            "harden: error: {}:3:8: variable `env` uses undefined variable `bse` (did you mean `base`?)",
            undefined.display()
        ),
    );
}

#[test]
fn sysctl_values_are_checked_when_the_playbook_is_read() {
    let env = Env::new();
    let sysctl = |value: &str| {
        env.playbook(
            "sysctl.yml",
            &format!(
                "tasks:\n  - name: k\n    id: k\n    sysctl:\n      settings:\n        net.ipv4.ip_forward: {value}\n"
            ),
        )
        .display()
        .to_string()
    };
    for (value, want) in [
        (
            "\"no\"",
            "sysctl.yml:6:30: net.ipv4.ip_forward: `no` is not a number; this kernel parameter takes an integer, or integers separated by spaces; write 0",
        ),
        (
            "false",
            "sysctl.yml:6:30: net.ipv4.ip_forward: `false` is not a kernel value; write 0",
        ),
        (
            "1.5",
            "sysctl.yml:6:30: net.ipv4.ip_forward: `1.5` is not an integer",
        ),
        (
            "\"1\\u001b[2J\"",
            "sysctl.yml:6:30: net.ipv4.ip_forward: the value holds a control character",
        ),
    ] {
        refused(&env, &["-p", &sysctl(value)], want);
    }
    // A line break is refused at parse time too (finding 9 of issue 15 pins the rest).
    let out = env.harden(&["plan", "-p", &sysctl("\"0\\nkernel.x = 1\"")]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("line break"), "{}", stderr(&out));
    // Integers separated by spaces, hex and text parameters are fine.
    let ok = env.playbook(
        "ok.yml",
        "tasks:\n  - name: k\n    id: k\n    sysctl:\n      settings:\n        net.ipv4.ip_local_port_range: \"32768 60999\"\n        net.ipv4.tcp_congestion_control: bbr\n        kernel.perf_event_paranoid: \"-1\"\n        net.ipv4.fib_multipath_hash_fields: \"0x0037\"\n",
    );
    expect_code(&env.harden(&["plan", "-p", ok.to_str().unwrap()]), 0);
}

#[test]
fn a_playbook_that_is_neither_a_file_nor_embedded_lists_the_embedded_ones() {
    let env = Env::new();
    refused(
        &env,
        &["-p", "postix"],
        "harden: error: playbook `postix` is neither a file nor an embedded playbook (did you mean `postiz`?); embedded: akkoma, baseline, common, postiz, server",
    );
    let out = env.harden(&["plan", "-p", "/nonexistent/site.yml"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("playbook `/nonexistent/site.yml` is neither a file nor an embedded playbook; embedded: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_playbook_is_an_error() {
    let env = Env::new();
    for (name, text) in [
        ("empty.yml", ""),
        ("no-tasks.yml", "name: nothing\ntasks: []\n"),
    ] {
        let p = env.playbook(name, text);
        refused(
            &env,
            &["-p", p.to_str().unwrap()],
            &format!(
                "harden: error: {}: the playbook has no tasks: nothing to plan",
                p.display()
            ),
        );
    }
}
