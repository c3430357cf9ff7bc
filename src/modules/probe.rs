//! `probe`: read-only health checks for monitoring (the Postiz guide's
//! `security-monitor.sh`): a file system's usage, failed logins in the
//! authentication log, unhealthy containers, TCP ports listening beyond loopback
//! outside a list, whether a service is active. A probe changes nothing and claims
//! no path; only `check` evaluates it (`plan` and `apply` list it as skipped), and
//! a failed probe is a finding counted like drift. A probe reads through
//! [`crate::host::health`] and the service layer; what needs the running system
//! (sockets, mounts, containers, services) is skipped with the reason under an
//! offline `--root` or where the machine lacks it, while an offline root's
//! `auth.log` is data and is read. Parameters are checked when the playbook is
//! read.

use std::fmt::Write;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::{Ctx, ModuleError, Out};
use crate::host::Host;
use crate::host::facts::Init;
use crate::host::health::{self, AuthSource};
use crate::plan::ProbeResult;

/// Parameters of `probe:`: exactly one kind of probe.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Params {
    /// The file system holding `path` is at most `max_percent` full (as `df`
    /// counts it). Running system only.
    DiskUsage(DiskUsage),
    /// At most `max` failed logins within the last `within`, in the journal or
    /// `auth.log`.
    FailedLogins(FailedLogins),
    /// At most `max` containers Docker reports unhealthy. Running system only.
    ContainersUnhealthy(ContainersUnhealthy),
    /// No TCP port listens on a non-loopback address unless it is allowed.
    /// Running system only (its network namespace).
    Listening(Listening),
    /// The unit is active. Where systemd runs the system only.
    ServiceActive(ServiceActive),
}

impl Params {
    /// The probe's kind as the playbook names it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DiskUsage(_) => "disk_usage",
            Self::FailedLogins(_) => "failed_logins",
            Self::ContainersUnhealthy(_) => "containers_unhealthy",
            Self::Listening(_) => "listening",
            Self::ServiceActive(_) => "service_active",
        }
    }
}

/// `disk_usage:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskUsage {
    /// A path on the file system to measure (default `/`).
    #[serde(default = "root_path", deserialize_with = "absolute")]
    pub path: PathBuf,
    /// The most it may be full, 0 to 100.
    pub max_percent: Percent,
}

fn root_path() -> PathBuf {
    PathBuf::from("/")
}

/// `failed_logins:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedLogins {
    /// How far back to look: a time span such as `15min`, `1h`, `24h`, `7d`.
    pub within: Span,
    /// The most failed logins allowed in that span.
    pub max: u32,
}

/// `containers_unhealthy:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainersUnhealthy {
    /// The most unhealthy containers allowed (default 0).
    #[serde(default)]
    pub max: u32,
}

/// `listening:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listening {
    /// TCP ports that may listen beyond loopback (`[22, 80, 443]`); an empty
    /// list allows none.
    pub allowed_ports: Vec<Port>,
}

/// `service_active:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceActive {
    /// The unit (`ssh`, `docker.service`, `getty@tty1.service`).
    #[serde(deserialize_with = "unit_name")]
    pub name: String,
}

/// A percentage, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(pub u8);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let n = u64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= 100)
            .map(Percent)
            .ok_or_else(|| D::Error::custom(format!("max_percent {n} is not between 0 and 100")))
    }
}

impl schemars::JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "minimum": 0, "maximum": 100 })
    }
}

/// A TCP port, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let n = i64::deserialize(d)?;
        u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Port)
            .ok_or_else(|| D::Error::custom(format!("port {n} is out of range (1 to 65535)")))
    }
}

impl schemars::JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "minimum": 1, "maximum": 65535 })
    }
}

/// A time span as written (`1h`, `30min`, `1h 30min`, `7d`) and its seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub secs: u64,
}

/// The longest span accepted: a year (the logs harden reads keep far less).
const MAX_SPAN: u64 = 366 * 86_400;

/// Parses a time span: numbers each followed by a unit (`s`, `sec`, `m`,
/// `min`, `h`, `hr`, `hour`, `d`, `day`, `w`, `week`, and their plurals),
/// spaces allowed between them, as systemd's spans; more than zero, at most a year.
///
/// # Errors
/// What is wrong with it.
pub fn parse_span(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!(
            "`{}` is not a time span ({why}; e.g. `15min`, `1h`, `24h`, `7d`)",
            text.escape_debug()
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("a number must come first"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad("too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            "" => return Err(bad("a unit must follow each number")),
            _ => return Err(bad("unknown unit")),
        };
        rest = rest[unit_len..].trim_start();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|t| *t <= MAX_SPAN)
            .ok_or_else(|| bad("longer than a year"))?;
    }
    if total == 0 {
        return Err(bad("it must be longer than zero"));
    }
    Ok(total)
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        let secs = parse_span(&text).map_err(D::Error::custom)?;
        Ok(Span { text, secs })
    }
}

impl schemars::JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Span".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A time span: numbers with units s, min, h, d, w (`15min`, `1h`, `24h`, `7d`), at most a year."
        })
    }
}

fn absolute<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    use serde::de::Error;
    let p = PathBuf::deserialize(d)?;
    crate::host::fs::components(&p).map_err(|e| D::Error::custom(e.to_string()))?;
    Ok(p)
}

/// A unit name `systemctl is-active` takes as one unit: letters, digits and
/// `:_.@-\`, not starting with `-` or `.` (never an option, never a path).
fn unit_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::de::Error;
    let name = String::deserialize(d)?;
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(D::Error::custom(format!(
            "`{}` is not a unit name",
            name.escape_debug()
        )))
    }
}

/// What a probe found.
enum Verdict {
    Done {
        ok: bool,
        message: String,
    },
    /// The host lacks what the probe reads.
    Skip(String),
}

fn offline(host: &Host, what: &str) -> Verdict {
    Verdict::Skip(format!(
        "offline root {}: {what} (a probe of the running system)",
        host.root.display()
    ))
}

/// Evaluates the probe (reading only) and records its verdict or its skip.
///
/// # Errors
/// When the probe cannot read what it must on a host that has it (a path that
/// does not exist, an unreadable log).
pub fn plan(ctx: &Ctx, params: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let host = ctx.host;
    let verdict = match params {
        Params::DiskUsage(p) => disk_usage(host, p).map_err(|e| ctx.invalid(e))?,
        Params::FailedLogins(p) => failed_logins(host, p).map_err(|e| ctx.invalid(e))?,
        Params::ContainersUnhealthy(p) => containers(host, p),
        Params::Listening(p) => listening(host, p).map_err(|e| ctx.invalid(e))?,
        Params::ServiceActive(p) => service_active(host, p),
    };
    match verdict {
        Verdict::Skip(reason) => out.skipped = Some(format!("probe {}: {reason}", params.kind())),
        Verdict::Done { ok, message } => out.probes.push(ProbeResult {
            rule_id: ctx.task.id.clone(),
            task: ctx.task.name.clone(),
            severity: ctx.task.severity,
            probe: params.kind().into(),
            ok,
            message,
        }),
    }
    Ok(())
}

fn disk_usage(host: &Host, p: &DiskUsage) -> Result<Verdict, String> {
    if !host.is_live() {
        return Ok(offline(
            host,
            "its file systems are not mounted here, and the usage under the root would be this machine's",
        ));
    }
    let u = health::disk_usage(&p.path).map_err(|e| format!("cannot measure: {e}"))?;
    Ok(Verdict::Done {
        ok: u.percent <= p.max_percent.0,
        message: format!(
            "{} is {}% full (max {}%)",
            p.path.display(),
            u.percent,
            p.max_percent.0
        ),
    })
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn failed_logins(host: &Host, p: &FailedLogins) -> Result<Verdict, String> {
    let source = match health::auth_source(host) {
        Ok(s) => s,
        Err(why) => return Ok(Verdict::Skip(why)),
    };
    let now = now_unix();
    let since = now.saturating_sub(i64::try_from(p.within.secs).unwrap_or(i64::MAX));
    let text = health::auth_log(host, &source, since)?;
    let n = health::count_failed_logins(text.lines(), since, now);
    let from = match source {
        AuthSource::Journal(_) => "the journal".to_string(),
        AuthSource::File => health::AUTH_LOG.to_string(),
    };
    Ok(Verdict::Done {
        ok: n <= usize::try_from(p.max).unwrap_or(usize::MAX),
        message: format!(
            "{n} failed login{} within {} (max {}), in {from}",
            if n == 1 { "" } else { "s" },
            p.within.text,
            p.max
        ),
    })
}

fn containers(host: &Host, p: &ContainersUnhealthy) -> Verdict {
    if !host.is_live() {
        return offline(host, "its containers do not run here");
    }
    let Some(docker) = host.binary("docker") else {
        return Verdict::Skip("docker is not installed".into());
    };
    // Docker installed but not answering is a finding, not a skip: on a host
    // that runs containers, a daemon that is down is the outage to report.
    match health::unhealthy_containers(host, &docker) {
        Err(e) => Verdict::Done {
            ok: false,
            message: e,
        },
        Ok(names) => Verdict::Done {
            ok: names.len() <= usize::try_from(p.max).unwrap_or(usize::MAX),
            message: if names.is_empty() {
                format!("no unhealthy container (max {})", p.max)
            } else {
                format!(
                    "{} unhealthy container{} (max {}): {}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    p.max,
                    names.join(", ")
                )
            },
        },
    }
}

fn listening(host: &Host, p: &Listening) -> Result<Verdict, String> {
    if !host.is_live() {
        return Ok(offline(host, "its sockets are not open here"));
    }
    let mut exposed: Vec<(std::net::IpAddr, u16, u32)> = health::listening()?
        .into_iter()
        .filter(|l| !health::is_loopback(&l.addr) && !p.allowed_ports.contains(&Port(l.port)))
        .map(|l| (l.addr, l.port, l.uid))
        .collect();
    exposed.sort_by_key(|(a, port, _)| (*port, *a));
    exposed.dedup();
    let mut allowed: Vec<u16> = p.allowed_ports.iter().map(|p| p.0).collect();
    allowed.sort_unstable();
    allowed.dedup();
    let allowed: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    let allowed = format!("[{}]", allowed.join(", "));
    if exposed.is_empty() {
        return Ok(Verdict::Done {
            ok: true,
            message: format!("no TCP port beyond loopback outside {allowed}"),
        });
    }
    let mut message = format!("TCP ports listening beyond loopback outside {allowed}:");
    for (i, (addr, port, uid)) in exposed.iter().enumerate() {
        let sock = std::net::SocketAddr::new(*addr, *port);
        let _ = write!(
            message,
            "{} {sock} (uid {uid})",
            if i == 0 { "" } else { "," }
        );
    }
    Ok(Verdict::Done { ok: false, message })
}

fn service_active(host: &Host, p: &ServiceActive) -> Verdict {
    match host.facts.init {
        Init::Offline => return offline(host, "its services do not run here"),
        Init::None => {
            return Verdict::Skip(format!(
                "no running init here (systemd is not PID 1): cannot ask whether {} is active",
                p.name
            ));
        }
        Init::Systemd => {}
    }
    match crate::host::service::is_active(host, &p.name) {
        Some(true) => Verdict::Done {
            ok: true,
            message: format!("{} is active", p.name),
        },
        Some(false) => Verdict::Done {
            ok: false,
            message: format!("{} is not active", p.name),
        },
        None => Verdict::Done {
            ok: false,
            message: format!("`systemctl is-active {}` did not answer", p.name),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::host::runner::RecordingRunner;

    #[test]
    fn spans() {
        assert_eq!(parse_span("1h"), Ok(3600));
        assert_eq!(parse_span("24h"), Ok(86_400));
        assert_eq!(parse_span("15min"), Ok(900));
        assert_eq!(parse_span("1h 30min"), Ok(5400));
        assert_eq!(parse_span("1h30m"), Ok(5400));
        assert_eq!(parse_span(" 90s "), Ok(90));
        assert_eq!(parse_span("2 days"), Ok(2 * 86_400));
        assert_eq!(parse_span("1w"), Ok(7 * 86_400));
        assert_eq!(parse_span("366d"), Ok(MAX_SPAN));
        for (bad, why) in [
            ("", "empty"),
            ("h", "a number must come first"),
            ("10", "a unit must follow"),
            ("1y", "unknown unit"),
            ("0h", "longer than zero"),
            ("367d", "longer than a year"),
            ("99999999999999999999999s", "too large"),
            ("1h-", "a number must come first"),
        ] {
            let e = parse_span(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn params(yaml: &str) -> Result<Params, String> {
        serde_saphyr::from_str::<Params>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn parameters_are_checked_when_read() {
        assert!(matches!(
            params("disk_usage: { max_percent: 80 }").unwrap(),
            Params::DiskUsage(DiskUsage { ref path, max_percent: Percent(80) }) if path == std::path::Path::new("/")
        ));
        for (yaml, want) in [
            (
                "disk_usage: { path: /, max_percent: 101 }",
                "not between 0 and 100",
            ),
            ("disk_usage: { path: var, max_percent: 1 }", "absolute"),
            ("failed_logins: { within: 1y, max: 1 }", "unknown unit"),
            ("listening: { allowed_ports: [22, 70000] }", "out of range"),
            ("listening: { allowed_ports: [0] }", "out of range"),
            ("service_active: { name: --now }", "not a unit name"),
            ("service_active: { name: ../x }", "not a unit name"),
            ("open_ports: {}", "unknown variant"),
            ("listening: { allowed: [22] }", "unknown field"),
        ] {
            let e = params(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    fn host(root: &str, init: Init, runner: Arc<RecordingRunner>) -> Host {
        let mut h = Host::new(PathBuf::from(root), runner);
        h.facts.init = init;
        h
    }

    #[test]
    fn service_active_asks_systemd_and_says_why_it_cannot() {
        let name = ServiceActive {
            name: "ssh.service".into(),
        };
        let r = Arc::new(RecordingRunner::new());
        assert!(matches!(
            service_active(&host("/", Init::Systemd, r.clone()), &name),
            Verdict::Done { ok: true, ref message } if message == "ssh.service is active"
        ));
        let inactive = Arc::new(RecordingRunner::failing_on("is-active"));
        assert!(matches!(
            service_active(&host("/", Init::Systemd, inactive), &name),
            Verdict::Done { ok: false, ref message } if message == "ssh.service is not active"
        ));
        let none = Arc::new(RecordingRunner::new());
        assert!(matches!(
            service_active(&host("/", Init::None, none.clone()), &name),
            Verdict::Skip(ref why) if why.contains("systemd is not PID 1")
        ));
        assert!(matches!(
            service_active(&host("/nonexistent-root", Init::Offline, none.clone()), &name),
            Verdict::Skip(ref why) if why.starts_with("offline root /nonexistent-root")
        ));
        assert!(
            none.calls().is_empty(),
            "nothing is asked where systemd does not run"
        );
        assert_eq!(
            r.calls(),
            vec![vec!["systemctl", "is-active", "--quiet", "ssh.service"]]
        );
    }

    #[test]
    fn containers_are_skipped_offline_and_without_docker() {
        let r = Arc::new(RecordingRunner::new());
        let offline = host("/nonexistent-root", Init::Offline, r.clone());
        assert!(matches!(
            containers(&offline, &ContainersUnhealthy { max: 0 }),
            Verdict::Skip(ref why) if why.contains("containers do not run here")
        ));
        assert!(r.calls().is_empty());
    }
}
