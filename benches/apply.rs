//! Benchmarks that print figures (no timed assertions anywhere): a recursive
//! `file` rule (`mode`, `file_mode`, `dir_mode`, `owner` and `group`) over trees
//! of 1k, 10k and 100k files whose every path needs a change, run as whole
//! processes of the binary:
//! - `harden apply --yes` next to `chmod -R` + `chown -R` on an identical tree;
//! - `harden rollback --yes` of that apply, next to the same reference;
//! - `harden plan` of the converged tree next to `find -perm` asking the same
//!   question of it;
//! - the growth of each from one size to the next (10x files -> time ratio), and
//!   the peak RSS of the apply and rollback processes (GNU time's `%M`).
//!
//! Each figure is the median of several rounds; the reference and harden take turns
//! in each round on hot trees of the same shape, so a drift of the machine's speed
//! moves both. Run with `cargo bench --bench apply` (the release binary);
//! `HARDEN_BENCH_SIZES=1000,10000` picks the sizes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIME: &str = "/usr/bin/time";

const PLAYBOOK: &str = "tasks:\n  - name: tree\n    id: tree\n    file: { path: /srv/tree, state: directory, recurse: true, owner: nobody, group: nogroup, mode: \"0750\", file_mode: \"0640\", dir_mode: \"0750\" }\n";

/// One timed process: its wall time, its CPU time (user + system) and peak
/// resident set.
struct Run {
    wall: Duration,
    cpu: Duration,
    peak_kb: u64,
}

/// Runs `cmd` under GNU time, expecting exit code `code`; stdout is discarded.
fn timed(dir: &Path, program: &str, args: &[&str], code: i32) -> Run {
    let rss = dir.join("rss");
    let start = Instant::now();
    let out = Command::new(TIME)
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&rss)
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{TIME} (GNU time) is needed for peak RSS: {e}"));
    let wall = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&rss).unwrap();
    let fields: Vec<f64> = text
        .lines()
        .next_back()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|f| f.parse().ok())
        .collect();
    let [peak_kb, user, system] = fields[..] else {
        panic!("no `%M %U %S` in {text:?}")
    };
    Run {
        wall,
        cpu: Duration::from_secs_f64(user + system),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        peak_kb: peak_kb as u64,
    }
}

/// Wall and CPU medians of a series of runs.
#[derive(Clone, Copy)]
struct Median {
    wall: f64,
    cpu: f64,
}

#[derive(Default)]
struct Series {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Series {
    fn push(&mut self, wall: Duration, cpu: Duration) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }

    fn median(mut self) -> Median {
        self.wall.sort();
        self.cpu.sort();
        Median {
            wall: self.wall[self.wall.len() / 2].as_secs_f64(),
            cpu: self.cpu[self.cpu.len() / 2].as_secs_f64(),
        }
    }
}

/// A root with `passwd`/`group` naming `nobody`/`nogroup`, and `/srv/tree` holding
/// `n` one-byte files, 100 to a directory, ten such directories to a parent
/// (files `0644`, directories `0755`, owned by root).
fn make_root(base: &Path, n: usize) -> PathBuf {
    let root = base.join("root");
    for (p, c) in [
        ("etc/os-release", "ID=debian\n"),
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ] {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, c).unwrap();
    }
    make_tree(&root.join("srv/tree"), n);
    root
}

fn make_tree(top: &Path, n: usize) {
    let dir_mode = std::fs::Permissions::from_mode(0o755);
    std::fs::create_dir_all(top).unwrap();
    std::fs::set_permissions(top, dir_mode.clone()).unwrap();
    for i in 0..n {
        let dir = top
            .join(format!("d{}", i / 1000))
            .join(format!("s{}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, dir_mode.clone()).unwrap();
            std::fs::set_permissions(dir.parent().unwrap(), dir_mode.clone()).unwrap();
        }
        let f = dir.join(format!("f{i}"));
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// Figures of one size.
struct Figures {
    n: usize,
    apply: Median,
    rollback: Median,
    reference: Median,
    plan: Median,
    find: Median,
    apply_peak_kb: u64,
    rollback_peak_kb: u64,
}

fn bench(n: usize, rounds: usize, plan_runs: usize) -> Figures {
    let bin = env!("CARGO_BIN_EXE_harden");
    let t = tempfile::tempdir().unwrap();
    let root = make_root(t.path(), n);
    let reference = t.path().join("ref/tree");
    make_tree(&reference, n);
    let pb = t.path().join("tree.yml");
    std::fs::write(&pb, PLAYBOOK).unwrap();
    let (pb, root_s, ref_s) = (
        pb.to_str().unwrap(),
        root.to_str().unwrap(),
        reference.to_str().unwrap(),
    );
    let tree = root.join("srv/tree");
    let mut find_args = vec![tree.to_str().unwrap()];
    find_args.extend(
        "( -type d ! -perm 0750 ) -o ( -type f ! -perm 0640 ) -o ! -uid 65534 -o ! -gid 65534"
            .split(' '),
    );
    let (mut applies, mut rollbacks, mut references) =
        (Series::default(), Series::default(), Series::default());
    let (mut plans, mut finds) = (Series::default(), Series::default());
    let (mut apply_peak_kb, mut rollback_peak_kb) = (0, 0);
    for round in 0..rounds {
        let chmod = timed(t.path(), "chmod", &["-R", "o-rwx", ref_s], 0);
        let chown = timed(t.path(), "chown", &["-R", "65534:65534", ref_s], 0);
        references.push(chmod.wall + chown.wall, chmod.cpu + chown.cpu);
        // Back to the starting state, untimed.
        timed(t.path(), "chown", &["-R", "0:0", ref_s], 0);
        timed(t.path(), "chmod", &["-R", "o+rX", ref_s], 0);

        let apply = timed(
            t.path(),
            bin,
            &["apply", "--yes", "-q", "-p", pb, "--root", root_s],
            2,
        );
        applies.push(apply.wall, apply.cpu);
        apply_peak_kb = apply_peak_kb.max(apply.peak_kb);

        if round == 0 {
            let plan_args = [
                "plan",
                "-q",
                "--detailed-exitcode",
                "-p",
                pb,
                "--root",
                root_s,
            ];
            for _ in 0..plan_runs {
                let find = timed(t.path(), "find", &find_args, 0);
                finds.push(find.wall, find.cpu);
                let plan = timed(t.path(), bin, &plan_args, 0);
                plans.push(plan.wall, plan.cpu);
            }
        }

        let rollback = timed(
            t.path(),
            bin,
            &["rollback", "--yes", "-q", "--root", root_s],
            0,
        );
        rollbacks.push(rollback.wall, rollback.cpu);
        rollback_peak_kb = rollback_peak_kb.max(rollback.peak_kb);
    }
    Figures {
        n,
        apply: applies.median(),
        rollback: rollbacks.median(),
        reference: references.median(),
        plan: plans.median(),
        find: finds.median(),
        apply_peak_kb,
        rollback_peak_kb,
    }
}

fn report(f: &Figures) {
    let entries = f.n + f.n.div_ceil(100) + f.n.div_ceil(1000) + 1;
    let (a, r, c) = (f.apply, f.rollback, f.reference);
    println!(
        "{:>6} files ({entries} paths change), wall: apply {:.3} s, rollback {:.3} s, chmod -R + chown -R {:.3} s -> apply {:.2}x, rollback {:.2}x",
        f.n,
        a.wall,
        r.wall,
        c.wall,
        a.wall / c.wall,
        r.wall / c.wall,
    );
    println!(
        "{:>6} files, CPU (user + system): apply {:.2} s, rollback {:.2} s, chmod -R + chown -R {:.2} s -> apply {}, rollback {}; peak RSS apply {:.1} MB, rollback {:.1} MB",
        f.n,
        a.cpu,
        r.cpu,
        c.cpu,
        cpu_ratio(a.cpu, c.cpu),
        cpu_ratio(r.cpu, c.cpu),
        kb_to_mb(f.apply_peak_kb),
        kb_to_mb(f.rollback_peak_kb),
    );
    println!(
        "{:>6} files, converged: plan {:.3} s, find -perm {:.3} s -> {:.2}x wall ({} CPU)",
        f.n,
        f.plan.wall,
        f.find.wall,
        f.plan.wall / f.find.wall,
        cpu_ratio(f.plan.cpu, f.find.cpu),
    );
}

/// A ratio of CPU times, which GNU time counts in hundredths of a second: none
/// below a tenth.
fn cpu_ratio(a: f64, b: f64) -> String {
    if b < 0.1 {
        "n/a (under 0.1 s)".into()
    } else {
        format!("{:.2}x", a / b)
    }
}

fn kb_to_mb(kb: u64) -> f64 {
    f64::from(u32::try_from(kb).unwrap_or(u32::MAX)) / 1024.0
}

fn growth(a: &Figures, b: &Figures) {
    println!(
        "growth {} -> {} files, wall: apply {:.2}x, rollback {:.2}x, plan {:.2}x (chmod -R + chown -R {:.2}x, find -perm {:.2}x)",
        a.n,
        b.n,
        b.apply.wall / a.apply.wall,
        b.rollback.wall / a.rollback.wall,
        b.plan.wall / a.plan.wall,
        b.reference.wall / a.reference.wall,
        b.find.wall / a.find.wall,
    );
}

fn main() {
    // `cargo test --all-targets` runs benches once as tests: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        report(&bench(200, 1, 1));
        return;
    }
    let sizes: Vec<usize> = std::env::var("HARDEN_BENCH_SIZES").map_or_else(
        |_| vec![1_000, 10_000, 100_000],
        |s| s.split(',').map(|n| n.trim().parse().unwrap()).collect(),
    );
    let mut all = Vec::new();
    for n in sizes {
        let (rounds, plan_runs) = if n >= 100_000 { (3, 5) } else { (5, 11) };
        let f = bench(n, rounds, plan_runs);
        report(&f);
        all.push(f);
    }
    for w in all.windows(2) {
        growth(&w[0], &w[1]);
    }
}
