//! `nginx`: a managed reverse-proxy site, `/etc/nginx/conf.d/harden-NAME.conf`
//! (the `http` context on Debian), rendered from parameters: an HTTP server that
//! only redirects to HTTPS, and an HTTPS server with TLS 1.2/1.3 and modern AEAD
//! ciphers, security headers (HSTS, nosniff, frame denial, referrer policy,
//! optional CSP) sent on every response (`always`), a per-client rate limit
//! (`limit_req_zone`, status 429), dot-files denied (except `/.well-known`), and the
//! upstream proxied with the usual forwarding headers. Each header the site
//! sends is sent once: the upstream's own copy of it is hidden (an app such as
//! Akkoma sends its own). Optional: extra headers, path prefixes answered 404
//! (Akkoma's `/media` and `/proxy`, served from the media domain only), and
//! `ignore_invalid_headers off` for apps whose clients send such headers.
//!
//! Validation is the real `nginx -t` at plan time: a minimal `nginx.conf` is
//! staged in a temp prefix (pid, logs and temp paths all inside it, `-e` for the
//! error log) that includes the candidate rendered with the certificate paths
//! mapped under `--root`; so a missing certificate or a directive this nginx does
//! not know stops the plan. Handler: `reload nginx`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::host::runner::Cmd;
use crate::host::scratch::Scratch;
use crate::plan::{Handler, Verb};

/// Parameters of `nginx:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Site name: the file is `harden-NAME.conf` (letters, digits, `-`, `_`).
    pub name: String,
    /// The public host name, e.g. `postiz.example.org`.
    pub domain: String,
    /// Where requests go, e.g. `http://127.0.0.1:5000`.
    pub upstream: String,
    /// TLS certificate chain (PEM).
    pub cert: PathBuf,
    /// TLS private key (PEM).
    pub key: PathBuf,
    /// Rate limit per client address (default `10r/s`).
    #[serde(default)]
    pub rate: Option<String>,
    /// Requests allowed above the rate before 429 (default 20).
    #[serde(default)]
    pub burst: Option<u32>,
    /// `Strict-Transport-Security` max-age in seconds (default 63072000, two years).
    #[serde(default)]
    pub hsts_max_age: Option<u64>,
    /// `Referrer-Policy` (default `same-origin`).
    #[serde(default)]
    pub referrer_policy: Option<String>,
    /// A `Content-Security-Policy` header, when given.
    #[serde(default)]
    pub csp: Option<String>,
    /// `client_max_body_size` (default `10m`).
    #[serde(default)]
    pub max_body: Option<String>,
    /// HTTP and HTTPS ports (default 80 and 443).
    #[serde(default)]
    pub http_port: Option<u16>,
    #[serde(default)]
    pub https_port: Option<u16>,
    /// Also listen on IPv6 (default true; false for kernels booted with `ipv6.disable=1`).
    #[serde(default)]
    pub ipv6: Option<bool>,
    /// More response headers, name → value (sent on every response).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Path prefixes answered 404 instead of proxied (e.g. `/media`, `/proxy`).
    #[serde(default)]
    pub deny_locations: Vec<String>,
    /// `false`: pass headers with names nginx considers invalid (Akkoma's example).
    #[serde(default)]
    pub ignore_invalid_headers: Option<bool>,
}

/// Mozilla "intermediate" TLS 1.2 ciphers (all AEAD with forward secrecy).
const CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// Whether `s` can sit inside an nginx directive without quoting surprises.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"';{}#\\$".contains(c))
}

/// A parameter error, or `None`.
fn check(p: &Params) -> Option<String> {
    let name_ok = !p.name.is_empty()
        && p.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    let domain_ok = !p.domain.is_empty()
        && !p.domain.starts_with(['.', '-'])
        && p.domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c));
    let upstream_ok = (p.upstream.starts_with("http://") || p.upstream.starts_with("https://"))
        && plain(&p.upstream);
    let rate_ok = p.rate.as_deref().is_none_or(|r| {
        r.strip_suffix("r/s")
            .or_else(|| r.strip_suffix("r/m"))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    let quoted_ok = |v: Option<&str>| v.is_none_or(|v| !v.contains(['"', '\n', '\r', '\\', '$']));
    if !name_ok {
        Some(format!(
            "name `{}`: letters, digits, `-` and `_` only",
            p.name
        ))
    } else if !domain_ok {
        Some(format!("domain `{}` is not a host name", p.domain))
    } else if !upstream_ok {
        Some(format!(
            "upstream `{}`: an http:// or https:// URL",
            p.upstream
        ))
    } else if ![&p.cert, &p.key]
        .iter()
        .all(|c| c.is_absolute() && plain(&c.to_string_lossy()))
    {
        Some("cert and key must be absolute paths without spaces or quotes".into())
    } else if !rate_ok {
        Some("rate: NUMBERr/s or NUMBERr/m".into())
    } else if !quoted_ok(p.csp.as_deref()) || !quoted_ok(p.referrer_policy.as_deref()) {
        Some("csp and referrer_policy cannot hold `\"`, `\\`, `$` or line breaks".into())
    } else if !p.max_body.as_deref().is_none_or(plain) {
        Some("max_body: a size such as 10m".into())
    } else if let Some((k, _)) = p.headers.iter().find(|(k, v)| {
        k.is_empty()
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || !quoted_ok(Some(v.as_str()))
    }) {
        Some(format!(
            "header `{k}`: a name of letters, digits and `-`, a value without `\"`, `\\`, `$` or line breaks"
        ))
    } else {
        p.deny_locations
            .iter()
            .find(|l| !l.starts_with('/') || !plain(l))
            .map(|l| format!("deny_locations: `{l}` is not a path prefix such as /media"))
    }
}

/// The site text, with `cert`/`key` as given (installed) or mapped (validated).
fn render(p: &Params, rule: &str, cert: &Path, key: &str) -> String {
    let zone = format!("harden_{}", p.name.replace('-', "_"));
    let http = p.http_port.unwrap_or(80);
    let https = p.https_port.unwrap_or(443);
    let port_suffix = if https == 443 {
        String::new()
    } else {
        format!(":{https}")
    };
    let listen6 = |port: u16, extra: &str| {
        if p.ipv6.unwrap_or(true) {
            format!("    listen [::]:{port}{extra};\n")
        } else {
            String::new()
        }
    };
    let mut s = format!(
        "# Managed by harden (rule {rule}): changes here are overwritten.\n\
         limit_req_zone $binary_remote_addr zone={zone}:10m rate={rate};\n\n\
         server {{\n    listen {http};\n{l6http}    server_name {d};\n    server_tokens off;\n\
         \x20   location / {{\n        return 301 https://$host{port_suffix}$request_uri;\n    }}\n}}\n\n\
         server {{\n    listen {https} ssl http2;\n{l6https}    server_name {d};\n    server_tokens off;\n\n\
         \x20   ssl_certificate {cert};\n    ssl_certificate_key {key};\n    ssl_protocols TLSv1.2 TLSv1.3;\n\
         \x20   ssl_ciphers {CIPHERS};\n    ssl_prefer_server_ciphers off;\n    ssl_session_timeout 1d;\n\
         \x20   ssl_session_cache shared:{zone}_tls:10m;\n    ssl_session_tickets off;\n\n\
         \x20   client_max_body_size {body};\n\n\
         \x20   add_header Strict-Transport-Security \"max-age={hsts}; includeSubDomains\" always;\n\
         \x20   add_header X-Content-Type-Options \"nosniff\" always;\n\
         \x20   add_header X-Frame-Options \"DENY\" always;\n\
         \x20   add_header Referrer-Policy \"{referrer}\" always;\n",
        rate = p.rate.as_deref().unwrap_or("10r/s"),
        l6http = listen6(http, ""),
        l6https = listen6(https, " ssl http2"),
        d = p.domain,
        cert = cert.display(),
        body = p.max_body.as_deref().unwrap_or("10m"),
        hsts = p.hsts_max_age.unwrap_or(63_072_000),
        referrer = p.referrer_policy.as_deref().unwrap_or("same-origin"),
    );
    if let Some(csp) = &p.csp {
        let _ = writeln!(
            s,
            "    add_header Content-Security-Policy \"{csp}\" always;"
        );
    }
    for (k, v) in &p.headers {
        let _ = writeln!(s, "    add_header {k} \"{v}\" always;");
    }
    // The upstream's copies of the headers set here are dropped: each is sent once.
    let mut hidden = vec![
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    ];
    if p.csp.is_some() {
        hidden.push("Content-Security-Policy");
    }
    hidden.extend(p.headers.keys().map(String::as_str));
    for h in hidden {
        let _ = writeln!(s, "    proxy_hide_header {h};");
    }
    if p.ignore_invalid_headers == Some(false) {
        s.push_str("    ignore_invalid_headers off;\n");
    }
    for l in &p.deny_locations {
        let _ = write!(s, "\n    location ^~ {l} {{\n        return 404;\n    }}\n");
    }
    let _ = write!(
        s,
        "\n    # Dot-files (.env, .git) are never served; ACME challenges are.\n\
         \x20   location ~ /\\.(?!well-known/) {{\n        deny all;\n    }}\n\n\
         \x20   location / {{\n        limit_req zone={zone} burst={burst} nodelay;\n        limit_req_status 429;\n\
         \x20       proxy_pass {up};\n        proxy_http_version 1.1;\n\
         \x20       proxy_set_header Host $host;\n        proxy_set_header X-Real-IP $remote_addr;\n\
         \x20       proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20       proxy_set_header X-Forwarded-Proto $scheme;\n\
         \x20       proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection $http_connection;\n\
         \x20   }}\n}}\n",
        burst = p.burst.unwrap_or(20),
        up = p.upstream,
    );
    s
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    if let Some(m) = check(p) {
        return Err(ctx.invalid(m));
    }
    let dir = ctx.path_param(None, "dir")?;
    let path = dir.join(format!("harden-{}.conf", p.name));
    let text = render(p, &ctx.task.id, &p.cert, &p.key.to_string_lossy());
    let before = ctx.read_regular(&path)?;
    if before.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let staged = render(
        p,
        &ctx.task.id,
        &ctx.host.path(&p.cert),
        &ctx.host.path(&p.key).to_string_lossy(),
    );
    nginx_test(ctx, &staged).map_err(|m| ctx.invalid(m))?;
    let summary = format!(
        "{} site {} -> {} (checked with nginx -t)",
        if before.is_some() { "update" } else { "create" },
        p.domain,
        p.upstream
    );
    let mut c = ctx.write_change(FileWrite::config(
        &path,
        before.as_deref(),
        text.as_bytes(),
        "site",
    ))?;
    c.summary = summary;
    c.handlers.push(Handler::systemctl(Verb::Reload, "nginx"));
    out.changes.push(c);
    Ok(())
}

/// A minimal `nginx.conf` for `prefix` that includes `site`: every path nginx
/// writes (pid, logs, temp dirs) is inside the prefix.
#[must_use]
pub fn staged_conf(prefix: &Path, site: &Path) -> String {
    let p = prefix.display();
    format!(
        "pid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n    access_log {p}/access.log;\n    client_body_temp_path {p}/client_body;\n\
         \x20   proxy_temp_path {p}/proxy;\n    fastcgi_temp_path {p}/fastcgi;\n\
         \x20   uwsgi_temp_path {p}/uwsgi;\n    scgi_temp_path {p}/scgi;\n    include {};\n}}\n",
        site.display()
    )
}

/// Runs the real `nginx -t` on a staged configuration holding `site`.
fn nginx_test(ctx: &Ctx, site: &str) -> Result<(), String> {
    let prefix = Scratch::new("nginx").map_err(|e| format!("temp dir: {e}"))?;
    let site_path = prefix.at(Path::new("/site.conf"));
    let conf = prefix.at(Path::new("/nginx.conf"));
    prefix
        .write(Path::new("/site.conf"), site.as_bytes())
        .and_then(|()| {
            prefix.write(
                Path::new("/nginx.conf"),
                staged_conf(prefix.path(), &site_path).as_bytes(),
            )
        })
        .map_err(|e| format!("the nginx check: {e}"))?;
    let mut prefix_arg = prefix.path().as_os_str().to_owned();
    prefix_arg.push("/");
    let cmd = Cmd::new([
        "nginx".as_ref(),
        "-t".as_ref(),
        "-q".as_ref(),
        "-e".as_ref(),
        prefix.path().join("error.log").as_os_str(),
        "-c".as_ref(),
        conf.as_os_str(),
        "-p".as_ref(),
        prefix_arg.as_os_str(),
    ]);
    let out = ctx.host.runner.run(&cmd).map_err(|e| e.to_string())?;
    if out.success() {
        return Ok(());
    }
    let root = ctx.host.root.display().to_string();
    let msg = out
        .brief()
        .replace(&prefix.path().display().to_string(), "STAGE");
    let msg = if ctx.host.is_live() {
        msg
    } else {
        msg.replace(&root, "")
    };
    Err(format!("nginx -t rejects the site: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            name: "postiz".into(),
            domain: "postiz.example.org".into(),
            upstream: "http://127.0.0.1:5000".into(),
            cert: "/etc/ssl/p.pem".into(),
            key: "/etc/ssl/p.key".into(),
            rate: None,
            burst: None,
            hsts_max_age: None,
            referrer_policy: None,
            csp: None,
            max_body: None,
            http_port: None,
            https_port: None,
            ipv6: None,
            headers: std::collections::BTreeMap::new(),
            deny_locations: Vec::new(),
            ignore_invalid_headers: None,
        }
    }

    #[test]
    fn parameters_that_could_inject_directives_are_rejected() {
        assert!(check(&params()).is_none());
        for bad in [
            Params {
                domain: "a.org; include /x".into(),
                ..params()
            },
            Params {
                upstream: "http://x;".into(),
                ..params()
            },
            Params {
                upstream: "ftp://x".into(),
                ..params()
            },
            Params {
                cert: "relative.pem".into(),
                ..params()
            },
            Params {
                csp: Some("a\" always; x".into()),
                ..params()
            },
            Params {
                rate: Some("10r/h".into()),
                ..params()
            },
            Params {
                name: "../x".into(),
                ..params()
            },
            Params {
                headers: [("X-A;".to_string(), "v".to_string())].into(),
                ..params()
            },
            Params {
                headers: [("X-A".to_string(), "v\" always; x".to_string())].into(),
                ..params()
            },
            Params {
                deny_locations: vec!["media".into()],
                ..params()
            },
        ] {
            assert!(check(&bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn the_site_has_every_required_part() {
        let s = render(
            &params(),
            "r",
            Path::new("/etc/ssl/p.pem"),
            "/etc/ssl/p.key",
        );
        for want in [
            "limit_req_zone $binary_remote_addr zone=harden_postiz:10m rate=10r/s;",
            "return 301 https://$host$request_uri;",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;",
            "location ~ /\\.(?!well-known/) {\n        deny all;",
            "limit_req zone=harden_postiz burst=20 nodelay;",
            "proxy_pass http://127.0.0.1:5000;",
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n",
        ] {
            assert!(s.contains(want), "{want} missing:\n{s}");
        }
        let v4 = render(
            &Params {
                ipv6: Some(false),
                ..params()
            },
            "r",
            Path::new("/c"),
            "/k",
        );
        assert!(!v4.contains("[::]"), "{v4}");
    }
}
