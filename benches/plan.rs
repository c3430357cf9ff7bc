//! Benchmarks that print figures (no timed assertions anywhere):
//! - plan time of the embedded baseline against a converged temp root (median of many
//!   runs, in process and as a whole `harden plan` process);
//! - plan time of a recursive `file` rule over 1k, 10k and 100k files, as files/s.
//!
//! Run with `cargo bench --bench plan`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harden::engine::state::StateDir;
use harden::engine::{self, Filter, apply};
use harden::host::Host;
use harden::host::runner::SystemRunner;
use harden::playbook::{self, Source};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn debian_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for (p, c, m) in [
        ("etc/os-release", "ID=debian\n", 0o644),
        ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0o664),
        ("etc/group", "root:x:0:\nshadow:x:42:\n", 0o644),
        ("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600),
        ("etc/gshadow", "root:*::\n", 0o600),
        ("etc/crontab", "# m h dom mon dow user command\n", 0o644),
        (
            "etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config.d/*.conf\n",
            0o644,
        ),
    ] {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, c).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap();
    }
    root
}

fn converge(host: &Host, state: &StateDir, pb: &playbook::Playbook) {
    let plan = engine::plan(host, pb, &Filter::default()).unwrap();
    if !plan.changes.is_empty() {
        let replan = || Ok(engine::plan(host, pb, &Filter::default())?);
        let r = apply::apply(host, state, &plan, &replan).unwrap();
        assert_eq!(
            r.outcome,
            harden::engine::state::Outcome::Committed,
            "{:?}",
            r.message
        );
    }
    assert!(
        engine::plan(host, pb, &Filter::default())
            .unwrap()
            .changes
            .is_empty()
    );
}

fn bench_baseline() {
    let t = tempfile::tempdir().unwrap();
    let root = debian_root(t.path());
    let host = Host::new(root.clone(), Arc::new(SystemRunner));
    let state = StateDir::new(t.path().join("state")).unwrap();
    let pb = playbook::load(&[Source::resolve("baseline")], &BTreeMap::new()).unwrap();
    converge(&host, &state, &pb);
    let runs = 300;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let pb = playbook::load(&[Source::resolve("baseline")], &BTreeMap::new()).unwrap();
        let host = Host::new(root.clone(), Arc::new(SystemRunner));
        let plan = engine::plan(&host, &pb, &Filter::default()).unwrap();
        times.push(start.elapsed());
        assert!(plan.changes.is_empty());
    }
    println!(
        "baseline plan, converged temp root, in process (load + facts + plan): median {:.3} ms over {runs} runs",
        median(times).as_secs_f64() * 1e3
    );
    let bin = env!("CARGO_BIN_EXE_harden");
    let mut times = Vec::new();
    for _ in 0..100 {
        let start = Instant::now();
        let out = std::process::Command::new(bin)
            .args(["plan", "--detailed-exitcode", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        times.push(start.elapsed());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    println!(
        "baseline plan, converged temp root, whole `harden plan` process: median {:.3} ms over 100 runs",
        median(times).as_secs_f64() * 1e3
    );
}

fn bench_tree(n: usize) {
    let t = tempfile::tempdir().unwrap();
    let root = debian_root(t.path());
    let top = root.join("srv/tree");
    // 100 files per directory.
    for i in 0..n {
        let dir = top.join(format!("d{}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
    }
    let pb_path = t.path().join("tree.yml");
    std::fs::write(
        &pb_path,
        "tasks:\n  - name: tree\n    id: tree\n    file: { path: /srv/tree, state: directory, recurse: true, owner: root, group: root, file_mode: \"0644\", dir_mode: \"0755\" }\n",
    )
    .unwrap();
    let pb = playbook::load(&[Source::File(pb_path)], &BTreeMap::new()).unwrap();
    let host = Host::new(root, Arc::new(SystemRunner));
    let state = StateDir::new(t.path().join("state")).unwrap();
    converge(&host, &state, &pb);
    let runs = if n >= 100_000 { 5 } else { 20 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let plan = engine::plan(&host, &pb, &Filter::default()).unwrap();
        times.push(start.elapsed());
        assert!(plan.changes.is_empty());
    }
    let m = median(times);
    let entries = n + n.div_ceil(100);
    println!(
        "recursive file rule, {n:>6} files ({entries} entries), converged: median {:.2} ms, {:.0} entries/s",
        m.as_secs_f64() * 1e3,
        f64::from(u32::try_from(entries).unwrap_or(u32::MAX)) / m.as_secs_f64()
    );
}

fn main() {
    // `cargo test --all-targets` runs benches once as tests: keep that quick.
    if std::env::args().any(|a| a == "--bench") {
        bench_baseline();
        for n in [1_000, 10_000, 100_000] {
            bench_tree(n);
        }
    } else {
        bench_tree(1_000);
    }
}
