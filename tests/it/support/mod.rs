//! Test support: a temp root with a realistic `/etc`, a state directory beside it,
//! a runner for the real binary, and a fingerprint of a whole tree (content, kind,
//! mode, owner, symlink targets) to prove what changed and what did not. On top:
//! the `Test` builder and its `converge` invariant (`test.rs`) and playbooks built
//! from typed parts (`playbook.rs`).

mod playbook;
mod test;

pub use playbook::{Playbook, Task};
pub use serde_json::json;
pub use test::{Run, Test, assert_has, both};

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub base: PathBuf,
}

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n";
pub const GROUP: &str = "root:x:0:\nshadow:x:42:\nalice:x:1000:\n";

impl Env {
    /// An empty root directory and a state directory beside it.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().to_path_buf();
        let root = base.join("root");
        let state = base.join("state");
        std::fs::create_dir_all(&root).unwrap();
        Self {
            _dir: dir,
            root,
            state,
            base,
        }
    }

    /// A Debian-like root: os-release, passwd, group, shadow.
    pub fn new() -> Self {
        let env = Self::empty();
        env.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
        env.write("etc/passwd", PASSWD);
        env.write("etc/group", GROUP);
        env.write("etc/shadow", "root:*:19000:0:99999:7:::\n");
        env.chmod("etc/shadow", 0o640);
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn chmod(&self, rel: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn mode(&self, rel: &str) -> u32 {
        std::fs::symlink_metadata(self.path(rel)).unwrap().mode() & 0o7777
    }

    /// Writes a playbook outside the root and returns its path.
    pub fn playbook(&self, name: &str, text: &str) -> PathBuf {
        let p = self.base.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `harden ARGS` with `--root` and `--state-dir` added after the subcommand.
    pub fn harden(&self, args: &[&str]) -> Output {
        self.harden_env(args, &[])
    }

    pub fn harden_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = assert_cmd::Command::cargo_bin("harden").unwrap();
        cmd.arg(args[0]);
        if !matches!(args[0], "modules" | "schema" | "man" | "completions") {
            cmd.arg("--root")
                .arg(&self.root)
                .arg("--state-dir")
                .arg(&self.state);
        }
        cmd.args(&args[1..]);
        cmd.env("NO_COLOR", "1").env_remove("HARDEN_CRASH_AT");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn tree(&self) -> Tree {
        fingerprint(&self.root)
    }

    /// `UID:GID` of `user` in the root's `/etc/passwd`.
    pub fn uid_gid(&self, user: &str) -> String {
        let passwd = self.read("etc/passwd");
        let fields: Vec<&str> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == user)
            .unwrap_or_else(|| panic!("no {user} in /etc/passwd:\n{passwd}"))[2..4]
            .to_vec();
        fields.join(":")
    }

    /// The run reports in the state directory, oldest first, parsed (none when
    /// the directory does not exist).
    pub fn reports(&self) -> Vec<serde_json::Value> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.state.join("reports"))
            .map(|dir| dir.map(|entry| entry.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The newest run report in the state directory, parsed.
    pub fn newest_report(&self) -> serde_json::Value {
        self.reports().pop().expect("no run report")
    }
}

/// A tree's fingerprint: each path with its kind, mode, owner and content hash.
pub type Tree = BTreeMap<String, String>;

/// Every path below `root` with its kind, mode, owner and content hash.
pub fn fingerprint(root: &Path) -> Tree {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let ft = md.file_type();
        let what = if ft.is_symlink() {
            format!("link {}", std::fs::read_link(&p).unwrap().display())
        } else if ft.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            "dir".to_string()
        } else {
            let bytes = std::fs::read(&p).unwrap();
            format!("file {:x}", Sha256::digest(&bytes))
        };
        out.insert(
            rel,
            format!("{what} {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid()),
        );
    }
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, printing both streams when it differs.
#[track_caller]
pub fn expect_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Runs `cmd`, asserts it succeeded (printing its stderr) and returns its stdout.
#[track_caller]
pub fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}\n{}", stderr(&out));
    stdout(&out)
}

/// Copies the directories and regular files below `from` to `to` (links and
/// special files left out), for a root seeded with this machine's stock configuration.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        let kind = entry.file_type().unwrap();
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Makes an ed25519 key pair without passphrase at `key` and returns the public
/// key's line.
pub fn ssh_keygen(key: &Path) -> String {
    require("ssh-keygen");
    run_ok(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(key),
    );
    std::fs::read_to_string(key.with_extension("pub")).unwrap()
}

/// Fails loudly when a real tool the test needs is missing (never skips).
#[track_caller]
pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file());
    assert!(
        found,
        "`{tool}` is not installed: run scripts/test (it installs the test tools)"
    );
}

/// `harden plan --root /` with a state directory in `dir`: planning only (it
/// reads, never writes), for the branches that differ on the running system.
pub fn plan_live(dir: &Path, playbook: &Path) -> Output {
    assert_cmd::Command::cargo_bin("harden")
        .unwrap()
        .args(["plan", "--root", "/", "--state-dir"])
        .arg(dir.join("state"))
        .arg("-p")
        .arg(playbook)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A command for `program` run with a private tmpfs `/run` (as harden runs its
/// validators), so tools that write markers or caches there leave the machine's
/// `/run` untouched.
pub fn private_run(program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --make-rprivate / && mount -t tmpfs -o mode=755 tmpfs /run && exec \"$@\"",
        "sh",
        program,
    ]);
    cmd
}
