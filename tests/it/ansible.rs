//! The example Ansible site playbook (`examples/ansible/site.yml`), run by real
//! `ansible-playbook` (`ansible-core` from `PyPI`, installed by `scripts/test`) against
//! three local hosts, each hardening its own temp root through the module's `root`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn ansible_playbook() -> PathBuf {
    let p = std::env::var_os("HARDEN_ANSIBLE_PLAYBOOK").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook"),
        PathBuf::from,
    );
    assert!(
        p.is_file(),
        "{} is missing: run scripts/test (it installs ansible-core from PyPI)",
        p.display()
    );
    p
}

struct Fleet {
    _dir: tempfile::TempDir,
    base: PathBuf,
    hosts: Vec<Env>,
}

impl Fleet {
    fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let lib = base.join("library");
        std::fs::create_dir(&lib).unwrap();
        std::fs::copy(assert_cmd::cargo::cargo_bin("harden"), lib.join("harden")).unwrap();
        let hosts = (0..n).map(|_| Env::new()).collect();
        Self {
            _dir: dir,
            base,
            hosts,
        }
    }

    fn inventory(&self, bad: Option<usize>) -> PathBuf {
        let mut inv = String::from("[fleet]\n");
        for (i, h) in self.hosts.iter().enumerate() {
            let vars = if bad == Some(i) {
                " harden_vars='{\"banner_mode\": \"999\"}'"
            } else {
                ""
            };
            let _ = writeln!(
                inv,
                "host{i} ansible_connection=local harden_root={} harden_state_dir={} harden_playbook_dir={}{vars}",
                h.root.display(),
                h.state.display(),
                h.base.join("harden-playbooks").display(),
            );
        }
        inv.push_str("\n[fleet:vars]\nansible_python_interpreter={{ ansible_playbook_python }}\n");
        let p = self.base.join("inventory.ini");
        std::fs::write(&p, inv).unwrap();
        p
    }

    fn run(&self, bad: Option<usize>, extra: &[&str]) -> (i32, String) {
        let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ansible/site.yml");
        let out = Command::new(ansible_playbook())
            .arg("-i")
            .arg(self.inventory(bad))
            .arg(site)
            .args(extra)
            .env("ANSIBLE_LIBRARY", self.base.join("library"))
            .env("ANSIBLE_LOCAL_TEMP", self.base.join("tmp-local"))
            .env("ANSIBLE_REMOTE_TEMP", self.base.join("tmp-remote"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), both(&out))
    }
}

/// `changed` and `failed` of each host from the PLAY RECAP.
fn recap(text: &str, host: &str) -> (u32, u32) {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{host} ")) && l.contains("changed="))
        .unwrap_or_else(|| panic!("no recap line for {host}:\n{text}"));
    let field = |name: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    (field("changed"), field("failed"))
}

#[test]
fn ansible_converges_three_hosts_idempotently_and_isolates_a_failing_one() {
    let fleet = Fleet::new(3);
    for h in &fleet.hosts {
        h.chmod("etc/passwd", 0o666);
    }
    // First run: every host changes.
    let (rc, text) = fleet.run(None, &[]);
    assert_eq!(rc, 0, "{text}");
    for i in 0..3 {
        let (changed, failed) = recap(&text, &format!("host{i}"));
        assert!(changed >= 1 && failed == 0, "host{i}: {text}");
        let h = &fleet.hosts[i];
        assert_eq!(h.mode("etc/passwd"), 0o644);
        assert_eq!(
            h.read("etc/issue.net"),
            "Authorized use only. Activity is logged.\n"
        );
    }
    // Second run: nothing changes anywhere (idempotence as Ansible sees it).
    let (rc, text) = fleet.run(None, &[]);
    assert_eq!(rc, 0, "{text}");
    for i in 0..3 {
        assert_eq!(recap(&text, &format!("host{i}")), (0, 0), "host{i}: {text}");
    }
    // Drift on host1: --check --diff reports changed and changes nothing.
    fleet.hosts[1].write("etc/issue.net", "tampered\n");
    let before = fleet.hosts[1].tree();
    let (rc, text) = fleet.run(None, &["--check", "--diff", "--limit", "host1"]);
    assert_eq!(rc, 0, "{text}");
    assert_eq!(recap(&text, "host1"), (1, 0), "{text}");
    assert!(text.contains("-tampered"), "diff not shown: {text}");
    assert_eq!(fleet.hosts[1].tree(), before, "--check changed the host");
    // A failing host (bad playbook value) is reported failed; the others converge.
    let (rc, text) = fleet.run(Some(2), &[]);
    assert_ne!(rc, 0, "{text}");
    assert_eq!(recap(&text, "host2").1, 1, "{text}");
    assert!(text.contains("mode `999`"), "{text}");
    assert_eq!(recap(&text, "host1"), (1, 0), "{text}");
    assert_eq!(recap(&text, "host0"), (0, 0), "{text}");
    assert_eq!(
        fleet.hosts[1].read("etc/issue.net"),
        "Authorized use only. Activity is logged.\n"
    );
}
