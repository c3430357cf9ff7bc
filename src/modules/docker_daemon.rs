//! `docker_daemon`: settings merged into `/etc/docker/daemon.json`. Unrelated
//! keys stay, in their order (`serde_json` keeps insertion order here); new keys go at
//! the end; object values (`log-opts`) are merged key by key. A file that already
//! holds the values is left alone whatever its formatting. Debian 12's dockerd
//! (20.10) has no `--validate` and refuses to start on an unknown key or a wrong
//! type, so harden checks both itself against a built-in table of the daemon's
//! options before anything is written. Handler: `reload docker` (SIGHUP, enough for
//! `live-restore`, `debug`, registries ...); other keys need a restart, which is
//! done only with `restart: true` (it stops containers unless live-restore is on).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Ctx, ModuleError, Out};
use crate::plan::{Handler, NoticeLevel, Verb};

/// Parameters of `docker_daemon:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// daemon.json keys to set, e.g. `live-restore: true`.
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Restart docker after a change that a reload does not apply (default false).
    #[serde(default)]
    pub restart: bool,
    /// The file (default `/etc/docker/daemon.json`).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Str,
    Int,
    /// An array of strings.
    Strs,
    /// An object whose values are all strings (`log-opts`).
    StrMap,
    /// Any object or array (validated by dockerd only).
    Any,
}

/// dockerd 20.10+ daemon.json options and their JSON types.
const KNOWN: &[(&str, Ty)] = &[
    ("allow-nondistributable-artifacts", Ty::Strs),
    ("api-cors-header", Ty::Str),
    ("authorization-plugins", Ty::Strs),
    ("bip", Ty::Str),
    ("bridge", Ty::Str),
    ("builder", Ty::Any),
    ("cgroup-parent", Ty::Str),
    ("containerd", Ty::Str),
    ("containerd-namespace", Ty::Str),
    ("containerd-plugins-namespace", Ty::Str),
    ("data-root", Ty::Str),
    ("debug", Ty::Bool),
    ("default-address-pools", Ty::Any),
    ("default-cgroupns-mode", Ty::Str),
    ("default-gateway", Ty::Str),
    ("default-gateway-v6", Ty::Str),
    ("default-ipc-mode", Ty::Str),
    ("default-runtime", Ty::Str),
    ("default-shm-size", Ty::Str),
    ("default-ulimits", Ty::Any),
    ("dns", Ty::Strs),
    ("dns-opts", Ty::Strs),
    ("dns-search", Ty::Strs),
    ("exec-opts", Ty::Strs),
    ("exec-root", Ty::Str),
    ("experimental", Ty::Bool),
    ("features", Ty::Any),
    ("fixed-cidr", Ty::Str),
    ("fixed-cidr-v6", Ty::Str),
    ("group", Ty::Str),
    ("hosts", Ty::Strs),
    ("icc", Ty::Bool),
    ("init", Ty::Bool),
    ("init-path", Ty::Str),
    ("insecure-registries", Ty::Strs),
    ("ip", Ty::Str),
    ("ip-forward", Ty::Bool),
    ("ip-masq", Ty::Bool),
    ("ip6tables", Ty::Bool),
    ("iptables", Ty::Bool),
    ("ipv6", Ty::Bool),
    ("labels", Ty::Strs),
    ("live-restore", Ty::Bool),
    ("log-driver", Ty::Str),
    ("log-level", Ty::Str),
    ("log-opts", Ty::StrMap),
    ("max-concurrent-downloads", Ty::Int),
    ("max-concurrent-uploads", Ty::Int),
    ("max-download-attempts", Ty::Int),
    ("metrics-addr", Ty::Str),
    ("mtu", Ty::Int),
    ("no-new-privileges", Ty::Bool),
    ("node-generic-resources", Ty::Strs),
    ("oom-score-adjust", Ty::Int),
    ("pidfile", Ty::Str),
    ("raw-logs", Ty::Bool),
    ("registry-mirrors", Ty::Strs),
    ("runtimes", Ty::Any),
    ("seccomp-profile", Ty::Str),
    ("selinux-enabled", Ty::Bool),
    ("shutdown-timeout", Ty::Int),
    ("storage-driver", Ty::Str),
    ("storage-opts", Ty::Strs),
    ("swarm-default-advertise-addr", Ty::Str),
    ("tls", Ty::Bool),
    ("tlscacert", Ty::Str),
    ("tlscert", Ty::Str),
    ("tlskey", Ty::Str),
    ("tlsverify", Ty::Bool),
    ("userland-proxy", Ty::Bool),
    ("userland-proxy-path", Ty::Str),
    ("userns-remap", Ty::Str),
];

/// Keys a `SIGHUP` (`systemctl reload docker`) applies.
const RELOADABLE: &[&str] = &[
    "debug",
    "labels",
    "live-restore",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "default-runtime",
    "runtimes",
    "authorization-plugins",
    "insecure-registries",
    "registry-mirrors",
    "shutdown-timeout",
    "features",
    "builder",
];

/// Why `value` does not fit option `key`; `None` when it does.
fn check(key: &str, value: &Value) -> Option<String> {
    let Some(&(_, ty)) = KNOWN.iter().find(|(k, _)| *k == key) else {
        return Some(format!(
            "`{key}` is not a dockerd daemon.json option (dockerd would refuse to start)"
        ));
    };
    let ok = match ty {
        Ty::Bool => value.is_boolean(),
        Ty::Str => value.is_string(),
        Ty::Int => value.is_i64() || value.is_u64(),
        Ty::Strs => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string)),
        Ty::StrMap => value
            .as_object()
            .is_some_and(|o| o.values().all(Value::is_string)),
        Ty::Any => value.is_object() || value.is_array(),
    };
    (!ok).then(|| {
        let want = match ty {
            Ty::Bool => "true or false",
            Ty::Str => "a string",
            Ty::Int => "an integer",
            Ty::Strs => "a list of strings",
            Ty::StrMap => "a map of strings (quote numbers: max-file: \"3\")",
            Ty::Any => "an object or a list",
        };
        format!("`{key}` must be {want}, not {value}")
    })
}

/// `current` with `settings` merged in (objects key by key) and `remove` taken out.
fn merge(
    mut current: Map<String, Value>,
    settings: &BTreeMap<String, Value>,
    remove: &[String],
) -> Map<String, Value> {
    for (k, v) in settings {
        match (current.get_mut(k), v) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                for (ik, iv) in new {
                    old.insert(ik.clone(), iv.clone());
                }
            }
            _ => {
                current.insert(k.clone(), v.clone());
            }
        }
    }
    for k in remove {
        current.shift_remove(k);
    }
    current
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(p.file.as_deref(), "file")?;
    if p.settings.is_empty() && p.remove.is_empty() {
        return Err(ctx.invalid("nothing to do: give `settings` and/or `remove`"));
    }
    if let Some(m) = p.settings.iter().find_map(|(k, v)| check(k, v)) {
        return Err(ctx.invalid(m));
    }
    let before = ctx.read_regular(&path)?;
    let current: Map<String, Value> = match before.as_deref() {
        None => Map::new(),
        Some(b) if b.iter().all(u8::is_ascii_whitespace) => Map::new(),
        Some(b) => serde_json::from_slice(b).map_err(|e| {
            ctx.invalid(format!(
                "{} is not a JSON object ({e}); fix it by hand, harden does not overwrite it",
                path.display()
            ))
        })?,
    };
    let merged = merge(current.clone(), &p.settings, &p.remove);
    if merged == current && before.is_some() {
        return Ok(());
    }
    let changed: Vec<String> = merged
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(current.keys().filter(|k| !merged.contains_key(*k)).cloned())
        .collect();
    let mut text = serde_json::to_string_pretty(&Value::Object(merged))
        .map_err(|e| ctx.invalid(e.to_string()))?;
    text.push('\n');
    let needs_restart: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|k| !RELOADABLE.contains(k))
        .collect();
    let Some(mut c) = ctx.edit_change(&path, before.as_deref(), text.as_bytes(), "")? else {
        return Ok(());
    };
    c.summary = format!("set {}", changed.join(", "));
    let verb = if p.restart && !needs_restart.is_empty() {
        Verb::Restart
    } else {
        Verb::Reload
    };
    c.handlers.push(Handler::systemctl(verb, "docker"));
    if !p.restart && !needs_restart.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "{} take effect only when docker restarts (restart: true, which stops containers unless live-restore is on)",
                needs_restart.join(", ")
            ),
        ));
    }
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn known_keys_and_types() {
        assert!(check("live-restore", &json!(true)).is_none());
        assert!(check("live-restore", &json!("yes")).is_some());
        assert!(check("log-opts", &json!({"max-size": "10m", "max-file": "3"})).is_none());
        let e = check("log-opts", &json!({"max-file": 3})).unwrap();
        assert!(e.contains("quote numbers"), "{e}");
        assert!(check("no-new-privilege", &json!(true)).is_some());
        assert!(check("mtu", &json!(1400)).is_none());
        let mut keys: Vec<&str> = KNOWN.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), KNOWN.len());
        for r in RELOADABLE {
            assert!(KNOWN.iter().any(|(k, _)| k == r), "{r}");
        }
    }

    #[test]
    fn merge_keeps_order_and_unrelated_keys() {
        let current: Map<String, Value> = serde_json::from_str(
            r#"{"data-root": "/srv/docker", "log-opts": {"labels": "app"}, "dns": ["1.1.1.1"]}"#,
        )
        .unwrap();
        let settings: BTreeMap<String, Value> = [
            ("log-opts".to_string(), json!({"max-size": "10m"})),
            ("icc".to_string(), json!(false)),
        ]
        .into_iter()
        .collect();
        let merged = merge(current, &settings, &["dns".to_string()]);
        assert_eq!(
            serde_json::to_string(&merged).unwrap(),
            r#"{"data-root":"/srv/docker","log-opts":{"labels":"app","max-size":"10m"},"icc":false}"#
        );
    }
}
