//! `firewall`: host firewall policy and rules (R11) through one of two providers,
//! `ufw` (Debian family) and `firewalld` (RHEL family), picked from what is
//! installed and active under the root, or by `backend:`.
//!
//! Design: both tools keep their whole persistent state in files (ufw:
//! `/etc/ufw/user.rules`, `user6.rules`, `ufw.conf`, `/etc/default/ufw`; firewalld:
//! `/etc/firewalld/zones/*.xml`, `firewalld.conf`). Planning copies those files into
//! a private temp directory and runs the *real* tool on the copy with its offline
//! interface (`ufw --rootdir=/ --datadir=STAGE`, inside `unshare -n -m` and with
//! `ENABLED=no` in the copy so no kernel rule is touched;
//! `firewall-offline-cmd --system-config STAGE`, then `--check-config`). The files
//! the tool produced become ordinary `WriteFile` operations. So the engine needs no
//! new operation kind: the transaction snapshots, writes atomically and rolls back
//! these files like any other, the tool's own format is never re-implemented, and
//! `--root` hardens an offline image with no daemon running. On the running system
//! a handler loads the new files into the kernel with the tool (`ufw --force
//! enable` or `ufw disable`, see [`crate::plan::Handler::FirewallSync`]; `systemctl reload firewalld`, which is `firewall-cmd --reload`);
//! the service layer skips it with the reason under an offline root.
//!
//! Anti-lockout: the rules and policy *after* the change (read back from the tool)
//! must still allow every port sshd listens on (its effective configuration, see
//! [`super::sshd::effective_ports`]); otherwise the plan carries a `Refused` notice.
//!
//! Rules are matched on action, port, protocol and source; new ones are appended
//! (ufw matches first to last), a changed ufw comment is updated in place, and
//! `purge: true` deletes the rest. The guard reads sshd's configuration as earlier
//! tasks of the same plan leave it, so order an `sshd` port change before this task.
//!
//! Not managed: enabling the firewalld service itself (a unit symlink; reported),
//! ufw application profiles and interface-specific rules (kept as they are).

mod firewalld;
mod ufw;

use std::path::Path;

use serde::Deserialize;

use super::{Ctx, ModuleError, Out, diff, missing_parents, observed};
use crate::host::facts::OsFamily;
use crate::host::runner::Cmd;
use crate::host::scratch::Scratch;
use crate::plan::{Change, Handler, NoticeLevel, Op, WriteFile};

/// Which provider manages the firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Ufw,
    Firewalld,
}

/// A default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Allow,
    Deny,
    Reject,
}

impl Policy {
    fn word(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Reject => "reject",
        }
    }
}

/// One rule: exactly one of `allow`, `limit`, `deny`, `reject` naming a port
/// (`22/tcp`, `53`, `6000:6007/tcp`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub allow: Option<String>,
    /// Allow, rate-limited (ufw: 6 connections in 30 s per source).
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub deny: Option<String>,
    #[serde(default)]
    pub reject: Option<String>,
    /// Only from this address or network (CIDR).
    #[serde(default)]
    pub from: Option<String>,
    /// A comment stored with the rule (ufw).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Parameters of `firewall:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `ufw` or `firewalld` (default: the one installed and active under the root).
    #[serde(default)]
    pub backend: Option<Backend>,
    /// Policy for incoming traffic no rule matches.
    #[serde(default)]
    pub default_incoming: Option<Policy>,
    /// Policy for outgoing traffic no rule matches (ufw).
    #[serde(default)]
    pub default_outgoing: Option<Policy>,
    /// Rules to have.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Remove the rules present that `rules` does not list.
    #[serde(default)]
    pub purge: bool,
    /// Whether the firewall is on (ufw `ENABLED`; firewalld: checked only).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The firewalld zone (default: its default zone).
    #[serde(default)]
    pub zone: Option<String>,
}

/// A rule, checked: action, port (`22`, `6000:6007`), protocol, source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub action: &'static str,
    pub port: String,
    pub proto: Option<String>,
    pub from: Option<String>,
    pub comment: Option<String>,
}

impl Checked {
    /// Whether this rule lets a new TCP connection to `port` in from anywhere.
    #[must_use]
    pub fn admits(&self, port: u16) -> bool {
        if !matches!(self.action, "allow" | "limit") || self.from.is_some() {
            return false;
        }
        if self.proto.as_deref().is_some_and(|p| p != "tcp") {
            return false;
        }
        port_in(&self.port, port)
    }
}

/// Whether `port` is `spec` (`22`) or inside it (`20:30`, `20-30`).
#[must_use]
pub fn port_in(spec: &str, port: u16) -> bool {
    match spec.split_once([':', '-']) {
        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&port),
            _ => false,
        },
        None => spec.parse::<u16>() == Ok(port),
    }
}

fn check_rule(ctx: &Ctx, r: &Rule) -> Result<Checked, ModuleError> {
    let given: Vec<(&'static str, &String)> = [
        ("allow", &r.allow),
        ("limit", &r.limit),
        ("deny", &r.deny),
        ("reject", &r.reject),
    ]
    .into_iter()
    .filter_map(|(a, v)| v.as_ref().map(|v| (a, v)))
    .collect();
    let [(action, spec)] = given.as_slice() else {
        return Err(
            ctx.invalid("each rule needs exactly one of `allow`, `limit`, `deny`, `reject`")
        );
    };
    let (port, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (spec.as_str(), None),
    };
    let port_ok = match port.split_once(':') {
        Some((a, b)) => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok() && proto.is_some(),
        None => port.parse::<u16>().is_ok_and(|p| p > 0),
    };
    if !port_ok || proto.is_some_and(|p| p != "tcp" && p != "udp") {
        return Err(ctx.invalid(format!(
            "`{spec}`: a port is `PORT`, `PORT/tcp|udp` or `FIRST:LAST/tcp|udp`"
        )));
    }
    if let Some(f) = &r.from
        && (f.is_empty()
            || !f
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ".:/".contains(c)))
    {
        return Err(ctx.invalid(format!("`from: {f}` is not an address or CIDR network")));
    }
    if let Some(c) = &r.comment
        && (c.is_empty() || c.contains(['\'', '"', '\n', '\r']))
    {
        return Err(ctx.invalid("a rule comment is one line without quotes"));
    }
    Ok(Checked {
        action,
        port: port.to_string(),
        proto: proto.map(str::to_string),
        from: r.from.clone(),
        comment: r.comment.clone(),
    })
}

/// Which provider to use, and why when it is refused.
fn backend(ctx: &Ctx, p: &Params) -> Result<Backend, ModuleError> {
    let ufw_active = ufw::active(ctx)?;
    let fwd_active = firewalld::active(ctx)?;
    let chosen = match p.backend {
        Some(b) => b,
        None if ufw_active && fwd_active => {
            return Err(ctx.invalid(
                "both ufw and firewalld are active under the root; choose one with `backend:` and turn the other off",
            ));
        }
        None if ufw_active => Backend::Ufw,
        None if fwd_active => Backend::Firewalld,
        None => match (ufw::installed(ctx)?, firewalld::installed(ctx)?) {
            (false, false) => {
                return Err(ctx.invalid("neither ufw nor firewalld is installed under the root"));
            }
            (false, true) => Backend::Firewalld,
            (true, true) if ctx.host.facts.os_family == OsFamily::Redhat => Backend::Firewalld,
            (true, _) => Backend::Ufw,
        },
    };
    let other_active = match chosen {
        Backend::Ufw => fwd_active,
        Backend::Firewalld => ufw_active,
    };
    if other_active && p.enabled != Some(false) {
        return Err(ctx.invalid(format!(
            "refusing to manage {} while {} is active: two firewalls fight over the same netfilter tables; turn the other off first",
            name(chosen),
            name(match chosen {
                Backend::Ufw => Backend::Firewalld,
                Backend::Firewalld => Backend::Ufw,
            })
        )));
    }
    Ok(chosen)
}

fn name(b: Backend) -> &'static str {
    match b {
        Backend::Ufw => "ufw",
        Backend::Firewalld => "firewalld",
    }
}

/// The anti-lockout verdict: `Some(message)` when the firewall after the change
/// would drop new connections to a port sshd listens on.
fn lockout(ssh_ports: &[u16], filters_incoming: bool, rules_after: &[Checked]) -> Option<String> {
    if !filters_incoming {
        return None;
    }
    let closed: Vec<String> = ssh_ports
        .iter()
        .filter(|&&p| !rules_after.iter().any(|r| r.admits(p)))
        .map(u16::to_string)
        .collect();
    (!closed.is_empty()).then(|| {
        format!(
            "after this change the firewall drops incoming connections to the SSH port {} (sshd's effective config); add a rule such as `{{ allow: {}/tcp }}` (a rule limited by `from:` does not count)",
            closed.join(", "),
            closed[0]
        )
    })
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let rules = p
        .rules
        .iter()
        .map(|r| check_rule(ctx, r))
        .collect::<Result<Vec<_>, _>>()?;
    let ssh_ports = super::sshd::effective_ports(ctx)?;
    let outcome = match backend(ctx, p)? {
        Backend::Ufw => ufw::plan(ctx, p, &rules, out)?,
        Backend::Firewalld => firewalld::plan(ctx, p, &rules, out)?,
    };
    if out.changes.is_empty() {
        return Ok(());
    }
    if let Some(why) = lockout(&ssh_ports, outcome.filters_after, &outcome.rules_after)
        && lockout(&ssh_ports, outcome.filters_before, &outcome.rules_before).is_none()
    {
        out.notices.push(ctx.notice(NoticeLevel::Refused, why));
    }
    Ok(())
}

/// What a provider found before and after its change, for the guard.
pub struct Outcome {
    /// Whether new incoming connections no rule allows are dropped (enabled and
    /// default deny/reject).
    pub filters_before: bool,
    pub filters_after: bool,
    pub rules_before: Vec<Checked>,
    pub rules_after: Vec<Checked>,
}

/// A new, empty private stage in which the backend `tool` rewrites copies of
/// its files.
fn new_stage(ctx: &Ctx, tool: &str) -> Result<Scratch, ModuleError> {
    Scratch::new(tool).map_err(|e| ctx.invalid(format!("cannot make a stage for {tool}: {e}")))
}

/// Runs a firewall tool on the staged copy; its stdout, or an error naming it.
fn run_tool(ctx: &Ctx, argv: Vec<String>) -> Result<String, ModuleError> {
    let cmd = Cmd::new(argv);
    match ctx.host.runner.run(&cmd) {
        Ok(o) if o.success() => Ok(o.stdout),
        Ok(o) => Err(ctx.invalid(format!("`{}` failed: {}", cmd.display(), o.brief()))),
        Err(e) => Err(ctx.invalid(e.to_string())),
    }
}

/// A whole-file write of `after` over the root's `path` when they differ, keeping
/// the present mode and owner (`mode`, root-owned for a new file).
fn file_change(
    ctx: &Ctx,
    path: &Path,
    after: &[u8],
    mode: u32,
    summary: String,
    handler: &Handler,
) -> Result<Option<Change>, ModuleError> {
    let before = ctx.host.read(path).map_err(ctx.fs())?;
    if before.as_deref() == Some(after) {
        return Ok(None);
    }
    let meta = ctx.host.lstat(path).map_err(ctx.fs())?;
    let (mode, uid, gid) = meta.map_or((mode, 0, 0), |m| (m.mode, m.uid, m.gid));
    let mut change = ctx.change(path.display().to_string(), summary);
    change.diff = Some(diff(before.as_deref().unwrap_or_default(), after, false));
    change.ops = missing_parents(ctx, path)?;
    change.ops.push(Op::WriteFile(WriteFile {
        path: path.to_path_buf(),
        content: after.to_vec(),
        mode,
        uid,
        gid,
        expect: observed(before.as_deref()),
        validators: Vec::new(),
    }));
    change.handlers.push(handler.clone());
    Ok(Some(change))
}

/// The rule diff for a summary: added, removed, kept.
fn rule_diff(before: &[Checked], after: &[Checked]) -> String {
    let show = |v: Vec<&Checked>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let added = after.iter().filter(|r| !before.contains(r)).collect();
    let removed = before.iter().filter(|r| !after.contains(r)).collect();
    let kept = after.iter().filter(|r| before.contains(r)).collect();
    format!(
        "rules added: {}; removed: {}; kept: {}",
        show(added),
        show(removed),
        show(kept)
    )
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.action, self.port)?;
        if let Some(p) = &self.proto {
            write!(f, "/{p}")?;
        }
        if let Some(s) = &self.from {
            write!(f, " from {s}")?;
        }
        Ok(())
    }
}

/// Splits a `show added`-style command line into words (single quotes group).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: &'static str, port: &str, proto: Option<&str>, from: Option<&str>) -> Checked {
        Checked {
            action,
            port: port.into(),
            proto: proto.map(Into::into),
            from: from.map(Into::into),
            comment: None,
        }
    }

    #[test]
    fn lockout_needs_an_unrestricted_tcp_allow_for_every_ssh_port() {
        let ok = [rule("allow", "22", Some("tcp"), None)];
        assert!(lockout(&[22], true, &ok).is_none());
        assert!(lockout(&[22], false, &[]).is_none());
        assert!(lockout(&[22], true, &[]).is_some());
        assert!(lockout(&[22, 2222], true, &ok).unwrap().contains("2222"));
        let limited = [rule("limit", "20:30", Some("tcp"), None)];
        assert!(lockout(&[22], true, &limited).is_none());
        for bad in [
            rule("allow", "22", Some("udp"), None),
            rule("deny", "22", Some("tcp"), None),
            rule("allow", "22", Some("tcp"), Some("10.0.0.0/8")),
            rule("allow", "222", None, None),
        ] {
            assert!(
                lockout(&[22], true, std::slice::from_ref(&bad)).is_some(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn words_split_like_ufw_quotes_them() {
        assert_eq!(
            words("ufw allow 22/tcp comment 'ssh from office'"),
            ["ufw", "allow", "22/tcp", "comment", "ssh from office"]
        );
    }
}
