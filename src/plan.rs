//! The plan: a typed list of changes, each made of primitive operations the engine
//! knows how to snapshot, validate, perform and undo. Modules build plans; `plan`
//! prints one and writes nothing; `apply` executes exactly the plan it printed,
//! re-checking each operation's precondition (what was observed) before acting.
//!
//! This is the ground floor: the vocabulary that the engine, the host layer and the
//! modules share. It imports none of them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A hex SHA-256 of some bytes.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What a path looked like when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Observed {
    Absent,
    File {
        sha256: String,
    },
    Dir,
    /// A symlink with this target (never followed).
    Link {
        target: PathBuf,
    },
}

/// A validator run on a candidate before it is installed: `%s` in the argument
/// vector is replaced by the candidate's host path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validator {
    pub argv: Vec<String>,
    /// Run it inside a private mount namespace with a tmpfs `/run` (for tools such
    /// as `sshd -t` that insist on `/run/sshd` existing).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private_run: bool,
}

/// Write a whole file atomically.
#[derive(Debug, Clone, Serialize)]
pub struct WriteFile {
    pub path: PathBuf,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub expect: Observed,
    pub validators: Vec<Validator>,
}

/// Change the mode and/or owner of an existing file or directory.
#[derive(Debug, Clone, Serialize)]
pub struct SetMeta {
    pub path: PathBuf,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Mode, uid and gid seen when planning.
    pub expect: (u32, u32, u32),
}

/// Create a directory.
#[derive(Debug, Clone, Serialize)]
pub struct MakeDir {
    pub path: PathBuf,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Remove a file (or an empty directory).
#[derive(Debug, Clone, Serialize)]
pub struct Remove {
    pub path: PathBuf,
    pub expect: Observed,
}

/// Set a live kernel parameter under `/proc/sys`.
#[derive(Debug, Clone, Serialize)]
pub struct SetSysctl {
    pub key: String,
    pub value: String,
    pub expect: String,
}

/// Create, retarget or remove a symlink, never following one (the links
/// `systemctl enable` and `mask` make). The transaction snapshots the link and
/// restores it byte for byte.
#[derive(Debug, Clone, Serialize)]
pub struct Symlink {
    pub path: PathBuf,
    /// What the link points to afterwards; `None` removes it.
    pub target: Option<PathBuf>,
    /// What was at the path when planned: [`Observed::Absent`] or [`Observed::Link`].
    pub expect: Observed,
}

/// A primitive operation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    WriteFile(WriteFile),
    SetMeta(SetMeta),
    MakeDir(MakeDir),
    Remove(Remove),
    SetSysctl(SetSysctl),
    Symlink(Symlink),
}

/// An advisory lock other programs honour, held by `apply` (and `rollback`) from
/// the precondition check until the writes are verified, so a concurrent tool
/// following the same convention (shadow-utils' `useradd`, `passwd`, `vipw`) never
/// interleaves with the transaction. See [`crate::host::locks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lock {
    /// A POSIX record lock on the whole file (`lckpwdf(3)`: `/etc/.pwd.lock`),
    /// created `0600` when missing and left in place.
    Fcntl { path: PathBuf },
    /// `PATH.lock` holding our pid, created exclusively and removed after
    /// (shadow-utils' `commonio_lock` on `/etc/passwd` and friends).
    PidFile { path: PathBuf },
}

/// A service action run after all writes, deduplicated across the plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Handler {
    pub action: Action,
    pub unit: String,
}

impl std::fmt::Display for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.action == Action::DaemonReload {
            write!(f, "systemctl daemon-reload")
        } else if self.action == Action::LoadProfile {
            write!(f, "apparmor_parser -r {}", self.unit)
        } else if self.action == Action::Remount {
            write!(f, "mount -o remount {}", self.unit)
        } else {
            write!(f, "{} {}", self.action.verb(), self.unit)
        }
    }
}

/// Before and after text of a file for the dry run.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub before: String,
    pub after: String,
    /// The content is secret: only that it changed is shown.
    pub redacted: bool,
}

/// One planned change, as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub rule_id: String,
    pub task: String,
    pub severity: Severity,
    pub module: String,
    /// What is changed: a path, or a kernel parameter.
    pub target: String,
    /// One line saying what changes.
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    pub handlers: Vec<Handler>,
    /// Locks to hold while the plan is applied, in the order to take them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<Lock>,
    #[serde(skip)]
    pub ops: Vec<Op>,
}

/// Something the user should know that is not a change.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub rule_id: String,
    pub level: NoticeLevel,
    pub message: String,
}

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeLevel {
    /// Asked for, but this host cannot have it (a kernel key it lacks).
    Unsupported,
    /// Information (a task skipped by `when:`, live values not managed offline).
    Info,
    Warning,
    /// A safety guard refuses this plan (anti-lockout): `apply` stops before any
    /// change unless the operator passes `--i-accept-lockout-risk`.
    Refused,
}

/// The whole plan for one playbook against one host.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub playbook: String,
    pub root: PathBuf,
    pub changes: Vec<Change>,
    pub notices: Vec<Notice>,
}

impl Plan {
    /// Handlers in the order first triggered, each once.
    #[must_use]
    pub fn handlers(&self) -> Vec<Handler> {
        let mut out: Vec<Handler> = Vec::new();
        for h in self.changes.iter().flat_map(|c| &c.handlers) {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        // daemon-reload must run before the restarts that depend on it.
        out.sort_by_key(|h| h.action != Action::DaemonReload);
        out
    }

    /// The locks of all changes, each once, in the order first asked for.
    #[must_use]
    pub fn locks(&self) -> Vec<Lock> {
        let mut out: Vec<Lock> = Vec::new();
        for l in self.changes.iter().flat_map(|c| &c.locks) {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
        out
    }

    /// Every primitive operation in order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.changes.iter().flat_map(|c| &c.ops)
    }

    /// The guard refusals in this plan.
    pub fn refusals(&self) -> impl Iterator<Item = &Notice> {
        self.notices
            .iter()
            .filter(|n| n.level == NoticeLevel::Refused)
    }

    /// Counts of changes by severity.
    #[must_use]
    pub fn by_severity(&self) -> [(Severity, usize); 4] {
        Severity::ALL.map(|s| (s, self.changes.iter().filter(|c| c.severity == s).count()))
    }
}

/// How much a rule matters (the guides' 🔴 critical, 🟠 high, 🟡 medium).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    #[default]
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Self; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// What the handler asked of a service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Reload,
    Restart,
    ReloadOrRestart,
    DaemonReload,
    /// Load a firewall's files into the kernel with its own tool (unit `ufw`):
    /// `ufw --force enable` when its `ufw.conf` says `ENABLED=yes`, `ufw disable`
    /// otherwise. (`systemctl restart ufw` cannot do it: ufw-init's stop does
    /// nothing once the file already says disabled, so the old rules would stay.)
    /// Runs on the running system only, with or without systemd.
    FirewallSync,
    /// Load (or replace) the AppArmor profile file named by the unit in the
    /// kernel: `apparmor_parser -r FILE`. Runs on the running system only, and only
    /// when the kernel has AppArmor (`/sys/kernel/security/apparmor`).
    LoadProfile,
    /// `mount -o remount MOUNTPOINT` (the unit) so new fstab options take effect
    /// now. Runs on the running system only.
    Remount,
    /// `systemctl start UNIT` (the `service` module's `state: started`).
    Start,
    /// `systemctl stop UNIT` (`state: stopped`).
    Stop,
}

impl Action {
    #[must_use]
    pub fn verb(self) -> &'static str {
        match self {
            Self::Reload => "reload",
            Self::Restart => "restart",
            Self::ReloadOrRestart => "reload-or-restart",
            Self::DaemonReload => "daemon-reload",
            Self::FirewallSync => "sync",
            Self::LoadProfile => "load-profile",
            Self::Remount => "remount",
            Self::Start => "start",
            Self::Stop => "stop",
        }
    }

    /// The action that undoes this one when a transaction is restored: a unit
    /// started by it is stopped again and the other way round; reloads and the
    /// rest are simply run again on the restored files.
    #[must_use]
    pub fn undo(self) -> Self {
        match self {
            Self::Start => Self::Stop,
            Self::Stop => Self::Start,
            other => other,
        }
    }
}

/// A scalar variable value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum VarValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl std::fmt::Display for VarValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Str(s) => f.write_str(s),
        }
    }
}

/// The rule a module plans for, as changes and notices name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// The task's name.
    pub name: String,
    pub severity: Severity,
    /// The module's task key.
    pub module: &'static str,
}
