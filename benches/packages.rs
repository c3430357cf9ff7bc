//! Benchmark that prints figures (no timed assertions): planning 200 packages
//! and 200 services on the real Debian 12 root from `scripts/debian-root`
//! (issue 12's target: under 50 ms), converged, so the figure is the cost of
//! reading what is there: the dpkg database (one file) and the units and links
//! of `/etc/systemd/system`. Two shapes of playbook: one `package` rule naming
//! 200 packages, and 200 `package` rules of one package each; both with 200
//! `service` rules (`enabled: false` for each unit of the root that plans,
//! converged by one apply first, then `masked: false` for the first units again
//! up to 200: the root has fewer units than that). Printed: the median of the
//! in-process plan (load + facts + plan; wall time, and time on a CPU, which
//! other jobs on the machine do not inflate) and of a whole `harden plan` process.
//!
//! Run with `cargo bench --bench packages` (as root: it extracts the cached
//! root with its owners; `scripts/debian-root` builds the cache).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harden::engine::state::{Outcome, StateDir};
use harden::engine::{self, Filter, apply};
use harden::host::Host;
use harden::host::packages;
use harden::host::runner::SystemRunner;
use harden::playbook::{self, Playbook, Source};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The time this thread has spent on a CPU (`/proc/thread-self/schedstat`):
/// on a machine other jobs share, the figure waiting for a core does not inflate.
fn cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// A fresh copy of the cached Debian 12 root in `dir`.
fn debian12(dir: &Path) -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debian-root");
    let out = Command::new(script).arg("--path").output().unwrap();
    assert!(out.status.success(), "{script} --path failed");
    let tar = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        tar.is_file(),
        "the cached Debian 12 root {} is missing: run scripts/debian-root",
        tar.display()
    );
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let st = Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "extracting {}", tar.display());
    root
}

/// 200 package names: every installed one, then names not installed
/// (`state: absent`) up to 200, so the plan is converged.
fn package_names(host: &Host) -> Vec<(String, &'static str)> {
    let installed = packages::installed(host).unwrap();
    let mut names: Vec<(String, &'static str)> = installed
        .keys()
        .take(200)
        .map(|n| (n.clone(), "present"))
        .collect();
    let mut i = 0;
    while names.len() < 200 {
        names.push((format!("harden-bench-absent-{i}"), "absent"));
        i += 1;
    }
    names
}

/// Up to 200 units of the root (no templates, none its vendor masked), each
/// `enabled: false`.
fn unit_names(root: &Path) -> Vec<String> {
    let kinds = ["service", "socket", "target", "timer", "path", "mount"];
    let mut units: Vec<String> = std::fs::read_dir(root.join("usr/lib/systemd/system"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        // Units the vendor masked (links to /dev/null) cannot be unmasked.
        .filter(|e| !std::fs::read_link(e.path()).is_ok_and(|t| t == Path::new("/dev/null")))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !n.contains('@')
                && Path::new(n)
                    .extension()
                    .is_some_and(|x| kinds.iter().any(|k| x == *k))
        })
        .collect();
    units.sort();
    units
}

/// A rule `enabled: false` for each unit; with `fill`, then rules
/// `masked: false` for the first units again until there are 200 (the root has
/// fewer than 200 units that are not templates).
fn service_tasks(units: &[String], fill: bool) -> String {
    let mut text = String::new();
    for (i, u) in units.iter().enumerate() {
        let _ = write!(
            text,
            "  - name: s{i}\n    id: svc.{i}\n    service: {{ name: \"{u}\", enabled: false }}\n"
        );
    }
    if fill {
        for (i, u) in units.iter().take(200 - units.len().min(200)).enumerate() {
            let _ = write!(
                text,
                "  - name: m{i}\n    id: svc.m{i}\n    service: {{ name: \"{u}\", masked: false }}\n"
            );
        }
    }
    text
}

fn load(dir: &Path, name: &str, text: &str) -> (PathBuf, Playbook) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let pb = playbook::load(&[Source::File(path.clone())], &BTreeMap::new()).unwrap();
    (path, pb)
}

/// The service rules that plan on this root (units with specifiers, missing
/// `Also=` units or links another rule already claims fail and are left out),
/// up to 200, applied once so the plan is converged.
fn converged_units(host: &Host, dir: &Path) -> Vec<String> {
    let units = unit_names(&host.root);
    let (_, pb) = load(
        dir,
        "probe.yml",
        &format!("name: probe\ntasks:\n{}", service_tasks(&units, false)),
    );
    let plan = engine::plan(host, &pb, &Filter::default()).unwrap();
    let failed: Vec<&str> = plan.errors.iter().map(|e| e.rule_id.as_str()).collect();
    let ok: Vec<String> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| !failed.contains(&format!("svc.{i}").as_str()))
        .map(|(_, u)| u.clone())
        .take(200)
        .collect();
    let (_, pb) = load(
        dir,
        "svc.yml",
        &format!("name: svc\ntasks:\n{}", service_tasks(&ok, true)),
    );
    let plan = engine::plan(host, &pb, &Filter::default()).unwrap();
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    if !plan.changes.is_empty() {
        let state = StateDir::new(dir.join("state")).unwrap();
        let replan = || Ok(engine::plan(host, &pb, &Filter::default())?);
        let r = apply::apply(host, &state, &plan, &replan).unwrap();
        assert_eq!(r.outcome, Outcome::Committed, "{:?}", r.message);
    }
    ok
}

fn bench(root: &Path, dir: &Path, file: &str, shape: &str, text: &str, runs: usize) {
    let (path, pb) = load(dir, file, text);
    let check = engine::plan(
        &Host::new(root.into(), Arc::new(SystemRunner)),
        &pb,
        &Filter::default(),
    )
    .unwrap();
    assert!(check.errors.is_empty(), "{:?}", check.errors);
    assert!(
        check.changes.is_empty(),
        "not converged: {:?}",
        check.changes.len()
    );
    let rules = pb.tasks.len();
    let mut times = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (start, on_cpu) = (Instant::now(), cpu());
        let pb = playbook::load(&[Source::File(path.clone())], &BTreeMap::new()).unwrap();
        let host = Host::new(root.into(), Arc::new(SystemRunner));
        let plan = engine::plan(&host, &pb, &Filter::default()).unwrap();
        times.push(start.elapsed());
        cpus.push(cpu().saturating_sub(on_cpu));
        assert!(plan.changes.is_empty());
    }
    println!(
        "{shape} ({rules} rules), converged Debian 12 root, in process (load + facts + plan): median {:.3} ms ({:.3} ms on CPU) over {runs} runs",
        ms(median(times)),
        ms(median(cpus))
    );
    let bin = env!("CARGO_BIN_EXE_harden");
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(bin)
            .args(["plan", "--detailed-exitcode", "--root"])
            .arg(root)
            .arg("--state-dir")
            .arg(dir.join("plan-state"))
            .arg("-p")
            .arg(&path)
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
        "{shape} ({rules} rules), converged Debian 12 root, whole `harden plan` process: median {:.3} ms over {runs} runs",
        ms(median(times))
    );
}

fn main() {
    // `cargo test --all-targets` runs benches once as tests: keep that quick.
    let runs = if std::env::args().any(|a| a == "--bench") {
        50
    } else {
        1
    };
    let t = tempfile::tempdir().unwrap();
    let root = debian12(t.path());
    let host = Host::new(root.clone(), Arc::new(SystemRunner));
    let names = package_names(&host);
    let units = converged_units(&host, t.path());
    let services = service_tasks(&units, true);
    let service_rules = units.len().max(200);

    let mut one_rule = String::from("name: one-rule\ntasks:\n");
    for state in ["present", "absent"] {
        let listed: Vec<&str> = names
            .iter()
            .filter(|(_, s)| *s == state)
            .map(|(n, _)| n.as_str())
            .collect();
        let _ = write!(
            one_rule,
            "  - name: {state}\n    id: pkg.{state}\n    package: {{ names: [{}], state: {state} }}\n",
            listed.join(", ")
        );
    }
    one_rule.push_str(&services);
    bench(
        &root,
        t.path(),
        "one-rule.yml",
        &format!(
            "{} packages in 2 rules + {service_rules} service rules ({} units)",
            names.len(),
            units.len()
        ),
        &one_rule,
        runs,
    );

    let mut per_package = String::from("name: per-package\ntasks:\n");
    for (i, (n, state)) in names.iter().enumerate() {
        let _ = write!(
            per_package,
            "  - name: p{i}\n    id: pkg.{i}\n    package: {{ names: [{n}], state: {state} }}\n"
        );
    }
    per_package.push_str(&services);
    bench(
        &root,
        t.path(),
        "per-package.yml",
        &format!(
            "{} package rules + {service_rules} service rules ({} units)",
            names.len(),
            units.len()
        ),
        &per_package,
        runs,
    );
}
