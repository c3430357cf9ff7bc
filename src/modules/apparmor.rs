//! `apparmor`: one AppArmor profile file under `/etc/apparmor.d/` (R10), given as
//! `content` or built in (`docker-postiz`, the Postiz guide's container profile).
//! The candidate is parsed by the real `apparmor_parser -Q -K -T -I INCLUDES` (parse
//! only: no kernel, no cache) with the target root's `/etc/apparmor.d` as include
//! path, or the machine's when the root has no abstractions (said in a notice).
//! Loading it (`apparmor_parser -r`) is a handler that runs only on the running
//! system with an AppArmor kernel; elsewhere the plan says why it is not loaded.
//! This module never touches the kernel itself.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::host::fs::Kind;
use crate::plan::{Accept, Check, Handler, NoticeLevel, Stage, Validator};

/// The profiles harden ships, by name.
const BUILTIN: &[(&str, &str)] = &[("docker-postiz", include_str!("apparmor/docker-postiz"))];

/// Parameters of `apparmor:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The profile file name under the profile directory (`docker-postiz`).
    pub name: String,
    /// The profile text; omitted: the built-in profile of that name.
    #[serde(default)]
    pub content: Option<String>,
    /// The profile directory (default `/etc/apparmor.d`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// A file name apparmor's init scripts load: no path separators, no leading dot,
/// no backup suffix.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('~')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The profile text: the given content (newline-terminated) or the built-in one.
fn profile_text(p: &Params) -> Result<String, String> {
    match &p.content {
        Some(c) if c.trim().is_empty() => Err("`content` is empty".into()),
        Some(c) if c.ends_with('\n') => Ok(c.clone()),
        Some(c) => Ok(format!("{c}\n")),
        None => BUILTIN
            .iter()
            .find(|(n, _)| *n == p.name)
            .map(|(_, t)| (*t).to_string())
            .ok_or_else(|| {
                format!(
                    "no built-in profile `{}` (built in: {}); give `content`",
                    p.name,
                    BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
    }
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if !valid_name(&p.name) {
        return Err(ctx.invalid(format!(
            "profile name `{}`: letters, digits, `-`, `_` and `.` only, not starting with `.` nor ending with `~`",
            p.name
        )));
    }
    let dir = ctx.path_param(p.dir.as_deref(), "dir")?;
    let path = dir.join(&p.name);
    let text = profile_text(p).map_err(|m| ctx.invalid(m))?;
    let before = ctx.read_regular(&path)?;
    if before.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let (includes, staged) = include_dir(ctx, &dir, out);
    let mut c = ctx.write_change(FileWrite {
        validators: vec![Validator::Staged {
            files: Stage {
                trees: if staged {
                    vec![includes.clone()]
                } else {
                    Vec::new()
                },
                ..Stage::default()
            },
            check: Check {
                tool: "apparmor_parser".into(),
                args: ["-Q", "-K", "-T", "-I"]
                    .iter()
                    .map(|a| (*a).to_string())
                    .chain([includes.display().to_string(), "%s".into()])
                    .collect(),
                accept: Accept::Exit,
            },
        }],
        ..FileWrite::config(
            &path,
            before.as_deref(),
            text.as_bytes(),
            "AppArmor profile",
        )
    })?;
    if ctx.host.is_live() && crate::host::service::kernel_has_apparmor() {
        c.handlers.push(Handler::LoadProfile { path: path.clone() });
    } else {
        let why = if ctx.host.is_live() {
            "kernel without AppArmor".to_string()
        } else {
            format!("offline root {}", ctx.host.root.display())
        };
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!("{}: not loaded: {why}", path.display()),
        ));
    }
    out.changes.push(c);
    Ok(())
}

/// The include path for the parse check: the root's profile directory when it
/// has the abstractions, else the machine's (with a notice).
fn include_dir(ctx: &Ctx, dir: &Path, out: &mut Out) -> (PathBuf, bool) {
    let abstractions = dir.join("abstractions");
    if matches!(ctx.host.lstat(&abstractions), Ok(Some(m)) if m.kind == Kind::Dir) {
        return (dir.to_path_buf(), true);
    }
    if !ctx.host.is_live() {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!(
                "the root has no {}: the profile is parsed against this machine's /etc/apparmor.d",
                abstractions.display()
            ),
        ));
    }
    (PathBuf::from("/etc/apparmor.d"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_apparmor_would_skip_or_misplace_are_refused() {
        for good in ["docker-postiz", "usr.bin.app", "a_b"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "x~", "a/b", "../x", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_builtin_profile_is_the_guides() {
        let p = Params {
            name: "docker-postiz".into(),
            content: None,
            dir: None,
        };
        let t = profile_text(&p).unwrap();
        assert!(t.contains("profile docker-postiz flags=(attach_disconnected,mediate_deleted)"));
        assert!(t.contains("deny network raw,"));
        let p = Params {
            name: "other".into(),
            ..p
        };
        assert!(
            profile_text(&p)
                .unwrap_err()
                .contains("no built-in profile `other`")
        );
    }
}
