//! The module catalogue: what a task key (`sysctl:`, `file:`, ...) means. Each module
//! has a declarative spec in `modules/NAME.yaml` (description, parameters, default
//! paths, validator, handler), embedded at build time and listed by
//! `harden modules`; its Rust side only turns parameters into typed changes
//! ([`crate::engine::plan::Change`]) by reading the host. Modules never write.

pub mod apparmor;
pub mod backups;
pub mod compose;
pub mod docker_daemon;
pub mod env_file;
pub mod fail2ban;
pub mod file;
pub mod firewall;
pub mod managed_block;
pub mod mount_options;
pub mod nginx;
pub mod rsyslog;
pub mod sshd;
pub mod sudoers;
pub mod sysctl;
pub mod systemd_unit;
pub mod unattended_upgrades;
pub mod user;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::MapAccess;

use crate::engine::plan::{
    Change, Diff, MakeDir, Notice, NoticeLevel, Observed, Op, Validator, WriteFile, sha256_hex,
};
use crate::host::Host;
use crate::host::fs::{FsError, Kind};
use crate::playbook::Task;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/modules.rs"));
}

/// A module could not plan.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("rule {rule}: {message}")]
    Invalid { rule: String, message: String },
    #[error("rule {rule}: {source}")]
    Fs {
        rule: String,
        #[source]
        source: FsError,
    },
    #[error("module catalogue: modules/{file}.yaml: {message}")]
    Catalogue { file: String, message: String },
}

/// A task's module and its parameters.
#[derive(Debug, Clone)]
pub enum ModuleCall {
    Sysctl(sysctl::Params),
    File(file::Params),
    Firewall(firewall::Params),
    Sshd(sshd::Params),
    User(user::Params),
    Sudoers(sudoers::Params),
    Fail2ban(fail2ban::Params),
    SystemdUnit(systemd_unit::Params),
    ManagedBlock(managed_block::Params),
    EnvFile(env_file::Params),
    Nginx(nginx::Params),
    UnattendedUpgrades(unattended_upgrades::Params),
    DockerDaemon(docker_daemon::Params),
    Apparmor(apparmor::Params),
    Rsyslog(rsyslog::Params),
    MountOptions(mount_options::Params),
    Compose(compose::Params),
    Backups(backups::Params),
}

impl ModuleCall {
    /// The module's name (its task key).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sysctl(_) => "sysctl",
            Self::File(_) => "file",
            Self::Firewall(_) => "firewall",
            Self::Sshd(_) => "sshd",
            Self::User(_) => "user",
            Self::Sudoers(_) => "sudoers",
            Self::Fail2ban(_) => "fail2ban",
            Self::SystemdUnit(_) => "systemd_unit",
            Self::ManagedBlock(_) => "managed_block",
            Self::EnvFile(_) => "env_file",
            Self::Nginx(_) => "nginx",
            Self::UnattendedUpgrades(_) => "unattended_upgrades",
            Self::DockerDaemon(_) => "docker_daemon",
            Self::Apparmor(_) => "apparmor",
            Self::Rsyslog(_) => "rsyslog",
            Self::MountOptions(_) => "mount_options",
            Self::Compose(_) => "compose",
            Self::Backups(_) => "backups",
        }
    }
}

/// Reads the parameters of module `name` from the playbook; `None` when there is
/// no such module.
///
/// # Errors
/// When the parameters do not fit the module (the error carries the position).
pub fn deserialize_call<'de, A: MapAccess<'de>>(
    name: &str,
    map: &mut A,
) -> Result<Option<ModuleCall>, A::Error> {
    Ok(Some(match name {
        "sysctl" => ModuleCall::Sysctl(map.next_value()?),
        "file" => ModuleCall::File(map.next_value()?),
        "firewall" => ModuleCall::Firewall(map.next_value()?),
        "sshd" => ModuleCall::Sshd(map.next_value()?),
        "user" => ModuleCall::User(map.next_value()?),
        "sudoers" => ModuleCall::Sudoers(map.next_value()?),
        "fail2ban" => ModuleCall::Fail2ban(map.next_value()?),
        "systemd_unit" => ModuleCall::SystemdUnit(map.next_value()?),
        "managed_block" => ModuleCall::ManagedBlock(map.next_value()?),
        "env_file" => ModuleCall::EnvFile(map.next_value()?),
        "nginx" => ModuleCall::Nginx(map.next_value()?),
        "unattended_upgrades" => ModuleCall::UnattendedUpgrades(map.next_value()?),
        "docker_daemon" => ModuleCall::DockerDaemon(map.next_value()?),
        "apparmor" => ModuleCall::Apparmor(map.next_value()?),
        "rsyslog" => ModuleCall::Rsyslog(map.next_value()?),
        "mount_options" => ModuleCall::MountOptions(map.next_value()?),
        "compose" => ModuleCall::Compose(map.next_value()?),
        "backups" => ModuleCall::Backups(map.next_value()?),
        _ => return Ok(None),
    }))
}

/// The module names, for messages and the schema.
#[must_use]
pub fn names() -> Vec<&'static str> {
    vec![
        "apparmor",
        "backups",
        "compose",
        "docker_daemon",
        "env_file",
        "fail2ban",
        "file",
        "firewall",
        "managed_block",
        "mount_options",
        "nginx",
        "rsyslog",
        "sshd",
        "sudoers",
        "sysctl",
        "systemd_unit",
        "unattended_upgrades",
        "user",
    ]
}

/// The declarative spec of a module (`modules/NAME.yaml`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    /// One line for `harden modules`.
    pub description: String,
    /// The SEEDS.md requirement(s) it serves.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// The Rust resource kind that executes it.
    pub kind: String,
    /// Default values of parameters (paths above all).
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Validator run on candidates; `%s` is the candidate path.
    #[serde(default)]
    pub validator: Option<Vec<String>>,
    /// Service action after a change, as `ACTION UNIT`.
    #[serde(default)]
    pub handler: Option<String>,
    /// Parameter name → one-line documentation.
    pub params: BTreeMap<String, String>,
    /// A complete playbook using the module, for the reference (a test loads it).
    #[serde(default)]
    pub example: Option<String>,
}

/// The playbook reference in Markdown, generated from the specs
/// (`harden modules --markdown`, committed as `docs/modules.md`).
///
/// # Errors
/// When the catalogue is malformed.
pub fn reference() -> Result<String, ModuleError> {
    use std::fmt::Write;
    let mut out = String::from(
        "# Module reference\n\nGenerated from `modules/*.yaml` by `harden modules --markdown`; do not edit.\nEvery task has `name`, `id` (the rule id), optional `severity` (critical, high, medium, low),\n`tags` and `when`, and exactly one module key below. `harden schema` gives the JSON Schema.\n",
    );
    for s in catalogue()? {
        let _ = write!(out, "\n## `{}`\n\n{}\n", s.name, s.description);
        if !s.requirements.is_empty() {
            let _ = writeln!(out, "\nServes: {}.", s.requirements.join(", "));
        }
        let _ = writeln!(out, "\n| parameter | meaning | default |\n|---|---|---|");
        for (k, v) in &s.params {
            let d = s
                .defaults
                .get(k)
                .map_or(String::new(), |d| format!("`{d}`"));
            let _ = writeln!(out, "| `{k}` | {} | {d} |", v.replace('|', "\\|"));
        }
        if let Some(v) = &s.validator {
            let _ = writeln!(out, "\nValidator on each candidate: `{}`.", v.join(" "));
        }
        if let Some(h) = &s.handler {
            let _ = writeln!(out, "\nAfter a change: `{h}`.");
        }
        if let Some(e) = &s.example {
            let _ = write!(out, "\nExample:\n\n```yaml\n{e}```\n");
        }
    }
    Ok(out)
}

/// The embedded catalogue, parsed once.
///
/// # Errors
/// When a spec in `modules/` is malformed (a test keeps this from shipping).
pub fn catalogue() -> Result<&'static [Spec], ModuleError> {
    static CAT: OnceLock<Result<Vec<Spec>, (String, String)>> = OnceLock::new();
    let cat = CAT.get_or_init(|| {
        embedded::SPECS
            .iter()
            .map(|(file, text)| {
                let spec: Spec = serde_saphyr::from_str(text)
                    .map_err(|e| ((*file).to_string(), e.to_string()))?;
                if spec.name != *file {
                    return Err((
                        (*file).to_string(),
                        format!("name `{}` differs from file name", spec.name),
                    ));
                }
                Ok(spec)
            })
            .collect()
    });
    match cat {
        Ok(v) => Ok(v),
        Err((file, message)) => Err(ModuleError::Catalogue {
            file: file.clone(),
            message: message.clone(),
        }),
    }
}

/// The spec of one module.
///
/// # Errors
/// When the catalogue is malformed or lacks the module.
pub fn spec(name: &str) -> Result<&'static Spec, ModuleError> {
    catalogue()?
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ModuleError::Catalogue {
            file: name.to_string(),
            message: "missing spec".into(),
        })
}

/// What planning one task produced.
#[derive(Debug, Default)]
pub struct Out {
    pub changes: Vec<Change>,
    pub notices: Vec<Notice>,
}

/// Whole-file writes planned by earlier tasks of the same plan, so a later task
/// editing the same file (a second `user:` editing `/etc/passwd`) plans on top of
/// them instead of on the disk's content.
#[derive(Debug, Default)]
pub struct Pending(BTreeMap<PathBuf, Vec<u8>>);

impl Pending {
    /// Records a planned write.
    pub fn record(&mut self, w: &WriteFile) {
        self.0.insert(w.path.clone(), w.content.clone());
    }

    /// The content `path` will have after the earlier writes, if any writes it.
    #[must_use]
    pub fn get(&self, path: &Path) -> Option<&[u8]> {
        self.0.get(path).map(Vec::as_slice)
    }

    /// Whether `w` was planned on top of an earlier write of its path.
    #[must_use]
    pub fn continues(&self, w: &WriteFile) -> bool {
        self.get(&w.path)
            .is_some_and(|c| w.expect == observed(Some(c)))
    }
}

/// Everything a module needs to plan one task.
pub struct Ctx<'a> {
    pub host: &'a Host,
    pub task: &'a Task,
    pub spec: &'static Spec,
    pub pending: &'a Pending,
}

impl Ctx<'_> {
    /// An error about this task's parameters.
    pub fn invalid(&self, message: impl Into<String>) -> ModuleError {
        ModuleError::Invalid {
            rule: self.task.id.clone(),
            message: message.into(),
        }
    }

    /// Wraps a file-system error with this task's rule id.
    pub fn fs(&self) -> impl FnOnce(FsError) -> ModuleError + '_ {
        |source| ModuleError::Fs {
            rule: self.task.id.clone(),
            source,
        }
    }

    /// A new change of this task.
    #[must_use]
    pub fn change(&self, target: impl Into<String>, summary: impl Into<String>) -> Change {
        Change {
            rule_id: self.task.id.clone(),
            task: self.task.name.clone(),
            severity: self.task.severity,
            module: self.task.module.name().to_string(),
            target: target.into(),
            summary: summary.into(),
            diff: None,
            handlers: Vec::new(),
            locks: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// A notice of this task.
    #[must_use]
    pub fn notice(&self, level: NoticeLevel, message: impl Into<String>) -> Notice {
        Notice {
            rule_id: self.task.id.clone(),
            level,
            message: message.into(),
        }
    }

    /// Reads a file as it will be after the earlier tasks of this plan (the
    /// disk's content when no earlier task writes it). Modules that rewrite a
    /// whole shared file (the account databases) read through this.
    ///
    /// # Errors
    /// When the path is unreadable or crosses a symlink.
    pub fn read_planned(&self, path: &Path) -> Result<Option<Vec<u8>>, ModuleError> {
        match self.pending.get(path) {
            Some(c) => Ok(Some(c.to_vec())),
            None => self.host.read(path).map_err(self.fs()),
        }
    }

    /// A path parameter or the spec's default, checked to be absolute and normalised.
    ///
    /// # Errors
    /// When neither is given or the path is not absolute and normalised.
    pub fn path_param(&self, given: Option<&Path>, key: &str) -> Result<PathBuf, ModuleError> {
        let path = match given {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from(
                self.spec
                    .defaults
                    .get(key)
                    .ok_or_else(|| self.invalid(format!("`{key}` is required")))?,
            ),
        };
        crate::host::fs::components(&path).map_err(self.fs())?;
        Ok(path)
    }
}

/// Plans one task.
///
/// # Errors
/// Bad parameters, or a host state the module refuses to touch.
pub fn plan(host: &Host, task: &Task, pending: &Pending) -> Result<Out, ModuleError> {
    let ctx = Ctx {
        host,
        task,
        spec: spec(task.module.name())?,
        pending,
    };
    let mut out = Out::default();
    match &task.module {
        ModuleCall::Sysctl(p) => sysctl::plan(&ctx, p, &mut out)?,
        ModuleCall::File(p) => file::plan(&ctx, p, &mut out)?,
        ModuleCall::Firewall(p) => firewall::plan(&ctx, p, &mut out)?,
        ModuleCall::Sshd(p) => sshd::plan(&ctx, p, &mut out)?,
        ModuleCall::User(p) => user::plan(&ctx, p, &mut out)?,
        ModuleCall::Sudoers(p) => sudoers::plan(&ctx, p, &mut out)?,
        ModuleCall::Fail2ban(p) => fail2ban::plan(&ctx, p, &mut out)?,
        ModuleCall::SystemdUnit(p) => systemd_unit::plan(&ctx, p, &mut out)?,
        ModuleCall::ManagedBlock(p) => managed_block::plan(&ctx, p, &mut out)?,
        ModuleCall::EnvFile(p) => env_file::plan(&ctx, p, &mut out)?,
        ModuleCall::Nginx(p) => nginx::plan(&ctx, p, &mut out)?,
        ModuleCall::UnattendedUpgrades(p) => unattended_upgrades::plan(&ctx, p, &mut out)?,
        ModuleCall::DockerDaemon(p) => docker_daemon::plan(&ctx, p, &mut out)?,
        ModuleCall::Apparmor(p) => apparmor::plan(&ctx, p, &mut out)?,
        ModuleCall::Rsyslog(p) => rsyslog::plan(&ctx, p, &mut out)?,
        ModuleCall::MountOptions(p) => mount_options::plan(&ctx, p, &mut out)?,
        ModuleCall::Compose(p) => compose::plan(&ctx, p, &mut out)?,
        ModuleCall::Backups(p) => backups::plan(&ctx, p, &mut out)?,
    }
    Ok(out)
}

/// `MakeDir` operations for the missing ancestors of `path` (root-owned, `0755`),
/// outermost first.
///
/// # Errors
/// When an ancestor exists but is not a directory, or crosses a symlink.
pub fn missing_parents(ctx: &Ctx, path: &Path) -> Result<Vec<Op>, ModuleError> {
    let mut missing = Vec::new();
    let mut cur = path.parent();
    while let Some(dir) = cur {
        match ctx.host.lstat(dir).map_err(ctx.fs())? {
            Some(m) if m.kind == Kind::Dir => break,
            Some(_) => return Err(ctx.invalid(format!("{} is not a directory", dir.display()))),
            None => missing.push(dir.to_path_buf()),
        }
        cur = dir.parent();
    }
    Ok(missing
        .into_iter()
        .rev()
        .map(|path| {
            Op::MakeDir(MakeDir {
                path,
                mode: 0o755,
                uid: 0,
                gid: 0,
            })
        })
        .collect())
}

/// A whole-file write, described for [`Ctx::write_change`].
pub struct FileWrite<'a> {
    pub path: &'a Path,
    /// The content now (`None`: the file does not exist).
    pub before: Option<&'a [u8]>,
    pub after: &'a [u8],
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub validators: Vec<Validator>,
    /// Hide the content from diffs.
    pub secret: bool,
    /// What the file is, for the summary ("drop-in" gives "update drop-in").
    pub what: &'a str,
}

impl Ctx<'_> {
    /// A change that writes a whole file: its precondition is the content seen now,
    /// missing parent directories are made first, and the diff is redacted when
    /// secret.
    ///
    /// # Errors
    /// When an ancestor of the path is not a directory.
    pub fn write_change(&self, w: FileWrite) -> Result<Change, ModuleError> {
        let verb = if w.before.is_some() {
            "update"
        } else {
            "create"
        };
        let mut c = self.change(w.path.display().to_string(), format!("{verb} {}", w.what));
        c.diff = Some(diff(w.before.unwrap_or_default(), w.after, w.secret));
        c.ops = missing_parents(self, w.path)?;
        c.ops.push(Op::WriteFile(WriteFile {
            path: w.path.to_path_buf(),
            content: w.after.to_vec(),
            mode: w.mode,
            uid: w.uid,
            gid: w.gid,
            expect: observed(w.before),
            validators: w.validators,
        }));
        Ok(c)
    }
}

/// What a file looks like now, for the precondition of a write.
#[must_use]
pub fn observed(content: Option<&[u8]>) -> Observed {
    content.map_or(Observed::Absent, |c| Observed::File {
        sha256: sha256_hex(c),
    })
}

/// A diff between two texts (lossy for non-UTF-8), redacted when secret.
#[must_use]
pub fn diff(before: &[u8], after: &[u8], secret: bool) -> Diff {
    if secret {
        return Diff {
            before: String::new(),
            after: String::new(),
            redacted: true,
        };
    }
    Diff {
        before: String::from_utf8_lossy(before).into_owned(),
        after: String::from_utf8_lossy(after).into_owned(),
        redacted: false,
    }
}

/// The JSON Schema of each module's parameters, by task key.
pub fn param_schemas(g: &mut schemars::SchemaGenerator) -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("apparmor", g.subschema_for::<apparmor::Params>()),
        ("backups", g.subschema_for::<backups::Params>()),
        ("compose", g.subschema_for::<compose::Params>()),
        ("docker_daemon", g.subschema_for::<docker_daemon::Params>()),
        ("env_file", g.subschema_for::<env_file::Params>()),
        ("fail2ban", g.subschema_for::<fail2ban::Params>()),
        ("file", g.subschema_for::<file::Params>()),
        ("firewall", g.subschema_for::<firewall::Params>()),
        ("managed_block", g.subschema_for::<managed_block::Params>()),
        ("mount_options", g.subschema_for::<mount_options::Params>()),
        ("nginx", g.subschema_for::<nginx::Params>()),
        ("rsyslog", g.subschema_for::<rsyslog::Params>()),
        ("sshd", g.subschema_for::<sshd::Params>()),
        ("sudoers", g.subschema_for::<sudoers::Params>()),
        ("sysctl", g.subschema_for::<sysctl::Params>()),
        ("systemd_unit", g.subschema_for::<systemd_unit::Params>()),
        (
            "unattended_upgrades",
            g.subschema_for::<unattended_upgrades::Params>(),
        ),
        ("user", g.subschema_for::<user::Params>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_parses_and_matches_the_modules() {
        let cat = catalogue().unwrap();
        let mut spec_names: Vec<&str> = cat.iter().map(|s| s.name.as_str()).collect();
        spec_names.sort_unstable();
        assert_eq!(
            spec_names,
            names(),
            "modules/*.yaml and the Rust modules differ"
        );
        for s in cat {
            assert!(!s.description.is_empty());
        }
    }
}
