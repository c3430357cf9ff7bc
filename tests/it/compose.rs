//! `compose`: the override file harden owns, checked by the real
//! `docker-compose -f USER -f CANDIDATE config -q` (Debian's docker-compose; the
//! machine has no `docker compose` plugin), the user's file never touched,
//! floating image tags reported, idempotent, rolled back exactly.

use std::process::Command;

use crate::support::*;

const USER: &str = "opt/postiz/docker-compose.yml";
const OVERRIDE: &str = "opt/postiz/docker-compose.harden.yml";
const MINE: &str = "# my app\nservices:\n  app:\n    image: ghcr.io/gitroomhq/postiz-app:v2.18.0  # pinned\n    ports: [\"5000:5000\"]\n  redis:\n    image: redis:latest\n  postgres:\n    image: postgres\n    networks: [db]\nnetworks:\n  db: {}\n";

fn playbook(env: &Env, body: &str) -> String {
    env.playbook(
        "pb.yml",
        &format!("name: c\ntasks:\n  - name: Containers\n    id: compose.app\n    severity: high\n    compose:\n      file: /{USER}\n{body}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

const HARDEN: &str = "      all_services:\n        security_opt: [no-new-privileges:true]\n        cap_drop: [ALL]\n        privileged: false\n      services:\n        app:\n          read_only: true\n          user: \"1000:1000\"\n          cap_add: [NET_BIND_SERVICE]\n          tmpfs: [\"/tmp:size=100M,mode=1777\"]\n          limits: { cpus: \"2.0\", memory: 2G }\n          reservations: { cpus: \"0.5\", memory: 512M }\n          networks: [default, backend]\n      internal_networks: [backend]\n";

/// The merged configuration as docker-compose itself resolves it.
fn resolved(env: &Env) -> serde_json::Value {
    let out = Command::new("docker-compose")
        .args(["-f", env.path(USER).to_str().unwrap(), "-f"])
        .arg(env.path(OVERRIDE))
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_saphyr::from_str(&stdout(&out)).unwrap()
}

#[test]
fn override_is_validated_merged_by_compose_idempotent_and_rolled_back() {
    require("docker-compose");
    let env = Env::new();
    env.write(USER, MINE);
    let p = playbook(&env, HARDEN);
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("service `redis` runs image `redis:latest`"),
        "{text}"
    );
    assert!(
        text.contains("service `postgres` runs image `postgres`"),
        "{text}"
    );
    assert!(!text.contains("service `app` runs image"), "{text}");
    assert!(
        text.contains("-f /opt/postiz/docker-compose.harden.yml up -d"),
        "{text}"
    );
    assert!(!text.contains("structural checks only"), "{text}");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    assert_eq!(env.read(USER), MINE, "the user's file is never rewritten");
    let v = resolved(&env);
    let app = &v["services"]["app"];
    assert_eq!(app["read_only"], true);
    assert_eq!(app["user"], "1000:1000");
    assert_eq!(app["cap_drop"], serde_json::json!(["ALL"]));
    assert_eq!(app["cap_add"], serde_json::json!(["NET_BIND_SERVICE"]));
    assert_eq!(
        app["security_opt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(
        app["deploy"]["resources"]["limits"]["cpus"].as_f64(),
        Some(2.0)
    );
    assert_eq!(
        v["services"]["redis"]["cap_drop"],
        serde_json::json!(["ALL"])
    );
    assert!(v["services"]["redis"]["read_only"].is_null());
    assert_eq!(v["networks"]["backend"]["internal"], true);
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn a_value_compose_rejects_fails_the_apply_and_changes_nothing() {
    require("docker-compose");
    let env = Env::new();
    env.write(USER, MINE);
    let p = playbook(
        &env,
        "      services:\n        app:\n          limits: { cpus: lots }\n",
    );
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 6);
    assert!(stderr(&out).contains("config -q"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a valid float"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn root_users_unknown_services_and_missing_files_are_refused() {
    let env = Env::new();
    let p = playbook(&env, "      services:\n        app: { read_only: true }\n");
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    env.write(USER, MINE);
    for (body, want) in [
        (
            "      services:\n        app: { user: \"0:0\" }\n",
            "is root",
        ),
        (
            "      services:\n        web: { read_only: true }\n",
            "service `web` is not defined",
        ),
        (
            "      services:\n        app: { networks: [nope] }\n",
            "network `nope`",
        ),
        (
            "      services:\n        app: { cap_drop: [all] }\n",
            "capability `all`",
        ),
    ] {
        let out = env.harden(&["plan", "-p", &playbook(&env, body)]);
        expect_code(&out, 1);
        assert!(stderr(&out).contains(want), "{body}: {}", stderr(&out));
    }
}

#[test]
fn without_a_compose_tool_only_the_structural_check_runs_and_says_so() {
    let env = Env::new();
    env.write(USER, MINE);
    let p = playbook(&env, HARDEN);
    // A PATH with neither `docker` nor `docker-compose`.
    let empty = env.base.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let path = [("PATH", empty.to_str().unwrap())];
    let out = env.harden_env(&["plan", "-p", &p], &path);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("checked by harden's structural checks only"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden_env(&["apply", "--yes", "-p", &p], &path), 2);
    expect_code(
        &env.harden_env(&["plan", "-p", &p, "--detailed-exitcode"], &path),
        0,
    );
}

#[test]
fn capabilities_the_users_file_adds_are_reported() {
    let env = Env::new();
    env.write(
        USER,
        "services:\n  app:\n    image: app:1.0\n    cap_add: [SYS_ADMIN, NET_BIND_SERVICE]\n  worker:\n    image: \"${WORKER_IMAGE}\"\n",
    );
    let p = playbook(
        &env,
        "      services:\n        app: { cap_drop: [ALL], cap_add: [NET_BIND_SERVICE] }\n",
    );
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("adds SYS_ADMIN, which an override cannot take away"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("image `${WORKER_IMAGE}` is set from a variable"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("not pinned"), "{}", stdout(&out));
}

#[test]
fn an_override_with_only_an_internal_network_is_valid_compose() {
    require("docker-compose");
    let env = Env::new();
    env.write(USER, MINE);
    let p = playbook(&env, "      internal_networks: [backend]\n");
    expect_code(&env.harden(&["apply", "--yes", "-p", &p]), 2);
    assert_eq!(resolved(&env)["networks"]["backend"]["internal"], true);
    expect_code(&env.harden(&["plan", "-p", &p, "--detailed-exitcode"]), 0);
}
