//! `nginx`: a managed site checked with the real `nginx -t`, applied, converged,
//! rolled back; then served by a real nginx inside `unshare -p -f -m -n` and
//! probed with curl: the redirect, every security header, dot-file denial and the
//! rate limit.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const SITE: &str = "etc/nginx/conf.d/harden-postiz.conf";

/// A root with a self-signed certificate for postiz.example.org.
fn nginx_env() -> Env {
    let env = Env::new();
    self_signed_cert(
        &env,
        "etc/ssl/harden/postiz.pem",
        "etc/ssl/harden/postiz.key",
    );
    env
}

/// Writes a self-signed certificate and key for postiz.example.org into the root.
pub(crate) fn self_signed_cert(env: &Env, cert: &str, key: &str) {
    require("nginx");
    require("openssl");
    for p in [cert, key] {
        std::fs::create_dir_all(env.path(p).parent().unwrap()).unwrap();
    }
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=postiz.example.org"])
            .arg("-keyout")
            .arg(env.path(key))
            .arg("-out")
            .arg(env.path(cert)),
    );
}

/// The Postiz reverse-proxy rule, with `extra` parameters.
fn proxy(extra: &serde_json::Value) -> Playbook {
    let mut params = json!({
        "name": "postiz",
        "domain": "postiz.example.org",
        "upstream": "http://127.0.0.1:5000",
        "cert": "/etc/ssl/harden/postiz.pem",
        "key": "/etc/ssl/harden/postiz.key",
        "csp": "default-src 'self'"
    });
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Playbook::new("proxy").task(
        Task::new("proxy.postiz", "nginx", params)
            .name("Postiz reverse proxy")
            .severity("high"),
    )
}

#[test]
fn site_is_checked_applied_idempotent_and_rolled_back() {
    let t = Test::on(nginx_env()).playbook(&proxy(&json!({})));
    let before = t.tree();
    t.plan()
        .code(0)
        .stdout_has("checked with nginx -t")
        .stdout_has("then: reload nginx");
    t.converge_from(&before, |_| {
        assert_has(&t.read(SITE), "ssl_certificate /etc/ssl/harden/postiz.pem;");
    });
}

#[test]
fn nginx_t_rejects_a_missing_certificate_and_a_bad_size() {
    let t = Test::on(nginx_env()).playbook(&proxy(&json!({})));
    std::fs::remove_file(t.path("etc/ssl/harden/postiz.pem")).unwrap();
    t.plan().code(1).stderr_has("nginx -t rejects the site");
    let t = Test::on(nginx_env()).playbook(&proxy(&json!({ "max_body": "lots" })));
    t.plan().code(1).stderr_has("client_max_body_size");
}

/// Runs a real nginx on `PREFIX/nginx.conf` in fresh namespaces (the root's
/// certificate directory bound over a private tmpfs `/etc/ssl`, loopback up),
/// runs the shell `probes` against it, stops it and returns their output.
fn serve(env: &Env, prefix: &Path, probes: &str) -> String {
    let script = format!(
        "set -e; mount --make-rprivate /; mount -t tmpfs tmpfs /etc/ssl; mkdir /etc/ssl/harden; \
         mount --bind \"$1/etc/ssl/harden\" /etc/ssl/harden; ip link set lo up; \
         nginx -e \"$2/error.log\" -c \"$2/nginx.conf\" -p \"$2/\"; {probes}; \
         nginx -s quit -e \"$2/error.log\" -c \"$2/nginx.conf\" -p \"$2/\""
    );
    run_ok(
        Command::new("unshare")
            .args(["-p", "-f", "-m", "-n", "sh", "-c", &script, "sh"])
            .arg(&env.root)
            .arg(prefix),
    )
}

/// Serves the applied site alone and returns curl's header dumps, separated by
/// `=====`.
fn serve_and_probe(env: &Env) -> String {
    let prefix = env.base.join("nginx-prefix");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::write(
        prefix.join("nginx.conf"),
        harden::modules::nginx::staged_conf(&prefix, &env.path(SITE)),
    )
    .unwrap();
    let curl = "curl -sS -D - -o /dev/null --max-time 5";
    serve(
        env,
        &prefix,
        &format!(
            "{curl} -H 'Host: postiz.example.org' http://127.0.0.1/x?y=1; echo =====; \
         {curl} -k --resolve postiz.example.org:443:127.0.0.1 https://postiz.example.org/; echo =====; \
         {curl} -k --resolve postiz.example.org:443:127.0.0.1 https://postiz.example.org/.env; echo =====; \
         for i in 1 2 3; do {curl} -k --resolve postiz.example.org:443:127.0.0.1 https://postiz.example.org/; done"
        ),
    )
}

#[test]
fn real_nginx_serves_redirect_headers_dotfile_denial_and_rate_limit() {
    require("unshare");
    require("curl");
    require("ip");
    let t = Test::on(nginx_env()).playbook(&proxy(&json!({ "rate": "1r/m", "burst": 1 })));
    t.apply().code(2);
    let text = serve_and_probe(&t).to_ascii_lowercase();
    let parts: Vec<&str> = text.split("=====").collect();
    assert_eq!(parts.len(), 4, "{text}");
    assert!(parts[0].contains("301 moved permanently"), "{}", parts[0]);
    assert!(
        parts[0].contains("location: https://postiz.example.org/x?y=1"),
        "{}",
        parts[0]
    );
    // No upstream runs: 502, but the headers are sent `always`.
    assert!(parts[1].contains(" 502 "), "{}", parts[1]);
    for h in [
        "strict-transport-security: max-age=63072000; includesubdomains",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: same-origin",
        "content-security-policy: default-src 'self'",
    ] {
        assert!(parts[1].contains(h), "{h} missing:\n{}", parts[1]);
    }
    assert!(
        !parts[1].contains("server: nginx/"),
        "version shown:\n{}",
        parts[1]
    );
    assert!(parts[2].contains(" 403 "), "dot-file served:\n{}", parts[2]);
    assert!(parts[3].contains(" 429 "), "no rate limit:\n{}", parts[3]);
}

/// An app that sends its own security headers (Akkoma does) behind the site:
/// each header reaches the client once, nginx's value; extra headers are sent;
/// a denied prefix answers 404 without reaching the app; a header nginx calls
/// invalid (an underscore) reaches the app with `ignore_invalid_headers: false`.
#[test]
fn the_apps_own_copies_of_headers_are_hidden_and_denied_prefixes_answer_404() {
    require("unshare");
    require("curl");
    require("ip");
    let t = Test::on(nginx_env()).playbook(&proxy(&json!({
        "headers": { "X-Permitted-Cross-Domain-Policies": "none" },
        "deny_locations": ["/media", "/proxy"],
        "ignore_invalid_headers": false
    })));
    t.apply().code(2);
    let prefix = t.base.join("nginx-prefix");
    std::fs::create_dir_all(&prefix).unwrap();
    // The app: its own copies of the headers, and the odd header it was sent, echoed.
    let app = prefix.join("app.conf");
    std::fs::write(
        &app,
        "server {\n    listen 127.0.0.1:5000;\n    ignore_invalid_headers off;\n    add_header X-Frame-Options SAMEORIGIN;\n    add_header X-Permitted-Cross-Domain-Policies all;\n    add_header Referrer-Policy unsafe-url;\n    add_header Seen-Odd \"$http_x_odd\";\n    return 200 app;\n}\n",
    )
    .unwrap();
    let conf = harden::modules::nginx::staged_conf(&prefix, &t.path(SITE)).replace(
        "    include ",
        &format!("    include {};\n    include ", app.display()),
    );
    std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
    let curl =
        "curl -sS -D - -o /dev/null --max-time 5 -k --resolve postiz.example.org:443:127.0.0.1";
    let text = serve(
        &t,
        &prefix,
        &format!(
            "{curl} -H 'X_Odd: 1' https://postiz.example.org/; echo =====; \
             {curl} https://postiz.example.org/media/a.png"
        ),
    )
    .to_ascii_lowercase();
    let parts: Vec<&str> = text.split("=====").collect();
    assert!(parts[0].contains(" 200 "), "{}", parts[0]);
    for (name, want) in [
        ("x-frame-options", "deny"),
        ("x-permitted-cross-domain-policies", "none"),
        ("referrer-policy", "same-origin"),
    ] {
        let values: Vec<&str> = parts[0]
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::trim)
            .collect();
        assert_eq!(values, [want], "{name}:\n{}", parts[0]);
    }
    assert!(parts[0].contains("seen-odd: 1"), "{}", parts[0]);
    assert!(parts[1].contains(" 404 "), "{}", parts[1]);
}
