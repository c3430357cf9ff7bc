//! `file`: the Postiz layout example, recursion that never follows a symlink out
//! of its tree, `state: absent`, and Ansible's meaning of a missing `state:`.

use std::os::unix::fs::MetadataExt;

use crate::support::*;

const EXAMPLE: &str = include_str!("../../examples/postiz-layout.yml");

#[test]
fn postiz_layout_example_converges_and_hides_the_env() {
    let env = Test::new()
        .file("opt/postiz/docker-compose.yml", "services: {}\n")
        .file("opt/postiz/.env", "JWT_SECRET=s3cr3t-value\n")
        .file("opt/postiz/backups/db.sql", "-- dump\n")
        .file_mode("opt/postiz", 0o775)
        .file_mode("opt/postiz/.env", 0o644)
        .file_mode("opt/postiz/backups", 0o777)
        .playbook_yaml(EXAMPLE);
    std::os::unix::fs::chown(env.path("opt/postiz"), Some(1000), Some(1000)).unwrap();
    let out = env.plan().code(0).stdout();
    assert!(!out.contains("s3cr3t"), "{out}");
    env.converge(|_| {
        let m = std::fs::metadata(env.path("opt/postiz")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 0, 0));
        assert_eq!(env.mode("opt/postiz/.env"), 0o600);
        assert_eq!(env.mode("opt/postiz/backups"), 0o700);
    });
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
    let env = Test::on(env).playbook(
        &Playbook::new("x").task(
            Task::new(
                "f.app",
                "file",
                json!({
                    "path": "/opt/app",
                    "state": "directory",
                    "owner": "root",
                    "group": "root",
                    "recurse": true,
                    "dir_mode": "0755",
                    "file_mode": "0644"
                }),
            )
            .name("App"),
        ),
    );
    env.plan().code(0).stdout_has("2 symlinks left alone");
    env.converge(|_| {
        assert_eq!(env.mode("opt/app/bin/run"), 0o644);
        let m = std::fs::metadata(env.path("outside/secret.txt")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o666, 1000, 1000));
        assert_eq!(env.mode("outside"), 0o777);
    });
}

#[test]
fn state_absent_removes_a_file_and_a_symlink_but_not_its_target() {
    let env = Env::new();
    env.write("opt/old.conf", "x\n");
    env.write("srv/keep", "k\n");
    std::os::unix::fs::symlink("/srv/keep", env.path("opt/link")).unwrap();
    let env = Test::on(env).playbook(
        &Playbook::new("x")
            .task(
                Task::new(
                    "f.a",
                    "file",
                    json!({ "path": "/opt/old.conf", "state": "absent" }),
                )
                .name("A"),
            )
            .task(
                Task::new(
                    "f.b",
                    "file",
                    json!({ "path": "/opt/link", "state": "absent" }),
                )
                .name("B"),
            ),
    );
    env.converge(|_| {
        assert!(!env.path("opt/old.conf").exists());
        assert!(std::fs::symlink_metadata(env.path("opt/link")).is_err());
        assert_eq!(env.read("srv/keep"), "k\n");
    });
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
    let env = Test::on(env).playbook_yaml(
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
    let text = env.plan().code(0).stdout();
    assert!(text.contains("/opt/app: mode 0777 -> 0750"), "{text}");
    assert!(text.contains("/etc/app.conf: mode 0666 -> 0640"), "{text}");
    assert!(text.contains("/srv/data: create directory"), "{text}");
    env.converge(|_| {
        assert!(env.path("opt/app").is_dir());
        assert_eq!(env.mode("opt/app"), 0o750);
        assert_eq!(env.mode("etc/app.conf"), 0o640);
        assert!(env.path("srv/data").is_dir());
        assert_eq!(env.mode("srv/data"), 0o700);
    });
    // Still refused: content for a directory, and a missing path with nothing
    // to create it from.
    env.set_playbook(
        &Playbook::unnamed()
            .task(Task::new(
                "d",
                "file",
                json!({ "path": "/opt/app", "content": "x\n" }),
            ))
            .task(Task::new(
                "m",
                "file",
                json!({ "path": "/opt/missing", "mode": "0600" }),
            )),
    );
    let err = env.plan().code(1).stderr();
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

/// Old backup trees hold names in Latin-1, with spaces and newlines: the
/// snapshot saves such a path like any other (JSON could not hold it, and the
/// whole apply failed), and rollback restores it.
#[test]
fn a_tree_with_names_that_are_not_utf8_converges_and_rolls_back() {
    use std::os::unix::ffi::OsStrExt;
    let env = Test::new()
        .file("srv/backup/ok", "x\n")
        .playbook_yaml(
            r#"
tasks:
  - name: Backups private
    id: backup.private
    file: { path: /srv/backup, state: directory, recurse: true, file_mode: "0600", dir_mode: "0700" }
"#,
        );
    let odd = env
        .path("srv/backup")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9 \\x41\nold.tar"));
    std::fs::write(&odd, "y\n").unwrap();
    env.chmod("srv/backup/ok", 0o644);
    std::fs::set_permissions(&odd, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    env.converge(|_| {
        assert_eq!(env.mode("srv/backup/ok"), 0o600);
        assert_eq!(std::fs::metadata(&odd).unwrap().mode() & 0o7777, 0o600);
    });
    assert_eq!(std::fs::metadata(&odd).unwrap().mode() & 0o7777, 0o644);
}
