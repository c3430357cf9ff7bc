//! The firewalld provider: the root's `/etc/firewalld` is copied into a private
//! stage, the real `firewall-offline-cmd --system-config STAGE --default-config
//! ROOT/usr/lib/firewalld` edits the zone there (no D-Bus, no daemon), the result
//! must pass `--check-config`, and the files it produced are planned as whole-file
//! writes. Ports without a source become `--add-port`; `limit`, `deny`, `reject`
//! and sourced rules become rich rules. The zone's target carries
//! `default_incoming`. Enabling the firewalld unit is not managed (reported).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::{Checked, Ctx, ModuleError, Out, Outcome, Params, Policy, file_change, rule_diff};
use super::{new_stage, run_tool};
use crate::host::fs::Kind;
use crate::host::scratch::Scratch;
use crate::plan::{Handler, NoticeLevel, Verb};

const ETC: &str = "/etc/firewalld";
const USR: &str = "/usr/lib/firewalld";
const WANTS: &str = "/etc/systemd/system/multi-user.target.wants/firewalld.service";

/// Whether firewalld is installed under the root.
pub fn installed(ctx: &Ctx) -> Result<bool, ModuleError> {
    Ok(ctx.exists(Path::new(USR))? || ctx.exists(Path::new(ETC))?)
}

/// Whether the firewalld unit is enabled under the root.
pub fn active(ctx: &Ctx) -> Result<bool, ModuleError> {
    ctx.exists(Path::new(WANTS))
}

/// The private stage: a copy of the root's `/etc/firewalld`.
struct Stage {
    tree: Scratch,
    etc: PathBuf,
    defaults: PathBuf,
}

impl Stage {
    fn new(ctx: &Ctx) -> Result<Self, ModuleError> {
        let tree = new_stage(ctx, "firewalld")?;
        tree.make_dir(Path::new(ETC))
            .and_then(|()| tree.copy_from(ctx.host, Path::new(ETC), true))
            .map_err(|e| ctx.invalid(e.to_string()))?;
        let zones = Path::new(USR).join("zones");
        let defaults = if matches!(ctx.host.lstat(&zones), Ok(Some(m)) if m.kind == Kind::Dir) {
            ctx.host.path(Path::new(USR))
        } else {
            PathBuf::from(USR)
        };
        Ok(Self {
            etc: tree.at(Path::new(ETC)),
            tree,
            defaults,
        })
    }

    fn cmd(&self, ctx: &Ctx, args: &[String]) -> Result<String, ModuleError> {
        let mut full = vec![
            "firewall-offline-cmd".to_string(),
            "--system-config".into(),
            self.etc.display().to_string(),
            "--default-config".into(),
            self.defaults.display().to_string(),
        ];
        full.extend(args.iter().cloned());
        run_tool(ctx, full)
    }

    fn list(&self, ctx: &Ctx, zone: &str, what: &str) -> Result<Vec<String>, ModuleError> {
        let out = self.cmd(ctx, &[format!("--zone={zone}"), format!("--list-{what}")])?;
        Ok(if what == "rich-rules" {
            out.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        } else {
            out.split_whitespace().map(str::to_string).collect()
        })
    }

    /// Ports, services and rich rules of the zone, as rules and as they are listed.
    fn rules(&self, ctx: &Ctx, zone: &str) -> Result<Listed, ModuleError> {
        Ok(Listed {
            ports: self.list(ctx, zone, "ports")?,
            services: self.list(ctx, zone, "services")?,
            rich: self.list(ctx, zone, "rich-rules")?,
        })
    }
}

struct Listed {
    ports: Vec<String>,
    services: Vec<String>,
    rich: Vec<String>,
}

impl Listed {
    fn checked(&self) -> Vec<Checked> {
        let port = |action, spec: &str| {
            let (p, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
            Checked {
                action,
                port: p.to_string(),
                proto: Some(proto.to_string()),
                from: None,
                comment: None,
            }
        };
        let mut out: Vec<Checked> = self.ports.iter().map(|p| port("allow", p)).collect();
        for s in &self.services {
            // The `ssh` service is port 22/tcp; others are shown by name.
            out.push(if s == "ssh" {
                port("allow", "22/tcp")
            } else {
                Checked {
                    action: "allow",
                    port: format!("service {s}"),
                    proto: None,
                    from: None,
                    comment: None,
                }
            });
        }
        out.extend(self.rich.iter().map(|r| parse_rich(r)));
        out
    }
}

fn attr(rule: &str, key: &str) -> Option<String> {
    let start = rule.find(&format!("{key}=\""))? + key.len() + 2;
    rule[start..].split('"').next().map(str::to_string)
}

fn parse_rich(rule: &str) -> Checked {
    let action = if rule.contains(" limit value=") && rule.contains(" accept") {
        "limit"
    } else if rule.contains(" accept") {
        "allow"
    } else if rule.contains(" reject") {
        "reject"
    } else {
        "deny"
    };
    Checked {
        action,
        port: attr(rule, "port port").unwrap_or_else(|| "any".into()),
        proto: attr(rule, "protocol"),
        from: attr(rule, "source address"),
        comment: None,
    }
}

/// The rich rule of a rule firewalld cannot say with `--add-port`.
fn rich(r: &Checked) -> String {
    let mut s = String::from("rule");
    if let Some(f) = &r.from {
        let family = if f.contains(':') { "ipv6" } else { "ipv4" };
        let _ = write!(s, " family=\"{family}\" source address=\"{f}\"");
    }
    let _ = write!(
        s,
        " port port=\"{}\" protocol=\"{}\"",
        r.port.replace(':', "-"),
        r.proto.as_deref().unwrap_or("tcp")
    );
    s.push_str(match r.action {
        "limit" => " accept limit value=\"6/m\"",
        "allow" => " accept",
        "reject" => " reject",
        _ => " drop",
    });
    s
}

/// A rule as `--add-port` (`Ok`) or as a rich rule (`Err`).
fn as_port(r: &Checked) -> Result<String, String> {
    match (&r.from, r.action, &r.proto) {
        (None, "allow", Some(p)) => Ok(format!("{}/{p}", r.port.replace(':', "-"))),
        _ => Err(rich(r)),
    }
}

fn target_of(p: Policy) -> &'static str {
    match p {
        Policy::Allow => "ACCEPT",
        Policy::Deny => "DROP",
        Policy::Reject => "%%REJECT%%",
    }
}

fn notices(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if matches!(p.default_outgoing, Some(Policy::Deny | Policy::Reject)) {
        out.notices.push(ctx.notice(
            NoticeLevel::Unsupported,
            "firewalld zones do not filter outgoing traffic: default_outgoing is not applied",
        ));
    }
    let on = active(ctx)?;
    if let Some(want) = p.enabled
        && want != on
    {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "firewalld.service is {}; harden does not change unit state: run `systemctl {} --now firewalld`",
                if on { "enabled" } else { "not enabled" },
                if want { "enable" } else { "disable" }
            ),
        ));
    }
    Ok(())
}

pub fn plan(
    ctx: &Ctx,
    p: &Params,
    rules: &[Checked],
    out: &mut Out,
) -> Result<Outcome, ModuleError> {
    if let Some(r) = rules.iter().find(|r| r.proto.is_none()) {
        return Err(ctx.invalid(format!("firewalld needs a protocol: `{r}/tcp` or `/udp`")));
    }
    notices(ctx, p, out)?;
    let stage = Stage::new(ctx)?;
    let zone = match &p.zone {
        Some(z) => z.clone(),
        None => stage
            .cmd(ctx, &["--get-default-zone".into()])?
            .trim()
            .to_string(),
    };
    let z = format!("--zone={zone}");
    let before = stage.rules(ctx, &zone)?;
    let target_before = stage
        .cmd(ctx, &[z.clone(), "--get-target".into()])?
        .trim()
        .to_string();
    let wanted: Vec<Result<String, String>> = rules.iter().map(as_port).collect();
    if p.purge {
        for port in before
            .ports
            .iter()
            .filter(|x| !wanted.contains(&Ok((*x).clone())))
        {
            stage.cmd(ctx, &[z.clone(), format!("--remove-port={port}")])?;
        }
        for s in &before.services {
            stage.cmd(ctx, &[z.clone(), format!("--remove-service={s}")])?;
        }
        for r in before
            .rich
            .iter()
            .filter(|x| !wanted.contains(&Err((*x).clone())))
        {
            stage.cmd(ctx, &[z.clone(), format!("--remove-rich-rule={r}")])?;
        }
    }
    for w in &wanted {
        let arg = match w {
            Ok(port) if !before.ports.contains(port) => format!("--add-port={port}"),
            Err(rich) if !before.rich.contains(rich) => format!("--add-rich-rule={rich}"),
            _ => continue,
        };
        stage.cmd(ctx, &[z.clone(), arg])?;
    }
    if let Some(want) = p.default_incoming
        && target_before != target_of(want)
        && !(want == Policy::Reject && target_before == "default")
    {
        stage.cmd(
            ctx,
            &[z.clone(), format!("--set-target={}", target_of(want))],
        )?;
    }
    stage.cmd(ctx, &["--check-config".into()])?;
    let after = stage.rules(ctx, &zone)?;
    let target_after = stage
        .cmd(ctx, &[z, "--get-target".into()])?
        .trim()
        .to_string();
    let (rules_before, rules_after) = (before.checked(), after.checked());
    let summary = format!(
        "firewalld zone {zone}: {}; target {target_before} -> {target_after}",
        rule_diff(&rules_before, &rules_after)
    );
    let handler = Handler::systemctl(Verb::Reload, "firewalld");
    for (logical, content) in staged_files(&stage.tree) {
        if let Some(c) = file_change(ctx, &logical, &content, 0o644, summary.clone(), &handler)? {
            out.changes.push(c);
        }
    }
    Ok(Outcome {
        filters_before: target_before != "ACCEPT",
        filters_after: target_after != "ACCEPT",
        rules_before,
        rules_after,
    })
}

/// Every file of the stage (firewalld's `*.old` backups left out), as logical
/// paths under `/etc/firewalld`, in a stable order.
fn staged_files(tree: &Scratch) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = tree.files(Path::new(ETC));
    files.retain(|(p, _)| p.extension().is_none_or(|x| x != "old"));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_rules_round_trip_for_the_guard() {
        use crate::modules::firewall::port_in;
        let r = Checked {
            action: "allow",
            port: "5432".into(),
            proto: Some("tcp".into()),
            from: Some("10.0.0.0/8".into()),
            comment: None,
        };
        let text = rich(&r);
        assert_eq!(
            text,
            r#"rule family="ipv4" source address="10.0.0.0/8" port port="5432" protocol="tcp" accept"#
        );
        assert_eq!(parse_rich(&text), r);
        let l = parse_rich(r#"rule port port="2222" protocol="tcp" accept limit value="6/m""#);
        assert!(l.admits(2222) && l.action == "limit");
        assert!(port_in("6000-6007", 6001));
    }
}
