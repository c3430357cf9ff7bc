//! `package`: Debian packages present or absent, through the root's own apt and
//! dpkg. Planning reads the root's dpkg database only (`var/lib/dpkg/status`,
//! [`crate::host::packages`]): it never runs apt, updates lists or downloads. A
//! name the root's package lists do not know is this rule's error (when the root
//! has no lists yet, apply runs `apt-get update` first and apt's own refusal stops
//! the transaction before anything is installed). Each package is one
//! [`Op::Package`]; the transaction installs them in one apt call and its
//! snapshot keeps the installed set, so a rollback purges what came (dependencies
//! included) and reinstalls what went. Under `--root` packages change only in a
//! root the operator declared trusted (the root's maintainer scripts run as root).
//! RHEL-family roots are refused with a clear error (no dnf support yet).

use serde::Deserialize;

use super::{Ctx, ModuleError, Out};
use crate::host::facts::OsFamily;
use crate::host::packages;
use crate::plan::{NoticeLevel, Op, Package};

/// Whether the packages are installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// Parameters of `package:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Debian package names, e.g. `[auditd, rsyslog]`.
    #[serde(deserialize_with = "names")]
    pub names: Vec<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
}

fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    let names = Vec::<String>::deserialize(d)?;
    if names.is_empty() {
        return Err(D::Error::custom("`names` lists no package"));
    }
    for (i, n) in names.iter().enumerate() {
        if !packages::valid_name(n) {
            return Err(D::Error::custom(format!(
                "`{}` is not a Debian package name (lowercase letters, digits, `+`, `-`, `.`)",
                n.escape_debug()
            )));
        }
        if names[..i].contains(n) {
            return Err(D::Error::custom(format!("`{n}` is listed twice")));
        }
    }
    Ok(names)
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if ctx.host.facts.os_family == OsFamily::Redhat {
        return Err(ctx.invalid(
            "package: RHEL-family roots are not supported yet (dnf); only apt/dpkg roots",
        ));
    }
    let installed = packages::installed(ctx.host).map_err(|e| ctx.invalid(e))?;
    let install = p.state == State::Present;
    let todo: Vec<&str> = p
        .names
        .iter()
        .map(String::as_str)
        .filter(|n| installed.contains_key(*n) != install)
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    packages::may_change(ctx.host).map_err(|e| ctx.invalid(e))?;
    if install {
        match packages::known(ctx.host, &todo).map_err(|e| ctx.invalid(e))? {
            Some(known) => {
                let unknown: Vec<&str> = known
                    .iter()
                    .filter(|(_, k)| !**k)
                    .map(|(n, _)| n.as_str())
                    .collect();
                if !unknown.is_empty() {
                    return Err(ctx.invalid(format!(
                        "the root's package lists know no package {}; nothing is installed",
                        unknown.join(", ")
                    )));
                }
            }
            None => out.notices.push(ctx.notice(
                NoticeLevel::Info,
                "the root has no package lists: apply runs `apt-get update` first (network to its mirrors)",
            )),
        }
    }
    let verb = if install { "install" } else { "remove" };
    let mut c = ctx.change(
        "packages",
        format!("{verb} {} (apt, non-interactive)", todo.join(" ")),
    );
    c.ops = todo
        .iter()
        .map(|n| {
            Op::Package(Package {
                name: (*n).to_string(),
                install,
            })
        })
        .collect();
    out.changes.push(c);
    Ok(())
}
