//! Bad playbooks fail at load time with `file:line:col` and exit 1.

use crate::support::*;

fn error_of(yaml: &str) -> String {
    let env = Env::new();
    let pb = env.playbook("bad.yml", yaml);
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 1);
    stderr(&out)
}

#[test]
fn unknown_module() {
    let e = error_of("tasks:\n  - name: x\n    id: a\n    sysctll: {settings: {}}\n");
    assert!(e.contains("bad.yml:4:"), "{e}");
    assert!(e.contains("unknown field or module `sysctll`"), "{e}");
}

#[test]
fn unknown_field_in_module() {
    let e = error_of(
        "tasks:\n  - name: x\n    id: a\n    file:\n      path: /etc/x\n      mdoe: \"0600\"\n",
    );
    assert!(e.contains("bad.yml:6:"), "{e}");
    assert!(e.contains("mdoe"), "{e}");
}

#[test]
fn unknown_top_level_field() {
    let e = error_of("name: a\ntaks: []\n");
    assert!(e.contains("bad.yml:2:"), "{e}");
}

#[test]
fn duplicate_key() {
    let e = error_of("tasks:\n  - name: x\n    id: a\n    name: y\n    file: {path: /etc/x}\n");
    assert!(e.contains("bad.yml:4:"), "{e}");
    assert!(e.to_lowercase().contains("duplicate"), "{e}");
}

#[test]
fn wrong_type() {
    let e = error_of("tasks:\n  - name: x\n    id: a\n    file: {path: /etc/x, recurse: maybe}\n");
    assert!(e.contains("bad.yml:4:"), "{e}");
}

#[test]
fn unquoted_octal_mode_is_explained() {
    let e = error_of("tasks:\n  - name: x\n    id: a\n    file: {path: /etc/x, mode: 0600}\n");
    assert!(e.contains("bad.yml:4:"), "{e}");
    assert!(e.contains("quoted octal"), "{e}");
}

#[test]
fn bad_yaml() {
    let e = error_of("tasks:\n  - name: [unclosed\n");
    assert!(e.contains("bad.yml:"), "{e}");
}

#[test]
fn two_modules_in_one_task() {
    let e = error_of(
        "tasks:\n  - name: x\n    id: a\n    file: {path: /etc/x}\n    sysctl: {settings: {a.b: 1}}\n",
    );
    assert!(e.contains("exactly one module"), "{e}");
}

#[test]
fn relative_path() {
    let e = error_of("tasks:\n  - name: x\n    id: a\n    file: {path: etc/x, content: y}\n");
    assert!(e.contains("not an absolute"), "{e}");
}

#[test]
fn undefined_variable_names_its_place() {
    let e = error_of(
        "tasks:\n  - name: x\n    id: a\n    file: {path: \"/etc/{{ nope }}\", content: y}\n",
    );
    assert!(e.contains("bad.yml:4:"), "{e}");
    assert!(e.contains("undefined variable `nope`"), "{e}");
}

#[test]
fn vars_and_overrides_fill_templates() {
    let env = Env::new();
    let pb = env.playbook(
        "vars.yml",
        "vars: { name: one }\ntasks:\n  - {name: x, id: a, file: {path: \"/etc/{{ name }}\", content: \"y\\n\"}}\n",
    );
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    assert!(stdout(&out).contains("/etc/one"), "{}", stdout(&out));
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap(), "-e", "name=two"]);
    assert!(stdout(&out).contains("/etc/two"), "{}", stdout(&out));
}

#[test]
fn includes_and_cycles() {
    let env = Env::new();
    env.playbook(
        "common.yml",
        "tasks:\n  - {name: c, id: common, file: {path: /etc/c, content: \"c\\n\"}}\n",
    );
    let pb = env.playbook(
        "site.yml",
        "include: [common.yml]\ntasks:\n  - {name: s, id: site, file: {path: /etc/s, content: \"s\\n\"}}\n",
    );
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.find("] common").unwrap() < text.find("] site").unwrap(),
        "{text}"
    );
    let cyc = env.playbook("cyc.yml", "include: [cyc.yml]\n");
    let out = env.harden(&["plan", "-p", cyc.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("include cycle"), "{}", stderr(&out));
}

#[test]
fn when_skips_are_listed_with_the_reason() {
    let env = Env::new();
    let pb = env.playbook(
        "w.yml",
        "tasks:\n  - {name: r, id: rh, when: {os_family: redhat}, file: {path: /etc/x, content: \"y\\n\"}}\n",
    );
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("skipped rh: os_family is debian, not redhat"),
        "{}",
        stdout(&out)
    );
}
