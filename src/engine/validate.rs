//! Staged validation, the one way every candidate is checked before it is
//! installed ([`Validator::Staged`]): the planned files are staged in a private
//! temp tree (copies of the root's trees named by the module, with every write
//! and removal of the plan under them applied, the candidate at its own path) and
//! the real tool runs on them inside a bubblewrap sandbox whose file system is
//! built from read-only binds, so the tool reads the whole planned configuration
//! at the paths it expects and nothing is ever written next to a managed file.
//!
//! The trust model (docs/safety.md says the same for users):
//! - **The running system (`--root /`)** is trusted: its own tool runs with the
//!   privileges harden has, in a private mount namespace (the only one the
//!   timer's service may create), on the real file system read-only with the
//!   staged trees bound over their paths and a private `/run` and `/tmp`.
//! - **Any other root is untrusted**: nothing from it ever runs with host
//!   privileges. Its tools run only *confined*: bubblewrap started as the
//!   unprivileged `nobody` (65534; `setpriv` drops root first, because bwrap run
//!   by root would map the sandbox's uid 0 to real root), in new user, mount, PID,
//!   IPC, UTS, cgroup and network namespaces, with the sandbox's uid 0 mapped to
//!   65534, `no_new_privs`, no network, killed with harden. The sandbox's `/` is
//!   the root itself (read-only) when the root has the tool and is searchable by
//!   `nobody`; otherwise it is this machine's `/usr`, `/bin`, `/sbin`, `/lib*`
//!   and `/etc` (read-only) with the root's trees staged over them, so this
//!   machine's tool reads the root's configuration, still confined: a directive
//!   that loads code (rsyslog's `module(load=...)`, nginx's `load_module`) can
//!   only load what the sandbox holds, as `nobody`, without network. Staged
//!   copies are owned by 65534 so the sandbox's root owns them as in the image.
//!   When neither the root nor this machine has the tool, or this machine lacks
//!   bubblewrap, the check is an error naming what is missing.
//! - **`plan` runs nothing here**: modules describe their check ([`crate::host::tools::describe`])
//!   and the engine runs it only in `apply`.
//!
//! `%s` is replaced only where it is a whole argument (or the whole value of a
//! `NAME=%s` argument, for `env`), never inside a longer one: a shell string
//! would otherwise execute a path holding `$(...)`. The candidate's path is
//! also passed as `$HARDEN_CANDIDATE`.
//!
//! This module never writes under the root and never follows a symlink of the
//! root while staging (reads go through [`crate::host::fs`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::host::Host;
use crate::host::fs::{self, FsError, Kind};
use crate::host::runner::{Cmd, Output, RunError};
use crate::host::tools::{AS_NOBODY, Tool, ToolError, bwrap_namespaces, locate, machine};
use crate::plan::{Accept, Check, Op, Plan, Stage, Validator, WriteFile};

/// The unprivileged id confined tools run as (outside their user namespace).
pub const NOBODY: u32 = 65534;

/// What the staged copies of one check may hold at most.
const MAX_BYTES: u64 = 64 << 20;
const MAX_ENTRIES: usize = 20_000;

/// The top-level directories of this machine a confined machine tool sees.
const MACHINE_DIRS: [&str; 8] = [
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
];
/// Top-level directories every sandbox replaces with its own.
const PRIVATE_DIRS: [&str; 5] = ["proc", "dev", "sys", "run", "tmp"];

/// A staged check that could not run or rejected its candidate.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("staging {path} for the validator: {source}")]
    Stage {
        path: PathBuf,
        #[source]
        source: FsError,
    },
    #[error("staging {path} for the validator: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "staging {path} for the validator: more than {MAX_ENTRIES} entries or {MAX_BYTES} bytes"
    )]
    TooBig { path: PathBuf },
    #[error("cannot make a throw-away host key: {0}")]
    HostKey(String),
    #[error("validator `{cmd}` rejected the candidate (exit {code}): {brief}")]
    Rejected {
        cmd: String,
        code: String,
        brief: String,
    },
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Runs the validators of one planned write.
///
/// # Errors
/// The first validator that cannot run or rejects the candidate.
pub fn run(host: &Host, plan: &Plan, w: &WriteFile) -> Result<(), ValidateError> {
    for v in &w.validators {
        let Validator::Staged { files, check } = v;
        run_one(host, plan, w, files, check)?;
    }
    Ok(())
}

/// [`run`], with the tool's output scrubbed of the candidate's lines when the
/// candidate is secret (one of [`Plan::secret_paths`]).
///
/// # Errors
/// The rejection, or why the check could not run.
pub fn run_scrubbed(
    host: &Host,
    plan: &Plan,
    w: &WriteFile,
    secret: bool,
) -> Result<(), ValidateError> {
    match run(host, plan, w) {
        Err(ValidateError::Rejected { cmd, code, brief }) if secret => {
            Err(ValidateError::Rejected {
                cmd,
                code,
                brief: super::redact::secret_output(&brief, &w.content),
            })
        }
        other => other,
    }
}

/// How staged copies are owned.
#[derive(Clone, Copy)]
enum Owners {
    /// As in the root (the running system, checked with root's privileges).
    Keep,
    /// All by `nobody`: the confined sandbox's uid 0.
    Nobody,
    /// As created (harden is not root: the caller is the sandbox's uid 0).
    Mine,
}

impl Owners {
    fn apply(self, path: &Path, uid: u32, gid: u32) -> Result<(), ValidateError> {
        let (u, g) = match self {
            Owners::Keep => (uid, gid),
            Owners::Nobody => (NOBODY, NOBODY),
            Owners::Mine => return Ok(()),
        };
        std::os::unix::fs::lchown(path, Some(u), Some(g)).map_err(|source| ValidateError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

struct Budget {
    bytes: u64,
    entries: usize,
}

impl Budget {
    fn take(&mut self, path: &Path, bytes: u64) -> Result<(), ValidateError> {
        self.entries += 1;
        self.bytes += bytes;
        if self.entries > MAX_ENTRIES || self.bytes > MAX_BYTES {
            return Err(ValidateError::TooBig {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ValidateError + '_ {
    move |source| ValidateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn stage_err(path: &Path) -> impl FnOnce(FsError) -> ValidateError + '_ {
    move |source| ValidateError::Stage {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies `logical` of the root to `dst` without following any symlink of the
/// root: symlinks are copied as symlinks (they resolve inside the sandbox).
/// With `shape`, files are created empty. Absent paths copy nothing.
fn copy(
    root: &Path,
    logical: &Path,
    dst: &Path,
    shape: bool,
    owners: Owners,
    budget: &mut Budget,
) -> Result<(), ValidateError> {
    let Some(meta) = fs::lstat(root, logical).map_err(stage_err(logical))? else {
        return Ok(());
    };
    match meta.kind {
        Kind::File => {
            let bytes = if shape {
                Vec::new()
            } else {
                fs::read(root, logical)
                    .map_err(stage_err(logical))?
                    .unwrap_or_default()
            };
            budget.take(logical, bytes.len() as u64)?;
            std::fs::write(dst, &bytes).map_err(io(dst))?;
            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode))
                .map_err(io(dst))?;
            owners.apply(dst, meta.uid, meta.gid)
        }
        Kind::Dir => {
            budget.take(logical, 0)?;
            std::fs::create_dir(dst).map_err(io(dst))?;
            let fd = fs::open_dir(root, logical)
                .map_err(stage_err(logical))?
                .ok_or_else(|| ValidateError::Io {
                    path: logical.to_path_buf(),
                    source: std::io::ErrorKind::NotFound.into(),
                })?;
            // Listed through the open descriptor: the walk never leaves the
            // directory that was opened without following symlinks.
            let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            let mut names: Vec<OsString> = std::fs::read_dir(&proc)
                .map_err(io(logical))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(io(logical))?;
            names.sort();
            for name in names {
                let child = logical.join(&name);
                let to = dst.join(&name);
                match fs::lstat(root, &child).map_err(stage_err(&child))? {
                    Some(m) if m.kind == Kind::Symlink => {
                        budget.take(&child, 0)?;
                        let target = std::fs::read_link(proc.join(&name)).map_err(io(&child))?;
                        std::os::unix::fs::symlink(&target, &to).map_err(io(&to))?;
                        owners.apply(&to, m.uid, m.gid)?;
                    }
                    Some(m) if matches!(m.kind, Kind::File | Kind::Dir) => {
                        copy(root, &child, &to, shape, owners, budget)?;
                    }
                    _ => {}
                }
            }
            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode))
                .map_err(io(dst))?;
            owners.apply(dst, meta.uid, meta.gid)
        }
        Kind::Symlink | Kind::Other => Ok(()),
    }
}

/// What the plan leaves at a path it writes, links or removes.
enum Planned<'a> {
    File(&'a WriteFile),
    Link(&'a Path),
    Gone,
}

/// The final state the plan leaves each written, linked or removed path in.
fn planned(plan: &Plan) -> BTreeMap<&Path, Planned<'_>> {
    let mut out = BTreeMap::new();
    for op in plan.ops() {
        match op {
            Op::WriteFile(w) => {
                out.insert(w.path.as_path(), Planned::File(w));
            }
            Op::Remove(r) => {
                out.insert(r.path.as_path(), Planned::Gone);
            }
            Op::Symlink(l) => {
                let state = l.target.as_deref().map_or(Planned::Gone, Planned::Link);
                out.insert(l.path.as_path(), state);
            }
            _ => {}
        }
    }
    out
}

/// Puts a planned file in the stage, making missing parents.
fn put(dst: &Path, w: &WriteFile, owners: Owners) -> Result<(), ValidateError> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        owners.apply(parent, 0, 0)?;
    }
    if std::fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(dst).map_err(io(dst))?;
    } else if std::fs::symlink_metadata(dst).is_ok() {
        std::fs::remove_file(dst).map_err(io(dst))?;
    }
    std::fs::write(dst, &w.content).map_err(io(dst))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(w.mode)).map_err(io(dst))?;
    owners.apply(dst, w.uid, w.gid)
}

/// The staged copy of one check: a temp dir laid out as logical paths.
struct Staging {
    dir: tempfile::TempDir,
    /// Logical paths bound from the stage, in order (parents first).
    binds: Vec<PathBuf>,
}

impl Staging {
    fn at(&self, logical: &Path) -> PathBuf {
        fs::host_path(&self.dir.path().join("s"), logical)
    }
}

fn make_stage(
    host: &Host,
    plan: &Plan,
    w: &WriteFile,
    files: &Stage,
    tool: &Tool,
    owners: Owners,
) -> Result<Staging, ValidateError> {
    let dir = tempfile::Builder::new()
        .prefix("harden-validate-")
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    // Searchable, not listable, by the sandbox's unprivileged user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
        .map_err(io(dir.path()))?;
    let mut st = Staging {
        dir,
        binds: Vec::new(),
    };
    let base = st.dir.path().join("s");
    std::fs::create_dir(&base).map_err(io(&base))?;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o711)).map_err(io(&base))?;
    let mut budget = Budget {
        bytes: 0,
        entries: 0,
    };
    // Shapes matter only where the root is not otherwise visible.
    let shapes: &[PathBuf] = if matches!(tool, Tool::Machine { .. }) {
        &files.shapes
    } else {
        &[]
    };
    let trees: Vec<(&PathBuf, bool)> = files
        .trees
        .iter()
        .map(|t| (t, false))
        .chain(shapes.iter().map(|t| (t, true)))
        .collect();
    for (tree, shape) in &trees {
        fs::components(tree).map_err(stage_err(tree))?;
        let to = st.at(tree);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        copy(&host.root, tree, &to, *shape, owners, &mut budget)?;
        if std::fs::symlink_metadata(&to).is_ok() {
            st.binds.push((*tree).clone());
        }
    }
    let planned = planned(plan);
    for (path, state) in &planned {
        if !files.trees.iter().any(|t| path.starts_with(t)) {
            continue;
        }
        let to = st.at(path);
        if std::fs::symlink_metadata(&to).is_ok_and(|m| !m.is_dir()) {
            std::fs::remove_file(&to).map_err(io(&to))?;
        }
        match state {
            Planned::File(pw) => put(&to, pw, owners)?,
            Planned::Link(target) => {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::os::unix::fs::symlink(target, &to).map_err(io(&to))?;
                owners.apply(&to, 0, 0)?;
            }
            Planned::Gone => continue,
        }
        if !st.binds.iter().any(|b| path.starts_with(b)) {
            st.binds.push(path.to_path_buf());
        }
    }
    // The candidate itself, even when a later write of the plan replaces it.
    put(&st.at(&w.path), w, owners)?;
    if !st.binds.iter().any(|b| w.path.starts_with(b)) {
        st.binds.push(w.path.clone());
    }
    if let Some(key) = &files.host_key {
        let out = st.dir.path().join("hostkey");
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&out)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ValidateError::HostKey(format!("ssh-keygen: {e}")))?;
        if !keygen.status.success() {
            return Err(ValidateError::HostKey(
                String::from_utf8_lossy(&keygen.stderr).into_owned(),
            ));
        }
        owners.apply(&out, 0, 0)?;
        let to = st.at(key);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::rename(&out, &to).map_err(io(&to))?;
        st.binds.push(key.clone());
    }
    st.binds.sort_by_key(|p| p.components().count());
    Ok(st)
}

/// Adds the read-only view of `base` (a host directory standing for `/`) to
/// `args`: every entry of a directory that holds a staged path is rebuilt on the
/// sandbox's tmpfs (a directory of the same mode, recursively), everything else
/// is bound read-only or recreated as the same symlink, so staged paths can be
/// bound over paths the base lacks.
fn layout(
    base: &Path,
    dir: &Path,
    keep_top: &dyn Fn(&str) -> bool,
    staged: &[PathBuf],
    args: &mut Vec<OsString>,
) {
    let host_dir = fs::host_path(base, dir);
    let Ok(entries) = std::fs::read_dir(&host_dir) else {
        return;
    };
    let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let child = dir.join(&name);
        if dir == Path::new("/")
            && (!keep_top(&name.to_string_lossy())
                || PRIVATE_DIRS.contains(&name.to_string_lossy().as_ref()))
        {
            continue;
        }
        if staged.iter().any(|s| s == &child) {
            continue;
        }
        let host_child = host_dir.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&host_child) else {
            continue;
        };
        let under = staged.iter().any(|s| s.starts_with(&child));
        let ft = meta.file_type();
        if under && ft.is_dir() {
            args.extend([
                "--perms".into(),
                format!("{:04o}", meta.permissions().mode() & 0o7777).into(),
                "--dir".into(),
                child.clone().into_os_string(),
            ]);
            layout(base, &child, keep_top, staged, args);
        } else if under {
            // Not a real directory in the base: the staged paths below it
            // create what they need on the tmpfs.
        } else if ft.is_symlink() {
            if let Ok(target) = std::fs::read_link(&host_child) {
                args.extend([
                    "--symlink".into(),
                    target.into_os_string(),
                    child.into_os_string(),
                ]);
            }
        } else if ft.is_dir() || ft.is_file() {
            args.extend([
                "--ro-bind".into(),
                host_child.into_os_string(),
                child.into_os_string(),
            ]);
        }
    }
}

/// The sandboxed command line of one check.
fn command(
    host: &Host,
    tool: &Tool,
    st: &Staging,
    files: &Stage,
    check: &Check,
    candidate: &Path,
) -> Result<Cmd, ValidateError> {
    let mut argv: Vec<OsString> = Vec::new();
    let confined = !matches!(tool, Tool::Live(_));
    if confined && nix::unistd::geteuid().is_root() {
        argv.push(machine("setpriv", "util-linux")?.into_os_string());
        argv.extend(AS_NOBODY.map(OsString::from));
    }
    argv.push(machine("bwrap", "bubblewrap")?.into_os_string());
    if confined {
        argv.extend(bwrap_namespaces("harden-validate").map(OsString::from));
    }
    argv.extend(["--die-with-parent", "--new-session", "--clearenv"].map(OsString::from));
    argv.extend(
        [
            "--setenv",
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv",
            "LC_ALL",
            "C",
            "--setenv",
            "HARDEN_CANDIDATE",
        ]
        .map(OsString::from),
    );
    argv.push(candidate.as_os_str().to_owned());
    let mut staged: Vec<PathBuf> = st.binds.clone();
    staged.extend(files.scratch.iter().cloned());
    let (base, exe): (&Path, &Path) = match tool {
        Tool::Live(p) => (Path::new("/"), p),
        Tool::Root(p) => (&host.root, p),
        Tool::Machine { path, .. } => (Path::new("/"), path),
    };
    let machine = matches!(tool, Tool::Machine { .. });
    let keep = move |name: &str| !machine || MACHINE_DIRS.contains(&name);
    layout(base, Path::new("/"), &keep, &staged, &mut argv);
    argv.extend(
        [
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/run", "--tmpfs", "/tmp",
        ]
        .map(OsString::from),
    );
    let mut binds: Vec<(PathBuf, bool)> = st.binds.iter().map(|b| (b.clone(), true)).collect();
    binds.extend(files.scratch.iter().map(|s| (s.clone(), false)));
    binds.sort_by_key(|(p, _)| p.components().count());
    for (path, is_bind) in binds {
        if is_bind {
            argv.extend([
                "--ro-bind".into(),
                st.at(&path).into_os_string(),
                path.into_os_string(),
            ]);
        } else {
            argv.extend([
                "--perms".into(),
                "0755".into(),
                "--tmpfs".into(),
                path.into_os_string(),
            ]);
        }
    }
    argv.push("--".into());
    argv.push(exe.as_os_str().to_owned());
    argv.extend(check.args.iter().map(|a| substitute(a, candidate)));
    Ok(Cmd::new(argv))
}

/// An argument with the candidate's path put in: `%s` as a whole argument, or
/// as the whole value of `NAME=%s` (an environment assignment for `env`).
fn substitute(arg: &str, candidate: &Path) -> OsString {
    if arg == "%s" {
        return candidate.as_os_str().to_owned();
    }
    if let Some(name) = crate::plan::env_assignment(arg) {
        let mut s = OsString::from(format!("{name}="));
        s.push(candidate.as_os_str());
        return s;
    }
    arg.into()
}

fn run_one(
    host: &Host,
    plan: &Plan,
    w: &WriteFile,
    files: &Stage,
    check: &Check,
) -> Result<(), ValidateError> {
    let tool = locate(host, &check.tool)?;
    let out = output(host, plan, w, files, check, &tool)?;
    let line = std::iter::once(check.tool.as_str())
        .chain(check.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
        .replace("%s", &w.path.to_string_lossy());
    let rejected = |brief: String| ValidateError::Rejected {
        cmd: line.clone(),
        code: out.code.map_or_else(|| "signal".into(), |c| c.to_string()),
        brief,
    };
    match check.accept {
        Accept::Exit if out.success() => Ok(()),
        Accept::Exit => Err(rejected(out.brief())),
        Accept::NoNewFindmntFindings => {
            // The same check on the file as it is now, when there is one.
            let before = match fs::read(&host.root, &w.path).map_err(stage_err(&w.path))? {
                Some(now) => {
                    let current = WriteFile {
                        content: now,
                        ..w.clone()
                    };
                    let empty = Plan::new("", host.root.clone());
                    Some(output(host, &empty, &current, files, check, &tool)?)
                }
                None => None,
            };
            findmnt::verdict(before.as_ref(), &out).map_err(|r| rejected(r.0))
        }
    }
}

/// Stages and runs one check, returning what the tool said.
fn output(
    host: &Host,
    plan: &Plan,
    w: &WriteFile,
    files: &Stage,
    check: &Check,
    tool: &Tool,
) -> Result<Output, ValidateError> {
    let owners = match (tool, nix::unistd::geteuid().is_root()) {
        (_, false) => Owners::Mine,
        (Tool::Live(_), true) => Owners::Keep,
        (_, true) => Owners::Nobody,
    };
    let st = make_stage(host, plan, w, files, tool, owners)?;
    let cmd = command(host, tool, &st, files, check, &w.path)?;
    Ok(host.runner.run(&cmd)?)
}

mod findmnt {
    //! Reading `findmnt --verify`'s verdict: its exit code also counts findings
    //! about this machine (a device not attached here), so the findings are
    //! counted instead, and the caller compares the candidate's with the current
    //! file's.

    use std::collections::BTreeMap;

    use crate::host::runner::Output;

    /// Why `findmnt --verify` refuses a candidate, in its own words.
    #[derive(Debug)]
    pub struct Refusal(pub String);

    /// Messages that describe this machine rather than the file: whether the
    /// source device or the target directory is present here, and what file
    /// system is on a device. An offline root's disks are not attached here,
    /// and the target's existence is checked by the module under the root.
    const MACHINE_DEPENDENT: &[&str] = &[
        "unreachable source",
        "unreachable on boot required source",
        "unreachable on boot required target",
        "cannot detect on-disk filesystem type",
        "does not match with on-disk",
        "target does not exist",
        "target is not a directory",
    ];

    /// Accepts the candidate's output `after` unless it has a finding the
    /// current file's (`before`, none when there is no file) does not.
    pub fn verdict(before: Option<&Output>, after: &Output) -> Result<(), Refusal> {
        let before = before.map(findings).transpose()?.unwrap_or_default();
        let after = findings(after)?;
        let new: Vec<&str> = after
            .iter()
            .filter(|(k, n)| before.get(*k).is_none_or(|b| b < *n))
            .map(|(k, _)| k.as_str())
            .collect();
        if new.is_empty() {
            Ok(())
        } else {
            Err(Refusal(format!(
                "findmnt --verify: new problems: {}",
                new.join("; ")
            )))
        }
    }

    /// The findings about the file: parse errors (by line) and `[E]`/`[W]`
    /// messages by target, counted.
    fn findings(out: &Output) -> Result<BTreeMap<String, usize>, Refusal> {
        // findmnt ends every verification with `N parse errors, N errors, N
        // warnings` on stderr; without it, it could not read the file.
        if !out.stderr.contains(" warning") {
            return Err(Refusal(out.brief()));
        }
        let mut found: BTreeMap<String, usize> = BTreeMap::new();
        for l in out.stderr.lines() {
            if let Some(i) = l.find("parse error at line") {
                *found
                    .entry(l[i..].trim_end_matches(" -- ignored").to_string())
                    .or_default() += 1;
            }
        }
        let mut target = String::new();
        for l in out.stdout.lines() {
            if !l.starts_with(' ') {
                target = l.to_string();
                continue;
            }
            let m = l.trim();
            if (m.starts_with("[E]") || m.starts_with("[W]"))
                && !MACHINE_DEPENDENT.iter().any(|d| m.contains(d))
            {
                *found.entry(format!("{target}: {m}")).or_default() += 1;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::runner::{Runner, SystemRunner};

    /// `findmnt --verify` on `text` (in a private /run: it writes a cache there).
    fn findmnt(text: &str) -> Output {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        let cmd = Cmd::new([
            OsString::from("env"),
            "LC_ALL=C".into(),
            "findmnt".into(),
            "--verify".into(),
            "--tab-file".into(),
            f.path().as_os_str().to_owned(),
        ])
        .in_private_run();
        SystemRunner.run(&cmd).unwrap()
    }

    #[test]
    fn which_findmnt_findings_count() {
        // Devices and targets absent from this machine are about the machine,
        // not the file (findmnt exits 1 on them): accepted.
        let base = "UUID=ffff-0000 / ext4 errors=remount-ro 0 1\n/dev/sdz9 /no/such/dir ext4 defaults 0 2\n";
        let b = findmnt(base);
        assert!(!b.success());
        findmnt::verdict(None, &b).unwrap();
        // A parse error the current file does not have: refused.
        let broken = format!("{base}garbage\n");
        let err = findmnt::verdict(Some(&b), &findmnt(&broken)).unwrap_err();
        assert!(err.0.contains("parse error at line 3"), "{err:?}");
        // The same parse error already in the current file: not the candidate's.
        let edited = broken.replace("defaults", "defaults,nodev");
        findmnt::verdict(Some(&findmnt(&broken)), &findmnt(&edited)).unwrap();
        // A mount point given twice: refused.
        let twice = format!("{base}/dev/sdz8 /no/such/dir xfs defaults 0 2\n");
        let err = findmnt::verdict(Some(&b), &findmnt(&twice)).unwrap_err();
        assert!(err.0.contains("target specified more than once"), "{err:?}");
    }

    #[test]
    fn layout_rebuilds_only_the_ancestors_of_staged_paths() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path();
        std::fs::create_dir_all(b.join("etc/ssh")).unwrap();
        std::fs::create_dir_all(b.join("etc/other")).unwrap();
        std::fs::create_dir_all(b.join("usr/bin")).unwrap();
        std::fs::create_dir_all(b.join("proc")).unwrap();
        std::os::unix::fs::symlink("usr/bin", b.join("bin")).unwrap();
        let mut args = Vec::new();
        layout(
            b,
            Path::new("/"),
            &|_| true,
            &[PathBuf::from("/etc/ssh")],
            &mut args,
        );
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().replace(&b.display().to_string(), "B"))
            .collect();
        assert_eq!(
            args,
            [
                "--symlink",
                "usr/bin",
                "/bin",
                "--perms",
                "0755",
                "--dir",
                "/etc",
                "--ro-bind",
                "B/etc/other",
                "/etc/other",
                "--ro-bind",
                "B/usr",
                "/usr",
            ]
        );
    }
}
