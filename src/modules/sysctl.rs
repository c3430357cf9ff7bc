//! `sysctl`: kernel parameters, in a `sysctl.d` drop-in (so they survive a reboot)
//! and, when the root is the running system, live under `/proc/sys`. A key this
//! kernel does not have is reported as unsupported on this host and left out of the
//! drop-in, never fatal. Under another `--root`, only the file is managed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, ModuleError, Out};
use crate::formats::sysctl::{SysctlFile, normalise_key, normalise_value, proc_path, valid_key};
use crate::host::kernel::{PROC_SYS, read_live};
use crate::plan::VarValue;
use crate::plan::{NoticeLevel, Op, SetSysctl};

/// Parameters of `sysctl:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Kernel parameter → value, e.g. `net.ipv4.ip_forward: 0`. Checked when the
    /// playbook is read: an integer, or integers separated by spaces, except for
    /// the parameters the kernel keeps as text; never a line break or control
    /// character.
    #[serde(deserialize_with = "checked_settings")]
    pub settings: BTreeMap<String, VarValue>,
    /// The drop-in file (default `/etc/sysctl.d/99-harden.conf`).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Also set live values (default: when the root is `/`).
    #[serde(default)]
    pub live: Option<bool>,
}

/// Kernel parameters whose value is text, not numbers (a command, a name, a
/// list with commas or a hex mask): every other value must be an integer, or
/// integers separated by spaces (`net.ipv4.ip_local_port_range: "32768 60999"`).
const TEXT_KEYS: [&str; 34] = [
    "crypto.fips_name",
    "crypto.fips_version",
    "dev.cdrom.info",
    "kernel.core_pattern",
    "kernel.domainname",
    "kernel.ftrace_dump_on_oops",
    "kernel.hostname",
    "kernel.hotplug",
    "kernel.modprobe",
    "kernel.osrelease",
    "kernel.ostype",
    "kernel.poweroff_cmd",
    "kernel.printk_devkmsg",
    "kernel.random.boot_id",
    "kernel.random.uuid",
    "kernel.seccomp.actions_avail",
    "kernel.seccomp.actions_logged",
    "kernel.version",
    "kernel.watchdog_cpumask",
    "net.core.default_qdisc",
    "net.core.flow_limit_cpu_bitmap",
    "net.core.netdev_rss_key",
    "net.core.rps_default_mask",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.ipv4.tcp_available_congestion_control",
    "net.ipv4.tcp_available_ulp",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_fastopen_key",
    "net.mptcp.path_manager",
    "net.mptcp.scheduler",
    "net.sctp.cookie_hmac_alg",
    "sunrpc.transports",
    "vm.numa_zonelist_order",
];

/// Families of text parameters: every key under these prefixes.
const TEXT_PREFIXES: [&str; 4] = [
    "fs.binfmt_misc.",
    "dev.parport.",
    "net.netfilter.nf_log.",
    "kernel.sched_domain.",
];

/// Whether the kernel keeps `key`'s value as text.
fn is_text(key: &str) -> bool {
    TEXT_KEYS.contains(&key)
        || TEXT_PREFIXES.iter().any(|p| key.starts_with(p))
        || (key.starts_with("net.ipv6.conf.") && key.ends_with(".stable_secret"))
}

/// An integer as the kernel reads one (decimal, or hex with `0x`), signed.
fn is_integer(word: &str) -> bool {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
    }
}

/// Checks one setting as the playbook gives it; the message names the key.
///
/// # Errors
/// Why the value cannot be written for this kernel parameter.
pub fn check_value(key: &str, value: &VarValue) -> Result<(), String> {
    let text = match value {
        VarValue::Int(_) => return Ok(()),
        VarValue::Bool(b) => {
            return Err(format!(
                "{key}: `{b}` is not a kernel value; write {}",
                if *b { "1" } else { "0" }
            ));
        }
        VarValue::Float(x) => return Err(format!("{key}: `{x}` is not an integer")),
        VarValue::Str(s) => s,
    };
    if text.contains(['\n', '\r']) {
        return Err(format!(
            "{key}: the value holds a line break; a kernel parameter's value is one line"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{key}: the value holds a control character ({text:?})"
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("{key}: the value is empty"));
    }
    if is_text(key) || text.split(' ').filter(|w| !w.is_empty()).all(is_integer) {
        return Ok(());
    }
    let hint = match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "enable" | "enabled" => "; write 1",
        "no" | "false" | "off" | "disable" | "disabled" => "; write 0",
        _ => "",
    };
    Err(format!(
        "{key}: `{text}` is not a number; this kernel parameter takes an integer, or integers separated by spaces{hint}"
    ))
}

/// `settings`, each value checked by [`check_value`] as it is read, so a bad
/// one is refused with the playbook's file, line and column.
fn checked_settings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, VarValue>, D::Error> {
    struct Settings;
    impl<'de> serde::de::Visitor<'de> for Settings {
        type Value = BTreeMap<String, VarValue>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of kernel parameter to value")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                let value: serde_saphyr::Spanned<VarValue> = map.next_value()?;
                if let Err(msg) = check_value(&normalise_key(&key), &value.value) {
                    let (line, column) = (value.referenced.line(), value.referenced.column());
                    let msg = if line > 0 {
                        super::at_marker(line, column, &msg)
                    } else {
                        msg
                    };
                    return Err(serde::de::Error::custom(msg));
                }
                out.insert(key, value.value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Settings)
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(p.file.as_deref(), "file")?;
    let live = p.live.unwrap_or_else(|| ctx.host.is_live());
    if live && !ctx.host.is_live() {
        return Err(ctx.invalid("`live: true` needs the running system as root (--root /)"));
    }
    let mut wanted = Vec::new();
    for (key, value) in &p.settings {
        let key = normalise_key(key);
        let value = value.to_string();
        if !valid_key(&key) {
            return Err(ctx.invalid(format!("`{key}` is not a kernel parameter name")));
        }
        if value.contains(['\n', '\r']) || value.trim().is_empty() {
            return Err(ctx.invalid(format!("{key}: value must be one non-empty line")));
        }
        wanted.push((key, value.trim().to_string()));
    }
    if !live {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!(
                "live kernel values not managed (root {} is not the running system)",
                ctx.host.root.display()
            ),
        ));
    }
    let mut live_ops = Vec::new();
    let mut live_lines = Vec::new();
    let mut supported = Vec::new();
    for (key, value) in wanted {
        if live {
            let Some(current) = read_live(&key) else {
                out.notices.push(ctx.notice(
                    NoticeLevel::Unsupported,
                    format!(
                        "{key}: not supported on this host (no {PROC_SYS}/{})",
                        proc_path(&key)
                    ),
                ));
                continue;
            };
            if current != normalise_value(&value) {
                live_lines.push(format!("{key}: {current} -> {value}"));
                live_ops.push(Op::SetSysctl(SetSysctl {
                    key: key.clone(),
                    value: value.clone(),
                    expect: current,
                }));
            }
        }
        supported.push((key, value));
    }

    plan_file(ctx, &path, &supported, out)?;
    if !live_ops.is_empty() {
        let mut c = ctx.change(
            format!("{PROC_SYS} ({} keys)", live_ops.len()),
            live_lines.join("; "),
        );
        c.ops = live_ops;
        out.changes.push(c);
    }
    Ok(())
}

/// The drop-in file holding the supported settings.
fn plan_file(
    ctx: &Ctx,
    path: &Path,
    supported: &[(String, String)],
    out: &mut Out,
) -> Result<(), ModuleError> {
    let path = path.to_path_buf();
    let before = ctx.host.read(&path).map_err(ctx.fs())?;
    let text = before
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let mut file = SysctlFile::parse(
        text.as_deref()
            .unwrap_or("# Managed by harden: kernel and network hardening.\n"),
    );
    for (k, v) in supported {
        file.set(k, v);
    }
    let after = file.render();
    if !supported.is_empty()
        && let Some(c) = ctx.edit_change(&path, before.as_deref(), after.as_bytes(), "drop-in")?
    {
        out.changes.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn key_names() {
        assert!(valid_key("net.ipv4.ip_forward"));
        assert!(valid_key("kernel.exec-shield"));
        assert!(!valid_key("net..x"));
        assert!(!valid_key("../etc/passwd"));
        assert!(!valid_key("a b"));
    }
}

#[cfg(test)]
mod checks {
    use super::*;

    #[test]
    fn values_are_integers_except_for_text_parameters() {
        let s = |v: &str| VarValue::Str(v.into());
        assert!(check_value("net.ipv4.ip_forward", &VarValue::Int(0)).is_ok());
        assert!(check_value("net.ipv4.ip_local_port_range", &s("32768 60999")).is_ok());
        assert!(check_value("kernel.perf_event_paranoid", &s("-1")).is_ok());
        assert!(check_value("net.ipv4.fib_multipath_hash_fields", &s("0x0037")).is_ok());
        assert!(check_value("kernel.core_pattern", &s("|/bin/false")).is_ok());
        assert!(check_value("net.ipv6.conf.eth0.stable_secret", &s("::1")).is_ok());
        let err = check_value("net.ipv4.ip_forward", &s("no")).unwrap_err();
        assert_eq!(
            err,
            "net.ipv4.ip_forward: `no` is not a number; this kernel parameter takes an integer, or integers separated by spaces; write 0"
        );
        assert!(
            check_value("net.ipv4.ip_forward", &VarValue::Bool(true))
                .unwrap_err()
                .ends_with("write 1")
        );
        assert!(
            check_value("kernel.core_pattern", &s("a\nb"))
                .unwrap_err()
                .contains("line break")
        );
        assert!(
            check_value("kernel.core_pattern", &s("a\u{1b}b"))
                .unwrap_err()
                .contains("control character")
        );
        assert!(check_value("vm.swappiness", &s("1\t2")).is_err());
        assert!(check_value("vm.swappiness", &VarValue::Float(1.5)).is_err());
        assert!(check_value("vm.swappiness", &s(" ")).is_err());
    }
}
