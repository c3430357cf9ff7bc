//! `package`: packages present or absent: on Debian and Ubuntu through the
//! root's own apt and dpkg, on RHEL-family roots through dnf
//! ([`crate::host::rpm`]). Planning reads the root's package database only
//! (`var/lib/dpkg/status`, or the rpm database read by this machine's rpm,
//! confined; [`crate::host::packages`]): it never runs the root's programs,
//! updates lists or downloads. On a Debian root a name the package lists do not
//! know is this rule's error (when the root has no lists yet, apply runs
//! `apt-get update` first and apt's own refusal stops the transaction before
//! anything is installed); on an rpm root dnf resolves names at apply from the
//! root's repositories, before the transaction starts
//! ([`crate::engine::isolate`]): a rule naming one they do not know fails alone,
//! nothing of it installed, and the other rules apply. Each package is one [`Op::Package`]; the transaction
//! installs them in one call and its snapshot keeps the installed set, so a
//! rollback removes what came (dependencies included) and reinstalls what went.
//! Under `--root` packages change only in a root the operator declared trusted
//! (the packages' maintainer scripts or scriptlets run as root, chrooted).

use serde::Deserialize;

use super::{Ctx, ModuleError, Out};
use crate::host::packages::{self, Manager};
use crate::host::rpm;
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
    /// Package names, e.g. `[auditd, rsyslog]`: Debian's on apt roots, RPM's
    /// (capitals and `_` allowed) on RHEL-family roots.
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
        if !packages::valid_any_name(n) {
            return Err(D::Error::custom(format!(
                "`{}` is not a package name (letters, digits, `+`, `-`, `.`, `_`, starting with a letter or digit)",
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
    let manager = packages::manager(ctx.host);
    if manager == Manager::Dpkg
        && let Some(bad) = p.names.iter().find(|n| !packages::valid_name(n))
    {
        return Err(ctx.invalid(format!(
            "`{bad}` is not a Debian package name (lowercase letters, digits, `+`, `-`, `.`)"
        )));
    }
    // Read once per plan, whatever the number of package rules.
    let installed = ctx
        .pending
        .memo("package.installed", || packages::installed(ctx.host));
    let installed = installed
        .as_ref()
        .as_ref()
        .map_err(|e| ctx.invalid(e.clone()))?;
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
    match manager {
        Manager::Dpkg if install => check_known(ctx, &todo, out)?,
        Manager::Dpkg => {}
        Manager::Rpm => {
            rpm::dnf_ready().map_err(|e| ctx.invalid(e))?;
            if install {
                out.notices.push(ctx.notice(
                    NoticeLevel::Info,
                    "dnf resolves the names at apply, from the root's repositories (network to them), before the transaction: a name they do not know fails its rule alone, nothing of it installed",
                ));
            }
        }
    }
    let verb = if install { "install" } else { "remove" };
    let mut c = ctx.change(
        "packages",
        format!(
            "{verb} {} ({}, non-interactive)",
            todo.join(" "),
            manager.front_end()
        ),
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

/// A Debian root's package lists must know every name to install (when it has
/// lists; otherwise apply updates them first, and says so).
fn check_known(ctx: &Ctx, todo: &[&str], out: &mut Out) -> Result<(), ModuleError> {
    // Read once per plan: a Debian mirror's lists are tens of megabytes.
    let known = ctx
        .pending
        .memo("package.known", || packages::known(ctx.host));
    match known.as_ref().as_ref().map_err(|e| ctx.invalid(e.clone()))? {
        Some(known) => {
            let unknown: Vec<&str> = todo
                .iter()
                .copied()
                .filter(|n| !known.contains(*n))
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
    Ok(())
}
