//! `ini`: settings in one section of a systemd-style INI file (`journald.conf`,
//! `coredump.conf`, `logind.conf`, their drop-ins), edited losslessly with
//! [`crate::formats::ini`] in its systemd dialect. The first active assignment of
//! a key in the section (repeated section headers included) gets the value,
//! later ones are commented out, a missing key is appended to the section and a
//! missing section is created at the end; comments and unrelated lines stay byte
//! for byte. A value with a line break is refused when the playbook is read. This
//! module only plans: it reads through the [`Ctx`] and never writes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::keyvalue::{Current, current, handler, push_edit, single_line, single_line_settings};
use super::{Ctx, ModuleError, Out};
use crate::formats::ini::{IniDialect, IniDoc};
use crate::plan::VarValue;

/// Parameters of `ini:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file, e.g. `/etc/systemd/journald.conf`.
    pub path: PathBuf,
    /// The section, e.g. `Journal` (created when missing).
    #[serde(deserialize_with = "single_line")]
    pub section: String,
    /// `Key: value`, each value one line.
    #[serde(deserialize_with = "single_line_settings")]
    #[schemars(with = "BTreeMap<String, VarValue>")]
    pub settings: BTreeMap<String, VarValue>,
    /// Create the file (`0644 root:root`) when missing (default false), for drop-ins.
    #[serde(default)]
    pub create: bool,
    /// `ACTION UNIT` run after a change (`restart systemd-journald`).
    #[serde(default)]
    pub handler: Option<String>,
}

/// The edited text and the keys whose lines changed.
fn edit(
    text: &str,
    section: &str,
    settings: &BTreeMap<String, VarValue>,
) -> Result<(String, Vec<String>), String> {
    let mut doc =
        IniDoc::parse(text, IniDialect::Systemd).map_err(|e| format!("cannot parse: {e}"))?;
    let mut touched = Vec::new();
    for (key, value) in settings {
        let was = doc.clone();
        doc.set_first(section, key, &value.to_string())
            .map_err(|e| format!("[{section}] {key}: {e}"))?;
        if doc != was {
            touched.push(key.clone());
        }
    }
    Ok((doc.render(), touched))
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(Some(&p.path), "path")?;
    if p.settings.is_empty() {
        return Err(ctx.invalid("nothing to do: `settings` is empty"));
    }
    let handler = handler(ctx, p.handler.as_deref())?;
    let Current { before, text } = current(ctx, &path, p.create)?;
    let (after, touched) = edit(&text, &p.section, &p.settings)
        .map_err(|m| ctx.invalid(format!("{}: {m}", path.display())))?;
    let detail = format!("[{}] set {}", p.section, touched.join(", "));
    push_edit(ctx, out, &path, before.as_deref(), &after, &detail, handler)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::settings;

    #[test]
    fn edits_one_section_and_is_idempotent() {
        let text = "# journald\n[Journal]\n#Storage=auto\nStorage=volatile\n\n[Other]\nStorage=x\n";
        let want = settings(&[("Storage", "persistent"), ("Compress", "yes")]);
        let (after, touched) = edit(text, "Journal", &want).unwrap();
        assert_eq!(
            after,
            "# journald\n[Journal]\n#Storage=auto\nStorage=persistent\nCompress=yes\n\n[Other]\nStorage=x\n"
        );
        assert_eq!(touched, ["Compress", "Storage"]);
        let (again, touched) = edit(&after, "Journal", &want).unwrap();
        assert_eq!(again, after);
        assert!(touched.is_empty());
        let (fresh, _) = edit("", "Coredump", &settings(&[("Storage", "none")])).unwrap();
        assert_eq!(fresh, "[Coredump]\nStorage=none\n");
    }

    #[test]
    fn bad_files_and_values_are_errors_naming_the_place() {
        let e = edit(
            "Storage=auto\n",
            "Journal",
            &settings(&[("Storage", "none")]),
        )
        .unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = edit("", "Journal", &settings(&[("Storage", "a\\")])).unwrap_err();
        assert!(e.starts_with("[Journal] Storage: "), "{e}");
        let e = edit("", "Jour]nal", &settings(&[("Storage", "a")])).unwrap_err();
        assert!(e.contains("section"), "{e}");
    }
}
