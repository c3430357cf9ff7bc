//! `systemd_unit`: a hardening drop-in, `/etc/systemd/system/UNIT.d/50-harden.conf`,
//! at a named level plus optional extra directives. Directive names are checked
//! against the `[Service]` keys systemd 252 knows (`systemd_service_keys.txt`), since
//! systemd itself only logs and ignores an unknown key. When the drop-in changes,
//! the unit's exposure score is measured before and after with the real
//! `systemd-analyze security --offline=true --root=STAGE` on a staged copy of the
//! unit and its drop-ins; any complaint systemd prints about the candidate (a value
//! it cannot parse) rejects the plan. Handlers: `daemon-reload`, then `restart`
//! when `restart: true` (sandboxing takes effect only when the service restarts).
//!
//! Levels:
//! - `guide`: exactly the six directives of the Akkoma hardening guide.
//! - `strict`: the guide's six plus kernel, clock, hostname, cgroup, namespace,
//!   realtime, SUID, personality and `@system-service` system-call restrictions, a
//!   capability bounding set without the administrative capabilities, and only
//!   `AF_UNIX AF_INET AF_INET6 AF_NETLINK` sockets. It keeps what a typical
//!   network daemon needs: writable `/var` (`ProtectSystem=full`, not `strict`),
//!   binding low ports and dropping privileges (`CAP_NET_BIND_SERVICE`,
//!   `CAP_SETUID`/`CAP_SETGID`, `CAP_CHOWN`, `CAP_DAC_OVERRIDE` stay), netlink for
//!   `getifaddrs`, `/proc/cpuinfo` (no `ProcSubset=pid`) and JIT compilers (no
//!   `MemoryDenyWriteExecute`, which breaks the BEAM and V8 JITs of Akkoma and
//!   Postiz).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::formats::ini::{IniBuilder, IniDialect};
use crate::host::fs::Kind;
use crate::host::runner::Cmd;
use crate::host::scratch::Scratch;
use crate::plan::{Handler, NoticeLevel, Verb};

/// A named set of directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No built-in directives (only `directives`).
    None,
    /// The Akkoma guide's six directives.
    Guide,
    /// A stronger set that still lets a typical network daemon run.
    Strict,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Guide => "guide",
            Self::Strict => "strict",
        }
    }
}

/// One directive value or several (repeated lines, for keys that accumulate).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Values {
    One(crate::plan::VarValue),
    Many(Vec<crate::plan::VarValue>),
}

/// Parameters of `systemd_unit:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The unit, e.g. `akkoma.service`.
    pub unit: String,
    /// `guide` (default), `strict` or `none`.
    #[serde(default)]
    pub level: Option<Level>,
    /// Extra `[Service]` directives; one named here replaces the level's lines.
    #[serde(default)]
    pub directives: BTreeMap<String, Values>,
    /// Restart the service after `daemon-reload` (default true); else the
    /// hardening takes effect at its next restart.
    #[serde(default)]
    pub restart: Option<bool>,
}

const GUIDE: &[(&str, &str)] = &[
    ("PrivateTmp", "true"),
    ("ProtectHome", "true"),
    ("ProtectSystem", "full"),
    ("PrivateDevices", "true"),
    ("NoNewPrivileges", "true"),
    ("CapabilityBoundingSet", "~CAP_SYS_ADMIN"),
];

const STRICT_CAPS: &str = "~CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_BOOT \
CAP_SYS_TIME CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_PACCT CAP_SYS_TTY_CONFIG CAP_SYSLOG CAP_MKNOD \
CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BLOCK_SUSPEND CAP_BPF CAP_PERFMON \
CAP_CHECKPOINT_RESTORE CAP_IPC_LOCK CAP_IPC_OWNER CAP_LEASE CAP_LINUX_IMMUTABLE CAP_MAC_ADMIN \
CAP_MAC_OVERRIDE CAP_NET_ADMIN CAP_NET_RAW CAP_WAKE_ALARM CAP_SETPCAP CAP_SETFCAP";

const STRICT_EXTRA: &[(&str, &str)] = &[
    ("AmbientCapabilities", ""),
    ("ProtectKernelTunables", "true"),
    ("ProtectKernelModules", "true"),
    ("ProtectKernelLogs", "true"),
    ("ProtectControlGroups", "true"),
    ("ProtectClock", "true"),
    ("ProtectHostname", "true"),
    ("ProtectProc", "invisible"),
    ("PrivateMounts", "true"),
    ("PrivateIPC", "true"),
    (
        "RestrictAddressFamilies",
        "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    ),
    ("RestrictNamespaces", "true"),
    ("RestrictRealtime", "true"),
    ("RestrictSUIDSGID", "true"),
    ("LockPersonality", "true"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallErrorNumber", "EPERM"),
    ("RemoveIPC", "true"),
    ("KeyringMode", "private"),
    ("UMask", "0027"),
];

/// The `[Service]` keys systemd 252 accepts (from its unit-file parser table).
const KNOWN_KEYS: &str = include_str!("systemd_service_keys.txt");

/// Where unit files live, most local first; the drop-in always goes in the first.
const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

fn known_key(key: &str) -> bool {
    KNOWN_KEYS.lines().any(|k| k == key)
}

/// Whether `unit` is a service unit name harden accepts.
fn valid_unit(unit: &str) -> bool {
    unit.strip_suffix(".service").is_some_and(|stem| {
        !stem.is_empty()
            && !stem.starts_with('.')
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c))
    })
}

/// The directives of a level with the extra ones applied, in order.
fn directives(
    level: Level,
    extra: &BTreeMap<String, Values>,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let base: Vec<(&str, &str)> = match level {
        Level::None => Vec::new(),
        Level::Guide => GUIDE.to_vec(),
        Level::Strict => GUIDE
            .iter()
            .map(|&(k, v)| {
                if k == "CapabilityBoundingSet" {
                    (k, STRICT_CAPS)
                } else {
                    (k, v)
                }
            })
            .chain(STRICT_EXTRA.iter().copied())
            .collect(),
    };
    for (k, v) in base {
        if !extra.contains_key(k) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    for (k, vals) in extra {
        if !known_key(k) {
            return Err(format!(
                "`{k}` is not a [Service] directive systemd knows (see systemd.exec(5), systemd.service(5))"
            ));
        }
        let vals: Vec<String> = match vals {
            Values::One(v) => vec![v.to_string()],
            Values::Many(vs) => vs.iter().map(ToString::to_string).collect(),
        };
        if vals.is_empty() {
            return Err(format!("`{k}`: give at least one value"));
        }
        for v in vals {
            if v.contains(['\n', '\r']) {
                return Err(format!("`{k}`: a value must be one line"));
            }
            out.push((k.clone(), v));
        }
    }
    Ok(out)
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if !valid_unit(&p.unit) {
        return Err(ctx.invalid(format!(
            "`{}` is not a service unit name (NAME.service)",
            p.unit
        )));
    }
    let level = p.level.unwrap_or(Level::Guide);
    let wanted = directives(level, &p.directives).map_err(|m| ctx.invalid(m))?;
    if wanted.is_empty() {
        return Err(ctx.invalid("level `none` without `directives` sets nothing"));
    }
    let unit_file = find_unit(ctx, &p.unit)?;
    let dir = ctx.path_param(None, "dir")?;
    let name = ctx
        .spec
        .defaults
        .get("drop_in")
        .map_or("50-harden.conf", String::as_str);
    let path = dir.join(format!("{}.d", p.unit)).join(name);
    let text = IniBuilder::new(IniDialect::Systemd)
        .comment(&format!(
            "Managed by harden (rule {}, level {}): changes here are overwritten.",
            ctx.task.id,
            level.name()
        ))
        .section("Service", wanted)
        .render()
        .map_err(|e| ctx.invalid(e.to_string()))?;
    let before = ctx.read_regular(&path)?;
    if before.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let scores = exposure(ctx, &p.unit, &unit_file, &path, &text).map_err(|m| ctx.invalid(m))?;
    let summary = if let Some((b, a)) = scores {
        if a > b {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!("{}: the drop-in raises the exposure score from {b:.1} to {a:.1} (it overrides stronger settings of the unit)", p.unit),
            ));
        }
        format!(
            "hardening drop-in ({}): exposure {b:.1} -> {a:.1}",
            level.name()
        )
    } else {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            "systemd-analyze not found: exposure not measured and directives not checked by systemd",
        ));
        format!("hardening drop-in ({})", level.name())
    };
    let mut c = ctx.write_change(FileWrite::config(
        &path,
        before.as_deref(),
        text.as_bytes(),
        "drop-in",
    ))?;
    c.summary = summary;
    c.handlers.push(Handler::DaemonReload);
    if p.restart.unwrap_or(true) {
        c.handlers.push(Handler::systemctl(Verb::Restart, &p.unit));
    } else {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!("{}: not restarted (restart: false); the hardening takes effect at its next restart", p.unit),
        ));
    }
    out.changes.push(c);
    Ok(())
}

/// The unit file under the root (template units fall back to `NAME@.service`).
fn find_unit(ctx: &Ctx, unit: &str) -> Result<PathBuf, ModuleError> {
    let mut names = vec![unit.to_string()];
    if let Some((prefix, _)) = unit.split_once('@') {
        names.push(format!("{prefix}@.service"));
    }
    for name in &names {
        for dir in UNIT_DIRS {
            let p = Path::new(dir).join(name);
            // A usr-merged root has /lib -> usr/lib: a crossing error means "look elsewhere".
            match ctx.host.lstat(&p) {
                Ok(Some(m)) if m.kind == Kind::File => return Ok(p),
                Ok(Some(_)) => {
                    return Err(ctx.invalid(format!(
                        "{} is not a regular file (masked or a link); harden does not harden it",
                        p.display()
                    )));
                }
                Ok(None) | Err(_) => {}
            }
        }
    }
    Err(ctx.invalid(format!(
        "unit {unit} not found under {} in {}",
        ctx.host.root.display(),
        UNIT_DIRS.join(", ")
    )))
}

/// Exposure before and after the candidate drop-in, measured by the real
/// `systemd-analyze security --offline` on a staged copy of the unit with its
/// drop-ins; `None` when the tool is missing. Errors when systemd complains about
/// the candidate.
fn exposure(
    ctx: &Ctx,
    unit: &str,
    unit_file: &Path,
    drop_in: &Path,
    text: &str,
) -> Result<Option<(f64, f64)>, String> {
    if crate::host::facts::find_binary(Path::new("/"), "systemd-analyze").is_none() {
        return Ok(None);
    }
    let stage = Scratch::new("systemd-analyze").map_err(|e| format!("temp dir: {e}"))?;
    let copy =
        |logical: &Path, content: &[u8]| stage.write(logical, content).map_err(|e| e.to_string());
    let content = ctx.host.read(unit_file).map_err(|e| e.to_string())?;
    copy(unit_file, &content.unwrap_or_default())?;
    for dir in UNIT_DIRS {
        let d = Path::new(dir).join(format!("{unit}.d"));
        let Ok(Some(entries)) = ctx.host.read_dir(&d) else {
            continue;
        };
        for e in entries {
            let logical = d.join(&e.name);
            if logical.extension().is_some_and(|x| x == "conf")
                && let Ok(Some(c)) = ctx.host.read(&logical)
            {
                copy(&logical, &c)?;
            }
        }
    }
    let before = analyze(ctx, stage.path(), unit, None)?;
    copy(drop_in, text.as_bytes())?;
    let staged = stage.at(drop_in);
    let after = analyze(ctx, stage.path(), unit, Some(&staged))?;
    Ok(Some((before, after)))
}

/// The overall exposure of `unit` under `root`; with `candidate`, any message
/// systemd prints about that file is an error.
fn analyze(ctx: &Ctx, root: &Path, unit: &str, candidate: Option<&Path>) -> Result<f64, String> {
    let mut root_arg = std::ffi::OsString::from("--root=");
    root_arg.push(root);
    let cmd = Cmd::new([
        "systemd-analyze".into(),
        "security".into(),
        "--no-pager".into(),
        "--offline=true".into(),
        root_arg,
        unit.into(),
    ])
    .in_private_run();
    let out = ctx.host.runner.run(&cmd).map_err(|e| e.to_string())?;
    if let Some(cand) = candidate {
        let prefix = format!("{}:", cand.display());
        let complaints: Vec<String> = out
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|l| format!("line {}", l.trim()))
            .collect();
        if !complaints.is_empty() {
            return Err(format!(
                "systemd rejects the drop-in: {}",
                complaints.join("; ")
            ));
        }
    }
    if !out.success() {
        return Err(format!("`{}` failed: {}", cmd.display(), out.brief()));
    }
    parse_score(&out.stdout)
        .ok_or_else(|| format!("`{}`: no overall exposure in its output", cmd.display()))
}

/// The number in `→ Overall exposure level for UNIT: 9.6 UNSAFE`.
fn parse_score(stdout: &str) -> Option<f64> {
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level for"))?;
    let (_, rest) = line.rsplit_once(": ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::VarValue;

    #[test]
    fn unit_names() {
        assert!(valid_unit("akkoma.service"));
        assert!(valid_unit("getty@tty1.service"));
        assert!(!valid_unit("akkoma"));
        assert!(!valid_unit("../x.service"));
        assert!(!valid_unit(".service"));
        assert!(!valid_unit("a b.service"));
    }

    #[test]
    fn guide_level_is_exactly_the_six_directives() {
        let d = directives(Level::Guide, &BTreeMap::new()).unwrap();
        let keys: Vec<&str> = d.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "PrivateTmp",
                "ProtectHome",
                "ProtectSystem",
                "PrivateDevices",
                "NoNewPrivileges",
                "CapabilityBoundingSet"
            ]
        );
        assert_eq!(d[5].1, "~CAP_SYS_ADMIN");
        assert_eq!(d[2].1, "full");
    }

    #[test]
    fn extra_directives_replace_and_unknown_ones_are_rejected() {
        let mut extra = BTreeMap::new();
        extra.insert(
            "ProtectSystem".to_string(),
            Values::One(VarValue::Str("strict".into())),
        );
        extra.insert(
            "ReadWritePaths".to_string(),
            Values::Many(vec![
                VarValue::Str("/var/lib/akkoma".into()),
                VarValue::Str("/var/log/akkoma".into()),
            ]),
        );
        let d = directives(Level::Guide, &extra).unwrap();
        assert_eq!(
            d.iter().filter(|(k, _)| k == "ProtectSystem").count(),
            1,
            "{d:?}"
        );
        assert!(d.contains(&("ProtectSystem".into(), "strict".into())));
        assert_eq!(d.iter().filter(|(k, _)| k == "ReadWritePaths").count(), 2);

        let mut bad = BTreeMap::new();
        bad.insert(
            "ProtectSystm".to_string(),
            Values::One(VarValue::Bool(true)),
        );
        let e = directives(Level::None, &bad).unwrap_err();
        assert!(e.contains("ProtectSystm"), "{e}");
        for level in [Level::Guide, Level::Strict] {
            for (k, _) in directives(level, &BTreeMap::new()).unwrap() {
                assert!(known_key(&k), "built-in {k} is not a known key");
            }
        }
    }

    #[test]
    fn score_line() {
        assert_eq!(
            parse_score("x\n→ Overall exposure level for demo.service: 9.6 UNSAFE 😨\n"),
            Some(9.6)
        );
        assert_eq!(parse_score("nothing"), None);
    }
}
