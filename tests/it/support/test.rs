//! The fluent test builder: a temp root with files in it, one playbook, and the
//! real binary's commands on it (`plan`, `apply`, `check`, `rollback`), each
//! returning a `Run` whose assertions print both streams when they fail.
//! `converge` is the invariant every module owes: apply changes something (exit 2),
//! a second plan is empty, rollback restores the tree's fingerprint exactly.

use std::ops::Deref;
use std::process::Output;

use super::playbook::Playbook;
use super::{Env, Tree, stderr, stdout};

/// A temp root, its state directory and the playbook under test, with the
/// arguments and environment every command on it gets.
pub struct Test {
    env: Env,
    playbook: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Test {
    /// A Debian-like root (see `Env::new`).
    pub fn new() -> Self {
        Self::on(Env::new())
    }

    /// A test on a root a fixture built.
    pub fn on(env: Env) -> Self {
        let mut test = Self {
            env,
            playbook: String::new(),
            args: Vec::new(),
            envs: Vec::new(),
        };
        test.playbook = test.playbook_file();
        test
    }

    /// Where the playbook under test is written: beside the root, never in it.
    fn playbook_file(&self) -> String {
        self.env.base.join("pb.yml").to_str().unwrap().to_string()
    }

    pub fn file(self, rel: &str, content: &str) -> Self {
        self.env.write(rel, content);
        self
    }

    pub fn file_mode(self, rel: &str, mode: u32) -> Self {
        self.env.chmod(rel, mode);
        self
    }

    pub fn dir(self, rel: &str) -> Self {
        std::fs::create_dir_all(self.env.path(rel)).unwrap();
        self
    }

    /// Makes `pb` the playbook under test.
    pub fn playbook(mut self, pb: &Playbook) -> Self {
        self.playbook = self.playbook_file();
        self.set_playbook(pb);
        self
    }

    /// Makes the embedded playbook `name` the one under test.
    pub fn embedded(mut self, name: &str) -> Self {
        self.playbook = name.to_string();
        self
    }

    /// Arguments every playbook command gets (`-e KEY=VALUE`, `--skip-tags`, ...).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(ToString::to_string));
        self
    }

    /// An environment variable every command gets (`SUDO_USER`, ...).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Makes the YAML `text` the playbook under test (an example file, or YAML
    /// whose own spelling is the point).
    pub fn playbook_yaml(mut self, text: &str) -> Self {
        self.playbook = self.playbook_file();
        std::fs::write(&self.playbook, text).unwrap();
        self
    }

    /// Replaces the playbook under test (the same file, rewritten).
    pub fn set_playbook(&self, pb: &Playbook) {
        let path = self.playbook_file();
        assert_eq!(self.pb(), path, "an embedded playbook is under test");
        std::fs::write(path, pb.render()).unwrap();
    }

    /// The playbook's path (or embedded name), for commands written out by hand.
    pub fn pb(&self) -> &str {
        &self.playbook
    }

    /// `harden ARGS` (with `--root`, `--state-dir` and the test's environment).
    pub fn run(&self, args: &[&str]) -> Run {
        let envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Run(self.env.harden_env(args, &envs))
    }

    /// `harden SUBCOMMAND -p PLAYBOOK ARGS`, then the test's arguments.
    fn with_playbook(&self, head: &[&str], args: &[&str]) -> Run {
        let mut all = head.to_vec();
        all.extend(["-p", self.pb()]);
        all.extend_from_slice(args);
        all.extend(self.args.iter().map(String::as_str));
        self.run(&all)
    }

    pub fn plan(&self) -> Run {
        self.plan_args(&[])
    }

    pub fn plan_args(&self, args: &[&str]) -> Run {
        self.with_playbook(&["plan"], args)
    }

    /// `plan --detailed-exitcode`: exit 0 when there is nothing to do.
    pub fn replan(&self) -> Run {
        self.plan_args(&["--detailed-exitcode"])
    }

    pub fn apply(&self) -> Run {
        self.apply_args(&[])
    }

    pub fn apply_args(&self, args: &[&str]) -> Run {
        self.with_playbook(&["apply", "--yes"], args)
    }

    pub fn check(&self) -> Run {
        self.with_playbook(&["check"], &[])
    }

    /// `plan`, asserting it wrote nothing under the root.
    #[track_caller]
    pub fn plan_read_only(&self) -> Run {
        let before = self.tree();
        let out = self.plan();
        assert_tree(&before, &self.tree(), "plan wrote something");
        out
    }

    /// `rollback --dry-run`, asserting it exits 0 and wrote nothing.
    #[track_caller]
    pub fn rollback_preview(&self) -> Run {
        let before = self.tree();
        let out = self.run(&["rollback", "--dry-run"]).code(0);
        assert_tree(&before, &self.tree(), "rollback --dry-run wrote something");
        out
    }

    pub fn rollback(&self) -> Run {
        self.run(&["rollback", "--yes"])
    }

    /// Apply (exit 2), `applied` run on the applied root (given apply's run), an
    /// empty second plan, rollback to the tree as it was. Returns apply's run.
    #[track_caller]
    pub fn converge(&self, applied: impl FnOnce(&Run)) -> Run {
        self.converge_from(&self.tree(), applied)
    }

    /// `converge`, rolling back to `before`, a fingerprint taken earlier
    /// (before plans that must not have written anything either).
    #[track_caller]
    pub fn converge_from(&self, before: &Tree, applied: impl FnOnce(&Run)) -> Run {
        let out = self.apply().code(2);
        applied(&out);
        self.replan().code(0);
        self.rollback().code(0);
        assert_tree(before, &self.tree(), "rollback did not restore the tree");
        out
    }
}

impl Deref for Test {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// One run of the binary: its output, with assertions that print both streams.
pub struct Run(pub Output);

impl Run {
    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        super::expect_code(&self.0, code);
        self
    }

    pub fn stdout(&self) -> String {
        stdout(&self.0)
    }

    pub fn stderr(&self) -> String {
        stderr(&self.0)
    }

    /// Both streams, stdout first.
    pub fn both(&self) -> String {
        both(&self.0)
    }

    #[track_caller]
    pub fn stdout_has(self, want: &str) -> Self {
        assert_has(&self.stdout(), want);
        self
    }

    #[track_caller]
    pub fn stderr_has(self, want: &str) -> Self {
        assert_has(&self.stderr(), want);
        self
    }
}

impl Deref for Run {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.0
    }
}

/// Both streams of `o`, stdout first.
pub fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that `text` contains `want`, printing `text` when it does not.
#[track_caller]
pub fn assert_has(text: &str, want: &str) {
    assert!(text.contains(want), "`{want}` missing from:\n{text}");
}

/// Asserts two tree fingerprints are equal, naming the paths that differ.
#[track_caller]
pub fn assert_tree(before: &Tree, after: &Tree, what: &str) {
    let differ: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(differ.is_empty(), "{what}: {differ:?}");
}
