//! Issue 15, the state directory and input findings: a state directory, a planted
//! file, a playbook or an image's file names never get to act with host root.
//! Each test is named after its finding; the canary files stay absent.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// `harden ARGS` exactly as given (no `--root`/`--state-dir` added), in `cwd`.
fn harden_raw(cwd: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("harden").unwrap();
    cmd.current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("HARDEN_CRASH_AT");
    cmd.output().unwrap()
}

/// `harden ARGS[0] --root ROOT ARGS[1..]` from the test's base directory, with
/// no `--state-dir` unless `args` names one.
fn harden_on(env: &Env, args: &[&std::ffi::OsStr]) -> Output {
    let mut all = vec![args[0], os("--root"), env.root.as_os_str()];
    all.extend_from_slice(&args[1..]);
    harden_raw(&env.base, &all)
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Every file below `dir` whose content contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if md.is_file()
            && String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains(needle)
        {
            out.push(p);
        }
    }
    out
}

/// A committed transaction planted by hand in `state`, with these manifest entries.
fn plant_txn(state: &Path, root: &Path, entries: &serde_json::Value) -> String {
    let id = "20260101-000000-000".to_string();
    let dir = state.join("txn").join(&id);
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    let manifest = serde_json::json!({
        "id": id, "kind": "apply", "started": "2026-01-01T00:00:00.000Z",
        "playbook": "planted", "root": std::fs::canonicalize(root).unwrap(),
        "changes": 1, "rules": ["planted"], "handlers": [], "entries": entries,
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::write(
        dir.join("result.json"),
        r#"{"outcome":"committed","finished":"2026-01-01T00:00:01.000Z"}"#,
    )
    .unwrap();
    id
}

#[test]
fn finding_2_rollback_follows_a_planted_sysctl_key_out_of_proc_sys() {
    let env = Env::new();
    let state = env.path("var/lib/harden");
    let canary = env.base.join("canary");
    let host_secret = env.base.join("host-secret");
    std::fs::write(&host_secret, "HOST-SECRET-CONTENT\n").unwrap();
    // `/proc/sys/../../BASE/x` is `BASE/x` on the host.
    let escape = |p: &Path| format!("/../..{}", p.display());
    plant_txn(
        &state,
        &env.root,
        &serde_json::json!([
            { "kind": "sysctl", "key": escape(&canary), "value": "pwned" },
            { "kind": "sysctl", "key": escape(&host_secret), "value": "x" },
        ]),
    );
    let out = harden_on(
        &env,
        &[
            os("rollback"),
            os("--yes"),
            os("--state-dir"),
            state.as_os_str(),
        ],
    );
    expect_code(&out, 1);
    assert!(!canary.exists(), "rollback wrote a host file");
    assert_eq!(
        std::fs::read_to_string(&host_secret).unwrap(),
        "HOST-SECRET-CONTENT\n"
    );
    assert!(
        files_containing(&env.root, "HOST-SECRET").is_empty(),
        "a host file was copied into the image"
    );
    assert!(
        stderr(&out).contains("kernel parameter"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn finding_2_rollback_of_an_image_refuses_any_sysctl_entry() {
    // Even a well-formed key is the host's kernel, not the image's: refused when
    // the root is not `/` (this key does not exist, so nothing could be written).
    let env = Env::new();
    plant_txn(
        &env.state,
        &env.root,
        &serde_json::json!([
            { "kind": "sysctl", "key": "net.ipv4.harden_canary_absent", "value": "1" },
        ]),
    );
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("root is not /"), "{}", stderr(&out));
}

#[test]
fn planted_package_records_never_reach_apt() {
    let env = Env::new();
    env.write(
        "var/lib/dpkg/status",
        "Package: sudo\nStatus: install ok installed\nVersion: 1.9\n\n",
    );
    let trust = [("HARDEN_TRUST_ROOT_PACKAGES", "1")];
    // A name or version that is not Debian's: the manifest is refused as data.
    for installed in [
        serde_json::json!({ "sudo; rm -rf /": "1.9" }),
        serde_json::json!({ "sudo": "1.9 --allow-downgrades" }),
    ] {
        let _ = std::fs::remove_dir_all(&env.state);
        plant_txn(
            &env.state,
            &env.root,
            &serde_json::json!([{ "kind": "packages", "installed": installed }]),
        );
        let out = env.harden_env(&["rollback", "--yes"], &trust);
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains("is not a Debian package name"),
            "{}",
            stderr(&out)
        );
    }
    // An empty record would purge every package: refused, apt never runs.
    let _ = std::fs::remove_dir_all(&env.state);
    plant_txn(
        &env.state,
        &env.root,
        &serde_json::json!([{ "kind": "packages", "installed": {} }]),
    );
    let out = env.harden_env(&["rollback", "--yes"], &trust);
    expect_code(&out, 5);
    let err = stderr(&out);
    assert!(err.contains("refusing to purge every package"), "{err}");
    assert!(!err.contains("apt-get"), "{err}");
}

#[test]
fn finding_2_rollback_refuses_paths_blobs_and_ids_that_leave_their_place() {
    let env = Env::new();
    env.write("etc/motd", "image motd\n");
    for entries in [
        serde_json::json!([{ "kind": "path", "path": "etc/motd", "saved": { "state": "absent" } }]),
        serde_json::json!([{ "kind": "path", "path": "/etc/../../x", "saved": { "state": "absent" } }]),
        serde_json::json!([{ "kind": "path", "path": "/etc/motd", "saved": {
            "state": "file", "mode": 420, "uid": 0, "gid": 0,
            "blob": "../../../../../../../etc/hostname" } }]),
        serde_json::json!([{ "kind": "path", "path": "/etc/motd", "saved": { "state": "fifo" } }]),
        serde_json::json!([{ "kind": "socket", "path": "/etc/motd" }]),
    ] {
        let _ = std::fs::remove_dir_all(&env.state);
        plant_txn(&env.state, &env.root, &entries);
        let out = env.harden(&["rollback", "--yes"]);
        expect_code(&out, 1);
        assert_eq!(env.read("etc/motd"), "image motd\n", "{entries}");
    }
    // A journal naming a transaction outside `txn/`.
    let _ = std::fs::remove_dir_all(&env.state);
    std::fs::create_dir_all(&env.state).unwrap();
    std::fs::write(
        env.state.join("journal.json"),
        r#"{"txn":"../../x","kind":"apply","pid":1,"started":"s"}"#,
    )
    .unwrap();
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("journal"), "{}", stderr(&out));
}

/// A transaction an earlier version recorded (`manifest.json`, one JSON
/// document) is still listed by `history` and restored by `rollback`.
#[test]
fn a_manifest_an_earlier_version_wrote_is_listed_and_rolled_back() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    env.write("etc/motd", "image motd\n");
    env.chmod("etc/motd", 0o600);
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    plant_txn(
        &env.state,
        &env.root,
        &serde_json::json!([{ "kind": "path", "path": "/etc/motd", "saved": {
            "state": "file", "mode": 0o644, "uid": uid, "gid": gid } }]),
    );
    let hist = stdout(&env.harden(&["history"]));
    assert!(
        hist.contains("20260101-000000-000") && hist.contains("planted"),
        "{hist}"
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    let m = std::fs::metadata(env.path("etc/motd")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!(env.read("etc/motd"), "image motd\n");
}

/// The line-format manifest is read as strictly: the same refusals, and a path
/// spelled with escapes that decode to `..` is still `..`.
#[test]
fn finding_2_a_planted_line_manifest_is_refused_the_same_way() {
    let env = Env::new();
    env.write("etc/motd", "image motd\n");
    let head = serde_json::json!({
        "id": "20260101-000000-000", "kind": "apply", "started": "2026-01-01T00:00:00.000Z",
        "playbook": "planted", "root": std::fs::canonicalize(&env.root).unwrap(),
        "changes": 1, "rules": ["planted"], "handlers": [], "locks": [],
    });
    for entry in [
        "A etc/motd",
        "A /etc/..\\x2f..\\x2fx",
        "A /etc/\\x2e\\x2e/\\x2e\\x2e/x",
        "F 644 0 0 ../../../../../../etc/hostname /etc/motd",
        "F 17777 0 0 - /etc/motd",
        "J {\"kind\":\"sysctl\",\"key\":\"/../../x\",\"value\":\"1\"}",
        "A /etc/motd trailing",
    ] {
        let _ = std::fs::remove_dir_all(&env.state);
        let dir = env.state.join("txn/20260101-000000-000");
        std::fs::create_dir_all(dir.join("blobs")).unwrap();
        std::fs::write(
            dir.join("manifest"),
            format!("harden-manifest 2\n{head}\n{entry}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("result.json"),
            r#"{"outcome":"committed","finished":"2026-01-01T00:00:01.000Z"}"#,
        )
        .unwrap();
        let out = env.harden(&["rollback", "--yes"]);
        expect_code(&out, 1);
        assert_eq!(env.read("etc/motd"), "image motd\n", "{entry}");
        assert!(
            stderr(&out).contains("manifest"),
            "{entry}: {}",
            stderr(&out)
        );
    }
}

/// A playbook that writes `CANARY` into `root`, and module arguments running it.
fn planted_args(env: &Env) -> serde_json::Value {
    let pb = env.playbook(
        "planted.yml",
        "tasks:\n  - {name: c, id: c.c, file: {path: /CANARY, content: \"x\\n\"}}\n",
    );
    serde_json::json!({
        "playbook": pb, "root": env.root, "state_dir": env.state,
        "_ansible_check_mode": false, "_ansible_version": "2.17.0",
    })
}

#[test]
fn finding_3_a_planted_file_named_like_a_subcommand_switches_to_module_mode() {
    let env = Env::new();
    let cwd = env.base.join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let args = planted_args(&env).to_string();
    for name in ["history", "plan"] {
        std::fs::write(cwd.join(name), &args).unwrap();
        let out = harden_raw(&cwd, &[os(name)]);
        assert!(
            !env.path("CANARY").exists(),
            "`harden {name}` applied a planted playbook"
        );
        assert!(
            !stdout(&out).contains("\"changed\""),
            "`harden {name}` answered as a module: {}",
            stdout(&out)
        );
    }
    // A relative path, even carrying Ansible's keys, is not Ansible calling.
    std::fs::write(cwd.join("args.json"), &args).unwrap();
    let out = harden_raw(&cwd, &[os("args.json")]);
    expect_code(&out, 1);
    assert!(!env.path("CANARY").exists());
    // An absolute path without any `_ansible_*` key is not Ansible either.
    let mut plain = planted_args(&env);
    plain
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with('_'));
    let file = cwd.join("plain.json");
    std::fs::write(&file, plain.to_string()).unwrap();
    let out = harden_raw(&cwd, &[file.as_os_str()]);
    expect_code(&out, 1);
    assert!(!env.path("CANARY").exists());
    // What Ansible does call still works: an absolute path with its keys.
    let file = cwd.join("ansible-args");
    std::fs::write(&file, &args).unwrap();
    let out = harden_raw(&cwd, &[file.as_os_str()]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("\"changed\":true"),
        "{}",
        stdout(&out)
    );
    assert!(env.path("CANARY").exists());
}

const CANARY_PB: &str =
    "tasks:\n  - {name: c, id: c.c, file: {path: /CANARY, content: \"x\\n\"}}\n";

/// Prepares one bad state directory.
type Setup = Box<dyn Fn(&Env)>;

#[test]
fn finding_5_a_state_dir_others_can_write_is_refused() {
    let env = Env::new();
    let pb = env.playbook("pb.yml", CANARY_PB);
    let p = pb.to_str().unwrap();
    let cases: [(&str, Setup); 3] = [
        (
            "owned by another user",
            Box::new(|e: &Env| {
                std::fs::create_dir_all(&e.state).unwrap();
                std::os::unix::fs::chown(&e.state, Some(65_534), Some(65_534)).unwrap();
            }),
        ),
        (
            "group-writable",
            Box::new(|e: &Env| {
                std::fs::create_dir_all(&e.state).unwrap();
                std::fs::set_permissions(&e.state, std::fs::Permissions::from_mode(0o770)).unwrap();
            }),
        ),
        (
            "a world-writable parent",
            Box::new(|e: &Env| {
                std::fs::set_permissions(&e.base, std::fs::Permissions::from_mode(0o777)).unwrap();
            }),
        ),
    ];
    for (what, setup) in cases {
        let _ = std::fs::remove_dir_all(&env.state);
        std::fs::set_permissions(&env.base, std::fs::Permissions::from_mode(0o700)).unwrap();
        setup(&env);
        let out = env.harden(&["apply", "--yes", "-p", p]);
        expect_code(&out, 1);
        assert!(!env.path("CANARY").exists(), "{what}: applied");
        assert!(
            stderr(&out).contains("state directory"),
            "{what}: {}",
            stderr(&out)
        );
        let out = env.harden(&["rollback", "--yes"]);
        expect_code(&out, 1);
    }
}

#[test]
fn finding_5_a_state_dir_harden_did_not_create_needs_state_dir_named() {
    let env = Env::new();
    let pb = env.playbook("pb.yml", CANARY_PB);
    let default = env.path("var/lib/harden");
    std::fs::create_dir_all(&default).unwrap();
    std::fs::set_permissions(&default, std::fs::Permissions::from_mode(0o700)).unwrap();
    let apply = |extra: &[&std::ffi::OsStr]| {
        let mut args = vec![os("apply"), os("--yes"), os("-p"), pb.as_os_str()];
        args.extend_from_slice(extra);
        harden_on(&env, &args)
    };
    let out = apply(&[]);
    expect_code(&out, 1);
    assert!(!env.path("CANARY").exists());
    assert!(stderr(&out).contains("--state-dir"), "{}", stderr(&out));
    // Named explicitly, it is used (and from then on it is harden's).
    expect_code(&apply(&[os("--state-dir"), default.as_os_str()]), 2);
    assert!(env.path("CANARY").exists());
    std::fs::remove_file(env.path("CANARY")).unwrap();
    expect_code(&apply(&[]), 2);
    // A state directory harden made itself is used by default.
    let fresh = Env::new();
    let args = [os("apply"), os("--yes"), os("-p"), pb.as_os_str()];
    expect_code(&harden_on(&fresh, &args), 2);
    std::fs::remove_file(fresh.path("CANARY")).unwrap();
    expect_code(&harden_on(&fresh, &args), 2);
}

#[test]
fn finding_6_image_file_names_forge_plan_lines_and_hide_the_rest() {
    let env = Env::new();
    let evil = "x\n~ [critical] ssh.forged (forged)\n  \u{1b}[8mhidden";
    env.write(&format!("opt/app/{evil}"), "data\n");
    env.chmod(&format!("opt/app/{evil}"), 0o644);
    let pb = env.playbook(
        "pb.yml",
        "tasks:\n  - {name: app, id: files.app, file: {path: /opt/app, state: directory, recurse: true, file_mode: \"0600\"}}\n",
    );
    let out = env.harden(&["plan", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "raw ESC in the plan:\n{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("~ [critical] ssh.forged")),
        "a forged plan line:\n{text}"
    );
    assert!(text.contains("\\n~ [critical] ssh.forged"), "{text}");
    // JSON stays exact: the name round-trips byte for byte.
    let out = env.harden(&["plan", "--format", "json", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = doc["changes"][0]["summary"].as_str().unwrap();
    assert!(summary.contains(evil), "{summary}");
}

#[test]
fn finding_6_a_planted_journal_writes_nothing_raw_to_the_terminal() {
    let env = Env::new();
    env.write("etc/motd", "hello\n");
    std::fs::create_dir_all(env.state.join("txn/20260101-000000-000")).unwrap();
    std::fs::write(
        env.state.join("journal.json"),
        "{\"txn\":\"20260101-000000-000\",\"kind\":\"apply\",\"pid\":1,\
         \"started\":\"\\u001b[8m\\nharden: all good\"}",
    )
    .unwrap();
    for args in [&["plan"][..], &["rollback", "--yes"][..], &["history"][..]] {
        let out = env.harden(args);
        let err = stderr(&out);
        assert!(
            !err.contains('\u{1b}'),
            "{args:?}: raw ESC on stderr:\n{err}"
        );
        assert!(
            !err.lines().any(|l| l.starts_with("harden: all good")),
            "{args:?}: a forged line:\n{err}"
        );
    }
    let out = env.harden(&["rollback", "--yes"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("start time"), "{}", stderr(&out));
}

#[test]
fn finding_7_a_rejected_secret_candidate_is_quoted_by_the_validator() {
    require("diff");
    let env = Env::new();
    // `diff /dev/null FILE` prints every line of FILE and exits 1: a validator
    // that quotes the candidate, as nginx quotes a bad token.
    let pb = env.playbook(
        "pb.yml",
        "tasks:\n  - name: env\n    id: files.env\n    file:\n      path: /opt/app/.env\n      content: \"TOKEN=hunter2-SECRET-9f3a\\nOTHER=1\\n\"\n      secret: true\n      validate: [diff, /dev/null, \"%s\"]\n",
    );
    let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("rejected the candidate"),
        "{}",
        stderr(&out)
    );
    for stream in [stdout(&out), stderr(&out)] {
        assert!(!stream.contains("hunter2"), "{stream}");
    }
    assert!(
        files_containing(&env.state, "hunter2").is_empty(),
        "the secret is in the state directory: {:?}",
        files_containing(&env.state, "hunter2")
    );
    let runs = stdout(&env.harden(&["history", "--runs", "--format", "json"]));
    assert!(!runs.contains("hunter2"), "{runs}");
    assert!(!env.path("opt/app/.env").exists());
}

#[test]
fn finding_9_a_newline_in_a_single_line_value_is_committed() {
    let cases = [
        (
            "sshd",
            "    sshd:\n      settings:\n        Banner: \"none\\nPermitRootLogin yes\"\n",
        ),
        (
            "sysctl",
            "    sysctl:\n      settings:\n        net.ipv4.ip_forward: \"0\\nkernel.modules_disabled = 1\"\n",
        ),
        (
            "env_file",
            "    env_file:\n      path: /opt/app/.env\n      set: { RATE: \"10\\rADMIN=1\" }\n",
        ),
        (
            "fail2ban",
            "    fail2ban:\n      jails:\n        sshd: { maxretry: \"3\\n[recidive]\" }\n",
        ),
        (
            "nginx",
            "    nginx:\n      name: app\n      domain: \"example.org\\n  location / { return 200; }\"\n      upstream: 127.0.0.1:8080\n      cert: /etc/ssl/c.pem\n      key: /etc/ssl/k.pem\n",
        ),
    ];
    for (module, body) in cases {
        let env = Env::new();
        let pb = env.playbook(
            "pb.yml",
            &format!("tasks:\n  - name: t\n    id: t.{module}\n{body}"),
        );
        let before = env.tree();
        let out = env.harden(&["apply", "--yes", "-p", pb.to_str().unwrap()]);
        expect_code(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}:", pb.display())) && err.contains("line break"),
            "{module}: {err}"
        );
        let pos = err
            .split(&format!("{}:", pb.display()))
            .nth(1)
            .unwrap_or("");
        assert!(
            pos.split(':').take(2).all(|n| n.parse::<u32>().is_ok()),
            "{module}: no line:column in {err}"
        );
        assert_eq!(env.tree(), before, "{module}");
    }
}

/// Runs `harden` with a bounded address space and wall time (the unfixed binary
/// reads `/dev/zero` without end); `None` when it had to be killed.
fn bounded(args: &[&std::ffi::OsStr], secs: u64) -> Option<Output> {
    require("prlimit");
    let mut child = Command::new("prlimit")
        .arg("--as=2147483648")
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("harden"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let mut out = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    Some(out)
}

#[test]
fn finding_10_a_playbook_from_a_device_or_fifo_reads_without_bound() {
    require("mkfifo");
    let env = Env::new();
    let fifo = env.base.join("fifo.yml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big = env.base.join("big.yml");
    let mut text = String::from("name: big\n");
    while text.len() <= 16 << 20 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let zero = env.playbook("zero.yml", "include: [/dev/zero]\n");
    for pb in [
        fifo.as_path(),
        Path::new("/dev/zero"),
        zero.as_path(),
        big.as_path(),
    ] {
        let args = [
            os("plan"),
            os("--root"),
            env.root.as_os_str(),
            os("--state-dir"),
            env.state.as_os_str(),
            os("-p"),
            pb.as_os_str(),
        ];
        let out = bounded(&args, 20)
            .unwrap_or_else(|| panic!("{}: harden had to be killed", pb.display()));
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains("regular file") || stderr(&out).contains("MiB"),
            "{}: {}",
            pb.display(),
            stderr(&out)
        );
    }
}

#[test]
fn finding_11_state_dir_ancestors_are_made_private_on_a_root_without_var() {
    let env = Env::new();
    assert!(!env.path("var").exists());
    let pb = env.playbook("pb.yml", CANARY_PB);
    let args = [os("apply"), os("--yes"), os("-p"), pb.as_os_str()];
    // A precondition that cannot hold (the plan file's observed content moved)
    // fails before anything, the state directory included, is made.
    let plan_file = env.base.join("plan.json");
    let out = harden_on(
        &env,
        &[
            os("plan"),
            os("-p"),
            pb.as_os_str(),
            os("-o"),
            plan_file.as_os_str(),
        ],
    );
    expect_code(&out, 0);
    env.write("CANARY", "moved\n");
    let out = harden_on(&env, &[os("apply"), os("--yes"), plan_file.as_os_str()]);
    expect_code(&out, 1);
    assert!(
        !env.path("var/lib/harden/txn").exists(),
        "a transaction was started"
    );
    std::fs::remove_file(env.path("CANARY")).unwrap();
    expect_code(&harden_on(&env, &args), 2);
    for (rel, mode) in [
        ("var", 0o755),
        ("var/lib", 0o755),
        ("var/lib/harden", 0o700),
    ] {
        let md = std::fs::symlink_metadata(env.path(rel)).unwrap();
        assert_eq!(md.mode() & 0o7777, mode, "{rel}");
        assert_eq!(md.uid(), 0, "{rel}");
    }
}

const LOCK_PB: &str =
    "tasks:\n  - {name: lock alice, id: accounts.alice, user: {name: alice, locked: true}}\n";

#[test]
fn finding_12_kill_9_while_taking_the_shadow_locks_leaves_them_behind() {
    for point in ["lock-pid-written", "after-locks"] {
        let env = Env::new();
        env.write(
            "etc/shadow",
            "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7:::\n",
        );
        env.write("etc/gshadow", "root:*::\nalice:!::\n");
        env.chmod("etc/gshadow", 0o640);
        let pb = env.playbook("pb.yml", LOCK_PB);
        let p = pb.to_str().unwrap();
        let before = env.tree();
        let out = env.harden_env(&["apply", "--yes", "-p", p], &[("HARDEN_CRASH_AT", point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: not killed\n{}",
            stderr(&out)
        );
        let leftovers: Vec<String> = std::fs::read_dir(env.path("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                Path::new(n).extension().is_some_and(|x| x == "lock")
                    || n.rsplit('.')
                        .next()
                        .is_some_and(|s| s.parse::<u32>().is_ok())
            })
            .collect();
        assert!(
            !leftovers.is_empty(),
            "{point}: the crash left nothing to sweep"
        );
        // Rollback sweeps what the dead run left and says so.
        let out = env.harden(&["rollback", "--yes"]);
        expect_code(&out, 0);
        assert!(stderr(&out).contains("stale"), "{point}: {}", stderr(&out));
        assert_eq!(env.tree(), before, "{point}: rollback left lock files");
        // An apply after a crash sweeps them too, and converges.
        let out = env.harden_env(&["apply", "--yes", "-p", p], &[("HARDEN_CRASH_AT", point)]);
        assert_eq!(out.status.code(), None);
        expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
        assert!(env.read("etc/shadow").contains("alice:!$6$salt$hash"));
        let names: Vec<String> = std::fs::read_dir(env.path("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| Path::new(n).extension().is_some_and(|x| x == "lock") && n != ".pwd.lock"),
            "{point}: {names:?}"
        );
    }
}
