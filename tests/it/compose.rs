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

/// Postiz's official layout (`docker-compose.yaml`, service `postiz`, secrets
/// inline, ports 5000 and 8969 on every address): found by directory, the
/// exposed ports named in the plan until daemon.json's `ip` binds them to
/// loopback, the file made 0600 root, the app run as the service account's
/// uid, `API_LIMIT` and journald logging through the override, and the
/// database's shared network made internal with the app and spotlight routed
/// out through `default`; docker-compose accepts the result.
#[test]
fn the_official_postiz_layout_is_found_its_ports_and_secrets_reported() {
    require("docker-compose");
    let env = Env::new();
    let official = include_str!("fixtures/postiz-official/docker-compose.yaml");
    env.write("opt/postiz/docker-compose.yaml", official);
    env.chmod("opt/postiz/docker-compose.yaml", 0o644);
    env.write("etc/gshadow", "root:*::\n");
    let compose = "  - name: Containers\n    id: c.compose\n    severity: high\n    compose:\n      dir: /opt/postiz\n      protect_secrets: true\n      proxied_port: 5000\n      internal_services: [postiz-postgres, \"postiz-redis|redis\"]\n      services:\n        \"postiz|app\":\n          user: postiz\n          environment: { API_LIMIT: 30 }\n          logging: { driver: journald, options: { tag: postiz } }\n";
    let account = "  - name: Account\n    id: c.user\n    user: { name: postiz, system: true, shell: /usr/sbin/nologin, home: /opt/postiz }\n";
    let loopback = "  - name: Loopback\n    id: c.daemon\n    docker_daemon: { settings: { ip: 127.0.0.1 } }\n";

    let alone = env.playbook("alone.yml", &format!("name: c\ntasks:\n{account}{compose}"));
    let out = env.harden(&["plan", "-p", alone.to_str().unwrap()]);
    expect_code(&out, 0);
    let text = stdout(&out);
    for want in [
        "published ports reachable from other hosts, past the firewall (Docker's iptables rules come before ufw's): postiz 5000:5000, spotlight 8969:8969 (daemon.json sets no \"ip\"",
        "0644 0:0 -> 0600 root:root: it holds secrets inline (postiz.JWT_SECRET, postiz.DATABASE_URL, postiz.LINKEDIN_CLIENT_SECRET, postiz-postgres.POSTGRES_PASSWORD)",
        "network `postiz-network` of postiz-postgres is declared internal (no route out of the host; postiz, spotlight keep their route out through the project's `default` network, which the override adds them to)",
        "service `postiz` runs image `ghcr.io/gitroomhq/postiz-app:latest`, which is not pinned",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(
        !text.contains("fixture-jwt-secret"),
        "a secret shown:\n{text}"
    );

    let full = env.playbook(
        "full.yml",
        &format!("name: c\ntasks:\n{account}{loopback}{compose}"),
    );
    let full = full.to_str().unwrap();
    let out = env.harden(&["plan", "-p", full]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("published ports reachable from other hosts until now, past the firewall (Docker's iptables rules come before ufw's): postiz 5000:5000, spotlight 8969:8969; on loopback only once docker restarts with this plan's daemon.json (daemon.json \"ip\": \"127.0.0.1\""),
        "{text}"
    );
    assert!(!text.contains("reachable from other hosts, past"), "{text}");
    let before = env.tree();
    expect_code(&env.harden(&["apply", "--yes", "-p", full]), 2);
    assert_eq!(env.read("opt/postiz/docker-compose.yaml"), official);
    assert_eq!(env.mode("opt/postiz/docker-compose.yaml"), 0o600);
    let uid = env.uid_gid("postiz");
    let out = Command::new("docker-compose")
        .args([
            "-f",
            env.path("opt/postiz/docker-compose.yaml").to_str().unwrap(),
            "-f",
        ])
        .arg(env.path("opt/postiz/docker-compose.harden.yml"))
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    let app = &v["services"]["postiz"];
    assert_eq!(app["user"], uid.as_str());
    assert_ne!(uid, "1000:1000");
    assert_eq!(app["environment"]["API_LIMIT"], "30");
    assert_eq!(app["logging"]["driver"], "journald");
    assert_eq!(app["logging"]["options"]["tag"], "postiz");
    // The database and redis only on the now internal network; the app and
    // spotlight on it and on `default`, which keeps their route out.
    assert_eq!(v["networks"]["postiz-network"]["internal"], true);
    let nets = |svc: &str| {
        let mut n: Vec<String> = match &v["services"][svc]["networks"] {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            other => panic!("{svc}: networks {other}"),
        };
        n.sort();
        n
    };
    assert_eq!(nets("postiz-postgres"), ["postiz-network"]);
    assert_eq!(nets("postiz-redis"), ["postiz-network"]);
    assert_eq!(nets("postiz"), ["default", "postiz-network"]);
    assert_eq!(nets("spotlight"), ["default", "postiz-network"]);
    assert!(v["networks"]["default"]["internal"] != true, "{v}");
    let out = env.harden(&["plan", "-p", full, "--detailed-exitcode"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out)
            .contains("published ports on loopback only: postiz 5000:5000, spotlight 8969:8969"),
        "{}",
        stdout(&out)
    );
    expect_code(&env.harden(&["rollback", "--yes"]), 0);
    assert_eq!(env.tree(), before);
}

/// A network only the database uses is declared internal by the override;
/// a user named but absent is an error; no Compose file in the directory, a skip.
#[test]
fn a_database_only_network_becomes_internal_and_names_must_resolve() {
    require("docker-compose");
    let env = Env::new();
    env.write(
        "srv/app/compose.yaml",
        "services:\n  web:\n    image: web:1.0\n    networks: [front, back]\n  db:\n    image: postgres:16\n    networks: [back]\nnetworks:\n  front: {}\n  back: {}\n",
    );
    let pb = |body: &str| {
        env.playbook(
            "n.yml",
            &format!("name: n\ntasks:\n  - name: C\n    id: n.c\n    compose:\n      dir: /srv/app\n{body}"),
        )
        .to_str()
        .unwrap()
        .to_string()
    };
    let p = pb("      internal_services: [db]\n");
    let out = env.harden(&["apply", "--yes", "-p", &p]);
    expect_code(&out, 2);
    assert!(
        stdout(&out).contains("network `back` of db is declared internal"),
        "{}",
        stdout(&out)
    );
    assert!(
        env.read("srv/app/docker-compose.harden.yml")
            .contains("\"back\":\n    internal: true\n")
    );
    let out = env.harden(&[
        "plan",
        "-p",
        &pb("      services:\n        web: { user: nosuch }\n"),
    ]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("user `nosuch` is not in the root's /etc/passwd"),
        "{}",
        stderr(&out)
    );
    let out = env.harden(&[
        "plan",
        "-p",
        &pb("      services:\n        \"app|api\": { read_only: true }\n"),
    ]);
    expect_code(&out, 1);
    assert!(
        stderr(&out)
            .contains("service `app|api` is not defined in the Compose file (it has: db, web)"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(env.path("srv/app/compose.yaml")).unwrap();
    // No Compose file in the directory: skipped with the reason, never compliant.
    let out = env.harden(&["plan", "-p", &p]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("skipped n.c: /srv/app has no Compose file (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)"), "{}", stdout(&out));
}
