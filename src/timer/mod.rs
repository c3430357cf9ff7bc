//! Scheduled convergence: what `harden timer install|remove|status` installs,
//! removes and reads (the command itself is `cli::commands::timer`). The two units
//! (`harden.service`, `harden.timer`) are ordinary managed files: this module
//! renders them (systemd dialect of [`crate::formats::ini`]), checks them (its
//! own known-key table and a real `systemd-analyze verify` on a staged copy),
//! and turns them into a small [`Plan`] the normal transaction executes, so they
//! get snapshots, rollback and `harden history` for free. Enabling the timer goes
//! through [`crate::host::service`] only; it never touches `/etc` on its own.

use std::path::{Path, PathBuf};

use crate::formats::ini::{IniBuilder, IniDialect};
use crate::host::Host;
use crate::host::fs::Kind;
use crate::host::runner::Cmd;
use crate::modules::{ParentError, observed};
use crate::plan::{Change, Handler, Observed, Op, Plan, Remove, WriteFile};
use crate::playbook::Severity;

/// Where the units live, under the root.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The service unit's name.
pub const SERVICE: &str = "harden.service";
/// The timer unit's name.
pub const TIMER: &str = "harden.timer";
/// The link `systemctl enable` makes (removed by `timer remove`).
pub const WANTS_LINK: &str = "/etc/systemd/system/timers.target.wants/harden.timer";
/// The rule id of the timer's changes in plans, reports and history.
pub const RULE: &str = "harden-timer";

/// A timer problem (before any change).
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error(
        "--every {0}: neither a time span (30min, 1h, 2d) nor a calendar event (hourly, daily, *-*-* 03:00)"
    )]
    Every(String),
    #[error("--randomized-delay {0}: not a time span (30s, 10m, 1h)")]
    Delay(String),
    #[error("playbook {0}: {1}")]
    Playbook(String, String),
    #[error("the rendered unit {unit} is invalid: {message}")]
    Invalid { unit: String, message: String },
    #[error("{path}: {message}")]
    Host { path: PathBuf, message: String },
    #[error(
        "the service would run {binary}, which does not exist under the root {root}; pass --binary PATH-IN-ROOT (the harden binary as the root sees it){found}"
    )]
    NoBinary {
        binary: PathBuf,
        root: PathBuf,
        /// `; the root has one at PATH` when it does.
        found: String,
    },
}

/// What the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Report drift only (exit 2 on drift: the unit shows as failed).
    Check,
    /// Converge, every guard on, never confirming anything itself.
    Apply,
}

/// `timer install` settings, validated.
#[derive(Debug, Clone)]
pub struct Install {
    pub every: String,
    pub mode: Mode,
    /// Absolute playbook paths or embedded names.
    pub playbooks: Vec<String>,
    pub randomized_delay: String,
    /// The harden binary the service runs.
    pub binary: PathBuf,
    /// Passed on to the service's runs.
    pub metrics_file: Option<PathBuf>,
    /// Pull this git checkout before each run: (git binary, checkout), both
    /// paths as the service sees them.
    pub pull: Option<(PathBuf, PathBuf)>,
}

/// Checks `--pull-git DIR`: an absolute git checkout under the root, and a git
/// binary there to pull it with.
///
/// # Errors
/// A relative path, no checkout there, or no git under the root.
pub fn resolve_pull(
    host: &Host,
    dir: Option<&Path>,
) -> Result<Option<(PathBuf, PathBuf)>, TimerError> {
    let Some(dir) = dir else { return Ok(None) };
    let bad = |m: &str| TimerError::Playbook(dir.display().to_string(), m.into());
    if !dir.is_absolute() {
        return Err(bad(
            "--pull-git needs an absolute path (as the service sees it)",
        ));
    }
    if !matches!(host.lstat(&dir.join(".git")), Ok(Some(_))) {
        return Err(bad(
            "--pull-git: not a git checkout (no .git) under the root",
        ));
    }
    let git = host
        .binary("git")
        .ok_or_else(|| bad("--pull-git: no git binary under the root"))?;
    if !plain_arg(&dir.to_string_lossy()) {
        return Err(bad(
            "its path has characters a unit's command line would mangle",
        ));
    }
    Ok(Some((git, dir.to_path_buf())))
}

/// Whether `s` is a systemd time span such as `90s`, `10min`, `1h 30m`, `2d`.
#[must_use]
pub fn is_timespan(s: &str) -> bool {
    const UNITS: [&str; 16] = [
        "s", "sec", "second", "seconds", "m", "min", "minute", "minutes", "h", "hr", "hour",
        "hours", "d", "day", "days", "w",
    ];
    let parts: Vec<&str> = s.split_whitespace().collect();
    !parts.is_empty()
        && parts.iter().all(|p| {
            let digits = p.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && UNITS.contains(&&p[digits..])
        })
}

/// Whether `s` looks like a calendar event systemd accepts (checked for real by
/// `systemd-analyze calendar` where it exists).
fn is_calendar(host: &Host, s: &str) -> bool {
    if s.is_empty() || s.contains(['\n', '\\', '"', '\'']) {
        return false;
    }
    match host
        .runner
        .run(&Cmd::new(["systemd-analyze", "calendar", s]))
    {
        Ok(out) => out.success(),
        Err(_) => matches!(
            s,
            "minutely" | "hourly" | "daily" | "weekly" | "monthly" | "yearly" | "quarterly"
        ),
    }
}

/// Whether an argument survives a unit's `ExecStart=` unchanged (no quoting,
/// no `%` specifiers, no `$` variables, no escapes).
fn plain_arg(a: &str) -> bool {
    !a.is_empty()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || "\"'\\%$;".contains(c))
}

/// Resolves `-p` arguments: embedded names stay names; files become absolute
/// paths that must exist. On the running system (`--root /`) a relative path
/// is resolved from here; under another root (an image) the path must be
/// absolute and exist inside that root, where the service will read it.
///
/// # Errors
/// A playbook that is neither an existing file nor an embedded name.
pub fn resolve_playbooks(host: &Host, given: &[String]) -> Result<Vec<String>, TimerError> {
    let mut out = Vec::new();
    for p in given {
        let bad = |m: &str| TimerError::Playbook(p.clone(), m.into());
        let text = if matches!(
            crate::playbook::Source::resolve(p),
            crate::playbook::Source::Embedded(..)
        ) {
            p.clone()
        } else if host.is_live() {
            std::fs::canonicalize(p)
                .map_err(|e| {
                    bad(&format!(
                        "no such file and no embedded playbook of that name ({e})"
                    ))
                })?
                .to_string_lossy()
                .into_owned()
        } else {
            let path = Path::new(p);
            if !path.is_absolute()
                || !matches!(host.lstat(path), Ok(Some(m)) if m.kind == Kind::File)
            {
                return Err(bad(&format!(
                    "under --root {} give the playbook's absolute path inside the root (no such file there)",
                    host.root.display()
                )));
            }
            p.clone()
        };
        if !plain_arg(&text) {
            return Err(bad(
                "its path has characters a unit's command line would mangle",
            ));
        }
        out.push(text);
    }
    Ok(out)
}

/// Checks that the service's binary exists inside the root (an image's units
/// run the image's harden, not this machine's).
///
/// # Errors
/// [`TimerError::NoBinary`], naming the root's own `harden` when it has one.
pub fn check_binary(host: &Host, binary: &Path) -> Result<(), TimerError> {
    if binary.is_absolute() && matches!(host.lstat(binary), Ok(Some(_))) {
        return Ok(());
    }
    Err(TimerError::NoBinary {
        binary: binary.to_path_buf(),
        root: host.root.clone(),
        found: host
            .binary("harden")
            .map(|p| format!("; the root has one at {}", p.display()))
            .unwrap_or_default(),
    })
}

impl Install {
    /// Checks the schedule and delay.
    ///
    /// # Errors
    /// A schedule or delay systemd would not accept.
    pub fn check(&self, host: &Host) -> Result<(), TimerError> {
        if !is_timespan(&self.every) && !is_calendar(host, &self.every) {
            return Err(TimerError::Every(self.every.clone()));
        }
        if let Some(m) = &self.metrics_file
            && !m.is_absolute()
        {
            return Err(TimerError::Playbook(
                m.display().to_string(),
                "--metrics-file must be an absolute path".into(),
            ));
        }
        if let Some(a) = self.command().into_iter().find(|a| !plain_arg(a)) {
            return Err(TimerError::Playbook(
                a,
                "the service's command line cannot hold spaces, quotes, `%`, `$` or `\\`".into(),
            ));
        }
        if !is_timespan(&self.randomized_delay) && self.randomized_delay != "0" {
            return Err(TimerError::Delay(self.randomized_delay.clone()));
        }
        Ok(())
    }

    /// The service's command line, argument by argument.
    #[must_use]
    pub fn command(&self) -> Vec<String> {
        let mut argv = vec![self.binary.to_string_lossy().into_owned()];
        match self.mode {
            Mode::Check => argv.push("check".into()),
            // `--yes` answers the plain confirmation only: no lockout override, no
            // confirm-or-revert flag. A guard refusal fails the run (exit 1).
            Mode::Apply => argv.extend(["apply".into(), "--yes".into()]),
        }
        for p in &self.playbooks {
            argv.extend(["-p".into(), p.clone()]);
        }
        if let Some(m) = &self.metrics_file {
            argv.extend(["--metrics-file".into(), m.to_string_lossy().into_owned()]);
        }
        argv
    }

    /// The pull step's command line, when `--pull-git` was given.
    #[must_use]
    pub fn pull_command(&self) -> Option<Vec<String>> {
        self.pull.as_ref().map(|(git, dir)| {
            vec![
                git.to_string_lossy().into_owned(),
                "-C".into(),
                dir.to_string_lossy().into_owned(),
                "pull".into(),
                "--ff-only".into(),
                "--quiet".into(),
            ]
        })
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Check => "check",
            Mode::Apply => "apply",
        }
    }

    /// The rendered `harden.service`.
    ///
    /// # Errors
    /// A value the systemd dialect cannot hold.
    pub fn service_unit(&self) -> Result<String, TimerError> {
        let apply = self.mode == Mode::Apply;
        let mut service: Vec<(&str, String)> = vec![("Type", "oneshot".into())];
        if let Some(pull) = self.pull_command() {
            // `+`: this step alone runs outside the sandbox below, which denies
            // all IP traffic; `-`: a failed pull (network down) still converges
            // to the playbooks already checked out.
            service.push(("ExecStartPre", format!("-+{}", pull.join(" "))));
        }
        service.push(("ExecStart", self.command().join(" ")));
        if apply {
            // Exit 2 means "changed and verified": a success for a converging run.
            service.push(("SuccessExitStatus", "2".into()));
        }
        service.extend(sandbox(apply, self.metrics_file.as_deref()));
        IniBuilder::new(IniDialect::Systemd)
            .comment(&format!(
                "Written by `harden timer install` ({} mode); `harden timer remove` deletes it.\nSandboxing: see docs/timer.md for why each line is there and what it allows.",
                self.mode_name()
            ))
            .section(
                "Unit",
                [
                    ("Description", format!("harden {}: scheduled host hardening", self.mode_name())),
                    ("Documentation", "man:harden(1)".into()),
                ],
            )
            .section("Service", service)
            .render()
            .map_err(|e| TimerError::Invalid {
                unit: SERVICE.into(),
                message: e.to_string(),
            })
    }

    /// The rendered `harden.timer`.
    ///
    /// # Errors
    /// A value the systemd dialect cannot hold.
    pub fn timer_unit(&self) -> Result<String, TimerError> {
        let mut timer: Vec<(&str, String)> = if is_timespan(&self.every) {
            vec![
                ("OnBootSec", "5min".into()),
                ("OnUnitActiveSec", self.every.clone()),
            ]
        } else {
            vec![("OnCalendar", self.every.clone())]
        };
        timer.push(("Persistent", "true".into()));
        timer.push(("RandomizedDelaySec", self.randomized_delay.clone()));
        timer.push(("Unit", SERVICE.into()));
        IniBuilder::new(IniDialect::Systemd)
            .comment("Written by `harden timer install`; `harden timer remove` deletes it.")
            .section(
                "Unit",
                [(
                    "Description",
                    format!("Run harden {} every {}", self.mode_name(), self.every),
                )],
            )
            .section("Timer", timer)
            .section("Install", [("WantedBy", "timers.target")])
            .render()
            .map_err(|e| TimerError::Invalid {
                unit: TIMER.into(),
                message: e.to_string(),
            })
    }
}

/// The sandbox of the service. `check` only reads (and writes the state
/// directory and the metrics file); `apply` must write what playbooks manage
/// (`/etc`, `/var`, homes, live `/proc/sys`), reload services over systemd's
/// socket and run validators in a private mount namespace.
fn sandbox(apply: bool, metrics: Option<&Path>) -> Vec<(&'static str, String)> {
    let s = |v: &str| v.to_string();
    let mut out = vec![
        ("NoNewPrivileges", s("yes")),
        ("PrivateTmp", s("yes")),
        ("PrivateMounts", s("yes")),
        ("PrivateDevices", s("yes")),
        ("ProtectKernelModules", s("yes")),
        ("ProtectKernelLogs", s("yes")),
        ("ProtectControlGroups", s("yes")),
        ("ProtectClock", s("yes")),
        ("ProtectHostname", s("yes")),
        ("LockPersonality", s("yes")),
        ("RestrictRealtime", s("yes")),
        ("RestrictSUIDSGID", s("yes")),
        ("SystemCallArchitectures", s("native")),
        ("RestrictAddressFamilies", s("AF_UNIX")),
        ("IPAddressDeny", s("any")),
        ("SystemCallErrorNumber", s("EPERM")),
        ("UMask", s("0077")),
        ("StateDirectory", s("harden")),
        ("StateDirectoryMode", s("0700")),
    ];
    if apply {
        out.extend([
            ("ProtectSystem", s("true")),
            ("ProtectHome", s("no")),
            ("ProtectKernelTunables", s("no")),
            ("RestrictNamespaces", s("mnt")),
            ("SystemCallFilter", s("@system-service @mount")),
            (
                "CapabilityBoundingSet",
                s("CAP_CHOWN CAP_FOWNER CAP_FSETID CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_SETUID CAP_SETGID CAP_SYS_ADMIN CAP_KILL"),
            ),
        ]);
    } else {
        out.push(("ProtectSystem", s("strict")));
        if let Some(dir) = metrics.and_then(Path::parent) {
            out.push(("ReadWritePaths", dir.to_string_lossy().into_owned()));
        }
        out.extend([
            ("ProtectHome", s("read-only")),
            ("ProtectKernelTunables", s("yes")),
            ("RestrictNamespaces", s("yes")),
            ("MemoryDenyWriteExecute", s("yes")),
            ("PrivateNetwork", s("no")),
            ("SystemCallFilter", s("@system-service")),
            (
                "CapabilityBoundingSet",
                s("CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE"),
            ),
        ]);
    }
    out
}

/// The keys harden writes, per section: its own check that a rendered unit
/// holds nothing systemd would ignore (`systemd-analyze verify` exits 0 on those).
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("Unit", &["Description", "Documentation"]),
    (
        "Service",
        &[
            "Type",
            "ExecStartPre",
            "ExecStart",
            "SuccessExitStatus",
            "NoNewPrivileges",
            "PrivateTmp",
            "PrivateMounts",
            "PrivateDevices",
            "PrivateNetwork",
            "ProtectKernelModules",
            "ProtectKernelLogs",
            "ProtectKernelTunables",
            "ProtectControlGroups",
            "ProtectClock",
            "ProtectHostname",
            "ProtectSystem",
            "ProtectHome",
            "ReadWritePaths",
            "LockPersonality",
            "RestrictRealtime",
            "RestrictSUIDSGID",
            "RestrictNamespaces",
            "RestrictAddressFamilies",
            "SystemCallArchitectures",
            "SystemCallFilter",
            "CapabilityBoundingSet",
            "MemoryDenyWriteExecute",
            "UMask",
            "IPAddressDeny",
            "SystemCallErrorNumber",
            "StateDirectory",
            "StateDirectoryMode",
        ],
    ),
    (
        "Timer",
        &[
            "OnCalendar",
            "OnBootSec",
            "OnUnitActiveSec",
            "Persistent",
            "RandomizedDelaySec",
            "Unit",
        ],
    ),
    ("Install", &["WantedBy"]),
];

/// Harden's own key check of a unit's text.
///
/// # Errors
/// An unknown section or key, with its line.
pub fn check_keys(unit: &str, text: &str) -> Result<(), TimerError> {
    let doc = crate::formats::ini::IniDoc::parse(text, IniDialect::Systemd).map_err(|e| {
        TimerError::Invalid {
            unit: unit.into(),
            message: e.to_string(),
        }
    })?;
    for section in doc.sections() {
        let Some((_, keys)) = KNOWN_KEYS.iter().find(|(s, _)| *s == section) else {
            return Err(TimerError::Invalid {
                unit: unit.into(),
                message: format!("unknown section [{section}]"),
            });
        };
        if let Some(k) = doc.keys(section).into_iter().find(|k| !keys.contains(k)) {
            return Err(TimerError::Invalid {
                unit: unit.into(),
                message: format!("unknown key {k} in [{section}]"),
            });
        }
    }
    Ok(())
}

/// Runs `systemd-analyze verify` on both units staged together in a temp
/// directory (it resolves the timer's service next to it). It exits 0 on
/// unknown keys, so any output is a failure too.
///
/// # Errors
/// A non-zero exit or any complaint; a missing `systemd-analyze` is not an
/// error (the key check still ran), the caller reports it.
pub fn verify(host: &Host, service: &str, timer: &str) -> Result<bool, TimerError> {
    check_keys(SERVICE, service)?;
    check_keys(TIMER, timer)?;
    let dir = tempfile::tempdir().map_err(|e| TimerError::Host {
        path: std::env::temp_dir(),
        message: e.to_string(),
    })?;
    let (s, t) = (dir.path().join(SERVICE), dir.path().join(TIMER));
    for (p, text) in [(&s, service), (&t, timer)] {
        std::fs::write(p, text).map_err(|e| TimerError::Host {
            path: p.clone(),
            message: e.to_string(),
        })?;
    }
    let cmd = Cmd::new([
        "systemd-analyze".to_string(),
        "verify".into(),
        // Documentation=man:harden(1) need not be installed where units are built.
        "--man=no".into(),
        s.to_string_lossy().into_owned(),
        t.to_string_lossy().into_owned(),
    ])
    .in_private_run();
    match host.runner.run(&cmd) {
        Ok(out)
            if out.success() && out.stdout.trim().is_empty() && out.stderr.trim().is_empty() =>
        {
            Ok(true)
        }
        Ok(out) => Err(TimerError::Invalid {
            unit: format!("{SERVICE}/{TIMER}"),
            message: format!("systemd-analyze verify: {}", out.brief()),
        }),
        Err(_) => Ok(false),
    }
}

fn change(target: &Path, summary: String, ops: Vec<Op>, diff: Option<crate::plan::Diff>) -> Change {
    Change {
        rule_id: RULE.into(),
        task: "harden timer".into(),
        severity: Severity::Medium,
        module: "timer".into(),
        target: target.display().to_string(),
        summary,
        references: std::collections::BTreeMap::new(),
        diff,
        handlers: vec![Handler::DaemonReload],
        locks: Vec::new(),
        ops,
    }
}

fn host_err(path: &Path) -> impl FnOnce(crate::host::fs::FsError) -> TimerError + '_ {
    move |e| TimerError::Host {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Missing ancestors of `path` as `MakeDir` ops, outermost first.
fn missing_dirs(host: &Host, path: &Path) -> Result<Vec<Op>, TimerError> {
    crate::modules::parent_dirs(host, path).map_err(|e| match e {
        ParentError::Fs(dir, e) => host_err(&dir)(e),
        ParentError::NotADirectory(dir) => TimerError::Host {
            path: dir,
            message: "not a directory".into(),
        },
    })
}

fn empty_plan(host: &Host, name: &str) -> Plan {
    Plan::new(name, host.root.clone())
}

/// The plan that installs (or updates) both units. Empty when they are in place.
///
/// # Errors
/// Unreadable unit paths, or a rendered unit that fails the key check.
pub fn plan_install(host: &Host, service: &str, timer: &str) -> Result<Plan, TimerError> {
    let mut plan = empty_plan(host, "timer install");
    let mut dirs_made = false;
    for (name, text) in [(SERVICE, service), (TIMER, timer)] {
        let path = Path::new(UNIT_DIR).join(name);
        let meta = host.lstat(&path).map_err(host_err(&path))?;
        let before = match meta {
            Some(m) if m.kind == Kind::File => host.read(&path).map_err(host_err(&path))?,
            Some(_) => {
                return Err(TimerError::Host {
                    path,
                    message: "exists and is not a regular file; remove it first".into(),
                });
            }
            None => None,
        };
        let mode_ok = meta.is_some_and(|m| m.mode & 0o7777 == 0o644 && m.uid == 0 && m.gid == 0);
        if before.as_deref() == Some(text.as_bytes()) && mode_ok {
            continue;
        }
        let mut ops = if dirs_made {
            Vec::new()
        } else {
            missing_dirs(host, &path)?
        };
        dirs_made = true;
        ops.push(Op::WriteFile(WriteFile {
            path: path.clone(),
            content: text.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            expect: observed(before.as_deref()),
            validators: Vec::new(),
        }));
        let summary = if before.is_some() {
            format!("update {name}")
        } else {
            format!("install {name}")
        };
        let diff = crate::modules::diff(
            before.as_deref().unwrap_or_default(),
            text.as_bytes(),
            false,
        );
        plan.changes.push(change(&path, summary, ops, Some(diff)));
    }
    Ok(plan)
}

/// The plan that removes both units and the enable link. Empty when none is there.
///
/// # Errors
/// Unreadable unit paths.
pub fn plan_remove(host: &Host) -> Result<Plan, TimerError> {
    let mut plan = empty_plan(host, "timer remove");
    let paths = [
        PathBuf::from(WANTS_LINK),
        Path::new(UNIT_DIR).join(TIMER),
        Path::new(UNIT_DIR).join(SERVICE),
    ];
    for path in paths {
        let Some(meta) = host.lstat(&path).map_err(host_err(&path))? else {
            continue;
        };
        let expect = match meta.kind {
            Kind::File => observed(host.read(&path).map_err(host_err(&path))?.as_deref()),
            Kind::Symlink => Observed::Absent,
            _ => {
                return Err(TimerError::Host {
                    path,
                    message: "is a directory; harden did not make it".into(),
                });
            }
        };
        let ops = vec![Op::Remove(Remove {
            path: path.clone(),
            expect,
        })];
        plan.changes.push(change(
            &path,
            format!("remove {}", path.display()),
            ops,
            None,
        ));
    }
    Ok(plan)
}

/// What `timer status` shows.
#[derive(Debug, serde::Serialize)]
pub struct Status {
    pub root: PathBuf,
    pub service: Option<String>,
    pub timer: Option<String>,
    pub enabled_link: bool,
    pub exec_start: Option<String>,
    pub schedule: Vec<String>,
}

/// Reads the installed units.
///
/// # Errors
/// Unreadable unit paths.
pub fn status(host: &Host) -> Result<Status, TimerError> {
    let read = |name: &str| -> Result<Option<String>, TimerError> {
        let path = Path::new(UNIT_DIR).join(name);
        Ok(host
            .read(&path)
            .map_err(host_err(&path))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let service = read(SERVICE)?;
    let timer = read(TIMER)?;
    let get = |text: &Option<String>, section: &str, keys: &[&str]| -> Vec<String> {
        let Some(doc) = text
            .as_deref()
            .and_then(|t| crate::formats::ini::IniDoc::parse(t, IniDialect::Systemd).ok())
        else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| doc.get(section, k).map(|v| format!("{k}={v}")))
            .collect()
    };
    let exec_start = get(&service, "Service", &["ExecStart"]).into_iter().next();
    let schedule = get(
        &timer,
        "Timer",
        &[
            "OnCalendar",
            "OnBootSec",
            "OnUnitActiveSec",
            "RandomizedDelaySec",
        ],
    );
    let link = Path::new(WANTS_LINK);
    Ok(Status {
        root: host.root.clone(),
        enabled_link: host.lstat(link).map_err(host_err(link))?.is_some(),
        service,
        timer,
        exec_start,
        schedule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        for ok in ["1h", "30min", "90s", "1h 30m", "2d", "10m"] {
            assert!(is_timespan(ok), "{ok}");
        }
        for bad in ["", "h", "1x", "hourly", "1h;", "-1h"] {
            assert!(!is_timespan(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_the_own_check() {
        assert!(check_keys("x.service", "[Service]\nType=oneshot\n").is_ok());
        let e = check_keys("x.service", "[Service]\nTpye=oneshot\n").unwrap_err();
        assert!(e.to_string().contains("unknown key Tpye"), "{e}");
        assert!(check_keys("x.timer", "[Timerr]\nUnit=a\n").is_err());
    }

    #[test]
    fn apply_mode_never_passes_a_lockout_or_confirm_flag() {
        let i = Install {
            every: "1h".into(),
            mode: Mode::Apply,
            playbooks: vec!["/srv/p.yml".into()],
            randomized_delay: "10m".into(),
            binary: "/usr/bin/harden".into(),
            metrics_file: None,
            pull: None,
        };
        let argv = i.command();
        assert_eq!(
            argv,
            ["/usr/bin/harden", "apply", "--yes", "-p", "/srv/p.yml"]
        );
        assert!(
            !argv
                .iter()
                .any(|a| a.contains("lockout") || a.contains("confirm"))
        );
    }
}
