//! The module catalogue: what a task key (`sysctl:`, `file:`, ...) means. Each module
//! is one file here with its typed `Params` and a `plan` that turns them into
//! typed changes ([`crate::plan::Change`]) by reading the host, one spec in
//! `modules/NAME.yaml` (description, parameter docs, defaults, example; embedded at
//! build time and listed by `harden modules`), and one line in [`registry!`], which
//! generates the dispatch, the schema and the name list. Modules never write.
//!
//! Modules read the root only through [`crate::host::Host`] (its no-follow walk:
//! `read`, `lstat`, `read_dir`, `read_link`, `open`, `glob`) and stage the copies
//! a plan-time tool works on in a [`crate::host::scratch::Scratch`]: the file
//! system calls that would bypass them (listed in `clippy.toml`) are denied here,
//! outside tests.
#![cfg_attr(not(test), deny(clippy::disallowed_methods))]

pub mod apparmor;
pub mod backups;
pub mod compose;
pub mod docker_daemon;
pub mod env_file;
pub mod fail2ban;
pub mod file;
pub mod firewall;
pub mod ini;
pub mod kernel_module;
pub mod keyvalue;
pub mod managed_block;
pub mod mount_options;
pub mod nginx;
pub mod package;
pub mod probe;
pub mod rsyslog;
pub mod service;
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

use crate::host::Host;
use crate::host::fs::{FsError, Kind, Meta};
use crate::plan::{
    Change, Diff, MakeDir, Notice, NoticeLevel, Observed, Op, Validator, WriteFile, sha256_hex,
};

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

/// One module: its task key, typed parameters (their JSON Schema is the
/// playbook's schema for the key) and how it plans a task. Implemented for each
/// module by [`registry!`] from the module file's `Params` and `plan`.
pub trait Module {
    /// The task key (`sysctl`, `file`, ...), also the spec's file name.
    const NAME: &'static str;
    type Params: serde::de::DeserializeOwned + schemars::JsonSchema + std::fmt::Debug + Clone;

    /// Turns parameters into changes by reading the host through `ctx`.
    ///
    /// # Errors
    /// Bad parameters, or a host state the module refuses to touch.
    fn plan(ctx: &Ctx, params: &Self::Params, out: &mut Out) -> Result<(), ModuleError>;
}

/// The registry: one line per module (`file_name => TypeName`), each naming a
/// module file that defines `Params` and `fn plan(&Ctx, &Params, &mut Out)`.
/// Generates the [`Module`] impls, the [`ModuleCall`] enum with its dispatch,
/// the task-key deserializer, [`names`] and [`param_schemas`], so adding a module
/// is its file, its spec in `modules/` and one line here.
macro_rules! registry {
    ($($module:ident => $ty:ident),+ $(,)?) => {
        /// Marker types, one per module, carrying its [`Module`] impl.
        pub mod kinds {
            $(
                #[doc = concat!("The `", stringify!($module), "` module.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $ty;

                impl super::Module for $ty {
                    const NAME: &'static str = stringify!($module);
                    type Params = super::$module::Params;

                    fn plan(
                        ctx: &super::Ctx,
                        params: &Self::Params,
                        out: &mut super::Out,
                    ) -> Result<(), super::ModuleError> {
                        super::$module::plan(ctx, params, out)
                    }
                }
            )+
        }

        /// A task's module and its parameters.
        #[derive(Debug, Clone)]
        pub enum ModuleCall {
            $($ty(<kinds::$ty as Module>::Params),)+
        }

        impl ModuleCall {
            /// The module's name (its task key).
            #[must_use]
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$ty(_) => <kinds::$ty as Module>::NAME,)+
                }
            }

            fn plan(&self, ctx: &Ctx, out: &mut Out) -> Result<(), ModuleError> {
                match self {
                    $(Self::$ty(p) => <kinds::$ty as Module>::plan(ctx, p, out),)+
                }
            }
        }

        /// Reads the parameters of module `name` from the playbook; `None` when
        /// there is no such module.
        ///
        /// # Errors
        /// When the parameters do not fit the module (the error carries the position).
        pub fn deserialize_call<'de, A: MapAccess<'de>>(
            name: &str,
            map: &mut A,
        ) -> Result<Option<ModuleCall>, A::Error> {
            Ok(Some(match name {
                $(<kinds::$ty as Module>::NAME => ModuleCall::$ty(map.next_value()?),)+
                _ => return Ok(None),
            }))
        }

        /// The module names, sorted, for messages and the schema.
        #[must_use]
        pub fn names() -> Vec<&'static str> {
            let mut v = vec![$(<kinds::$ty as Module>::NAME),+];
            v.sort_unstable();
            v
        }

        /// The JSON Schema of each module's parameters, by task key, sorted.
        pub fn param_schemas(
            g: &mut schemars::SchemaGenerator,
        ) -> Vec<(&'static str, schemars::Schema)> {
            type Gen = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;
            let mut gens: Vec<(&'static str, Gen)> = vec![
                $((<kinds::$ty as Module>::NAME, |g| g.subschema_for::<<kinds::$ty as Module>::Params>()),)+
            ];
            // Sorted before generating: definitions keep the order they are made in.
            gens.sort_by_key(|(name, _)| *name);
            gens.into_iter().map(|(name, make)| (name, make(g))).collect()
        }
    };
}

registry! {
    sysctl => Sysctl,
    file => File,
    firewall => Firewall,
    sshd => Sshd,
    user => User,
    sudoers => Sudoers,
    fail2ban => Fail2ban,
    systemd_unit => SystemdUnit,
    managed_block => ManagedBlock,
    env_file => EnvFile,
    nginx => Nginx,
    unattended_upgrades => UnattendedUpgrades,
    docker_daemon => DockerDaemon,
    apparmor => Apparmor,
    rsyslog => Rsyslog,
    mount_options => MountOptions,
    compose => Compose,
    backups => Backups,
    service => Service,
    keyvalue => Keyvalue,
    ini => Ini,
    kernel_module => KernelModule,
    package => Package,
    probe => Probe,
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
    /// Verdicts of read-only health checks (the `probe` module).
    pub probes: Vec<crate::plan::ProbeResult>,
    /// This host lacks what the rule reads (a probe of running services on an
    /// offline root): the rule is skipped with this reason, like a `when:`.
    pub skipped: Option<String>,
}

impl ModuleCall {
    /// Whether this is a read-only health check, which only `check` evaluates.
    #[must_use]
    pub fn is_probe(&self) -> bool {
        matches!(self, Self::Probe(_))
    }
}

/// Whole-file writes planned by earlier tasks of the same plan, so a later task
/// editing the same file (a second `user:` editing `/etc/passwd`) plans on top of
/// them instead of on the disk's content; and what the plan's rules read that
/// no rule of it changes on disk ([`Self::memo`]).
#[derive(Debug, Default)]
pub struct Pending(BTreeMap<PathBuf, Vec<u8>>, Memo);

/// Reads shared by every rule of one plan, by key: a plan reads the host at one
/// moment and writes nothing, so 200 `package:` rules read the package
/// database once, not 200 times. Dropped with the plan: the next plan reads again.
#[derive(Default)]
struct Memo(std::cell::RefCell<BTreeMap<&'static str, std::rc::Rc<dyn std::any::Any>>>);

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.borrow().keys()).finish()
    }
}

impl Pending {
    /// What `key` holds for this plan, `init` the first time it is asked. A
    /// key names one type (asking for another is a bug: `init` runs again and
    /// its value replaces the old one).
    pub fn memo<T: 'static>(&self, key: &'static str, init: impl FnOnce() -> T) -> std::rc::Rc<T> {
        if let Some(v) = self.1.0.borrow().get(key).cloned()
            && let Ok(v) = v.downcast::<T>()
        {
            return v;
        }
        let v = std::rc::Rc::new(init());
        self.1.0.borrow_mut().insert(key, v.clone());
        v
    }

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
    /// The rule being planned (its id names every change, notice and error).
    pub task: &'a crate::plan::Rule,
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

    /// Whether anything (a symlink too, not followed) is at `path` under the root.
    ///
    /// # Errors
    /// When the path cannot be examined or crosses a symlink on the way.
    pub fn exists(&self, path: &Path) -> Result<bool, ModuleError> {
        Ok(self.host.lstat(path).map_err(self.fs())?.is_some())
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
            module: self.task.module.to_string(),
            target: target.into(),
            summary: summary.into(),
            references: std::collections::BTreeMap::new(),
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

    /// The metadata of the regular file at `path` (`None`: nothing there);
    /// anything else there is refused: a module never writes over a directory,
    /// a link or a device.
    ///
    /// # Errors
    /// When something else is there, or the path is unreadable.
    pub fn regular_or_absent(&self, path: &Path) -> Result<Option<Meta>, ModuleError> {
        match self.host.lstat(path).map_err(self.fs())? {
            Some(m) if m.kind != Kind::File => {
                Err(self.invalid(format!("{} is not a regular file", path.display())))
            }
            m => Ok(m),
        }
    }

    /// The content of the regular file at `path` now; `None` when absent.
    ///
    /// # Errors
    /// As [`Self::regular_or_absent`].
    pub fn read_regular(&self, path: &Path) -> Result<Option<Vec<u8>>, ModuleError> {
        self.regular_or_absent(path)?;
        self.host.read(path).map_err(self.fs())
    }

    /// [`Self::read_planned`] of what must be a regular file.
    ///
    /// # Errors
    /// As [`Self::regular_or_absent`].
    pub fn read_planned_regular(&self, path: &Path) -> Result<Option<Vec<u8>>, ModuleError> {
        self.regular_or_absent(path)?;
        self.read_planned(path)
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

/// Custom errors raised while reading a task (its module's parameters
/// included) carry the position of the offending key, which the deserializer
/// would report as the start of the task: `[@L:C] msg`. The playbook reader
/// turns the marker back into the error's line and column.
pub(crate) fn at_marker(line: u64, column: u64, msg: &str) -> String {
    format!("[@{line}:{column}] {msg}")
}

/// Plans one task.
///
/// # Errors
/// Bad parameters, or a host state the module refuses to touch.
pub fn plan(
    host: &Host,
    rule: &crate::plan::Rule,
    call: &ModuleCall,
    pending: &Pending,
) -> Result<Out, ModuleError> {
    let ctx = Ctx {
        host,
        task: rule,
        spec: spec(call.name())?,
        pending,
    };
    let mut out = Out::default();
    call.plan(&ctx, &mut out)?;
    Ok(out)
}

/// `MakeDir` operations for the missing ancestors of `path` (root-owned, `0755`),
/// outermost first.
///
/// # Errors
/// When an ancestor exists but is not a directory, or crosses a symlink.
pub fn missing_parents(ctx: &Ctx, path: &Path) -> Result<Vec<Op>, ModuleError> {
    parent_dirs(ctx.host, path).map_err(|e| match e {
        ParentError::Fs(_, source) => ctx.fs()(source),
        ParentError::NotADirectory(dir) => {
            ctx.invalid(format!("{} is not a directory", dir.display()))
        }
    })
}

/// Why [`parent_dirs`] could not list the missing ancestors.
pub enum ParentError {
    /// This ancestor could not be examined (or crosses a symlink).
    Fs(PathBuf, FsError),
    /// This ancestor exists and is not a directory.
    NotADirectory(PathBuf),
}

/// The walk behind [`missing_parents`], for planners outside a module's [`Ctx`]
/// (the timer): `MakeDir` operations (root-owned, `0755`) for the missing
/// ancestors of `path`, outermost first.
///
/// # Errors
/// When an ancestor exists but is not a directory, or cannot be examined.
pub fn parent_dirs(host: &Host, path: &Path) -> Result<Vec<Op>, ParentError> {
    let mut missing = Vec::new();
    let mut cur = path.parent();
    while let Some(dir) = cur {
        match host
            .lstat(dir)
            .map_err(|e| ParentError::Fs(dir.to_path_buf(), e))?
        {
            Some(m) if m.kind == Kind::Dir => break,
            Some(_) => return Err(ParentError::NotADirectory(dir.to_path_buf())),
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
    /// What the file is, for the summary ("drop-in" gives "update drop-in";
    /// empty gives "update").
    pub what: &'a str,
}

impl<'a> FileWrite<'a> {
    /// A configuration file owned by root, mode `0644`, with no validator and
    /// nothing secret (change fields with `..FileWrite::config(...)`).
    #[must_use]
    pub fn config(
        path: &'a Path,
        before: Option<&'a [u8]>,
        after: &'a [u8],
        what: &'a str,
    ) -> Self {
        Self {
            path,
            before,
            after,
            mode: 0o644,
            uid: 0,
            gid: 0,
            validators: Vec::new(),
            secret: false,
            what,
        }
    }
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
        let summary = if w.what.is_empty() {
            verb.to_string()
        } else {
            format!("{verb} {}", w.what)
        };
        let mut c = self.change(w.path.display().to_string(), summary);
        c.diff = Some(diff(w.before.unwrap_or_default(), w.after, w.secret));
        c.ops = missing_parents(self, w.path)?;
        c.ops.push(write_op(
            w.path.to_path_buf(),
            w.after.to_vec(),
            (w.mode, w.uid, w.gid),
            w.before,
            w.validators,
        ));
        Ok(c)
    }
}

impl Ctx<'_> {
    /// A change that rewrites a plain text file harden edits in place (no
    /// validator, not secret), keeping the mode and owner it has now (`0644`
    /// root-owned when it is new); `None` when the edit changes nothing.
    ///
    /// # Errors
    /// When the path crosses a symlink or an ancestor is not a directory.
    pub fn edit_change(
        &self,
        path: &Path,
        before: Option<&[u8]>,
        after: &[u8],
        what: &str,
    ) -> Result<Option<Change>, ModuleError> {
        if before == Some(after) {
            return Ok(None);
        }
        let meta = self.host.lstat(path).map_err(self.fs())?;
        let (mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
        self.write_change(FileWrite {
            path,
            before,
            after,
            mode,
            uid,
            gid,
            validators: Vec::new(),
            secret: false,
            what,
        })
        .map(Some)
    }
}

/// The op that writes `content` to `path` with this mode and owner, on the
/// condition that the file still holds `before` (`None`: still absent).
#[must_use]
pub fn write_op(
    path: PathBuf,
    content: Vec<u8>,
    (mode, uid, gid): (u32, u32, u32),
    before: Option<&[u8]>,
    validators: Vec<Validator>,
) -> Op {
    Op::WriteFile(WriteFile {
        path,
        content,
        mode,
        uid,
        gid,
        expect: observed(before),
        validators,
    })
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

/// Helpers the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use crate::plan::VarValue;

    /// `KEY=VALUE` settings as a module's parameters hold them.
    pub fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, VarValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), VarValue::Str((*v).to_string())))
            .collect()
    }
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
