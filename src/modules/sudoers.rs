//! `sudoers`: one sudo policy drop-in, `/etc/sudoers.d/NAME`, always `0440
//! root:root` (visudo does not check modes, so harden enforces them), with a name
//! sudo does not silently ignore (no `.`, no trailing `~`), validated with
//! `visudo -c -f CANDIDATE` before install. The root's `/etc/sudoers` must still
//! include the directory (`@includedir` or `#includedir`), else the drop-in would
//! never be read: that is an error at plan time.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, ModuleError, Out, diff, observed};
use crate::host::fs::Kind;
use crate::plan::{MakeDir, Op, SetMeta, Validator, WriteFile};

/// Parameters of `sudoers:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The drop-in's file name in `/etc/sudoers.d`.
    pub name: String,
    /// The policy lines, in order.
    pub content: Vec<String>,
}

const SUDOERS: &str = "/etc/sudoers";
const MODE: u32 = 0o440;

/// Why sudo would ignore (or harden refuses) a drop-in name; `None` when fine.
fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains('.') {
        Some("contains `.`, and sudo ignores files in sudoers.d whose names do")
    } else if name.ends_with('~') {
        Some("ends in `~`, and sudo ignores such files")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-~".contains(c))
    {
        Some("must be letters, digits, `_` and `-`")
    } else {
        None
    }
}

/// Whether sudoers text includes `dir` (`@includedir DIR` or the older `#includedir`).
fn includes_dir(text: &str, dir: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        let rest = l
            .strip_prefix("@includedir")
            .or_else(|| l.strip_prefix("#includedir"));
        rest.is_some_and(|r| {
            r.starts_with([' ', '\t'])
                && r.trim().trim_end_matches('/') == dir.trim_end_matches('/')
        })
    })
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if let Some(why) = bad_name(&p.name) {
        return Err(ctx.invalid(format!("sudoers drop-in name `{}` {why}", p.name)));
    }
    if p.content.iter().any(|l| l.contains(['\n', '\r'])) {
        return Err(ctx.invalid("each `content` entry must be one line"));
    }
    let dir = ctx.path_param(None, "dir")?;
    let dir_text = dir.display().to_string();
    match ctx.host.read(Path::new(SUDOERS)).map_err(ctx.fs())? {
        None => {
            return Err(ctx.invalid(format!(
                "{SUDOERS} does not exist under the root (is sudo installed?); a drop-in would never be read"
            )));
        }
        Some(main) if !includes_dir(&String::from_utf8_lossy(&main), &dir_text) => {
            return Err(ctx.invalid(format!(
                "{SUDOERS} does not include {dir_text} (`@includedir {dir_text}`); a drop-in there would never be read"
            )));
        }
        Some(_) => {}
    }
    let path: PathBuf = dir.join(&p.name);
    let target = path.display().to_string();
    let mut text = format!(
        "# Managed by harden (rule {}): changes here are overwritten.\n",
        ctx.task.id
    );
    for line in &p.content {
        text.push_str(line);
        text.push('\n');
    }
    let meta = ctx.host.lstat(&path).map_err(ctx.fs())?;
    if let Some(m) = &meta
        && m.kind != Kind::File
    {
        return Err(ctx.invalid(format!("{target} exists and is not a regular file")));
    }
    let before = ctx.host.read(&path).map_err(ctx.fs())?;
    if before.as_deref() == Some(text.as_bytes()) {
        if let Some(m) = meta
            && (m.mode, m.uid, m.gid) != (MODE, 0, 0)
        {
            let mut c = ctx.change(
                &target,
                format!("mode/owner {:04o} {}:{} -> 0440 0:0", m.mode, m.uid, m.gid),
            );
            c.ops.push(Op::SetMeta(SetMeta {
                path,
                mode: Some(MODE),
                uid: Some(0),
                gid: Some(0),
                expect: (m.mode, m.uid, m.gid),
            }));
            out.changes.push(c);
        }
        return Ok(());
    }
    let mut c = ctx.change(
        &target,
        if before.is_some() {
            "update sudoers drop-in"
        } else {
            "create sudoers drop-in"
        },
    );
    c.diff = Some(diff(
        before.as_deref().unwrap_or_default(),
        text.as_bytes(),
        false,
    ));
    match ctx.host.lstat(&dir).map_err(ctx.fs())? {
        Some(m) if m.kind == Kind::Dir => {}
        Some(_) => return Err(ctx.invalid(format!("{dir_text} is not a directory"))),
        // As the sudo package ships it.
        None => c.ops.push(Op::MakeDir(MakeDir {
            path: dir.clone(),
            mode: 0o750,
            uid: 0,
            gid: 0,
        })),
    }
    let argv = ctx
        .spec
        .validator
        .clone()
        .ok_or_else(|| ctx.invalid("modules/sudoers.yaml has no validator"))?;
    c.ops.push(Op::WriteFile(WriteFile {
        path,
        content: text.into_bytes(),
        mode: MODE,
        uid: 0,
        gid: 0,
        expect: observed(before.as_deref()),
        validators: Validator::argv(&argv).into_iter().collect(),
    }));
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sudo_ignores_are_rejected() {
        assert!(bad_name("harden").is_none());
        assert!(bad_name("10-admins").is_none());
        assert!(bad_name("harden.conf").is_some());
        assert!(bad_name("harden~").is_some());
        assert!(bad_name("a/b").is_some());
        assert!(bad_name("").is_some());
    }

    #[test]
    fn include_directives() {
        assert!(includes_dir(
            "@includedir /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
        assert!(includes_dir(
            "#includedir /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
        assert!(includes_dir(
            "  @includedir\t/etc/sudoers.d/\n",
            "/etc/sudoers.d"
        ));
        assert!(!includes_dir(
            "## includedir /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
        assert!(!includes_dir("#includedir /etc/other\n", "/etc/sudoers.d"));
        assert!(!includes_dir("root ALL=(ALL) ALL\n", "/etc/sudoers.d"));
    }
}
