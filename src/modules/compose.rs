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

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::engine::validate;
use crate::host::fs::{self, Kind};
use crate::plan::{Accept, Check, NoticeLevel, Stage, Validator};

/// Parameters of `compose:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The user's Compose file (must exist; only read).
    pub file: PathBuf,
    /// The override harden writes (default `docker-compose.harden.yml` beside `file`).
    #[serde(default, rename = "override")]
    pub override_file: Option<PathBuf>,
    /// Service name → settings.
    #[serde(default)]
    pub services: BTreeMap<String, Settings>,
    /// Settings for every service the user's file defines (a key set in
    /// `services:` for a service wins over the same key here).
    #[serde(default)]
    pub all_services: Option<Settings>,
    /// Networks declared `internal: true` (no route outside the host) in the override.
    #[serde(default)]
    pub internal_networks: Vec<String>,
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
    /// A non-root `UID:GID` or name (root and 0 are refused).
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
    networks: Vec<String>,
}

fn read_user(text: &str) -> Result<UserFile, String> {
    let v: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let services = v
        .get("services")
        .and_then(Value::as_object)
        .ok_or("it has no `services:` map")?;
    let cap_add = services
        .iter()
        .map(|(name, s)| {
            let caps = s.get("cap_add").and_then(Value::as_array);
            let caps = caps.into_iter().flatten().filter_map(Value::as_str);
            (name.clone(), caps.map(str::to_string).collect())
        })
        .collect();
    let services = services
        .iter()
        .map(|(name, s)| {
            let image = s.get("image").and_then(Value::as_str).map(str::to_string);
            (name.clone(), image)
        })
        .collect();
    let networks = v
        .get("networks")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    Ok(UserFile {
        services,
        cap_add,
        networks,
    })
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
    let plugin = [ctx.host.root.as_path(), Path::new("/")]
        .iter()
        .any(|root| {
            PLUGIN_DIRS
                .iter()
                .any(|d| fs::host_path(root, &Path::new(d).join("docker-compose")).is_file())
        });
    let user_s = user.display().to_string();
    let (tool, mut args): (&str, Vec<String>) = if plugin && validate::available(ctx.host, "docker")
    {
        ("docker", vec!["compose".into()])
    } else if validate::available(ctx.host, "docker-compose") {
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

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let user_path = ctx.path_param(Some(&p.file), "file")?;
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
    let services = wanted(ctx, p, &user)?;
    report(ctx, &user_path, &user, &services, out);
    if services.is_empty() && p.internal_networks.is_empty() {
        return Err(
            ctx.invalid("nothing to do: give `services`, `all_services` or `internal_networks`")
        );
    }
    let after = render(
        &user_path,
        &over_path,
        &ctx.task.id,
        &services,
        &p.internal_networks,
    );
    if let Some(m) = ctx.host.lstat(&over_path).map_err(ctx.fs())?
        && m.kind != Kind::File
    {
        return Err(ctx.invalid(format!("{} is not a regular file", over_path.display())));
    }
    let before = ctx.host.read(&over_path).map_err(ctx.fs())?;
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

/// Each service's effective settings, checked.
fn wanted(ctx: &Ctx, p: &Params, user: &UserFile) -> Result<Vec<(String, Settings)>, ModuleError> {
    if let Some(n) = p.internal_networks.iter().find(|n| !name_ok(n)) {
        return Err(ctx.invalid(format!("network name `{n}` is not valid")));
    }
    if let Some(s) = p.services.keys().find(|s| !user.services.contains_key(*s)) {
        return Err(ctx.invalid(format!(
            "service `{s}` is not defined in the Compose file (it has: {})",
            user.services.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let known: Vec<&str> = user
        .networks
        .iter()
        .chain(&p.internal_networks)
        .map(String::as_str)
        .collect();
    let empty = Settings::default();
    let mut out = Vec::new();
    for name in user.services.keys() {
        let base = p.all_services.as_ref();
        let s = match (p.services.get(name), base) {
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
