//! Saved plans: `plan -o FILE` then `apply FILE` applies exactly that plan, and
//! refuses (exit 1, nothing changed) when anything it observed moved since.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

fn setup() -> (Env, String, std::path::PathBuf) {
    let env = Env::new();
    env.write("etc/issue.net", "Welcome\n");
    let pb = env.playbook(
        "pb.yml",
        r#"
name: saved
tasks:
  - name: Banner
    id: files.banner
    file: { path: /etc/issue.net, mode: "0644", owner: root, group: root, content: "Authorised use only\n" }
  - name: Secret
    id: files.secret
    file: { path: /etc/app.key, mode: "0600", owner: root, group: root, content: "hunter2-secret\n", secret: true }
"#,
    );
    let plan = env.base.join("plan.json");
    (env, pb.to_str().unwrap().to_string(), plan)
}

#[test]
fn a_saved_plan_applies_when_nothing_changed() {
    let (env, pb, planfile) = setup();
    let before = env.tree();
    let out = env.harden(&["plan", "-p", &pb, "-o", planfile.to_str().unwrap()]);
    expect_code(&out, 0);
    assert_eq!(env.tree(), before, "plan -o changed the root");
    assert!(!env.state.exists(), "plan -o wrote the state directory");
    assert!(!stdout(&out).contains("hunter2"), "secret printed");
    assert_eq!(
        std::fs::metadata(&planfile).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = env.harden(&["apply", "--yes", planfile.to_str().unwrap()]);
    expect_code(&out, 2);
    assert!(!stdout(&out).contains("hunter2"), "secret printed");
    assert_eq!(env.read("etc/issue.net"), "Authorised use only\n");
    assert_eq!(env.read("etc/app.key"), "hunter2-secret\n");
    // Applied: the same plan file is now stale (what it observed is gone).
    let again = env.harden(&["apply", "--yes", planfile.to_str().unwrap()]);
    expect_code(&again, 1);
}

#[test]
fn a_saved_plan_is_refused_after_a_one_byte_change_of_an_observed_file() {
    let (env, pb, planfile) = setup();
    expect_code(
        &env.harden(&["plan", "-p", &pb, "-o", planfile.to_str().unwrap()]),
        0,
    );
    env.write("etc/issue.net", "Welcomf\n");
    let before = env.tree();
    let out = env.harden(&["apply", "--yes", planfile.to_str().unwrap()]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("is stale"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("files.banner /etc/issue.net"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.tree(), before, "a refused plan changed something");
}

#[test]
fn a_saved_plan_is_refused_when_the_playbook_or_the_file_changed() {
    let (env, pb, planfile) = setup();
    let p = planfile.to_str().unwrap();
    expect_code(&env.harden(&["plan", "-p", &pb, "-o", p]), 0);
    let before = env.tree();
    let saved = std::fs::read_to_string(&planfile).unwrap();
    // An edited plan file: the seal no longer matches.
    std::fs::write(&planfile, saved.replacen("Authorised", "Authorized", 1)).unwrap();
    let out = env.harden(&["apply", "--yes", p]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("seal"), "{}", stderr(&out));
    // A playbook edited after the review.
    std::fs::write(&planfile, &saved).unwrap();
    let text = std::fs::read_to_string(&pb).unwrap();
    std::fs::write(&pb, format!("{text}\n# edited\n")).unwrap();
    let out = env.harden(&["apply", "--yes", p]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("a playbook changed"),
        "{}",
        stderr(&out)
    );
    // Another root.
    std::fs::write(&pb, text).unwrap();
    let other = Env::new();
    let out = other.harden(&["apply", "--yes", p]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("made for root"), "{}", stderr(&out));
    assert_eq!(env.tree(), before);
    // A plan file cannot be combined with playbook arguments.
    expect_code(&env.harden(&["apply", "--yes", p, "-p", &pb]), 1);
}
