//! Finding the program a staged check runs ([`crate::plan::Check`]): the root's
//! own, or this machine's, and whether the sandbox tools are here. Modules ask
//! it at plan time to say how their candidates will be checked ([`describe`]),
//! the engine to run them ([`crate::engine::validate`]). It only looks: it runs
//! nothing and writes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Host;
use super::facts::find_binary;
use crate::plan::Check;

/// A program a check needs is not there.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "no `{tool}` to validate with: neither the root nor this machine has it (install it, or drop the rule)"
    )]
    MissingTool { tool: String },
    #[error(
        "`{tool}` is needed to run validators confined under --root (Debian package `{package}`)"
    )]
    NoSandbox {
        tool: &'static str,
        package: &'static str,
    },
}

/// Where a check's tool comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// The running system's own (`--root /`): trusted.
    Live(PathBuf),
    /// The root's own, run confined with the root as the sandbox's `/`.
    Root(PathBuf),
    /// This machine's, run confined on staged copies of the root's files.
    Machine { path: PathBuf, why: &'static str },
}

/// Finds a program: an absolute path, or a bare name in the root's usual
/// directories; on this machine (`root` is `/`), in `$PATH` when it is set.
fn find(root: &Path, name: &str) -> Option<PathBuf> {
    let exec = |p: &Path| {
        std::fs::metadata(super::fs::host_path(root, p))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if Path::new(name).is_absolute() {
        return exec(Path::new(name)).then(|| PathBuf::from(name));
    }
    if root == Path::new("/")
        && let Some(path) = std::env::var_os("PATH")
    {
        if name.contains('/') {
            return None;
        }
        return std::env::split_paths(&path)
            .filter(|d| d.is_absolute())
            .map(|d| d.join(name))
            .find(|p| exec(p));
    }
    find_binary(root, name)
}

/// Whether the root (other than `/`) or this machine has the program `name`.
#[must_use]
pub fn available(host: &Host, name: &str) -> bool {
    (!host.is_live() && find(&host.root, name).is_some()) || find(Path::new("/"), name).is_some()
}

/// Whether the root or this machine has a file at `logical` (a tool's plugin,
/// such as docker's `cli-plugins/docker-compose`), links followed as the tool
/// would follow them.
#[must_use]
pub fn has_file(host: &Host, logical: &Path) -> bool {
    [host.root.as_path(), Path::new("/")]
        .iter()
        .any(|root| super::fs::host_path(root, logical).is_file())
}

/// `setpriv` arguments that drop root to nobody (65534, no supplementary
/// groups) before the command that follows: a sandbox started as root runs
/// unprivileged.
pub const AS_NOBODY: [&str; 4] = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];

/// `bwrap` arguments for new namespaces of every kind in which the sandboxed
/// command sees uid 0, gid 0 and `hostname`.
#[must_use]
pub fn bwrap_namespaces(hostname: &str) -> [&str; 7] {
    [
        "--unshare-all",
        "--uid",
        "0",
        "--gid",
        "0",
        "--hostname",
        hostname,
    ]
}

/// This machine's `name`, for the sandbox itself.
pub fn machine(name: &'static str, package: &'static str) -> Result<PathBuf, ToolError> {
    find(Path::new("/"), name).ok_or(ToolError::NoSandbox {
        tool: name,
        package,
    })
}

/// Whether `nobody` can reach `dir` (every ancestor searchable by others).
fn searchable(dir: &Path) -> bool {
    dir.ancestors().all(|a| {
        std::fs::metadata(a).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0)
    })
}

/// Picks the tool of a check for `host`.
///
/// # Errors
/// When neither the root nor this machine has it, or the sandbox tools are
/// missing for a root other than `/`.
pub fn locate(host: &Host, tool: &str) -> Result<Tool, ToolError> {
    let missing = || ToolError::MissingTool {
        tool: tool.to_string(),
    };
    if host.is_live() {
        machine("bwrap", "bubblewrap")?;
        return find(Path::new("/"), tool)
            .map(Tool::Live)
            .ok_or_else(missing);
    }
    machine("bwrap", "bubblewrap")?;
    if nix::unistd::geteuid().is_root() {
        machine("setpriv", "util-linux")?;
    }
    let in_root = find(&host.root, tool);
    if let Some(path) = &in_root
        && searchable(&host.root)
    {
        return Ok(Tool::Root(path.clone()));
    }
    let why = if in_root.is_some() {
        "the root is not searchable by nobody, so its own cannot run confined"
    } else {
        "the root has none"
    };
    find(Path::new("/"), tool)
        .map(|path| Tool::Machine { path, why })
        .ok_or_else(missing)
}

/// One sentence for the plan saying how candidates will be checked, or why they
/// cannot be (the rule then fails).
///
/// # Errors
/// As [`locate`].
pub fn describe(host: &Host, check: &Check) -> Result<String, ToolError> {
    let line = std::iter::once(check.tool.as_str())
        .chain(check.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(match locate(host, &check.tool)? {
        Tool::Live(p) => format!(
            "candidates are checked with `{line}` ({}) on a staged copy in private namespaces",
            p.display()
        ),
        Tool::Root(p) => format!(
            "candidates are checked with the root's own `{line}` ({}), confined (user, mount, PID and network namespaces, as nobody)",
            p.display()
        ),
        Tool::Machine { path, why } => format!(
            "candidates are checked with this machine's `{line}` ({}; {why}) on staged copies of the root's files, confined (user, mount, PID and network namespaces, as nobody)",
            path.display()
        ),
    })
}
