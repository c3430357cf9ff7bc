//! `file`: the Postiz layout example, recursion that never follows a symlink out
//! of its tree, `state: absent`, and Ansible's meaning of a missing `state:`.

use std::os::unix::fs::MetadataExt;

use crate::support::*;

const EXAMPLE: &str = include_str!("../../examples/postiz-layout.yml");

#[test]
fn postiz_layout_example_converges_and_hides_the_env() {
    let env = Env::new();
    env.write("opt/postiz/docker-compose.yml", "services: {}\n");
    env.write("opt/postiz/.env", "JWT_SECRET=s3cr3t-value\n");
    env.write("opt/postiz/backups/db.sql", "-- dump\n");
    env.chmod("opt/postiz", 0o775);
    env.chmod("opt/postiz/.env", 0o644);
    env.chmod("opt/postiz/backups", 0o777);
    std::os::unix::fs::chown(env.path("opt/postiz"), Some(1000), Some(1000)).unwrap();
    let pb = env.playbook("pb.yml", EXAMPLE);
    let p = pb.to_str().unwrap();
    let out = env.harden(&["plan", "-p", p]);
    expect_code(&out, 0);
    assert!(!stdout(&out).contains("s3cr3t"), "{}", stdout(&out));
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    let m = std::fs::metadata(env.path("opt/postiz")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 0, 0));
    assert_eq!(env.mode("opt/postiz/.env"), 0o600);
    assert_eq!(env.mode("opt/postiz/backups"), 0o700);
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
}

#[test]
fn recursion_never_follows_a_symlink_out_of_the_tree() {
    let env = Env::new();
    env.write("opt/app/bin/run", "#!/bin/sh\n");
    env.write("outside/secret.txt", "x\n");
    env.chmod("opt/app/bin/run", 0o777);
    env.chmod("outside/secret.txt", 0o666);
    env.chmod("outside", 0o777);
    std::os::unix::fs::chown(env.path("outside/secret.txt"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::symlink("/outside/secret.txt", env.path("opt/app/link-out")).unwrap();
    // An absolute host path too, as a careless `ln -s` would leave.
    std::os::unix::fs::symlink(env.path("outside"), env.path("opt/app/bin/dir-out")).unwrap();
    let pb = env.playbook(
        "pb.yml",
        "name: x\ntasks:\n  - name: App\n    id: f.app\n    file: { path: /opt/app, state: directory, owner: root, group: root, recurse: true, dir_mode: \"0755\", file_mode: \"0644\" }\n",
    );
    let p = pb.to_str().unwrap();
    let out = env.harden(&["plan", "-p", p]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("2 symlinks left alone"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert_eq!(env.mode("opt/app/bin/run"), 0o644);
    let m = std::fs::metadata(env.path("outside/secret.txt")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o666, 1000, 1000));
    assert_eq!(env.mode("outside"), 0o777);
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
}

#[test]
fn state_absent_removes_a_file_and_a_symlink_but_not_its_target() {
    let env = Env::new();
    env.write("opt/old.conf", "x\n");
    env.write("srv/keep", "k\n");
    std::os::unix::fs::symlink("/srv/keep", env.path("opt/link")).unwrap();
    let pb = env.playbook(
        "pb.yml",
        "name: x\ntasks:\n  - name: A\n    id: f.a\n    file: { path: /opt/old.conf, state: absent }\n  - name: B\n    id: f.b\n    file: { path: /opt/link, state: absent }\n",
    );
    let p = pb.to_str().unwrap();
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert!(!env.path("opt/old.conf").exists());
    assert!(std::fs::symlink_metadata(env.path("opt/link")).is_err());
    assert_eq!(env.read("srv/keep"), "k\n");
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
}

/// As Ansible's `file` (issue 11): without `state:` the path keeps its kind, and
/// `recurse: true` on a missing path makes a directory.
#[test]
fn without_state_the_path_keeps_its_kind_and_recurse_means_a_directory() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("opt/app/sub")).unwrap();
    env.write("opt/app/sub/run", "x\n");
    env.chmod("opt/app", 0o777);
    env.write("etc/app.conf", "a=1\n");
    env.chmod("etc/app.conf", 0o666);
    let pb = env.playbook(
        "pb.yml",
        r#"
tasks:
  - name: An existing directory
    id: app.dir
    file: { path: /opt/app, mode: "0750" }
  - name: An existing file
    id: app.conf
    file: { path: /etc/app.conf, mode: "0640" }
  - name: A tree that is not there yet
    id: app.data
    file: { path: /srv/data, mode: "0700", recurse: true }
"#,
    );
    let p = pb.to_str().unwrap();
    let out = env.harden(&["plan", "-p", p]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("/opt/app: mode 0777 -> 0750"), "{text}");
    assert!(text.contains("/etc/app.conf: mode 0666 -> 0640"), "{text}");
    assert!(text.contains("/srv/data: create directory"), "{text}");
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert!(env.path("opt/app").is_dir());
    assert_eq!(env.mode("opt/app"), 0o750);
    assert_eq!(env.mode("etc/app.conf"), 0o640);
    assert!(env.path("srv/data").is_dir());
    assert_eq!(env.mode("srv/data"), 0o700);
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
    // Still refused: content for a directory, and a missing path with nothing
    // to create it from.
    let bad = env.playbook(
        "bad.yml",
        "tasks:\n  - {name: d, id: d, file: {path: /opt/app, content: \"x\\n\"}}\n  - {name: m, id: m, file: {path: /opt/missing, mode: \"0600\"}}\n",
    );
    let out = env.harden(&["plan", "-p", bad.to_str().unwrap()]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(
            "harden: error: rule d: `content` needs a regular file, and /opt/app is a directory"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "harden: error: rule m: /opt/missing does not exist; give `content` to create it"
        ),
        "{err}"
    );
}
