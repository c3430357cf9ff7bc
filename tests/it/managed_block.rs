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

/// Akkoma's config with its secrets, mode 0640.
fn akkoma_env() -> Test {
    require("elixir");
    Test::new().file(PATH, SECRET).file_mode(PATH, 0o640)
}

/// The Akkoma config rule managing `block`, checked by Elixir's reader.
fn akkoma_block(block: &str) -> Playbook {
    Playbook::new("akkoma").task(
        Task::new(
            "akkoma.config",
            "managed_block",
            json!({
                "path": format!("/{PATH}"),
                "secret": true,
                "handler": "restart akkoma",
                "validator": [
                    "env",
                    "HARDEN_CANDIDATE=%s",
                    "elixir",
                    "-e",
                    "Config.Reader.read!(System.fetch_env!(\"HARDEN_CANDIDATE\"))"
                ],
                "block": format!("{block}\n")
            }),
        )
        .name("Akkoma config")
        .severity("high"),
    )
}

#[test]
fn akkoma_block_is_validated_applied_idempotent_and_rolled_back() {
    let env = akkoma_env().playbook(&akkoma_block(BLOCK));
    let before = env.tree();
    let shown = env.plan().code(0).stdout_has("add managed block").stdout();
    assert!(!shown.contains("do-not-print"), "secret shown:\n{shown}");
    let json = env.plan_args(&["--format", "json"]).stdout();
    assert!(!json.contains("do-not-print"), "secret in JSON:\n{json}");

    env.apply().code(2);
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
    env.replan().code(0);

    // A changed block is replaced in place; text after it stays.
    std::fs::write(env.path(PATH), format!("{text}# mine\n")).unwrap();
    env.set_playbook(&akkoma_block(&BLOCK.replace("same-origin", "no-referrer")));
    env.apply().code(2);
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
    let env = akkoma_env().playbook(&akkoma_block(
        "config :pleroma, :http_security, [enabled: true",
    ));
    let before = env.tree();
    env.apply().code(6).stderr_has("rejected the candidate");
    assert_eq!(env.tree(), before);
}

#[test]
fn other_comment_prefixes_absent_and_unpaired_markers() {
    let env = Test::new().file("etc/app/app.ini", "; app\nkey = 1\n");
    let block = |state: &str| {
        Playbook::unnamed().task(
            Task::new(
                "app.ini",
                "managed_block",
                json!({
                    "path": "/etc/app/app.ini",
                    "comment": ";",
                    "state": state,
                    "block": "[security]\nstrict = true"
                }),
            )
            .name("ini"),
        )
    };
    let before = env.read("etc/app/app.ini");
    let env = env.playbook(&block("present"));
    env.apply().code(2);
    assert_eq!(
        env.read("etc/app/app.ini"),
        "; app\nkey = 1\n; BEGIN harden app.ini\n[security]\nstrict = true\n; END harden app.ini\n"
    );
    env.set_playbook(&block("absent"));
    env.apply().code(2);
    assert_eq!(env.read("etc/app/app.ini"), before);
    env.apply().code(0);

    env.write("etc/app/app.ini", "; BEGIN harden app.ini\nx\n");
    env.set_playbook(&block("present"));
    env.plan().code(1).stderr_has("do not pair up");
}

#[test]
fn create_makes_the_file_and_rollback_removes_it() {
    let env = Test::new().dir("etc/app").playbook(
        &Playbook::unnamed().task(
            Task::new(
                "app.extra",
                "managed_block",
                json!({
                    "path": "/etc/app/extra.conf",
                    "create": true,
                    "position": "start",
                    "block": "a = 1"
                }),
            )
            .name("c"),
        ),
    );
    let before = env.tree();
    env.plan()
        .code(0)
        .stdout_has("create file with managed block");
    env.converge_from(&before, |_| {
        assert_eq!(
            env.read("etc/app/extra.conf"),
            "# BEGIN harden app.extra\na = 1\n# END harden app.extra\n"
        );
        assert_eq!(env.mode("etc/app/extra.conf"), 0o644);
    });
}
