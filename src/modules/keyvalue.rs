//! `keyvalue`: `KEY<separator>VALUE` settings in flat configuration files that
//! no shell reads (`/etc/login.defs` with `" "`, `/etc/security/pwquality.conf`
//! and `faillock.conf` with `" = "`), edited losslessly with
//! [`crate::formats::keyvalue`]. The first active line of a key gets the value,
//! later active lines of it are commented out, a missing key is appended with the
//! separator as given; comments and unrelated lines stay byte for byte. A value
//! with a line break is refused when the playbook is read. Shell-sourced files
//! (`.env`, `/etc/default/*`) are `env_file`'s: their quoting rules differ. This
//! module only plans: it reads through the [`Ctx`] and never writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::{Ctx, ModuleError, Out};
use crate::formats::keyvalue::{KvDialect, KvDoc};
use crate::plan::Handler;
use crate::plan::VarValue;

/// Parameters of `keyvalue:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file, e.g. `/etc/login.defs`.
    pub path: PathBuf,
    /// What separates a key from its value: blanks (`" "`, login.defs), or one
    /// character with optional blanks around it (`" = "`, pwquality.conf).
    /// Appended lines are written with it exactly.
    #[serde(deserialize_with = "single_line")]
    pub separator: String,
    /// `KEY: value`, each value one line.
    #[serde(deserialize_with = "single_line_settings")]
    #[schemars(with = "BTreeMap<String, VarValue>")]
    pub settings: BTreeMap<String, VarValue>,
    /// Create the file (`0644 root:root`) when missing (default false).
    #[serde(default)]
    pub create: bool,
    /// `ACTION UNIT` run after a change.
    #[serde(default)]
    pub handler: Option<String>,
}

/// Reads a string that must be one line, refusing it where the playbook says it.
///
/// # Errors
/// A line break in the string.
pub fn single_line<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.contains(['\n', '\r']) {
        return Err(serde::de::Error::custom(
            "must be one line (no line breaks)",
        ));
    }
    Ok(s)
}

/// Reads `KEY: value` settings whose keys and values must each be one line.
///
/// # Errors
/// A key or value with a line break (the message names the key, never the value).
pub fn single_line_settings<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, VarValue>, D::Error> {
    let map = BTreeMap::<String, VarValue>::deserialize(d)?;
    for (k, v) in &map {
        if k.contains(['\n', '\r']) || v.to_string().contains(['\n', '\r']) {
            return Err(serde::de::Error::custom(format!(
                "setting `{}`: keys and values must be one line (no line breaks)",
                k.escape_debug()
            )));
        }
    }
    Ok(map)
}

/// The dialect a separator stands for.
fn dialect(separator: &str) -> Result<KvDialect, String> {
    let core = separator.trim_matches([' ', '\t']);
    let mut chars = core.chars();
    match (chars.next(), chars.next()) {
        (None, _) if !separator.is_empty() => Ok(KvDialect::Whitespace),
        (Some(c), None) if c != '#' && c != '"' && !c.is_alphanumeric() && !c.is_whitespace() => {
            Ok(KvDialect::Separated(c))
        }
        _ => Err(format!(
            "separator `{}`: give blanks (\" \") or one character such as `=` with optional blanks around it (\" = \")",
            separator.escape_debug()
        )),
    }
}

/// The edited text and the keys whose lines changed; `Err` names keys, not values.
fn edit(
    text: &str,
    dialect: KvDialect,
    separator: &str,
    settings: &BTreeMap<String, VarValue>,
) -> Result<(String, Vec<String>), String> {
    let mut doc = KvDoc::parse(text, dialect).map_err(|e| format!("cannot parse: {e}"))?;
    let mut touched = Vec::new();
    for (key, value) in settings {
        let was = doc.clone();
        doc.set_first(key, &value.to_string(), separator)
            .map_err(|e| format!("{key}: {e}"))?;
        if doc != was {
            touched.push(key.clone());
        }
    }
    Ok((doc.render(), touched))
}

/// The `handler:` parameter of an edit task, parsed (an invalid one fails the rule).
pub(super) fn handler(ctx: &Ctx, given: Option<&str>) -> Result<Option<Handler>, ModuleError> {
    given
        .map(super::managed_block::parse_handler)
        .transpose()
        .map_err(|m| ctx.invalid(m))
}

/// The file a `keyvalue` or `ini` task edits, as the earlier tasks of the plan
/// leave it.
pub(super) struct Current {
    /// The content now (`None`: missing, and `create` allows it).
    pub before: Option<Vec<u8>>,
    /// The content as text (empty when missing).
    pub text: String,
}

/// Reads the file to edit: a regular UTF-8 file, or missing when `create`.
pub(super) fn current(
    ctx: &Ctx,
    path: &std::path::Path,
    create: bool,
) -> Result<Current, ModuleError> {
    let before = ctx.read_planned_regular(path)?;
    let text = match &before {
        Some(b) => String::from_utf8(b.clone())
            .map_err(|_| ctx.invalid(format!("{} is not UTF-8 text", path.display())))?,
        None if create => String::new(),
        None => {
            return Err(ctx.invalid(format!(
                "{} does not exist (set `create: true` to create it)",
                path.display()
            )));
        }
    };
    Ok(Current { before, text })
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(Some(&p.path), "path")?;
    let dialect = dialect(&p.separator).map_err(|m| ctx.invalid(m))?;
    if p.settings.is_empty() {
        return Err(ctx.invalid("nothing to do: `settings` is empty"));
    }
    let handler = handler(ctx, p.handler.as_deref())?;
    let Current { before, text } = current(ctx, &path, p.create)?;
    let (after, touched) = edit(&text, dialect, &p.separator, &p.settings)
        .map_err(|m| ctx.invalid(format!("{}: {m}", path.display())))?;
    let detail = format!("set {}", touched.join(", "));
    push_edit(ctx, out, &path, before.as_deref(), &after, &detail, handler)
}

/// Records the rewrite of the text file `path` from `before` to `after` (nothing
/// when they are the same), its summary followed by `detail`, notifying `handler`.
pub(super) fn push_edit(
    ctx: &Ctx,
    out: &mut Out,
    path: &Path,
    before: Option<&[u8]>,
    after: &str,
    detail: &str,
    handler: Option<Handler>,
) -> Result<(), ModuleError> {
    let Some(mut c) = ctx.edit_change(path, before, after.as_bytes(), "file")? else {
        return Ok(());
    };
    c.summary = format!("{}: {detail}", c.summary);
    c.handlers.extend(handler);
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::settings;

    #[test]
    fn separators_pick_the_dialect() {
        assert_eq!(dialect(" "), Ok(KvDialect::Whitespace));
        assert_eq!(dialect("\t"), Ok(KvDialect::Whitespace));
        assert_eq!(dialect(" = "), Ok(KvDialect::Separated('=')));
        assert_eq!(dialect("="), Ok(KvDialect::Separated('=')));
        assert_eq!(dialect(": "), Ok(KvDialect::Separated(':')));
        for bad in ["", "==", " # ", "x", " a "] {
            assert!(dialect(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_defs_edit_is_lossless_and_idempotent() {
        let text = "# comment\nPASS_MAX_DAYS\t99999\n#PASS_MIN_DAYS 0\nUMASK\t\t022\nUMASK 077\n";
        let want = settings(&[
            ("PASS_MAX_DAYS", "365"),
            ("UMASK", "027"),
            ("SHA_CRYPT_MIN_ROUNDS", "65536"),
        ]);
        let (after, touched) = edit(text, KvDialect::Whitespace, " ", &want).unwrap();
        assert_eq!(
            after,
            "# comment\nPASS_MAX_DAYS\t365\n#PASS_MIN_DAYS 0\nUMASK\t\t027\n#UMASK 077\nSHA_CRYPT_MIN_ROUNDS 65536\n"
        );
        assert_eq!(touched, ["PASS_MAX_DAYS", "SHA_CRYPT_MIN_ROUNDS", "UMASK"]);
        let (again, touched) = edit(&after, KvDialect::Whitespace, " ", &want).unwrap();
        assert_eq!(again, after);
        assert!(touched.is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let e = edit(
            "",
            KvDialect::Separated('='),
            " = ",
            &settings(&[("deny", "3 # x")]),
        )
        .unwrap_err();
        assert!(e.starts_with("deny: "), "{e}");
    }

    #[test]
    fn line_breaks_are_refused_when_the_playbook_is_read() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct P {
            #[serde(deserialize_with = "single_line_settings")]
            settings: BTreeMap<String, VarValue>,
        }
        let e = serde_saphyr::from_str::<P>("settings:\n  UMASK: \"027\\nUID_MIN 0\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("UMASK") && e.contains("one line"), "{e}");
        assert!(e.contains("line 2 column 3"), "the place is named: {e}");
        assert!(serde_saphyr::from_str::<P>("settings: { UMASK: \"027\" }").is_ok());
    }
}
