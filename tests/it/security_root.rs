//! An untrusted `--root` image never acts with host privileges: `plan` runs
//! nothing from it, and what `apply` runs to validate candidates (the root's own
//! tools, or this machine's on staged copies of the root's files) runs confined
//! in user, mount, PID and network namespaces as `nobody`. Each test is named
//! after the finding it pins; the canary files are on the host, outside the root,
//! and must stay absent.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

const SSHD_CONFIG: &str = "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n";

/// A shell script in the image that, run anywhere with host privileges, creates
/// `canary` (a host path); confined, it reports the user namespace it runs in
/// (`/proc/self/uid_map`) and fails, so the apply shows where it ran.
fn fake_tool(env: &Env, rel: &str, canary: &Path) {
    let script = format!(
        "#!/bin/sh\ntouch {c} 2>/dev/null\necho pwned > /etc/pwned 2>/dev/null\nwhile read a b c; do echo \"fake ran with uid map $a $b $c\" >&2; done < /proc/self/uid_map\nexit 1\n",
        c = canary.display()
    );
    env.write(rel, &script);
    env.chmod(rel, 0o755);
}

/// Copies this machine's `/bin/sh` and the libraries it links into the root, so
/// the image's scripts can really run inside the sandbox.
fn image_shell(env: &Env) {
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    copy_with_libs(env, &sh, "bin/sh");
}

/// Copies `exe` into the root at `rel`, with every library `ldd` names.
fn copy_with_libs(env: &Env, exe: &Path, rel: &str) {
    let dst = env.path(rel);
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(exe, &dst).unwrap();
    let ldd = Command::new("ldd").arg(exe).output().unwrap();
    for lib in stdout(&ldd)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = env.path(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if !to.exists() {
            std::fs::copy(lib, &to).unwrap();
        }
    }
}

/// Makes the root reachable by `nobody` (a tempdir is 0700), so the root's own
/// tools are the ones run, confined.
fn searchable(env: &Env) {
    std::fs::set_permissions(&env.base, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sshd_root(canary: &Path) -> Env {
    require("sshd");
    let env = Env::new();
    env.write("etc/ssh/sshd_config", SSHD_CONFIG);
    env.write(
        "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "PasswordAuthentication yes\n",
    );
    env.write(
        "home/alice/.ssh/authorized_keys",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0s6c0uXGgW0QeYj2bGz2m8fO3oN1c1b6yJ0kQ2Hq2L alice\n",
    );
    image_shell(&env);
    fake_tool(&env, "usr/bin/ssh", canary);
    fake_tool(&env, "usr/sbin/sshd", canary);
    env
}

const CRYPTO: &str = "tasks:\n  - name: ssh\n    id: ssh.hardened\n    sshd:\n      crypto: modern\n      settings: { PasswordAuthentication: false, PermitRootLogin: \"no\" }\n";

#[test]
fn image_ssh_q_never_runs_during_plan() {
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    let env = sshd_root(&canary);
    searchable(&env);
    let p = env.playbook("pb.yml", CRYPTO);
    let out = env.harden(&["plan", "-p", p.to_str().unwrap()]);
    expect_code(&out, 0);
    assert!(
        !canary.exists(),
        "the image's ssh ran on the host during plan"
    );
    let text = stdout(&out);
    assert!(
        text.contains("filtered by this machine's `ssh -Q`, not the root's"),
        "{text}"
    );
    assert!(
        text.contains("the root's own `sshd -t"),
        "the plan says which sshd checks candidates:\n{text}"
    );
    assert!(!text.contains("fake ran"), "{text}");
}

#[test]
fn image_sshd_t_runs_confined_as_nobody_never_as_host_root() {
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    let env = sshd_root(&canary);
    searchable(&env);
    let p = env.playbook("pb.yml", CRYPTO);
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    // The fake sshd rejects everything: nothing is installed.
    expect_code(&out, 6);
    assert!(
        !canary.exists(),
        "the image's sshd ran with host privileges"
    );
    assert!(!env.path("etc/pwned").exists());
    let err = stderr(&out);
    // It did run, inside a user namespace whose uid 0 is nobody (65534).
    assert!(err.contains("fake ran with uid map 0 65534 1"), "{err}");
    assert_eq!(env.tree(), before);
}

#[test]
fn an_unsearchable_root_is_checked_by_this_machines_sshd_confined() {
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    let env = sshd_root(&canary);
    // Behind a 0700 directory nobody cannot reach the root's own sshd, so the
    // machine's real one checks the root's staged configuration.
    std::fs::set_permissions(&env.base, std::fs::Permissions::from_mode(0o700)).unwrap();
    let p = env.playbook("pb.yml", CRYPTO);
    let plan = env.harden(&["plan", "-p", p.to_str().unwrap()]);
    assert!(
        stdout(&plan).contains("the root is not searchable by nobody"),
        "{}",
        stdout(&plan)
    );
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    expect_code(&out, 2);
    assert!(!canary.exists());
    assert!(
        env.read("etc/ssh/sshd_config.d/50-cloud-init.conf")
            .contains("# PasswordAuthentication yes"),
        "the drop-in is neutralised"
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
}

/// A shared object whose constructor creates `canary`: what rsyslogd would run
/// when a config names it in `module(load=...)`.
fn evil_module(env: &Env, canary: &Path) -> PathBuf {
    let src = env.base.join("evil.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{ FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            canary.display()
        ),
    )
    .unwrap();
    let so = env.path("usr/lib/evil.so");
    std::fs::create_dir_all(so.parent().unwrap()).unwrap();
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .output()
        .unwrap();
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    so
}

const RSYSLOG_PB: &str = "tasks:\n  - name: logs\n    id: logs.central\n    rsyslog:\n      name: central\n      rules: [\"auth,authpriv.* /var/log/auth.log\"]\n";

#[test]
fn rsyslog_module_load_in_the_image_never_loads_with_host_privileges() {
    require("rsyslogd");
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    let env = Env::new();
    let so = evil_module(&env, &canary);
    env.write("etc/rsyslog.conf", "$IncludeConfig /etc/rsyslog.d/*.conf\n");
    // Both spellings: the image's module by its host path and by its path in
    // the image.
    env.write(
        "etc/rsyslog.d/10-evil.conf",
        &format!(
            "module(load=\"{}\")\n$ModLoad /usr/lib/evil.so\n",
            so.display()
        ),
    );
    let p = env.playbook("pb.yml", RSYSLOG_PB);
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", p.to_str().unwrap()]);
    assert!(
        !canary.exists(),
        "the image's module ran with host privileges"
    );
    // This machine's rsyslogd, confined, sees no such module: rejected.
    expect_code(&out, 6);
    assert!(stderr(&out).contains("rsyslogd -N1"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
}

/// A directory holding symlinks to this machine's `names` only: a `PATH` on
/// which every other tool is missing.
fn path_with(base: &Path, names: &[&str]) -> PathBuf {
    let dir = base.join("bin-subset");
    std::fs::create_dir_all(&dir).unwrap();
    for n in names {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(n))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{n} is not installed"));
        std::os::unix::fs::symlink(found, dir.join(n)).unwrap();
    }
    dir
}

#[test]
fn a_root_with_rsyslogd_is_validated_by_its_own_when_this_machine_lacks_it() {
    require("rsyslogd");
    let env = Env::new();
    searchable(&env);
    // The root's own rsyslogd (this machine's binary, libraries and modules
    // copied in), and a PATH on which this machine has none.
    copy_with_libs(&env, Path::new("/usr/sbin/rsyslogd"), "usr/sbin/rsyslogd");
    let mods = Path::new("/usr/lib/x86_64-linux-gnu/rsyslog");
    for e in std::fs::read_dir(mods).unwrap() {
        let e = e.unwrap();
        let rel = e.path().display().to_string();
        copy_with_libs(&env, &e.path(), rel.trim_start_matches('/'));
    }
    env.write("etc/rsyslog.conf", "$IncludeConfig /etc/rsyslog.d/*.conf\n");
    let bin = path_with(&env.base, &["bwrap", "setpriv", "sh"]);
    let p = env.playbook("pb.yml", RSYSLOG_PB);
    let path = [("PATH", bin.to_str().unwrap())];
    let out = env.harden_env(&["apply", "--yes", "-p", p.to_str().unwrap()], &path);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("the root's own `rsyslogd -N1"),
        "{}",
        stdout(&out)
    );
    // Its verdict counts: a parameter rsyslog does not know is refused.
    let bad = env.playbook(
        "bad.yml",
        &RSYSLOG_PB.replace(
            "/var/log/auth.log",
            "action(type=\\\"omfwd\\\" target=\\\"x\\\" bogus=\\\"1\\\")",
        ),
    );
    let out = env.harden_env(&["apply", "--yes", "-p", bad.to_str().unwrap()], &path);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("parameter 'bogus' not known"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn neither_the_root_nor_this_machine_has_the_tool_the_rule_fails_naming_it() {
    let env = Env::new();
    env.write("etc/rsyslog.conf", "$IncludeConfig /etc/rsyslog.d/*.conf\n");
    let bin = path_with(&env.base, &["bwrap", "setpriv"]);
    let p = env.playbook("pb.yml", RSYSLOG_PB);
    let out = env.harden_env(
        &["plan", "-p", p.to_str().unwrap()],
        &[("PATH", bin.to_str().unwrap())],
    );
    assert_ne!(out.status.code(), Some(0));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("no `rsyslogd` to validate with"), "{text}");
}

/// Runs `harden ARGS --root ROOT --state-dir STATE` from `cwd`.
fn harden_in(cwd: &Path, root: &Path, state: &Path, args: &[&str]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("harden").unwrap();
    cmd.arg(args[0])
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args(&args[1..])
        .current_dir(cwd)
        .env("NO_COLOR", "1");
    cmd.output().unwrap()
}

#[test]
fn percent_s_inside_a_shell_string_never_executes_a_root_path() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // A root whose path is a command substitution, relative to the cwd.
    let root = base.join("img-$(touch canary)");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
    let state = base.join("state");
    let pb = base.join("pb.yml");
    // Writes the playbook with the file rule's `validate` and applies it.
    let apply = |validate: &str| {
        std::fs::write(
            &pb,
            format!("tasks:\n  - name: x\n    id: x.shell\n    file: {{ path: /etc/x.conf, content: \"x\\n\", validate: {validate} }}\n"),
        )
        .unwrap();
        harden_in(
            base,
            &root,
            &state,
            &["apply", "--yes", "-p", pb.to_str().unwrap()],
        )
    };
    let out = apply(r#"[sh, -c, "test -f %s"]"#);
    assert!(!base.join("canary").exists(), "the root path was executed");
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`%s` must be a whole argument"),
        "{}",
        stderr(&out)
    );
    assert!(!root.join("etc/x.conf").exists());
    // As a whole argument (or $HARDEN_CANDIDATE) the path is data.
    let out =
        apply(r#"[sh, -c, "test -f \"$1\" && test \"$1\" = \"$HARDEN_CANDIDATE\"", sh, "%s"]"#);
    expect_code(&out, 2);
    assert!(!base.join("canary").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("etc/x.conf")).unwrap(),
        "x\n"
    );
}
