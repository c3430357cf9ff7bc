//! `managed_block`: a marked block in Akkoma's `prod.secret.exs`, validated by the
//! real Elixir `Config.Reader`, idempotent, updated in place, rolled back exactly.

use crate::support::*;

const SECRET: &str = "# Akkoma instance configuration\nimport Config\n\nconfig :pleroma, Pleroma.Web.Endpoint,\n  url: [host: \"social.example.org\", scheme: \"https\", port: 443],\n  secret_key_base: \"s3cr3t-base-do-not-print\"\n\nconfig :pleroma, Pleroma.Repo,\n  password: \"db-pass-do-not-print\"\n";

const BLOCK: &str = r#"config :pleroma, Pleroma.Web.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4000],
  secure_cookie_flag: true

config :pleroma, Pleroma.Upload, base_url: "https://media.example.net/media/"

config :pleroma, :http_security,
  enabled: true,
  sts: true,
  referrer_policy: "same-origin""#;

const PATH: &str = "opt/akkoma/config/prod.secret.exs";

fn akkoma_env() -> Env {
    require("elixir");
    let env = Env::new();
    env.write(PATH, SECRET);
    env.chmod(PATH, 0o640);
    env
}

fn playbook(env: &Env, block: &str, extra: &str) -> String {
    let indented: String = block.lines().fold(String::new(), |mut s, l| {
        s.push_str("        ");
        s.push_str(l);
        s.push('\n');
        s
    });
    env.playbook(
        "pb.yml",
        &format!(
            "name: akkoma\ntasks:\n  - name: Akkoma config\n    id: akkoma.config\n    severity: high\n    managed_block:\n      path: /{PATH}\n      secret: true\n      handler: restart akkoma\n      validator: [env, \"HARDEN_CANDIDATE=%s\", elixir, -e, 'Config.Reader.read!(System.fetch_env!(\"HARDEN_CANDIDATE\"))']\n{extra}      block: |\n{indented}"
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn akkoma_block_is_validated_applied_idempotent_and_rolled_back() {
    let env = akkoma_env();
    let p = playbook(&env, BLOCK, "");
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    let shown = stdout(&out);
    assert!(shown.contains("add managed block"), "{shown}");
    assert!(!shown.contains("do-not-print"), "secret shown:\n{shown}");
    let json = stdout(&env.harden(&["plan", "-p", &p, "--format", "json"]));
    assert!(!json.contains("do-not-print"), "secret in JSON:\n{json}");

    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    let text = env.read(PATH);
    assert!(
        text.starts_with(SECRET),
        "content outside the block changed"
    );
    assert!(
        text.ends_with(&format!(
            "# BEGIN harden akkoma.config\n{BLOCK}\n# END harden akkoma.config\n"
        )),
        "{text}"
    );
    assert_eq!(env.mode(PATH), 0o640, "mode not kept");
    let out = env.harden(&["plan", "-p", &p, "--detailed-exitcode"]);
    expect_code(&out, 0);

    // A changed block is replaced in place; text after it stays.
    std::fs::write(env.path(PATH), format!("{text}# mine\n")).unwrap();
    let p2 = playbook(&env, &BLOCK.replace("same-origin", "no-referrer"), "");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p2]), 2);
    let text2 = env.read(PATH);
    assert_eq!(
        text2,
        format!("{text}# mine\n").replace("same-origin", "no-referrer")
    );

    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    expect_code(&env.harden(&["rollback", "--yes", &first_txn(&env)]), 0);
    assert_eq!(env.tree(), before, "rollback did not restore the file");
}

/// The id of the oldest transaction in `harden history`.
fn first_txn(env: &Env) -> String {
    let hist = stdout(&env.harden(&["history"]));
    let ids: Vec<String> = hist
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    ids.iter()
        .min()
        .cloned()
        .unwrap_or_else(|| panic!("no history:\n{hist}"))
}

#[test]
fn elixir_rejects_a_broken_block_and_nothing_changes() {
    let env = akkoma_env();
    let p = playbook(&env, "config :pleroma, :http_security, [enabled: true", "");
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(
        stderr(&out).contains("rejected the candidate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn other_comment_prefixes_absent_and_unpaired_markers() {
    let env = Env::new();
    env.write("etc/app/app.ini", "; app\nkey = 1\n");
    let pb = |state: &str| {
        env.playbook(
            "ini.yml",
            &format!("tasks:\n  - name: ini\n    id: app.ini\n    managed_block: {{ path: /etc/app/app.ini, comment: ';', state: {state}, block: \"[security]\\nstrict = true\" }}\n"),
        )
        .to_str()
        .unwrap()
        .to_string()
    };
    let before = env.read("etc/app/app.ini");
    expect_code(&env.harden(&["apply", "--yes", "-p", &pb("present")]), 2);
    assert_eq!(
        env.read("etc/app/app.ini"),
        "; app\nkey = 1\n; BEGIN harden app.ini\n[security]\nstrict = true\n; END harden app.ini\n"
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", &pb("absent")]), 2);
    assert_eq!(env.read("etc/app/app.ini"), before);
    expect_code(&env.harden(&["apply", "--yes", "-p", &pb("absent")]), 0);

    env.write("etc/app/app.ini", "; BEGIN harden app.ini\nx\n");
    let out = env.harden(&["plan", "-p", &pb("present")]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("do not pair up"), "{}", stderr(&out));
}

#[test]
fn create_makes_the_file_and_rollback_removes_it() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("etc/app")).unwrap();
    let p = env.playbook(
        "c.yml",
        "tasks:\n  - name: c\n    id: app.extra\n    managed_block: { path: /etc/app/extra.conf, create: true, position: start, block: \"a = 1\" }\n",
    );
    let p = p.to_str().unwrap();
    let before = env.tree();
    let out = env.harden(&["plan", "-p", p]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("create file with managed block"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden(&["apply", "--yes", "-p", p]), 2);
    assert_eq!(
        env.read("etc/app/extra.conf"),
        "# BEGIN harden app.extra\na = 1\n# END harden app.extra\n"
    );
    assert_eq!(env.mode("etc/app/extra.conf"), 0o644);
    expect_code(&env.harden(&["plan", "-p", p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}
