//! `env_file`: `KEY=value` edits of an application's `.env` file (Postiz's rate
//! limits, for instance), made losslessly with [`crate::formats::keyvalue`]: only
//! the lines of the keys that change are rewritten, comments, `export`, quoting and
//! order are kept. The values are secrets as far as harden is concerned: the plan,
//! its JSON, the apply log and every error name keys only, never a value, and the
//! diff is always redacted. A key already holding the wanted value is left as
//! written (its quoting included).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::keyvalue::handler;
use super::{Ctx, ModuleError, Out, diff, write_op};
use crate::formats::keyvalue::{KvDialect, KvDoc};
use crate::plan::VarValue;
use crate::plan::{Op, SetMeta};

/// Parameters of `env_file:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The `.env` file.
    pub path: PathBuf,
    /// Keys to set, `KEY: value`.
    #[serde(default)]
    pub set: BTreeMap<String, VarValue>,
    /// Keys to remove (every occurrence).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Create the file (`0600 root:root`) when missing (default false).
    #[serde(default)]
    pub create: bool,
    /// The file's mode, e.g. `"0600"` (default: kept; `0600` when created).
    #[serde(default)]
    pub mode: Option<super::file::FileMode>,
    /// `ACTION UNIT` run after a change (`restart postiz`).
    #[serde(default)]
    pub handler: Option<String>,
}

/// The edited text, or `None` when nothing changes; errors name keys only.
fn edit(
    text: &str,
    set: &BTreeMap<String, VarValue>,
    remove: &[String],
) -> Result<Option<(String, Vec<String>)>, String> {
    let mut doc =
        KvDoc::parse(text, KvDialect::Equals).map_err(|e| format!("cannot parse the file: {e}"))?;
    let mut touched = Vec::new();
    for (key, value) in set {
        let value = value.to_string();
        if doc.get(key).as_deref() == Some(value.as_str()) {
            continue;
        }
        doc.set(key, &value)
            .map_err(|e| format!("{key}: {e} (value not shown)"))?;
        touched.push(format!("set {key}"));
    }
    for key in remove {
        if set.contains_key(key) {
            return Err(format!("{key} is both set and removed"));
        }
        if doc.remove(key) {
            touched.push(format!("remove {key}"));
        }
    }
    let after = doc.render();
    Ok((after != text).then_some((after, touched)))
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(Some(&p.path), "path")?;
    if p.set.is_empty() && p.remove.is_empty() {
        return Err(ctx.invalid("nothing to do: give `set` and/or `remove`"));
    }
    let handler = handler(ctx, p.handler.as_deref())?;
    let meta = ctx.regular_or_absent(&path)?;
    let before = ctx.read_planned(&path)?;
    let text = match &before {
        Some(b) => String::from_utf8(b.clone())
            .map_err(|_| ctx.invalid(format!("{} is not UTF-8 text", path.display())))?,
        None if p.create => String::new(),
        None => {
            return Err(ctx.invalid(format!(
                "{} does not exist (set `create: true` to create it)",
                path.display()
            )));
        }
    };
    let (mode, uid, gid) = meta
        .as_ref()
        .map_or((0o600, 0, 0), |m| (m.mode, m.uid, m.gid));
    let want_mode = p.mode.map_or(mode, |m| m.0);
    let Some((after, touched)) = edit(&text, &p.set, &p.remove)
        .map_err(|m| ctx.invalid(format!("{}: {m}", path.display())))?
    else {
        if want_mode != mode {
            let mut c = ctx.change(
                path.display().to_string(),
                format!("mode {mode:04o} -> {want_mode:04o}"),
            );
            c.ops.push(Op::SetMeta(SetMeta {
                path,
                mode: Some(want_mode),
                uid: None,
                gid: None,
                expect: (mode, uid, gid),
            }));
            out.changes.push(c);
        }
        return Ok(());
    };
    let mode = want_mode;
    let mut c = ctx.change(
        path.display().to_string(),
        format!("{} (values redacted)", touched.join(", ")),
    );
    c.diff = Some(diff(&[], &[], true));
    c.ops.push(write_op(
        path,
        after.into_bytes(),
        (mode, uid, gid),
        before.as_deref(),
        Vec::new(),
    ));
    c.handlers.extend(handler);
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::settings as set;

    #[test]
    fn edits_only_changed_keys_and_is_idempotent() {
        let text = "# Postiz\nexport JWT_SECRET='abc'\nAPI_LIMIT=30 # per hour\nOLD=1\n";
        let (after, touched) = edit(
            text,
            &set(&[("API_LIMIT", "10"), ("JWT_SECRET", "abc"), ("NEW", "a b")]),
            &["OLD".to_string()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            after,
            "# Postiz\nexport JWT_SECRET='abc'\nAPI_LIMIT=10 # per hour\nNEW=\"a b\"\n"
        );
        assert_eq!(touched, ["set API_LIMIT", "set NEW", "remove OLD"]);
        let again = edit(
            &after,
            &set(&[("API_LIMIT", "10"), ("NEW", "a b")]),
            &["OLD".to_string()],
        )
        .unwrap();
        assert!(again.is_none());
    }

    #[test]
    fn errors_never_show_values() {
        let e = edit("", &set(&[("K", "top\nsecret")]), &[]).unwrap_err();
        assert!(e.contains('K') && !e.contains("secret"), "{e}");
        let e = edit("", &set(&[("bad key", "hunter2")]), &[]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
