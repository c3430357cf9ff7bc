//! `unattended_upgrades`: automatic security updates on Debian and Ubuntu, as one
//! apt.conf.d file harden owns (`52harden-unattended-upgrades`, read after the
//! package's `20auto-upgrades` and `50unattended-upgrades`, so its scalars win).
//! The periodic switches are on unless `enable: false`; `origins`, when given,
//! replaces the list of upgradable origins (`#clear` first, since apt appends list
//! entries across files). The candidate is checked with the real
//! `apt-config -c CANDIDATE dump` (rc 100 on a syntax error) before install.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::plan::Validator;
use crate::plan::VarValue;

/// Parameters of `unattended_upgrades:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Turn the daily list update and unattended upgrade on (default) or off.
    #[serde(default)]
    pub enable: Option<bool>,
    /// More apt.conf scalars, e.g. `Unattended-Upgrade::Automatic-Reboot: false`.
    #[serde(default)]
    pub settings: BTreeMap<String, VarValue>,
    /// `Unattended-Upgrade::Origins-Pattern` entries; replaces the list.
    #[serde(default)]
    pub origins: Option<Vec<String>>,
    /// The file (default `/etc/apt/apt.conf.d/52harden-unattended-upgrades`).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

const ORIGINS: &str = "Unattended-Upgrade::Origins-Pattern";

/// An apt.conf option name: `::`-separated, non-empty segments.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split("::").all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// A value apt reads back unchanged inside double quotes.
fn valid_value(v: &str) -> bool {
    !v.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

fn render(rule: &str, p: &Params) -> Result<String, String> {
    let on = if p.enable.unwrap_or(true) { "1" } else { "0" };
    let mut entries: BTreeMap<String, String> = BTreeMap::new();
    entries.insert("APT::Periodic::Update-Package-Lists".into(), on.into());
    entries.insert("APT::Periodic::Unattended-Upgrade".into(), on.into());
    for (k, v) in &p.settings {
        if !valid_key(k) || k == ORIGINS {
            return Err(format!(
                "`{k}` is not an apt.conf option name (origins go in `origins`)"
            ));
        }
        let v = v.to_string();
        if !valid_value(&v) {
            return Err(format!(
                "{k}: a value cannot hold `\"`, `\\` or control characters"
            ));
        }
        entries.insert(k.clone(), v);
    }
    let mut s = format!("// Managed by harden (rule {rule}): changes here are overwritten.\n");
    for (k, v) in &entries {
        let _ = writeln!(s, "{k} \"{v}\";");
    }
    if let Some(origins) = &p.origins {
        if let Some(bad) = origins.iter().find(|o| !valid_value(o) || o.is_empty()) {
            return Err(format!(
                "origin `{bad}` is empty or holds `\"`, `\\` or control characters"
            ));
        }
        let _ = writeln!(s, "#clear {ORIGINS};\n{ORIGINS} {{");
        for o in origins {
            let _ = writeln!(s, "    \"{o}\";");
        }
        s.push_str("};\n");
    }
    Ok(s)
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(p.file.as_deref(), "file")?;
    let text = render(&ctx.task.id, p).map_err(|m| ctx.invalid(m))?;
    let before = ctx.read_regular(&path)?;
    if before.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let argv = ctx
        .spec
        .validator
        .clone()
        .ok_or_else(|| ctx.invalid("modules/unattended_upgrades.yaml has no validator"))?;
    let summary = if p.enable.unwrap_or(true) {
        "automatic security updates on"
    } else {
        "automatic updates off"
    }
    .to_string();
    let mut c = ctx.write_change(FileWrite {
        validators: Validator::argv(&argv).into_iter().collect(),
        ..FileWrite::config(&path, before.as_deref(), text.as_bytes(), "apt.conf.d file")
    })?;
    c.summary = summary;
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        assert!(valid_key("Unattended-Upgrade::Automatic-Reboot-Time"));
        assert!(!valid_key("APT::Periodic::"));
        assert!(!valid_key("A B"));
        assert!(!valid_key("A{"));
        assert!(valid_value(
            "origin=Debian,codename=${distro_codename}-security"
        ));
        assert!(!valid_value("a\";b"));
    }

    #[test]
    fn rendering() {
        let p = Params {
            enable: None,
            settings: [(
                "Unattended-Upgrade::Automatic-Reboot".to_string(),
                VarValue::Bool(false),
            )]
            .into_iter()
            .collect(),
            origins: Some(vec!["origin=Debian,label=Debian-Security".into()]),
            file: None,
        };
        assert_eq!(
            render("r", &p).unwrap(),
            "// Managed by harden (rule r): changes here are overwritten.\n\
             APT::Periodic::Unattended-Upgrade \"1\";\n\
             APT::Periodic::Update-Package-Lists \"1\";\n\
             Unattended-Upgrade::Automatic-Reboot \"false\";\n\
             #clear Unattended-Upgrade::Origins-Pattern;\n\
             Unattended-Upgrade::Origins-Pattern {\n    \"origin=Debian,label=Debian-Security\";\n};\n"
        );
    }
}
