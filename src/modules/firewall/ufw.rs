//! The ufw provider: the root's `/etc/ufw` and `/etc/default/ufw` are copied into a
//! private stage, the real `ufw --rootdir=/ --datadir=STAGE` edits the copy inside
//! `unshare -n -m` (with `ENABLED=no` in the copy, so it only rewrites files), and
//! the files it produced are planned as whole-file writes. `ufw.conf`'s `ENABLED`
//! is edited here (ufw would load the kernel rules to change it).

use std::path::Path;

use super::{Checked, Ctx, ModuleError, Out, Outcome, Params, Policy, file_change, rule_diff};
use super::{new_stage, run_tool, words};
use crate::host::scratch::{Scratch, ScratchError};
use crate::plan::Handler;

const ETC_UFW: &str = "/etc/ufw";
const UFW_CONF: &str = "/etc/ufw/ufw.conf";
const DEFAULTS: &str = "/etc/default/ufw";

/// Whether ufw is installed under the root.
pub fn installed(ctx: &Ctx) -> Result<bool, ModuleError> {
    Ok(ctx
        .host
        .read(Path::new(UFW_CONF))
        .map_err(ctx.fs())?
        .is_some())
}

/// Whether ufw is enabled under the root (`ENABLED=yes` in `ufw.conf`).
pub fn active(ctx: &Ctx) -> Result<bool, ModuleError> {
    let conf = ctx.host.read(Path::new(UFW_CONF)).map_err(ctx.fs())?;
    Ok(conf.is_some_and(|c| enabled_in(&String::from_utf8_lossy(&c))))
}

fn enabled_in(conf: &str) -> bool {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("ENABLED="))
        .next_back()
        .is_some_and(|v| v.trim().trim_matches('"') == "yes")
}

/// `ufw.conf` with `ENABLED` set.
fn with_enabled(conf: &str, on: bool) -> String {
    let line = format!("ENABLED={}", if on { "yes" } else { "no" });
    let mut found = false;
    let mut out: Vec<String> = conf
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("ENABLED=") {
                found = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        out.push(line);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The value of a `KEY="VALUE"` line of `/etc/default/ufw`.
fn default_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .next_back()
        .map(|v| v.trim().trim_matches('"').to_string())
}

fn policy_of(word: Option<&str>) -> Option<Policy> {
    match word? {
        "ACCEPT" => Some(Policy::Allow),
        "DROP" => Some(Policy::Deny),
        "REJECT" => Some(Policy::Reject),
        _ => None,
    }
}

/// The private stage: a copy of the root's ufw files.
struct Stage {
    data: Scratch,
    ufw: String,
}

impl Stage {
    fn new(ctx: &Ctx) -> Result<Self, ModuleError> {
        let data = new_stage(ctx, "ufw")?;
        let staged = |r: Result<(), ScratchError>| r.map_err(|e| ctx.invalid(e.to_string()));
        for sub in [ETC_UFW, "/etc/ufw/applications.d"] {
            staged(data.copy_from(ctx.host, Path::new(sub), false))?;
        }
        if let Some(bytes) = ctx.host.read(Path::new(DEFAULTS)).map_err(ctx.fs())? {
            staged(data.write(Path::new(DEFAULTS), &bytes))?;
        }
        // ufw takes its lock in DATADIR/lib/ufw.
        staged(data.make_dir(Path::new("/lib/ufw")))?;
        // The stage is never enabled: ufw then only rewrites its files.
        let conf = Path::new("/etc/ufw/ufw.conf");
        let text = String::from_utf8_lossy(&data.read(conf).unwrap_or_default()).into_owned();
        staged(data.write(conf, with_enabled(&text, false).as_bytes()))?;
        let ufw = crate::host::facts::find_binary(Path::new("/"), "ufw")
            .map_or_else(|| "ufw".to_string(), |p| p.display().to_string());
        Ok(Self { data, ufw })
    }

    /// Runs `ufw ARGS` on the stage, in throw-away network and mount namespaces.
    fn ufw(&self, ctx: &Ctx, args: &[String]) -> Result<String, ModuleError> {
        let mut full = vec![
            "unshare".to_string(),
            "-n".into(),
            "-m".into(),
            self.ufw.clone(),
            "--rootdir=/".into(),
            format!("--datadir={}", self.data.path().display()),
        ];
        full.extend(args.iter().cloned());
        run_tool(ctx, full)
    }

    fn rules(&self, ctx: &Ctx) -> Result<Vec<(Checked, Vec<String>)>, ModuleError> {
        let text = self.ufw(ctx, &["show".into(), "added".into()])?;
        Ok(text.lines().filter_map(parse_added).collect())
    }

    fn read(&self, logical: &str) -> Vec<u8> {
        self.data.read(Path::new(logical)).unwrap_or_default()
    }
}

/// A `ufw ...` line of `ufw show added`: the rule and the words that delete it.
fn parse_added(line: &str) -> Option<(Checked, Vec<String>)> {
    let w = words(line);
    if w.first().map(String::as_str) != Some("ufw") {
        return None;
    }
    let action = match w.get(1)?.as_str() {
        "allow" => "allow",
        "limit" => "limit",
        "deny" => "deny",
        "reject" => "reject",
        _ => return None,
    };
    let mut rule = Checked {
        action,
        port: String::new(),
        proto: None,
        from: None,
        comment: None,
    };
    let mut spec = Vec::new();
    let mut i = 2;
    while i < w.len() {
        let next = w.get(i + 1).cloned();
        match (w[i].as_str(), next) {
            ("comment", Some(c)) => rule.comment = Some(c),
            ("from", Some(f)) => rule.from = (f != "any").then_some(f),
            // A rule only to some destination does not open the host as a whole.
            ("to", Some(t)) => {
                if t != "any" {
                    rule.from = Some(format!("{} to {t}", rule.from.unwrap_or_default()));
                }
            }
            ("port", Some(p)) => rule.port = p,
            ("proto", Some(p)) => rule.proto = Some(p),
            (word, _) => {
                match word.split_once('/') {
                    Some((p, proto)) => {
                        rule.port = p.to_string();
                        rule.proto = Some(proto.to_string());
                    }
                    None => rule.port = word.to_string(),
                }
                spec.push(w[i].clone());
                i += 1;
                continue;
            }
        }
        if w[i] != "comment" {
            spec.push(w[i].clone());
            spec.push(w[i + 1].clone());
        }
        i += 2;
    }
    let mut delete = vec!["delete".to_string(), action.to_string()];
    delete.extend(spec);
    Some((rule, delete))
}

/// The `ufw` words that add a rule.
fn add_words(r: &Checked) -> Vec<String> {
    let mut w = vec![r.action.to_string()];
    match &r.from {
        None => w.push(match &r.proto {
            Some(p) => format!("{}/{p}", r.port),
            None => r.port.clone(),
        }),
        Some(f) => {
            w.extend(["from", f, "to", "any", "port", &r.port].map(String::from));
            if let Some(p) = &r.proto {
                w.extend(["proto".to_string(), p.clone()]);
            }
        }
    }
    if let Some(c) = &r.comment {
        w.extend(["comment".to_string(), c.clone()]);
    }
    w
}

fn same_rule(a: &Checked, b: &Checked) -> bool {
    Checked {
        comment: None,
        ..a.clone()
    } == Checked {
        comment: None,
        ..b.clone()
    }
}

pub fn plan(
    ctx: &Ctx,
    p: &Params,
    rules: &[Checked],
    out: &mut Out,
) -> Result<Outcome, ModuleError> {
    let conf_before = ctx
        .host
        .read(Path::new(UFW_CONF))
        .map_err(ctx.fs())?
        .ok_or_else(|| ctx.invalid(format!("{UFW_CONF} is missing: is ufw installed?")))?;
    let conf_before = String::from_utf8_lossy(&conf_before).into_owned();
    let stage = Stage::new(ctx)?;
    let defaults_before = String::from_utf8_lossy(&stage.read(DEFAULTS)).into_owned();
    let before = stage.rules(ctx)?;
    if p.purge {
        for (r, delete) in &before {
            if !rules.iter().any(|w| same_rule(w, r)) {
                stage.ufw(ctx, delete)?;
            }
        }
    }
    for r in rules {
        stage.ufw(ctx, &add_words(r))?;
    }
    for (want, key, dir) in [
        (p.default_incoming, "DEFAULT_INPUT_POLICY", "incoming"),
        (p.default_outgoing, "DEFAULT_OUTPUT_POLICY", "outgoing"),
    ] {
        if let Some(want) = want
            && policy_of(default_value(&defaults_before, key).as_deref()) != Some(want)
        {
            stage.ufw(ctx, &["default".into(), want.word().into(), dir.into()])?;
        }
    }
    let after = stage.rules(ctx)?;
    let defaults_after = String::from_utf8_lossy(&stage.read(DEFAULTS)).into_owned();
    let conf_after = p
        .enabled
        .map_or_else(|| conf_before.clone(), |on| with_enabled(&conf_before, on));
    let rules_before: Vec<Checked> = before.into_iter().map(|(r, _)| r).collect();
    let rules_after: Vec<Checked> = after.into_iter().map(|(r, _)| r).collect();
    let handler = Handler::FirewallSync;
    let summary = rule_diff(&rules_before, &rules_after);
    let policy = |t: &str| {
        ["DEFAULT_INPUT_POLICY", "DEFAULT_OUTPUT_POLICY"]
            .map(|k| default_value(t, k).unwrap_or_default())
            .join("/")
    };
    let files: [(&str, Vec<u8>, u32, String); 4] = [
        (
            "/etc/ufw/user.rules",
            stage.read("/etc/ufw/user.rules"),
            0o640,
            format!("ufw IPv4 {summary}"),
        ),
        (
            "/etc/ufw/user6.rules",
            stage.read("/etc/ufw/user6.rules"),
            0o640,
            format!("ufw IPv6 {summary}"),
        ),
        (
            DEFAULTS,
            defaults_after.clone().into_bytes(),
            0o644,
            format!(
                "ufw default policy incoming/outgoing: {} -> {}",
                policy(&defaults_before),
                policy(&defaults_after)
            ),
        ),
        (
            UFW_CONF,
            conf_after.clone().into_bytes(),
            0o644,
            format!(
                "ufw enabled: {} -> {}",
                enabled_in(&conf_before),
                enabled_in(&conf_after)
            ),
        ),
    ];
    for (path, content, mode, summary) in files {
        if let Some(c) = file_change(ctx, Path::new(path), &content, mode, summary, &handler)? {
            out.changes.push(c);
        }
    }
    let filters = |conf: &str, defaults: &str| {
        enabled_in(conf)
            && policy_of(default_value(defaults, "DEFAULT_INPUT_POLICY").as_deref())
                != Some(Policy::Allow)
    };
    Ok(Outcome {
        filters_before: filters(&conf_before, &defaults_before),
        filters_after: filters(&conf_after, &defaults_after),
        rules_before,
        rules_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_added_lines_parse_back_to_rules_and_deletions() {
        let (r, del) = parse_added("ufw allow from 10.0.0.0/8 to any port 5432 proto tcp").unwrap();
        assert_eq!((r.action, r.port.as_str()), ("allow", "5432"));
        assert_eq!(r.from.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(r.proto.as_deref(), Some("tcp"));
        assert_eq!(
            del.join(" "),
            "delete allow from 10.0.0.0/8 to any port 5432 proto tcp"
        );
        assert_eq!(
            add_words(&r).join(" "),
            "allow from 10.0.0.0/8 to any port 5432 proto tcp"
        );
        let (r, del) = parse_added("ufw limit 2222/tcp comment 'ssh alt'").unwrap();
        assert_eq!(r.comment.as_deref(), Some("ssh alt"));
        assert_eq!(del.join(" "), "delete limit 2222/tcp");
        assert!(r.admits(2222));
        assert!(parse_added("Added user rules (see 'ufw status' for running firewall):").is_none());
    }

    #[test]
    fn enabled_is_edited_in_place() {
        let conf = "# c\nENABLED=no\nLOGLEVEL=low\n";
        assert_eq!(with_enabled(conf, true), "# c\nENABLED=yes\nLOGLEVEL=low\n");
        assert!(enabled_in(&with_enabled(conf, true)));
        assert!(!enabled_in(conf));
    }
}
