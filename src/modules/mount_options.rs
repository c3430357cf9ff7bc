//! `mount_options`: mount options (`noexec,nosuid,nodev`) on the `/etc/fstab`
//! entry of one mount point (R7), edited losslessly ([`crate::formats::fstab`]):
//! only that entry's options field changes. No entry: an error, unless the task
//! gives `device` and `fstype`, then one is appended. The candidate is checked
//! with the real `findmnt --verify --tab-file`, a staged check that only a
//! finding the candidate adds fails ([`Accept::NoNewFindmntFindings`]). Nothing is remounted by default: the options take effect
//! at the next mount or reboot; `remount: true` adds a `mount -o remount` handler,
//! run on the running system only.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::formats::fstab::{Fstab, ensure_options, escape};
use crate::host::fs::Kind;
use crate::plan::{Accept, Check, Handler, NoticeLevel, Stage, Validator};

/// Parameters of `mount_options:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The mount point whose entry is edited (`/opt`, `/tmp`, `/dev/shm`).
    pub path: String,
    /// Options that must be in force (`[noexec, nosuid, nodev]`).
    pub options: Vec<String>,
    /// For a mount point without an entry: the source of a new entry.
    #[serde(default)]
    pub device: Option<String>,
    /// For a mount point without an entry: the filesystem type of a new entry.
    #[serde(default)]
    pub fstype: Option<String>,
    /// Remount now (`mount -o remount PATH`) on the running system.
    #[serde(default)]
    pub remount: bool,
    /// The fstab file (default `/etc/fstab`).
    #[serde(default)]
    pub fstab: Option<PathBuf>,
}

/// An option or field that fstab and mount read back as one token.
fn token(v: &str) -> bool {
    !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c.is_control())
}

fn check_params(p: &Params) -> Result<(), String> {
    crate::host::fs::components(Path::new(&p.path)).map_err(|_| {
        format!(
            "mount point `{}` must be an absolute, normalised path",
            p.path
        )
    })?;
    if p.options.is_empty() {
        return Err("`options` is empty".into());
    }
    if let Some(bad) = p.options.iter().find(|o| !token(o)) {
        return Err(format!(
            "option `{bad}`: one option per item, no spaces or commas"
        ));
    }
    if let Some(t) = &p.fstype
        && !token(t)
    {
        return Err(format!("fstype `{t}` is not one word"));
    }
    if p.device
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.chars().any(char::is_control))
    {
        return Err("`device` is empty or holds control characters".into());
    }
    Ok(())
}

/// The new fstab text, or `None` when it already has the options.
fn edit(text: &str, p: &Params) -> Result<Option<String>, String> {
    let mut f = Fstab::parse(text);
    let found = f.find(&p.path);
    match found.as_slice() {
        [e] => {
            let cur = f.options(e);
            let new = ensure_options(&cur, &p.options);
            if new == cur && f.field(e, 3).is_some() {
                return Ok(None);
            }
            f.set_options(e, &new)?;
        }
        [] => match (&p.device, &p.fstype) {
            (Some(d), Some(t)) => {
                let opts = ensure_options(&["defaults".to_string()], &p.options);
                f.append(&format!(
                    "{}\t{}\t{t}\t{}\t0\t0",
                    escape(d),
                    escape(&p.path),
                    opts.join(",")
                ));
            }
            _ => {
                return Err(format!(
                    "no fstab entry for {}; give `device` and `fstype` to create one",
                    p.path
                ));
            }
        },
        many => {
            let lines: Vec<String> = many.iter().map(|e| (e.line + 1).to_string()).collect();
            return Err(format!(
                "{} entries for {} (lines {}): which one is meant is unclear, fix by hand",
                many.len(),
                p.path,
                lines.join(", ")
            ));
        }
    }
    Ok(Some(f.render()))
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    check_params(p).map_err(|m| ctx.invalid(m))?;
    let fstab = ctx.path_param(p.fstab.as_deref(), "fstab")?;
    let meta = ctx.regular_or_absent(&fstab)?;
    let before = ctx.read_planned(&fstab)?;
    let text = String::from_utf8(before.clone().unwrap_or_default())
        .map_err(|_| ctx.invalid(format!("{} is not UTF-8", fstab.display())))?;
    let Some(after) =
        edit(&text, p).map_err(|m| ctx.invalid(format!("{}: {m}", fstab.display())))?
    else {
        return Ok(());
    };
    if Fstab::parse(&text).find(&p.path).is_empty()
        && !matches!(ctx.host.lstat(Path::new(&p.path)), Ok(Some(m)) if m.kind == Kind::Dir)
    {
        return Err(ctx.invalid(format!(
            "{} is not a directory under the root: a new entry would fail to mount",
            p.path
        )));
    }
    let (mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
    let mut c = ctx.write_change(FileWrite {
        path: &fstab,
        before: before.as_deref(),
        after: after.as_bytes(),
        mode,
        uid,
        gid,
        validators: vec![Validator::Staged {
            files: Stage::default(),
            check: Check {
                tool: "findmnt".into(),
                args: vec!["--verify".into(), "--tab-file".into(), "%s".into()],
                accept: Accept::NoNewFindmntFindings,
            },
        }],
        secret: false,
        what: "fstab",
    })?;
    let when = if p.remount && ctx.host.is_live() {
        c.handlers.push(Handler::Remount {
            mountpoint: p.path.clone().into(),
        });
        "remounted now"
    } else {
        if p.remount {
            out.notices.push(ctx.notice(
                NoticeLevel::Info,
                format!(
                    "{}: not remounted: offline root {}",
                    p.path,
                    ctx.host.root.display()
                ),
            ));
        }
        "takes effect at the next mount/reboot"
    };
    c.summary = format!("options {} on {} ({when})", p.options.join(","), p.path);
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(path: &str) -> Params {
        Params {
            path: path.into(),
            options: vec!["noexec".into(), "nosuid".into(), "nodev".into()],
            device: None,
            fstype: None,
            remount: false,
            fstab: None,
        }
    }

    #[test]
    fn edits_the_one_entry_and_refuses_missing_or_ambiguous_ones() {
        let text = "# keep\n/dev/sdb1  /opt  ext4  defaults  0 2\n";
        let got = edit(text, &params("/opt")).unwrap().unwrap();
        assert_eq!(
            got,
            "# keep\n/dev/sdb1  /opt  ext4  defaults,noexec,nosuid,nodev  0 2\n"
        );
        assert_eq!(edit(&got, &params("/opt")).unwrap(), None);
        assert!(
            edit(text, &params("/tmp"))
                .unwrap_err()
                .contains("give `device` and `fstype`")
        );
        let twice = format!("{text}/dev/sdc1 /opt xfs defaults 0 2\n");
        assert!(
            edit(&twice, &params("/opt"))
                .unwrap_err()
                .contains("lines 2, 3")
        );
        let mut p = params("/dev/shm");
        p.device = Some("tmpfs".into());
        p.fstype = Some("tmpfs".into());
        assert_eq!(
            edit(text, &p).unwrap().unwrap(),
            format!("{text}tmpfs\t/dev/shm\ttmpfs\tdefaults,noexec,nosuid,nodev\t0\t0\n")
        );
    }

    #[test]
    fn options_that_would_split_the_field_are_refused() {
        let mut p = params("/opt");
        p.options = vec!["noexec,suid".into()];
        assert!(check_params(&p).is_err());
        p.options = vec!["no exec".into()];
        assert!(check_params(&p).is_err());
        assert!(check_params(&params("opt")).is_err());
    }
}
