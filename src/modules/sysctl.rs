//! `sysctl`: kernel parameters, in a `sysctl.d` drop-in (so they survive a reboot)
//! and, when the root is the running system, live under `/proc/sys`. A key this
//! kernel does not have is reported as unsupported on this host and left out of the
//! drop-in, never fatal. Under another `--root`, only the file is managed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, ModuleError, Out};
use crate::formats::sysctl::{SysctlFile, normalise_key, normalise_value, proc_path, valid_key};
use crate::host::kernel::{PROC_SYS, read_live};
use crate::plan::VarValue;
use crate::plan::{NoticeLevel, Op, SetSysctl};

/// Parameters of `sysctl:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Kernel parameter → value, e.g. `net.ipv4.ip_forward: 0`.
    pub settings: BTreeMap<String, VarValue>,
    /// The drop-in file (default `/etc/sysctl.d/99-harden.conf`).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Also set live values (default: when the root is `/`).
    #[serde(default)]
    pub live: Option<bool>,
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(p.file.as_deref(), "file")?;
    let live = p.live.unwrap_or_else(|| ctx.host.is_live());
    if live && !ctx.host.is_live() {
        return Err(ctx.invalid("`live: true` needs the running system as root (--root /)"));
    }
    let mut wanted = Vec::new();
    for (key, value) in &p.settings {
        let key = normalise_key(key);
        let value = value.to_string();
        if !valid_key(&key) {
            return Err(ctx.invalid(format!("`{key}` is not a kernel parameter name")));
        }
        if value.contains(['\n', '\r']) || value.trim().is_empty() {
            return Err(ctx.invalid(format!("{key}: value must be one non-empty line")));
        }
        wanted.push((key, value.trim().to_string()));
    }
    if !live {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!(
                "live kernel values not managed (root {} is not the running system)",
                ctx.host.root.display()
            ),
        ));
    }
    let mut live_ops = Vec::new();
    let mut live_lines = Vec::new();
    let mut supported = Vec::new();
    for (key, value) in wanted {
        if live {
            let Some(current) = read_live(&key) else {
                out.notices.push(ctx.notice(
                    NoticeLevel::Unsupported,
                    format!(
                        "{key}: not supported on this host (no {PROC_SYS}/{})",
                        proc_path(&key)
                    ),
                ));
                continue;
            };
            if current != normalise_value(&value) {
                live_lines.push(format!("{key}: {current} -> {value}"));
                live_ops.push(Op::SetSysctl(SetSysctl {
                    key: key.clone(),
                    value: value.clone(),
                    expect: current,
                }));
            }
        }
        supported.push((key, value));
    }

    plan_file(ctx, &path, &supported, out)?;
    if !live_ops.is_empty() {
        let mut c = ctx.change(
            format!("{PROC_SYS} ({} keys)", live_ops.len()),
            live_lines.join("; "),
        );
        c.ops = live_ops;
        out.changes.push(c);
    }
    Ok(())
}

/// The drop-in file holding the supported settings.
fn plan_file(
    ctx: &Ctx,
    path: &Path,
    supported: &[(String, String)],
    out: &mut Out,
) -> Result<(), ModuleError> {
    let path = path.to_path_buf();
    let before = ctx.host.read(&path).map_err(ctx.fs())?;
    let text = before
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let mut file = SysctlFile::parse(
        text.as_deref()
            .unwrap_or("# Managed by harden: kernel and network hardening.\n"),
    );
    for (k, v) in supported {
        file.set(k, v);
    }
    let after = file.render();
    if !supported.is_empty()
        && let Some(c) = ctx.edit_change(&path, before.as_deref(), after.as_bytes(), "drop-in")?
    {
        out.changes.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn key_names() {
        assert!(valid_key("net.ipv4.ip_forward"));
        assert!(valid_key("kernel.exec-shield"));
        assert!(!valid_key("net..x"));
        assert!(!valid_key("../etc/passwd"));
        assert!(!valid_key("a b"));
    }
}
