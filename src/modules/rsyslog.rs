//! `rsyslog`: central logging (R16) as one drop-in harden owns,
//! `/etc/rsyslog.d/NAME.conf`: local rules (`auth,authpriv.* /var/log/auth.log`)
//! and an optional forward to a central server (`omfwd`, TCP by default, TLS with
//! the given CA and peer names, a disk-free in-memory queue that retries forever
//! so an unreachable server never blocks local logging). The candidate is checked
//! by the real `rsyslogd -N1` on the staged main configuration (the root's
//! `rsyslog.conf` and `rsyslog.d` with the candidate in place), a staged check
//! ([`crate::engine::validate`]): under `--root`, the root's own rsyslogd or this
//! machine's, confined either way, so a `module(load=...)` in the root's files
//! never loads code with host privileges. After a change: restart rsyslog.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::host::tools;
use crate::plan::{Accept, Check, Handler, NoticeLevel, Stage, Validator, Verb};

/// Parameters of `rsyslog:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The drop-in's name: `/etc/rsyslog.d/NAME.conf`.
    pub name: String,
    /// Rule lines, `SELECTOR ACTION` (`auth,authpriv.* /var/log/auth.log`).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Forward messages to a central server.
    #[serde(default)]
    pub forward: Option<Forward>,
    /// The drop-in directory (default `/etc/rsyslog.d`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The main configuration (default `/etc/rsyslog.conf`).
    #[serde(default)]
    pub main: Option<PathBuf>,
}

/// Where and how to forward.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// The central server's host name or address.
    pub target: String,
    /// Port (default 6514 with TLS, else 514).
    #[serde(default)]
    pub port: Option<u16>,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Which messages (default `*.*`).
    #[serde(default)]
    pub selector: Option<String>,
    /// Encrypt and authenticate the server (TCP only).
    #[serde(default)]
    pub tls: Option<Tls>,
}

/// The forwarding transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// TLS parameters of the forward (rsyslog's gtls driver).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The CA bundle that signs the server's certificate.
    pub ca_file: PathBuf,
    /// This host's client certificate (mutual TLS), with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// This host's client key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `x509/name` (default: check the server's name), `x509/fingerprint`,
    /// `x509/certvalid` or `anon`.
    #[serde(default)]
    pub auth_mode: Option<String>,
    /// Names (or fingerprints) the server may present (default: the target).
    #[serde(default)]
    pub permitted_peers: Vec<String>,
}

/// A value rsyslog reads back unchanged inside double quotes.
fn quotable(v: &str) -> bool {
    !v.is_empty() && !v.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

fn q(v: &str) -> Result<&str, String> {
    if quotable(v) {
        Ok(v)
    } else {
        Err(format!(
            "`{v}`: a value must be non-empty, without `\"`, `\\` or control characters"
        ))
    }
}

/// The drop-in's text.
fn render(rule: &str, p: &Params) -> Result<String, String> {
    if p.rules.is_empty() && p.forward.is_none() {
        return Err("give `rules`, `forward` or both".into());
    }
    let mut s = format!("# Managed by harden (rule {rule}): changes here are overwritten.\n");
    for r in &p.rules {
        if r.trim().is_empty() || r.chars().any(char::is_control) {
            return Err(format!("rule line `{r}` is empty or spans lines"));
        }
        let _ = writeln!(s, "{}", r.trim());
    }
    if let Some(f) = &p.forward {
        render_forward(&mut s, f)?;
    }
    Ok(s)
}

fn render_forward(s: &mut String, f: &Forward) -> Result<(), String> {
    let selector = f.selector.as_deref().unwrap_or("*.*");
    if selector.trim().is_empty() || selector.chars().any(char::is_whitespace) {
        return Err(format!("forward selector `{selector}` must be one word"));
    }
    let default_port = if f.tls.is_some() { 6514 } else { 514 };
    let proto = match f.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp if f.tls.is_some() => return Err("TLS forwarding needs tcp".into()),
        Protocol::Udp => "udp",
    };
    let _ = write!(
        s,
        "{selector} action(type=\"omfwd\" target=\"{}\" port=\"{}\" protocol=\"{proto}\"",
        q(&f.target)?,
        f.port.unwrap_or(default_port)
    );
    if let Some(t) = &f.tls {
        let mode = t.auth_mode.as_deref().unwrap_or("x509/name");
        if !["x509/name", "x509/fingerprint", "x509/certvalid", "anon"].contains(&mode) {
            return Err(format!(
                "tls auth_mode `{mode}`: x509/name, x509/fingerprint, x509/certvalid or anon"
            ));
        }
        let _ = write!(
            s,
            "\n    StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"{mode}\""
        );
        if mode != "anon" {
            let peers = if t.permitted_peers.is_empty() {
                vec![f.target.clone()]
            } else {
                t.permitted_peers.clone()
            };
            for p in &peers {
                q(p)?;
                if p.contains(',') {
                    return Err(format!("permitted peer `{p}` holds a comma"));
                }
            }
            let _ = write!(s, " StreamDriverPermittedPeers=\"{}\"", peers.join(","));
        }
        let path = |p: &Path| q(&p.to_string_lossy()).map(str::to_string);
        let _ = write!(s, "\n    StreamDriver.CAFile=\"{}\"", path(&t.ca_file)?);
        match (&t.cert_file, &t.key_file) {
            (Some(c), Some(k)) => {
                let _ = write!(
                    s,
                    " StreamDriver.CertFile=\"{}\" StreamDriver.KeyFile=\"{}\"",
                    path(c)?,
                    path(k)?
                );
            }
            (None, None) => {}
            _ => return Err("tls: give both cert_file and key_file, or neither".into()),
        }
    }
    s.push_str(
        "\n    queue.type=\"LinkedList\" queue.size=\"10000\" action.resumeRetryCount=\"-1\")\n",
    );
    Ok(())
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if !p
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        || p.name.is_empty()
    {
        return Err(ctx.invalid(format!(
            "drop-in name `{}`: letters, digits, `-` and `_` only",
            p.name
        )));
    }
    let dir = ctx.path_param(p.dir.as_deref(), "dir")?;
    let main = ctx.path_param(p.main.as_deref(), "main")?;
    let path = dir.join(format!("{}.conf", p.name));
    let text = render(&ctx.task.id, p).map_err(|m| ctx.invalid(m))?;
    let before = ctx.read_regular(&path)?;
    if before.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    notices(ctx, p, &main, &dir, out)?;
    let main_text = ctx
        .host
        .read(&main)
        .ok()
        .flatten()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default();
    let includes = main_text.contains(&format!("{}/", dir.display()));
    // The whole planned configuration when the main file includes the drop-in
    // directory; the drop-in on its own otherwise (the notices say why).
    let target = if includes {
        main.display().to_string()
    } else {
        "%s".to_string()
    };
    let validator = Validator::Staged {
        files: Stage {
            trees: vec![main.clone(), dir.clone()],
            // rsyslogd -N1 fails when its work directory is missing: a private one.
            scratch: work_dirs(&main_text),
            ..Stage::default()
        },
        check: Check {
            tool: "rsyslogd".into(),
            args: vec!["-N1".into(), "-f".into(), target],
            accept: Accept::Exit,
        },
    };
    let how = tools::describe(
        ctx.host,
        match &validator {
            Validator::Staged { check, .. } => check,
        },
    )
    .map_err(|e| ctx.invalid(e.to_string()))?;
    out.notices.push(ctx.notice(NoticeLevel::Info, how));
    let mut c = ctx.write_change(FileWrite {
        validators: vec![validator],
        ..FileWrite::config(&path, before.as_deref(), text.as_bytes(), "rsyslog drop-in")
    })?;
    c.handlers
        .push(Handler::systemctl(Verb::Restart, "rsyslog"));
    out.changes.push(c);
    Ok(())
}

/// The work directories a main file names (`$WorkDirectory DIR`,
/// `global(workDirectory="DIR")`), absolute paths only.
fn work_dirs(main: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for l in main.lines().map(str::trim) {
        let dir = if let Some(rest) = l.strip_prefix("$WorkDirectory") {
            rest.trim()
        } else if let Some(i) = l.find("workDirectory=\"") {
            l[i + 15..].split('"').next().unwrap_or_default()
        } else {
            continue;
        };
        let p = PathBuf::from(dir);
        if crate::host::fs::components(&p).is_ok_and(|c| !c.is_empty()) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Warnings about a drop-in that would parse but not work: a main file that does
/// not include the drop-in directory, TLS without rsyslog's gtls driver.
fn notices(
    ctx: &Ctx,
    p: &Params,
    main: &Path,
    dir: &Path,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let main_text = ctx.host.read(main).map_err(ctx.fs())?;
    let dir_s = format!("{}/", dir.display());
    match main_text {
        None => out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "{} does not exist: is rsyslog installed? The drop-in is checked on its own",
                main.display()
            ),
        )),
        Some(t) if !String::from_utf8_lossy(&t).contains(&dir_s) => out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "{} does not include {dir_s}: the drop-in has no effect until it does",
                main.display()
            ),
        )),
        Some(_) => {}
    }
    if p.forward.as_ref().is_some_and(|f| f.tls.is_some()) && !has_gtls(ctx) {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            "TLS forwarding needs rsyslog's gtls driver (package rsyslog-gnutls, lmnsd_gtls.so), not found under /usr/lib/*/rsyslog: install it or nothing is forwarded",
        ));
    }
    Ok(())
}

/// Whether the root has rsyslog's `GnuTLS` network stream driver.
fn has_gtls(ctx: &Ctx) -> bool {
    !ctx.host.glob("/usr/lib/*/rsyslog/lmnsd_gtls.so").is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(forward: Option<Forward>) -> Params {
        Params {
            name: "central".into(),
            rules: vec!["auth,authpriv.* /var/log/auth.log".into()],
            forward,
            dir: None,
            main: None,
        }
    }

    fn fwd(tls: Option<Tls>) -> Forward {
        Forward {
            target: "logs.example.org".into(),
            port: None,
            protocol: Protocol::Tcp,
            selector: None,
            tls,
        }
    }

    #[test]
    fn tls_forward_names_the_peer_and_the_ca() {
        let t = render(
            "r",
            &params(Some(fwd(Some(Tls {
                ca_file: "/etc/ssl/ca.pem".into(),
                cert_file: None,
                key_file: None,
                auth_mode: None,
                permitted_peers: Vec::new(),
            })))),
        )
        .unwrap();
        assert!(t.contains("*.* action(type=\"omfwd\" target=\"logs.example.org\" port=\"6514\" protocol=\"tcp\""), "{t}");
        assert!(
            t.contains(
                "StreamDriverAuthMode=\"x509/name\" StreamDriverPermittedPeers=\"logs.example.org\""
            ),
            "{t}"
        );
        assert!(t.contains("StreamDriver.CAFile=\"/etc/ssl/ca.pem\""), "{t}");
    }

    #[test]
    fn values_rsyslog_would_misread_are_refused() {
        let mut f = fwd(None);
        f.target = "x\" type=\"omprog".into();
        assert!(render("r", &params(Some(f))).is_err());
        let mut f = fwd(Some(Tls {
            ca_file: "/ca".into(),
            cert_file: Some("/c".into()),
            key_file: None,
            auth_mode: None,
            permitted_peers: Vec::new(),
        }));
        assert!(
            render("r", &params(Some(f.clone())))
                .unwrap_err()
                .contains("both")
        );
        f.tls = None;
        f.protocol = Protocol::Udp;
        assert!(
            render("r", &params(Some(f)))
                .unwrap()
                .contains("port=\"514\" protocol=\"udp\"")
        );
        let mut p = params(None);
        p.rules = vec!["a\nb".into()];
        assert!(render("r", &p).is_err());
        p.rules.clear();
        assert!(render("r", &p).is_err());
    }
}
