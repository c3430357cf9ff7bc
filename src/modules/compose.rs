//! `compose`: container hardening (the Postiz guide's `security_opt`, `read_only`,
//! `cap_drop`, non-root `user`, `tmpfs`, resource limits, `privileged: false`,
//! internal networks) written to a Compose override file that harden owns
//! (default `docker-compose.harden.yml` beside the user's file). The user's
//! file is only read, never rewritten: its services and images are learnt from
//! it, and an image tagged `latest` or untagged is reported as drift (harden
//! cannot pin it). The override is rendered by hand in one fixed shape, so the
//! same parameters always give the same bytes. Validation: `docker compose -f
//! USER -f CANDIDATE config -q` (or Debian's `docker-compose`) when the machine
//! has one; otherwise only harden's own structural checks run, and a notice
//! says so. Use: `docker compose -f docker-compose.yml -f docker-compose.harden.yml up -d`.
//!
//! The user's file is found by name (`file`) or in a project directory (`dir`, in
//! Compose's own order: `compose.yaml`, `compose.yml`, `docker-compose.yaml`,
//! `docker-compose.yml`). What it publishes is reported against the daemon's
//! default bind address (`ip` in `daemon.json`, as this plan leaves it): a port
//! published on every address is reachable past ufw, because Docker's own
//! iptables rules come first. A file holding secrets inline is made `0600
//! root:root` (`protect_secrets`), and only the variables' names are shown.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::host::fs::Kind;
use crate::host::tools;
use crate::plan::{Accept, Check, NoticeLevel, Op, SetMeta, Stage, Validator, VarValue};

/// Parameters of `compose:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The user's Compose file (only read); exactly one of `file` and `dir`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The project directory: its Compose file is the first of `compose.yaml`,
    /// `compose.yml`, `docker-compose.yaml`, `docker-compose.yml`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The override harden writes (default `docker-compose.harden.yml` beside `file`).
    #[serde(default, rename = "override")]
    pub override_file: Option<PathBuf>,
    /// Service name → settings. A key may name alternatives, `postiz|app`: the
    /// first one the file defines gets the settings (an error when none does).
    #[serde(default)]
    pub services: BTreeMap<String, Settings>,
    /// Settings for every service the user's file defines (a key set in
    /// `services:` for a service wins over the same key here).
    #[serde(default)]
    pub all_services: Option<Box<Settings>>,
    /// Networks declared `internal: true` (no route outside the host) in the override.
    #[serde(default)]
    pub internal_networks: Vec<String>,
    /// Services (alternatives with `|`) that must sit on internal networks only
    /// (the database, the cache): a network only they use is declared internal
    /// in the override; one they share with a service that needs a route out
    /// cannot be fixed by an override and is reported.
    #[serde(default)]
    pub internal_services: Vec<String>,
    /// When the user's file holds secrets inline (a password, token, key or
    /// secret variable, a URL with credentials), make it `0600 root:root`.
    #[serde(default)]
    pub protect_secrets: bool,
    /// The host port the reverse proxy forwards to: reported when no service
    /// publishes it, or publishes it beyond loopback.
    #[serde(default)]
    pub proxied_port: Option<u16>,
}

/// The settings of one service, named as in Compose.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// e.g. `[no-new-privileges:true]`.
    #[serde(default)]
    pub security_opt: Option<Vec<String>>,
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Capabilities to drop (`[ALL]`).
    #[serde(default)]
    pub cap_drop: Option<Vec<String>>,
    /// Capabilities to add back (`[NET_BIND_SERVICE]`).
    #[serde(default)]
    pub cap_add: Option<Vec<String>>,
    /// A non-root `UID:GID`, or the name of an account of the host (resolved to
    /// its `UID:GID` in the root's `/etc/passwd` as this plan leaves it: inside
    /// the container a name would mean the image's account). Root is refused.
    #[serde(default)]
    pub user: Option<String>,
    /// tmpfs mounts, e.g. `/tmp:size=100M,mode=1777`.
    #[serde(default)]
    pub tmpfs: Option<Vec<String>>,
    #[serde(default)]
    pub privileged: Option<bool>,
    /// `deploy.resources.limits`.
    #[serde(default)]
    pub limits: Option<Resources>,
    /// `deploy.resources.reservations`.
    #[serde(default)]
    pub reservations: Option<Resources>,
    /// Networks the service joins (defined in the user's file, in
    /// `internal_networks`, or `default`).
    #[serde(default)]
    pub networks: Option<Vec<String>>,
    /// Environment variables set by the override (they win over the user's file).
    #[serde(default)]
    pub environment: Option<BTreeMap<String, VarValue>>,
    /// The logging driver and its options (`{ driver: journald, options: { tag: app } }`).
    #[serde(default)]
    pub logging: Option<Logging>,
    /// An AppArmor profile (`security_opt: apparmor=NAME`), attached only where
    /// it will be loaded: the profile file exists under the root (or is planned)
    /// and the running kernel has AppArmor, or, on an offline root, the root has
    /// `apparmor_parser` to load it at boot. Elsewhere a notice says why not.
    #[serde(default)]
    pub apparmor: Option<String>,
}

/// A service's `logging:`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// e.g. `journald`, `json-file`.
    pub driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// CPU and memory of `deploy.resources`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// e.g. `"2.0"`.
    #[serde(default)]
    pub cpus: Option<String>,
    /// e.g. `2G`.
    #[serde(default)]
    pub memory: Option<String>,
}

impl Settings {
    /// `self` with each key it lacks taken from `base`.
    fn over(&self, base: &Settings) -> Settings {
        Settings {
            security_opt: self.security_opt.clone().or(base.security_opt.clone()),
            read_only: self.read_only.or(base.read_only),
            cap_drop: self.cap_drop.clone().or(base.cap_drop.clone()),
            cap_add: self.cap_add.clone().or(base.cap_add.clone()),
            user: self.user.clone().or(base.user.clone()),
            tmpfs: self.tmpfs.clone().or(base.tmpfs.clone()),
            privileged: self.privileged.or(base.privileged),
            limits: self.limits.clone().or(base.limits.clone()),
            reservations: self.reservations.clone().or(base.reservations.clone()),
            networks: self.networks.clone().or(base.networks.clone()),
            environment: self.environment.clone().or(base.environment.clone()),
            logging: self.logging.clone().or(base.logging.clone()),
            apparmor: self.apparmor.clone().or(base.apparmor.clone()),
        }
    }
}

/// What harden knows of the user's file.
struct UserFile {
    /// Service name → image (`None`: built, no image).
    services: BTreeMap<String, Option<String>>,
    /// Service name → the capabilities the file adds (an override cannot take
    /// them away: Compose merges `cap_add` lists).
    cap_add: BTreeMap<String, Vec<String>>,
    /// Network name → declared `internal: true`.
    networks: BTreeMap<String, bool>,
    /// Service name → the networks it joins (`default` when it names none).
    joins: BTreeMap<String, Vec<String>>,
    /// Every published port, by service.
    ports: Vec<(String, Port)>,
    /// Names of variables that hold a secret inline, by service.
    secrets: Vec<(String, String)>,
}

/// A port a service publishes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    /// The host address, when the file gives one.
    host_ip: Option<String>,
    /// The host port (or range); empty when Docker picks one.
    published: String,
    /// The container port, with `/udp` when not TCP.
    target: String,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ip) = &self.host_ip {
            write!(f, "{ip}:")?;
        }
        if self.published.is_empty() {
            f.write_str(&self.target)
        } else {
            write!(f, "{}:{}", self.published, self.target)
        }
    }
}

/// One `ports:` entry, short (`"127.0.0.1:5000:5000/tcp"`, `5000`) or long
/// (`{ target, published, host_ip, protocol }`) syntax.
fn parse_port(v: &Value) -> Option<Port> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(m) = v.as_object() {
        let proto = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
        let target = scalar(m.get("target")?)?;
        return Some(Port {
            host_ip: m.get("host_ip").and_then(Value::as_str).map(str::to_string),
            published: m.get("published").and_then(scalar).unwrap_or_default(),
            target: if proto == "tcp" {
                target
            } else {
                format!("{target}/{proto}")
            },
        });
    }
    let text = scalar(v)?;
    let (spec, proto) = text.split_once('/').unwrap_or((&text, "tcp"));
    // An IPv6 host address is bracketed: `[::1]:5000:5000`.
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r.split_once("]:")?;
        (Some(ip.to_string()), rest.to_string())
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [ip, p, t] => (Some((*ip).to_string()), format!("{p}:{t}")),
            _ => (None, spec.to_string()),
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (p.to_string(), t.to_string()),
        None => (String::new(), rest),
    };
    Some(Port {
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        published,
        target: if proto == "tcp" {
            target
        } else {
            format!("{target}/{proto}")
        },
    })
}

/// Whether a variable (name and literal value) holds a secret inline: a
/// password, token, key or secret with a value, or a URL with credentials.
fn inline_secret(name: &str, value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || (value.starts_with("${") && value.ends_with('}')) {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    let named = ["SECRET", "PASSWORD", "PASSWD", "TOKEN", "PRIVATE"]
        .iter()
        .any(|w| upper.contains(w))
        || upper.ends_with("_KEY");
    // `user:password@` with a literal password (not a `${VAR}` reference).
    let url_credentials = value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split('/').next().unwrap_or("");
        authority
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .is_some_and(|(_, password)| !password.is_empty() && !password.starts_with("${"))
    });
    named || url_credentials
}

/// A service's `environment:`, as a map or a `KEY=value` list.
fn environment(s: &Value) -> Vec<(String, String)> {
    match s.get("environment") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn read_user(text: &str) -> Result<UserFile, String> {
    let v: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let services = v
        .get("services")
        .and_then(Value::as_object)
        .ok_or("it has no `services:` map")?;
    let mut user = UserFile {
        services: BTreeMap::new(),
        cap_add: BTreeMap::new(),
        networks: BTreeMap::new(),
        joins: BTreeMap::new(),
        ports: Vec::new(),
        secrets: Vec::new(),
    };
    for (name, s) in services {
        let caps = s.get("cap_add").and_then(Value::as_array);
        let caps = caps.into_iter().flatten().filter_map(Value::as_str);
        user.cap_add
            .insert(name.clone(), caps.map(str::to_string).collect());
        let image = s.get("image").and_then(Value::as_str).map(str::to_string);
        user.services.insert(name.clone(), image);
        let joins: Vec<String> = match s.get("networks") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let network_mode = s.get("network_mode").is_some();
        if !(joins.is_empty() && network_mode) {
            let joins = if joins.is_empty() {
                vec!["default".to_string()]
            } else {
                joins
            };
            user.joins.insert(name.clone(), joins);
        }
        for p in s
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let port = parse_port(p)
                .ok_or_else(|| format!("service `{name}`: cannot read the port {p}"))?;
            user.ports.push((name.clone(), port));
        }
        for (k, val) in environment(s) {
            if inline_secret(&k, &val) {
                user.secrets.push((name.clone(), k));
            }
        }
    }
    if let Some(m) = v.get("networks").and_then(Value::as_object) {
        for (n, def) in m {
            let internal = def.get("internal").and_then(Value::as_bool) == Some(true);
            user.networks.insert(n.clone(), internal);
        }
    }
    Ok(user)
}

/// Whether an image reference floats: no tag, or `latest`, and no digest.
fn floating(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest",
    }
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Harden's own checks of one service's settings; the first problem found.
fn check(name: &str, s: &Settings, known_networks: &[&str]) -> Option<String> {
    if let Some(u) = &s.user {
        let who = u.split(':').next().unwrap_or_default();
        if who.is_empty() || who == "root" || who == "0" {
            return Some(format!(
                "service `{name}`: user `{u}` is root; give a non-root UID:GID"
            ));
        }
    }
    let caps = s.cap_drop.iter().chain(&s.cap_add).flatten();
    if let Some(c) = caps
        .clone()
        .find(|c| c.is_empty() || !c.chars().all(|x| x.is_ascii_uppercase() || x == '_'))
    {
        return Some(format!(
            "service `{name}`: capability `{c}` is not a name like NET_BIND_SERVICE or ALL"
        ));
    }
    if let Some(t) = s.tmpfs.iter().flatten().find(|t| !t.starts_with('/')) {
        return Some(format!(
            "service `{name}`: tmpfs `{t}` must be an absolute container path"
        ));
    }
    if s.security_opt.iter().flatten().any(String::is_empty) {
        return Some(format!("service `{name}`: empty security_opt"));
    }
    if let Some(k) = s
        .environment
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.is_empty() || k.contains(['=', ' ']))
    {
        return Some(format!("service `{name}`: `{k}` is not a variable name"));
    }
    if let Some(l) = &s.logging
        && !name_ok(&l.driver)
    {
        return Some(format!(
            "service `{name}`: logging driver `{}` is not a name",
            l.driver
        ));
    }
    if let Some(a) = &s.apparmor
        && !name_ok(a)
    {
        return Some(format!(
            "service `{name}`: AppArmor profile `{a}` is not a name"
        ));
    }
    if let Some(n) = s
        .networks
        .iter()
        .flatten()
        .find(|n| *n != "default" && !known_networks.contains(&n.as_str()))
    {
        return Some(format!(
            "service `{name}`: network `{n}` is neither in the Compose file nor in internal_networks"
        ));
    }
    None
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn list(out: &mut String, key: &str, items: Option<&Vec<String>>) {
    if let Some(items) = items {
        if items.is_empty() {
            let _ = writeln!(out, "    {key}: []");
        } else {
            let _ = writeln!(out, "    {key}:");
            for i in items {
                let _ = writeln!(out, "      - {}", q(i));
            }
        }
    }
}

fn resources(out: &mut String, key: &str, r: Option<&Resources>) {
    let Some(r) = r else { return };
    let _ = writeln!(out, "        {key}:");
    if let Some(c) = &r.cpus {
        let _ = writeln!(out, "          cpus: {}", q(c));
    }
    if let Some(m) = &r.memory {
        let _ = writeln!(out, "          memory: {}", q(m));
    }
}

/// The override file, byte for byte.
fn render(
    user: &Path,
    over: &Path,
    rule: &str,
    services: &[(String, Settings)],
    internal: &[String],
) -> String {
    // Beside each other (the default): the names alone, as the user types them.
    let shown = |p: &Path| {
        if user.parent() == over.parent() {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            p.display().to_string()
        }
    };
    let mut out = format!(
        "# Managed by harden (rule {rule}): container hardening for {}.\n# Do not edit: harden rewrites this file. Use it with:\n#   docker compose -f {} -f {} up -d\n",
        shown(user),
        shown(user),
        shown(over)
    );
    out.push_str(if services.is_empty() {
        "services: {}\n"
    } else {
        "services:\n"
    });
    for (name, s) in services {
        let _ = writeln!(out, "  {}:", q(name));
        if let Some(u) = &s.user {
            let _ = writeln!(out, "    user: {}", q(u));
        }
        if let Some(b) = s.privileged {
            let _ = writeln!(out, "    privileged: {b}");
        }
        if let Some(b) = s.read_only {
            let _ = writeln!(out, "    read_only: {b}");
        }
        list(&mut out, "security_opt", s.security_opt.as_ref());
        list(&mut out, "cap_drop", s.cap_drop.as_ref());
        list(&mut out, "cap_add", s.cap_add.as_ref());
        list(&mut out, "tmpfs", s.tmpfs.as_ref());
        list(&mut out, "networks", s.networks.as_ref());
        if let Some(env) = &s.environment {
            out.push_str("    environment:\n");
            for (k, v) in env {
                let _ = writeln!(out, "      {}: {}", q(k), q(&v.to_string()));
            }
        }
        if let Some(l) = &s.logging {
            let _ = writeln!(out, "    logging:\n      driver: {}", q(&l.driver));
            if !l.options.is_empty() {
                out.push_str("      options:\n");
                for (k, v) in &l.options {
                    let _ = writeln!(out, "        {}: {}", q(k), q(v));
                }
            }
        }
        if s.limits.is_some() || s.reservations.is_some() {
            out.push_str("    deploy:\n      resources:\n");
            resources(&mut out, "limits", s.limits.as_ref());
            resources(&mut out, "reservations", s.reservations.as_ref());
        }
    }
    if !internal.is_empty() {
        out.push_str("networks:\n");
        for n in internal {
            let _ = writeln!(out, "  {}:\n    internal: true", q(n));
        }
    }
    out
}

/// Where Docker keeps CLI plugins (`docker compose` is one).
const PLUGIN_DIRS: [&str; 4] = [
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
];

/// The validator: `docker compose` where the compose plugin is installed (in
/// the root, else on this machine), else `docker-compose`, else none. Nothing
/// runs at plan time: the check is staged and run by the engine in `apply`.
fn validator(ctx: &Ctx, user: &Path) -> Option<Validator> {
    let plugin = PLUGIN_DIRS
        .iter()
        .any(|d| tools::has_file(ctx.host, &Path::new(d).join("docker-compose")));
    let user_s = user.display().to_string();
    let (tool, mut args): (&str, Vec<String>) = if plugin && tools::available(ctx.host, "docker") {
        ("docker", vec!["compose".into()])
    } else if tools::available(ctx.host, "docker-compose") {
        ("docker-compose", Vec::new())
    } else {
        return None;
    };
    args.extend(["-f".into(), user_s, "-f".into(), "%s".into()]);
    args.extend(["config".into(), "-q".into()]);
    Some(Validator::Staged {
        files: Stage {
            // The project's `.env` feeds interpolation; absent, nothing is staged.
            trees: vec![user.to_path_buf(), user.with_file_name(".env")],
            ..Stage::default()
        },
        check: Check {
            tool: tool.into(),
            args,
            accept: Accept::Exit,
        },
    })
}

/// Compose's own file names, in the order it looks for them.
const NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The user's Compose file: `file`, or the first of [`NAMES`] in `dir`
/// (`None` when the directory has none: the rule is skipped).
fn user_file(ctx: &Ctx, p: &Params) -> Result<Option<PathBuf>, ModuleError> {
    match (&p.file, &p.dir) {
        (Some(f), None) => ctx.path_param(Some(f), "file").map(Some),
        (None, Some(d)) => {
            let dir = ctx.path_param(Some(d), "dir")?;
            for n in NAMES {
                let f = dir.join(n);
                if ctx.host.lstat(&f).map_err(ctx.fs())?.is_some() {
                    return Ok(Some(f));
                }
            }
            Ok(None)
        }
        _ => Err(ctx.invalid("give exactly one of `file` and `dir`")),
    }
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let Some(user_path) = user_file(ctx, p)? else {
        // A project directory without a Compose file runs no containers from
        // here: nothing to harden, said like a `when:`.
        let dir = p.dir.as_deref().unwrap_or(Path::new(""));
        out.skipped = Some(format!(
            "{} has no Compose file ({})",
            dir.display(),
            NAMES.join(", ")
        ));
        return Ok(());
    };
    let over_path = match &p.override_file {
        Some(o) => ctx.path_param(Some(o), "override")?,
        None => user_path.with_file_name("docker-compose.harden.yml"),
    };
    if over_path == user_path {
        return Err(ctx.invalid("`override` must differ from `file`"));
    }
    let text = ctx
        .host
        .read(&user_path)
        .map_err(ctx.fs())?
        .ok_or_else(|| ctx.invalid(format!("{} does not exist", user_path.display())))?;
    let user = read_user(&String::from_utf8_lossy(&text)).map_err(|e| {
        ctx.invalid(format!(
            "{} is not a Compose file: {e}",
            user_path.display()
        ))
    })?;
    let mut services = wanted(ctx, p, &user)?;
    for (_, s) in &mut services {
        resolve_user(ctx, s)?;
        attach_apparmor(ctx, s, out)?;
    }
    let (internal, egress) = internal_networks(ctx, p, &user, &user_path, out);
    join_default(&mut services, &egress);
    report(ctx, &user_path, &user, &services, out);
    report_ports(ctx, p, &user, out)?;
    if p.protect_secrets {
        protect(ctx, &user_path, &user, out)?;
    }
    if services.is_empty() && internal.is_empty() {
        return Err(ctx.invalid(
            "nothing to do: give `services`, `all_services`, `internal_networks` or `internal_services`",
        ));
    }
    let after = render(&user_path, &over_path, &ctx.task.id, &services, &internal);
    let before = ctx.read_regular(&over_path)?;
    let validators: Vec<Validator> = validator(ctx, &user_path).into_iter().collect();
    if validators.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            "no `docker compose` or `docker-compose` in the root or on this machine: the override is checked by harden's structural checks only",
        ));
    }
    if before.as_deref() == Some(after.as_bytes()) {
        return Ok(());
    }
    let (mode, uid, gid) = match ctx.host.lstat(&over_path).map_err(ctx.fs())? {
        Some(m) => (m.mode, m.uid, m.gid),
        None => ctx
            .host
            .lstat(&user_path)
            .map_err(ctx.fs())?
            .map_or((0o644, 0, 0), |m| (0o644, m.uid, m.gid)),
    };
    let mut c = ctx.write_change(FileWrite {
        path: &over_path,
        before: before.as_deref(),
        after: after.as_bytes(),
        mode,
        uid,
        gid,
        validators,
        secret: false,
        what: "compose override",
    })?;
    c.summary = format!(
        "{}; use: docker compose -f {} -f {} up -d",
        c.summary,
        user_path.display(),
        over_path.display()
    );
    out.changes.push(c);
    Ok(())
}

/// A user given by name becomes its `UID:GID` from the root's `/etc/passwd` as
/// this plan leaves it (a `user:` rule earlier in the playbook may create it).
fn resolve_user(ctx: &Ctx, s: &mut Settings) -> Result<(), ModuleError> {
    let Some(u) = &s.user else { return Ok(()) };
    let (who, group) = u
        .split_once(':')
        .map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
    if who.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    let passwd = ctx
        .read_planned(Path::new("/etc/passwd"))?
        .unwrap_or_default();
    let passwd = String::from_utf8_lossy(&passwd);
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == who).then(|| (f[2].to_string(), f[3].to_string()))
    });
    let Some((uid, gid)) = entry else {
        return Err(ctx.invalid(format!(
            "user `{who}` is not in the root's /etc/passwd (nor created earlier in this plan): create it first, or give a UID:GID"
        )));
    };
    if uid == "0" {
        return Err(ctx.invalid(format!("user `{who}` is root (uid 0)")));
    }
    s.user = Some(format!("{uid}:{}", group.map_or(gid, str::to_string)));
    Ok(())
}

/// Adds `apparmor=NAME` to the security options where the profile will be
/// loaded when the container starts; a notice says why not elsewhere.
fn attach_apparmor(ctx: &Ctx, s: &mut Settings, out: &mut Out) -> Result<(), ModuleError> {
    let Some(name) = s.apparmor.take() else {
        return Ok(());
    };
    let profile = Path::new("/etc/apparmor.d").join(&name);
    let why_not = if ctx.read_planned(&profile)?.is_none() {
        Some(format!(
            "{} does not exist (nor is planned)",
            profile.display()
        ))
    } else if ctx.host.is_live() {
        (!crate::host::service::kernel_has_apparmor())
            .then(|| "the running kernel has no AppArmor".to_string())
    } else {
        ctx.host
            .binary("apparmor_parser")
            .is_none()
            .then(|| "the root has no apparmor_parser to load it at boot".to_string())
    };
    match why_not {
        Some(why) => out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!("AppArmor profile {name} not attached: {why} (a container started with a profile that is not loaded fails to start)"),
        )),
        None => s
            .security_opt
            .get_or_insert_with(Vec::new)
            .push(format!("apparmor={name}")),
    }
    Ok(())
}

/// The networks the override declares internal: `internal_networks`, and
/// those `internal_services` use. The other services on such a network keep a
/// route out through another network of theirs; one that has none joins the
/// project's `default` network in the override (an override cannot take a
/// service off a network, Compose merges them, but it can add one): these are
/// returned with the networks. Where `default` itself is internal, the shared
/// network is reported instead.
fn internal_networks(
    ctx: &Ctx,
    p: &Params,
    user: &UserFile,
    user_path: &Path,
    out: &mut Out,
) -> (Vec<String>, Vec<String>) {
    let mut internal = p.internal_networks.clone();
    let mut egress: Vec<String> = Vec::new();
    let members: Vec<&String> = p
        .internal_services
        .iter()
        .filter_map(|alts| alts.split('|').find(|a| user.services.contains_key(*a)))
        .filter_map(|s| user.services.get_key_value(s).map(|(k, _)| k))
        .collect();
    let routed = |n: &String, internal: &[String]| {
        user.networks.get(n) != Some(&true) && !internal.contains(n)
    };
    for svc in &members {
        for net in user.joins.get(*svc).into_iter().flatten() {
            if user.networks.get(net) == Some(&true) || internal.contains(net) {
                continue;
            }
            // Services other than these on the network keep a route out only
            // through another network that is not internal.
            let stranded: Vec<&String> = user
                .joins
                .iter()
                .filter(|(s, nets)| !members.contains(s) && nets.contains(net))
                .filter(|(s, nets)| {
                    !egress.contains(*s) && !nets.iter().any(|n| n != net && routed(n, &internal))
                })
                .map(|(s, _)| s)
                .collect();
            let default = "default".to_string();
            if stranded.is_empty() || (*net != default && routed(&default, &internal)) {
                let with = stranded
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                internal.push(net.clone());
                egress.extend(stranded.into_iter().cloned());
                let kept = if with.is_empty() {
                    "the services sharing it keep another network".to_string()
                } else {
                    format!(
                        "{with} keep their route out through the project's `default` network, which the override adds them to"
                    )
                };
                out.notices.push(ctx.notice(
                    NoticeLevel::Info,
                    format!("network `{net}` of {svc} is declared internal (no route out of the host; {kept}); `docker compose down` once so Compose recreates it"),
                ));
            } else {
                let with = stranded
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                out.notices.push(ctx.notice(
                    NoticeLevel::Warning,
                    format!("service `{svc}` is on network `{net}`, which has a route out and is the only network of {with}: it cannot be made internal, and an override cannot take a service off a network (Compose merges them); in {} put `{svc}` on an internal network that {with} also joins", user_path.display()),
                ));
            }
        }
    }
    internal.sort();
    internal.dedup();
    egress.sort();
    egress.dedup();
    (internal, egress)
}

/// `services` with `default` added to the networks of each of `egress`.
fn join_default(services: &mut Vec<(String, Settings)>, egress: &[String]) {
    for name in egress {
        let i = services
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| {
                services.push((name.clone(), Settings::default()));
                services.len() - 1
            });
        let nets = services[i].1.networks.get_or_insert_with(Vec::new);
        if !nets.iter().any(|n| n == "default") {
            nets.push("default".into());
        }
    }
    services.sort_by(|a, b| a.0.cmp(&b.0));
}

/// Whether an address is a loopback one.
fn loopback(ip: &str) -> bool {
    ip == "::1" || ip == "localhost" || ip.starts_with("127.")
}

/// Says which published ports are reachable from other hosts (Docker's
/// iptables rules come before ufw's) and which only on loopback, with the
/// daemon's default address as this plan leaves `daemon.json`.
fn report_ports(ctx: &Ctx, p: &Params, user: &UserFile, out: &mut Out) -> Result<(), ModuleError> {
    let daemon_path = Path::new("/etc/docker/daemon.json");
    let ip_of = |b: Option<Vec<u8>>| {
        b.and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v.get("ip").and_then(Value::as_str).map(str::to_string))
    };
    let default_ip = ip_of(ctx.read_planned(daemon_path)?);
    let now_ip = ip_of(ctx.host.read(daemon_path).map_err(ctx.fs())?);
    let local_with = |port: &Port, default: &Option<String>| {
        port.host_ip
            .as_deref()
            .or(default.as_deref())
            .is_some_and(loopback)
    };
    let (mut exposed, mut closed, mut local) = (Vec::new(), Vec::new(), Vec::new());
    for (svc, port) in &user.ports {
        let shown = format!("{svc} {port}");
        match (local_with(port, &now_ip), local_with(port, &default_ip)) {
            (_, false) => exposed.push(shown),
            (false, true) => closed.push(shown),
            (true, true) => local.push(shown),
        }
    }
    let how = match default_ip.as_deref() {
        Some(ip) if loopback(ip) => format!(
            "daemon.json \"ip\": \"{ip}\" binds ports published without an address to loopback"
        ),
        Some(ip) => format!("daemon.json \"ip\": \"{ip}\" is not loopback"),
        None => {
            "daemon.json sets no \"ip\": ports published without an address listen on every address"
                .to_string()
        }
    };
    if !exposed.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!("published ports reachable from other hosts, past the firewall (Docker's iptables rules come before ufw's): {} ({how})", exposed.join(", ")),
        ));
    }
    if !closed.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!("published ports reachable from other hosts until now, past the firewall (Docker's iptables rules come before ufw's): {}; on loopback only once docker restarts with this plan's daemon.json ({how})", closed.join(", ")),
        ));
    }
    if !local.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!(
                "published ports on loopback only: {} ({how})",
                local.join(", ")
            ),
        ));
    }
    if let Some(want) = p.proxied_port {
        let published: Vec<&(String, Port)> = user
            .ports
            .iter()
            .filter(|(_, port)| port.published == want.to_string())
            .collect();
        if published.is_empty() {
            let all: Vec<String> = user
                .ports
                .iter()
                .map(|(s, port)| format!("{s} {port}"))
                .collect();
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!("the reverse proxy forwards to port {want}, which no service publishes (published: {}); set the proxy's port to the app's", if all.is_empty() { "none".to_string() } else { all.join(", ") }),
            ));
        }
    }
    Ok(())
}

/// Makes the user's file `0600 root:root` when it holds secrets inline.
fn protect(ctx: &Ctx, user_path: &Path, user: &UserFile, out: &mut Out) -> Result<(), ModuleError> {
    if user.secrets.is_empty() {
        return Ok(());
    }
    let Some(m) = ctx.host.lstat(user_path).map_err(ctx.fs())? else {
        return Ok(());
    };
    if m.kind != Kind::File {
        return Err(ctx.invalid(format!("{} is not a regular file", user_path.display())));
    }
    if (m.mode & 0o7777, m.uid, m.gid) == (0o600, 0, 0) {
        return Ok(());
    }
    let names: Vec<String> = user
        .secrets
        .iter()
        .map(|(s, k)| format!("{s}.{k}"))
        .collect();
    let mut c = ctx.change(
        user_path.display().to_string(),
        format!(
            "mode {:04o} {}:{} -> 0600 root:root: it holds secrets inline ({})",
            m.mode & 0o7777,
            m.uid,
            m.gid,
            names.join(", ")
        ),
    );
    c.ops.push(Op::SetMeta(SetMeta {
        path: user_path.to_path_buf(),
        mode: Some(0o600),
        uid: Some(0),
        gid: Some(0),
        expect: (m.mode, m.uid, m.gid),
    }));
    out.changes.push(c);
    Ok(())
}

/// Drift in the user's file that harden reports but cannot fix: floating image
/// tags, and capabilities it adds that the override cannot take away.
fn report(
    ctx: &Ctx,
    user_path: &Path,
    user: &UserFile,
    services: &[(String, Settings)],
    out: &mut Out,
) {
    for (svc, image) in &user.services {
        if let Some(img) = image.as_deref().filter(|i| i.contains('$')) {
            out.notices.push(ctx.notice(
                NoticeLevel::Info,
                format!(
                    "service `{svc}`: image `{img}` is set from a variable; its tag is not checked"
                ),
            ));
        } else if let Some(img) = image.as_deref().filter(|i| floating(i)) {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!("service `{svc}` runs image `{img}`, which is not pinned to a version tag (latest or untagged); pin it in {} (harden does not edit that file)", user_path.display()),
            ));
        }
    }
    for (svc, s) in services {
        let ours = s.cap_add.as_deref().unwrap_or_default();
        let extra: Vec<&str> = user
            .cap_add
            .get(svc)
            .into_iter()
            .flatten()
            .filter(|c| !ours.contains(*c) && s.cap_drop.is_some())
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!("service `{svc}`: {} adds {}, which an override cannot take away (Compose merges cap_add); remove it there if the service does not need it", user_path.display(), extra.join(", ")),
            ));
        }
    }
}

/// Each service's effective settings, checked. A `services` key naming
/// alternatives (`postiz|app`) applies to the first the file defines.
fn wanted(ctx: &Ctx, p: &Params, user: &UserFile) -> Result<Vec<(String, Settings)>, ModuleError> {
    if let Some(n) = p.internal_networks.iter().find(|n| !name_ok(n)) {
        return Err(ctx.invalid(format!("network name `{n}` is not valid")));
    }
    let mut named: BTreeMap<&str, &Settings> = BTreeMap::new();
    for (key, s) in &p.services {
        let Some(svc) = key.split('|').find(|a| user.services.contains_key(*a)) else {
            return Err(ctx.invalid(format!(
                "service `{key}` is not defined in the Compose file (it has: {})",
                user.services.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        named.insert(svc, s);
    }
    let known: Vec<&str> = user
        .networks
        .keys()
        .chain(&p.internal_networks)
        .map(String::as_str)
        .collect();
    let empty = Settings::default();
    let mut out = Vec::new();
    for name in user.services.keys() {
        let base = p.all_services.as_deref();
        let s = match (named.get(name.as_str()), base) {
            (Some(s), b) => s.over(b.unwrap_or(&empty)),
            (None, Some(b)) => b.clone(),
            (None, None) => continue,
        };
        if let Some(m) = check(name, &s, &known) {
            return Err(ctx.invalid(m));
        }
        out.push((name.clone(), s));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_images() {
        assert!(floating("postgres"));
        assert!(floating("redis:latest"));
        assert!(floating("registry.example.org:5000/app"));
        assert!(!floating("registry.example.org:5000/app:1.2"));
        assert!(!floating("ghcr.io/gitroomhq/postiz-app:v2.18.0"));
        assert!(!floating("redis@sha256:abcd"));
    }

    #[test]
    fn ports_in_short_and_long_syntax() {
        let port = |v: Value| parse_port(&v).unwrap().to_string();
        assert_eq!(port(serde_json::json!("5000:5000")), "5000:5000");
        assert_eq!(port(serde_json::json!("8969:8969/tcp")), "8969:8969");
        assert_eq!(
            port(serde_json::json!("127.0.0.1:80:8080")),
            "127.0.0.1:80:8080"
        );
        assert_eq!(port(serde_json::json!("[::1]:53:53/udp")), "::1:53:53/udp");
        assert_eq!(port(serde_json::json!(3000)), "3000");
        let long = parse_port(
            &serde_json::json!({"target": 80, "published": "8080", "host_ip": "0.0.0.0"}),
        )
        .unwrap();
        assert_eq!(long.host_ip.as_deref(), Some("0.0.0.0"));
        assert_eq!(long.published, "8080");
        let bare = parse_port(&serde_json::json!("5000")).unwrap();
        assert_eq!((bare.host_ip, bare.published.as_str()), (None, ""));
    }

    #[test]
    fn secrets_inline_are_told_from_references() {
        for (k, v) in [
            ("JWT_SECRET", "69745a7a"),
            ("POSTGRES_PASSWORD", "pw"),
            ("STRIPE_SECRET_KEY", "sk"),
            ("OPENAI_API_KEY", "x"),
            ("DATABASE_URL", "postgresql://u:p@db:5432/x"),
            ("DISCORD_BOT_TOKEN_ID", "t"),
        ] {
            assert!(inline_secret(k, v), "{k}");
        }
        for (k, v) in [
            ("JWT_SECRET", ""),
            ("JWT_SECRET", "${JWT_SECRET}"),
            ("REDIS_URL", "redis://postiz-redis:6379"),
            (
                "DATABASE_URL",
                "postgresql://postiz:${POSTGRES_PASSWORD}@postgres/x",
            ),
            ("MAIN_URL", "https://postiz.example.org"),
            ("API_LIMIT", "30"),
        ] {
            assert!(!inline_secret(k, v), "{k}={v}");
        }
    }

    #[test]
    fn root_users_and_bad_names_are_refused() {
        for u in ["root", "0", "0:0", "root:1000", ""] {
            let s = Settings {
                user: Some(u.into()),
                ..Settings::default()
            };
            assert!(check("app", &s, &[]).is_some(), "{u}");
        }
        let s = Settings {
            user: Some("1000:1000".into()),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(vec!["NET_BIND_SERVICE".into()]),
            tmpfs: Some(vec!["/tmp:size=100M".into()]),
            networks: Some(vec!["default".into(), "db".into()]),
            ..Settings::default()
        };
        assert_eq!(check("app", &s, &["db"]), None);
        assert!(check("app", &s, &[]).unwrap().contains("network `db`"));
        let s = Settings {
            cap_add: Some(vec!["net_admin".into()]),
            ..Settings::default()
        };
        assert!(check("app", &s, &[]).is_some());
    }

    #[test]
    fn render_is_valid_yaml_with_the_settings() {
        let s = Settings {
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            read_only: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            user: Some("1000:1000".into()),
            limits: Some(Resources {
                cpus: Some("2.0".into()),
                memory: Some("2G".into()),
            }),
            ..Settings::default()
        };
        let text = render(
            Path::new("/a/docker-compose.yml"),
            Path::new("/a/docker-compose.harden.yml"),
            "r",
            &[("app".into(), s)],
            &["db".into()],
        );
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"services": {"app": {
                "user": "1000:1000", "read_only": true,
                "security_opt": ["no-new-privileges:true"], "cap_drop": ["ALL"],
                "deploy": {"resources": {"limits": {"cpus": "2.0", "memory": "2G"}}}}},
                "networks": {"db": {"internal": true}}})
        );
    }
}
