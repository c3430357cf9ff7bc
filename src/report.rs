//! Run reports: every `check`, `apply` and `rollback` appends one JSON document
//! to `STATE/reports/` (the newest N kept), prints one summary line on stderr for
//! the journal, and may write Prometheus text-format metrics for `node_exporter`'s
//! textfile collector. `plan` never comes here: it writes nothing, ever.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::state::{StateDir, now_rfc3339};
use crate::host::fs::{self, FsError, Owner};
use crate::plan::{Plan, ProbeResult, RuleError, Skip};
use crate::playbook::Severity;

/// How many reports are kept by default.
pub const DEFAULT_KEEP: usize = 100;

/// One change as a report records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeLine {
    pub rule_id: String,
    pub severity: Severity,
    pub module: String,
    pub target: String,
    pub summary: String,
    /// The benchmark items the rule covers.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub references: std::collections::BTreeMap<String, String>,
    /// What became of it: `drift` (check), `applied`, `rolled-back`,
    /// `not-installed` (validation failed), `not-applied` (refused or failed
    /// before any change), `rollback-failed`, `audit-only` (an `enforce: false`
    /// rule's drift).
    #[serde(default)]
    pub result: String,
}

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub harden_version: String,
    pub command: String,
    pub started: String,
    /// Seconds since the epoch when the run ended.
    pub finished_unix: u64,
    pub duration_ms: u64,
    pub root: PathBuf,
    pub playbook: String,
    /// `compliant`, `drift`, `committed`, `nothing-to-do`, `rolled-back`,
    /// `validation-failed`, `rollback-failed`, `error`.
    pub result: String,
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Drift found (`check`) or changes attempted (`apply`), by severity.
    pub by_severity: std::collections::BTreeMap<String, usize>,
    /// Changes actually applied (0 unless the run committed).
    pub applied: usize,
    /// Changes that failed (all of them when a transaction was rolled back).
    pub failed: usize,
    pub changes: Vec<ChangeLine>,
    /// Drift of audit-only rules (`enforce: false`): found, never applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<ChangeLine>,
    /// The selected rules by what became of them in the plan.
    #[serde(default)]
    pub rules: RuleCounts,
    /// Rules that failed (could not be planned, or a validator rejected their
    /// candidate): never compliant, never applied.
    #[serde(default)]
    pub errors: Vec<RuleError>,
    /// Rules skipped by `when:`, and probes skipped, with the reason.
    #[serde(default)]
    pub skipped: Vec<Skip>,
    /// The probes `check` evaluated: a failed one is drift of its rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeResult>,
}

/// How many selected rules were compliant, drifted, failed or were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    pub compliant: usize,
    pub drift: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl RuleCounts {
    /// The counts of `plan`.
    #[must_use]
    pub fn of(plan: &Plan) -> Self {
        Self {
            compliant: plan.compliant().len(),
            drift: plan.drifted().len(),
            failed: plan.errors.len(),
            skipped: plan.skipped.len(),
        }
    }
}

impl std::fmt::Display for RuleCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} compliant, {} drift, {} failed, {} skipped",
            self.compliant, self.drift, self.failed, self.skipped
        )
    }
}

fn lines(changes: &[crate::plan::Change], result: &str) -> Vec<ChangeLine> {
    changes
        .iter()
        .map(|c| ChangeLine {
            rule_id: c.rule_id.clone(),
            severity: c.severity,
            module: c.module.clone(),
            target: c.target.clone(),
            summary: c.summary.clone(),
            references: c.references.clone(),
            result: result.into(),
        })
        .collect()
}

impl RunReport {
    /// A report for `command` over `plan` (or no plan when it failed early).
    #[must_use]
    pub fn new(
        command: &str,
        started: &str,
        elapsed: std::time::Duration,
        plan: Option<&Plan>,
    ) -> Self {
        let changes = plan.map(|p| lines(&p.changes, "")).unwrap_or_default();
        let audit = plan
            .map(|p| lines(&p.audit, "audit-only"))
            .unwrap_or_default();
        let by_severity = Severity::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    changes
                        .iter()
                        .chain(if command == "check" { &audit[..] } else { &[] })
                        .filter(|c| c.severity == *s)
                        .count(),
                )
            })
            .collect();
        Self {
            harden_version: env!("CARGO_PKG_VERSION").into(),
            command: command.into(),
            started: started.into(),
            finished_unix: unix_now(),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            root: plan.map(|p| p.root.clone()).unwrap_or_default(),
            playbook: plan.map(|p| p.playbook.clone()).unwrap_or_default(),
            result: String::new(),
            exit_code: 0,
            txn: None,
            message: None,
            by_severity,
            applied: 0,
            failed: 0,
            changes,
            audit,
            rules: plan.map(RuleCounts::of).unwrap_or_default(),
            errors: plan.map(|p| p.errors.clone()).unwrap_or_default(),
            skipped: plan.map(|p| p.skipped.clone()).unwrap_or_default(),
            probes: plan.map(|p| p.probes.clone()).unwrap_or_default(),
        }
    }

    /// Sets the run's result and, from it, each change's.
    pub fn set_result(&mut self, result: &str) {
        self.result = result.into();
        let each = match (self.command.as_str(), result) {
            ("check", "drift") => "drift",
            ("apply", "committed" | "partial") => "applied",
            ("apply", "rolled-back") => "rolled-back",
            ("apply", "validation-failed") => "not-installed",
            ("apply", "rollback-failed") => "rollback-failed",
            _ => "not-applied",
        };
        for c in &mut self.changes {
            c.result = each.into();
        }
    }

    fn critical(&self) -> usize {
        self.by_severity.get("critical").copied().unwrap_or(0)
    }

    /// The rules with critical drift (a failed critical probe included), each once.
    fn critical_rules(&self) -> usize {
        let failed = self
            .probes
            .iter()
            .filter(|p| !p.ok && p.severity == Severity::Critical)
            .map(|p| p.rule_id.as_str());
        let mut ids: Vec<&str> = self
            .changes
            .iter()
            .chain(&self.audit)
            .filter(|c| c.severity == Severity::Critical)
            .map(|c| c.rule_id.as_str())
            .chain(failed)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// The changes the run was about: those planned (`check`, `apply`), or those
    /// a `rollback` undid or tried to (it has no plan), as `history` counts them.
    #[must_use]
    pub fn change_count(&self) -> usize {
        if self.command == "rollback" {
            self.applied + self.failed
        } else {
            self.changes.len()
        }
    }

    /// The one line for the journal: the rules by status ("N compliant, M
    /// drift, F failed, S skipped"), then what the run did.
    #[must_use]
    pub fn summary(&self) -> String {
        let what = match self.command.as_str() {
            "check" => format!(
                "{} compliant, {} drift ({} critical), {} failed, {} skipped: {}",
                self.rules.compliant,
                self.rules.drift,
                self.critical_rules(),
                self.rules.failed,
                self.rules.skipped,
                self.result
            ),
            "rollback" => format!("rollback {}", self.result),
            _ => {
                // The critical changes applied, not merely planned.
                let crit = if self.applied == 0 {
                    0
                } else {
                    self.critical()
                };
                format!(
                    "{}: {} change(s) applied ({crit} critical), {}",
                    self.rules, self.applied, self.result
                )
            }
        };
        format!("harden: {what}, {} ms", self.duration_ms)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn owner(mode: u32) -> Owner {
    Owner {
        mode,
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    }
}

fn ensure_dir(dir: &Path) -> Result<(), FsError> {
    let mut cur = PathBuf::from("/");
    for c in fs::components(dir)? {
        cur.push(c);
        if fs::lstat(Path::new("/"), &cur)?.is_none() {
            fs::make_dir(Path::new("/"), &cur, owner(0o700))?;
        }
    }
    Ok(())
}

/// The reports directory of a state directory.
#[must_use]
pub fn dir(state: &StateDir) -> PathBuf {
    state.path.join("reports")
}

/// Appends `report` to `STATE/reports/` and deletes all but the newest `keep`.
///
/// # Errors
/// When the report cannot be written.
pub fn save(state: &StateDir, report: &RunReport, keep: usize) -> Result<PathBuf, FsError> {
    let dir = dir(state);
    state.ensure()?;
    ensure_dir(&dir)?;
    let stamp: String = now_rfc3339().chars().filter(char::is_ascii_digit).collect();
    let mut path = dir.join(format!("{stamp}-{}.json", report.command));
    for n in 1..1000 {
        if fs::lstat(Path::new("/"), &path)?.is_none() {
            break;
        }
        path = dir.join(format!("{stamp}.{n:03}-{}.json", report.command));
    }
    let mut bytes = serde_json::to_vec_pretty(report).unwrap_or_default();
    bytes.push(b'\n');
    fs::write_atomic(Path::new("/"), &path, &bytes, owner(0o600), "harden-report")?;
    let names = list(&dir);
    for old in names.iter().take(names.len().saturating_sub(keep.max(1))) {
        fs::remove_file(Path::new("/"), &dir.join(old))?;
    }
    Ok(path)
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with('.') && Path::new(n).extension().is_some_and(|e| e == "json")
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The saved reports, oldest first (unreadable ones skipped).
#[must_use]
pub fn load_all(state: &StateDir) -> Vec<RunReport> {
    let dir = dir(state);
    list(&dir)
        .into_iter()
        .filter_map(|n| fs::read(Path::new("/"), &dir.join(n)).ok().flatten())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect()
}

/// The Prometheus text exposition of a run.
#[must_use]
pub fn metrics(r: &RunReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let cmd = &r.command;
    let _ = writeln!(
        out,
        "# HELP harden_drift Changes the last run found needed (check: drift; apply: planned), by severity.\n# TYPE harden_drift gauge"
    );
    for (sev, n) in &r.by_severity {
        let _ = writeln!(
            out,
            "harden_drift{{command=\"{cmd}\",severity=\"{sev}\"}} {n}"
        );
    }
    let ok = u8::from(
        matches!(r.exit_code, 0 | 2)
            && r.result != "drift"
            && r.result != "failed"
            && r.rules.failed == 0,
    );
    let lines = [
        (
            "harden_last_run_timestamp_seconds",
            "Unix time the last run ended.",
            r.finished_unix.to_string(),
        ),
        (
            "harden_last_run_success",
            "1 when the last run succeeded and found no drift.",
            ok.to_string(),
        ),
        (
            "harden_last_run_exit_code",
            "Exit code of the last run (docs/exit-codes.md).",
            r.exit_code.to_string(),
        ),
        (
            "harden_changes_applied",
            "Changes the last run applied.",
            r.applied.to_string(),
        ),
        (
            "harden_changes_failed",
            "Changes the last run failed to apply.",
            r.failed.to_string(),
        ),
        (
            "harden_last_run_duration_seconds",
            "Duration of the last run.",
            format!("{:.3}", seconds(r.duration_ms)),
        ),
    ];
    for (name, help, value) in lines {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        let _ = writeln!(
            out,
            "{name}{{command=\"{cmd}\",result=\"{}\"}} {value}",
            r.result
        );
    }
    let _ = writeln!(
        out,
        "# HELP harden_rules Selected rules of the last run by status (compliant, drift, failed, skipped).\n# TYPE harden_rules gauge"
    );
    for (status, n) in [
        ("compliant", r.rules.compliant),
        ("drift", r.rules.drift),
        ("failed", r.rules.failed),
        ("skipped", r.rules.skipped),
    ] {
        let _ = writeln!(
            out,
            "harden_rules{{command=\"{cmd}\",status=\"{status}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP harden_rule_failed 1 for each rule that failed in the last run (could not be planned, or its candidate was rejected).\n# TYPE harden_rule_failed gauge"
    );
    for e in &r.errors {
        let _ = writeln!(
            out,
            "harden_rule_failed{{command=\"{cmd}\",rule_id=\"{}\"}} 1",
            label(&e.rule_id)
        );
    }
    if !r.probes.is_empty() {
        let _ = writeln!(
            out,
            "# HELP harden_probe_ok 1 for each probe that passed in the last run, 0 for each that failed (skipped probes have no sample).\n# TYPE harden_probe_ok gauge"
        );
    }
    for p in &r.probes {
        let _ = writeln!(
            out,
            "harden_probe_ok{{command=\"{cmd}\",rule_id=\"{}\"}} {}",
            label(&p.rule_id),
            u8::from(p.ok)
        );
    }
    out
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[allow(clippy::cast_precision_loss)] // a run's milliseconds fit a f64 exactly
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Writes the metrics atomically (temp file in the same directory, renamed),
/// `0644` so `node_exporter` can read it.
///
/// # Errors
/// When the file cannot be written.
pub fn write_metrics(path: &Path, r: &RunReport) -> Result<(), FsError> {
    fs::write_atomic(
        Path::new("/"),
        path,
        metrics(r).as_bytes(),
        owner(0o644),
        "harden-metrics",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest() {
        let t = tempfile::tempdir().unwrap();
        let s = StateDir::new(t.path().join("state")).unwrap();
        let mut r = RunReport::new("check", "x", std::time::Duration::from_millis(5), None);
        for i in 0..5 {
            r.exit_code = i;
            save(&s, &r, 3).unwrap();
        }
        let all = load_all(&s);
        assert_eq!(
            all.iter().map(|r| r.exit_code).collect::<Vec<_>>(),
            [2, 3, 4]
        );
    }
}
