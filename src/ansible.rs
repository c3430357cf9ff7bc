//! harden as an Ansible binary module. Ansible copies an executable module to the
//! target and calls it with one argument: the path of a JSON file holding the task's
//! arguments (plus Ansible's `_ansible_check_mode`, `_ansible_diff`, ...). It reads
//! one JSON object from stdout. This room translates between that protocol and the
//! [`crate::session`] (the same layer behind the command line, which it never
//! calls); it owns no hardening logic of its own.
//!
//! Semantics are Ansible's: `changed` is true only when something changed (or, in
//! check mode, would change); `--check` plans and writes nothing; `--diff` returns
//! harden's diffs in Ansible's `diff` shape with secrets redacted; `failed` carries
//! harden's message and whether the snapshot was restored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::render;
use crate::engine::state::Outcome;
use crate::error::exit;
use crate::plan::Plan;
use crate::playbook::VarValue;
use crate::session::{Request, Session, Target};

/// What the task asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Converge the host (apply).
    #[default]
    Applied,
    /// Report drift only; never changes anything.
    Checked,
}

/// The module's arguments, as the playbook task gives them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// A playbook path on the target, or an embedded name (`baseline`, ...).
    #[serde(default = "default_playbook")]
    pub playbook: String,
    #[serde(default)]
    pub state: State,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Root to harden (an image or a chroot); `/` by default.
    #[serde(default)]
    pub root: Option<PathBuf>,
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub skip_tags: Vec<String>,
    /// Apply even though an anti-lockout guard refuses.
    #[serde(default)]
    pub i_accept_lockout_risk: bool,
    #[serde(default, rename = "_ansible_check_mode")]
    pub check_mode: bool,
    #[serde(default, rename = "_ansible_diff")]
    pub diff: bool,
}

fn default_playbook() -> String {
    "baseline".into()
}

/// Whether this process was started by Ansible as a binary module: exactly one
/// argument, an absolute path (Ansible always passes one) that is not a subcommand
/// name, naming a regular file that holds a JSON object carrying at least one of
/// Ansible's own `_ansible_*` keys (flat, or under `ANSIBLE_MODULE_ARGS`). A file
/// in the working directory named like a subcommand, or any relative path, never
/// switches harden into module mode: `harden plan` is always the dry run.
#[must_use]
pub fn args_file(argv: &[std::ffi::OsString]) -> Option<PathBuf> {
    let [_, arg] = argv else { return None };
    let path = Path::new(arg);
    if !path.is_absolute() {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_ARGS_FILE {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    let value: Value = serde_json::from_slice(&text).ok()?;
    let inner = value.get("ANSIBLE_MODULE_ARGS").unwrap_or(&value);
    let from_ansible = inner
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k.starts_with("_ansible_")));
    (value.is_object() && from_ansible).then(|| path.to_path_buf())
}

/// Ansible's arguments files are small; anything larger is not one.
const MAX_ARGS_FILE: u64 = 16 << 20;

/// Runs the module for the arguments in `file`, prints Ansible's result on
/// stdout and returns the exit code (failed or not).
#[must_use]
pub fn main(file: &Path) -> i32 {
    let result = run_file(file);
    println!("{result}");
    if result["failed"] == Value::Bool(true) {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// Runs the module for the arguments in `file` and returns Ansible's result.
#[must_use]
pub fn run_file(file: &Path) -> Value {
    let parsed = std::fs::read(file)
        .map_err(|e| format!("cannot read the arguments file {}: {e}", file.display()))
        .and_then(|bytes| {
            let mut v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the arguments file is not JSON: {e}"))?;
            // New-style wrappers nest the arguments; binary modules get them flat.
            if let Some(inner) = v.get_mut("ANSIBLE_MODULE_ARGS") {
                v = inner.take();
            }
            strip_internal(&mut v);
            serde_json::from_value::<Args>(v).map_err(|e| format!("bad module arguments: {e}"))
        });
    match parsed {
        Ok(args) => run(&args),
        Err(msg) => failed(&msg, None),
    }
}

/// Ansible adds many `_ansible_*` keys; keep the two we use, drop the rest.
fn strip_internal(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        map.retain(|k, _| {
            !k.starts_with("_ansible_") || k == "_ansible_check_mode" || k == "_ansible_diff"
        });
    }
}

fn failed(msg: &str, extra: Option<Value>) -> Value {
    let mut out = json!({ "failed": true, "changed": false, "msg": msg });
    if let (Some(obj), Some(Value::Object(more))) = (out.as_object_mut(), extra) {
        obj.extend(more);
    }
    out
}

/// Where the task acts.
fn target(args: &Args) -> Target {
    Target {
        root: args.root.clone().unwrap_or_else(|| PathBuf::from("/")),
        state_dir: args.state_dir.clone(),
    }
}

/// What the task plans: its `vars` as typed variables (a list or a mapping,
/// which no playbook variable holds, as its JSON text).
fn request(args: &Args) -> Request {
    let vars = args
        .vars
        .iter()
        .map(|(k, v)| {
            let var = serde_json::from_value::<VarValue>(v.clone())
                .unwrap_or_else(|_| VarValue::Str(v.to_string()));
            (k.clone(), var)
        })
        .collect();
    Request {
        playbooks: vec![args.playbook.clone()],
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        vars,
        probes: false,
    }
}

/// Ansible's `diff`: one entry per change, file diffs as before/after, secrets
/// redacted, other changes as a prepared line.
#[must_use]
pub fn diffs(plan: &Plan) -> Value {
    let entries: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| match &c.diff {
            Some(d) if d.redacted => json!({
                "before_header": c.target, "after_header": c.target,
                "before": "<secret content hidden>\n", "after": "<secret content hidden>\n",
            }),
            Some(d) => json!({
                "before_header": c.target, "after_header": c.target,
                "before": d.before, "after": d.after,
            }),
            None => json!({ "prepared": format!("{} {}: {}\n", c.rule_id, c.target, c.summary) }),
        })
        .collect();
    Value::Array(entries)
}

/// Marks `out` failed when rules failed: `failed` with each rule's error, after
/// whatever the other rules did (Puppet's model, as `harden apply`).
fn with_rule_errors(mut out: Value, plan: &Plan) -> Value {
    if plan.errors.is_empty() {
        return out;
    }
    let each: Vec<String> = plan
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.rule_id, e.message))
        .collect();
    let done = out["msg"].as_str().map(str::to_string);
    out["failed"] = json!(true);
    out["msg"] = json!(format!(
        "{} rule(s) failed: {}{}",
        each.len(),
        each.join("; "),
        done.map(|d| format!(" (the other rules: {d})"))
            .unwrap_or_default()
    ));
    out["harden"]["errors"] = json!(plan.errors);
    out
}

/// Runs the module.
#[must_use]
pub fn run(args: &Args) -> Value {
    let (session, whole) = match Session::plan(&target(args), &request(args)) {
        Ok(x) => x,
        Err(e) => return failed(&e.to_string(), None),
    };
    let plan_json = render::json(&whole.plan);
    let mut out = json!({ "changed": false, "failed": false, "harden": { "plan": plan_json } });
    if args.diff {
        out["diff"] = diffs(&whole.plan);
    }
    let drift = whole.plan.changes.len();
    if args.state == State::Checked {
        out["msg"] = json!(format!(
            "{drift} rule(s) drift from {}",
            whole.plan.playbook
        ));
        out["drift"] = json!(drift);
        return with_rule_errors(out, &whole.plan);
    }
    if args.check_mode || drift == 0 {
        // What apply would leave out for the anti-lockout guards, failed alone.
        let whole = match session.without_refused(whole, args.i_accept_lockout_risk) {
            Ok(x) => x,
            Err(e) => return failed(&e.to_string(), Some(out)),
        };
        let drift = whole.plan.changes.len();
        out["changed"] = json!(drift > 0);
        out["msg"] = json!(if drift == 0 {
            "compliant: nothing to change".to_string()
        } else {
            format!("{drift} change(s) would be applied")
        });
        return with_rule_errors(out, &whole.plan);
    }
    let state = match session.state() {
        Ok(s) => s,
        Err(e) => return failed(&e.to_string(), Some(out)),
    };
    let planned = match session.isolate(whole, args.i_accept_lockout_risk) {
        Ok(x) => x,
        Err(e) => return failed(&e.to_string(), Some(out)),
    };
    let plan = &planned.plan;
    out["harden"]["plan"] = render::json(plan);
    let drift = plan.changes.len();
    if drift == 0 {
        out["msg"] = json!("nothing else to change");
        return with_rule_errors(out, plan);
    }
    let report = match session.apply(&state, &planned) {
        Ok(r) => r,
        Err(e) => return failed(&e.to_string(), Some(out)),
    };
    out["harden"]["txn"] = json!(report.txn);
    out["harden"]["outcome"] = json!(report.outcome);
    match report.outcome {
        Outcome::Committed => {
            out["changed"] = json!(true);
            out["msg"] = json!(format!(
                "{drift} change(s) applied in transaction {}",
                report.txn
            ));
            with_rule_errors(out, plan)
        }
        outcome => {
            let rolled_back = matches!(outcome, Outcome::RolledBack | Outcome::ValidationFailed);
            out["rolled_back"] = json!(rolled_back);
            let msg = format!(
                "apply failed ({}); {}",
                report.message.as_deref().unwrap_or("no detail"),
                if rolled_back {
                    "the snapshot was restored"
                } else {
                    "restoring the snapshot failed too"
                }
            );
            failed(&msg, Some(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_args(dir: &Path, v: &Value) -> PathBuf {
        let p = dir.join("args");
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p
    }

    fn root_with_secret(dir: &Path) -> (PathBuf, PathBuf) {
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        let pb = dir.join("pb.yml");
        std::fs::write(
            &pb,
            "tasks:\n  - name: env\n    id: app.env\n    file: {path: /etc/app.env, mode: \"0600\", content: \"TOKEN={{ token }}\\n\", secret: true}\n  - name: motd\n    id: motd\n    file: {path: /etc/motd, content: \"{{ motd }}\\n\"}\n",
        )
        .unwrap();
        (root, pb)
    }

    #[test]
    fn detects_an_arguments_file_only() {
        let t = tempfile::tempdir().unwrap();
        let p = write_args(
            t.path(),
            &json!({"playbook": "baseline", "_ansible_version": "2.17.0"}),
        );
        let argv = |a: &str| vec!["harden".into(), a.into()];
        assert_eq!(args_file(&argv(p.to_str().unwrap())), Some(p.clone()));
        assert_eq!(args_file(&argv("plan")), None);
        assert_eq!(args_file(&argv("--help")), None);
        // New-style wrappers nest the arguments, Ansible's keys included.
        let nested = json!({"ANSIBLE_MODULE_ARGS": {"_ansible_check_mode": true}});
        std::fs::write(&p, nested.to_string()).unwrap();
        assert_eq!(args_file(&argv(p.to_str().unwrap())), Some(p.clone()));
        // No Ansible key: not Ansible calling.
        std::fs::write(&p, r#"{"playbook": "baseline"}"#).unwrap();
        assert_eq!(args_file(&argv(p.to_str().unwrap())), None);
        std::fs::write(&p, "[1]").unwrap();
        assert_eq!(args_file(&argv(p.to_str().unwrap())), None);
    }

    #[test]
    fn check_mode_reports_changed_writes_nothing_and_redacts_secrets() {
        let t = tempfile::tempdir().unwrap();
        let (root, pb) = root_with_secret(t.path());
        let args = json!({
            "playbook": pb, "root": root, "state_dir": t.path().join("state"),
            "vars": {"token": "s3cr3t-value", "motd": "hello"},
            "_ansible_check_mode": true, "_ansible_diff": true,
            "_ansible_verbosity": 0, "_ansible_version": "2.17.0",
        });
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["changed"], json!(true), "{out}");
        assert_eq!(out["failed"], json!(false), "{out}");
        assert!(!root.join("etc/motd").exists());
        assert!(!t.path().join("state").exists());
        let text = out.to_string();
        assert!(!text.contains("s3cr3t-value"), "secret leaked: {text}");
        let diff = out["diff"].as_array().unwrap();
        assert_eq!(diff[0]["before"], json!("<secret content hidden>\n"));
        assert_eq!(diff[1]["after"], json!("hello\n"));
    }

    #[test]
    fn applied_changes_once_then_reports_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let (root, pb) = root_with_secret(t.path());
        let args = json!({
            "playbook": pb, "root": root, "state_dir": t.path().join("state"),
            "vars": {"token": "x", "motd": 42},
        });
        let file = write_args(t.path(), &args);
        let first = run_file(&file);
        assert_eq!(first["changed"], json!(true), "{first}");
        assert_eq!(first["harden"]["outcome"], json!("committed"));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/motd")).unwrap(),
            "42\n"
        );
        let second = run_file(&file);
        assert_eq!(second["changed"], json!(false), "{second}");
        assert_eq!(second["failed"], json!(false), "{second}");
    }

    #[test]
    fn vars_keep_their_json_type_as_text() {
        let t = tempfile::tempdir().unwrap();
        let (root, pb) = root_with_secret(t.path());
        for (motd, text) in [
            (json!(true), "true\n"),
            (json!(1.5), "1.5\n"),
            (json!("a=b"), "a=b\n"),
        ] {
            let args = json!({
                "playbook": pb, "root": root, "state_dir": t.path().join("state"),
                "vars": {"token": "x", "motd": motd},
                "_ansible_check_mode": true, "_ansible_diff": true,
            });
            let out = run_file(&write_args(t.path(), &args));
            assert_eq!(out["failed"], json!(false), "{out}");
            assert_eq!(out["diff"][1]["after"], json!(text), "{out}");
        }
    }

    #[test]
    fn a_failed_rule_fails_the_task_after_the_rest_is_applied() {
        let t = tempfile::tempdir().unwrap();
        let (root, _) = root_with_secret(t.path());
        let pb = t.path().join("mixed.yml");
        std::fs::write(
            &pb,
            "tasks:\n  - {name: ghost, id: svc.ghost, service: {name: ghost, enabled: true}}\n  - {name: motd, id: motd, file: {path: /etc/motd, content: \"m\\n\"}}\n",
        )
        .unwrap();
        let args = json!({"playbook": pb, "root": root, "state_dir": t.path().join("state")});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["failed"], json!(true), "{out}");
        assert_eq!(out["changed"], json!(true), "{out}");
        assert_eq!(out["harden"]["errors"][0]["rule_id"], json!("svc.ghost"));
        let msg = out["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("1 rule(s) failed: svc.ghost: the root has no unit ghost.service"),
            "{msg}"
        );
        assert!(
            msg.contains("(the other rules: 1 change(s) applied in transaction"),
            "{msg}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/motd")).unwrap(),
            "m\n"
        );
        // Checked: still failed, nothing changes.
        let args = json!({"playbook": pb, "root": root, "state": "checked",
            "state_dir": t.path().join("state")});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["failed"], json!(true), "{out}");
        assert_eq!(out["changed"], json!(false), "{out}");
    }

    #[test]
    fn a_rule_the_anti_lockout_guard_refuses_fails_alone_in_check_mode_and_apply() {
        let t = tempfile::tempdir().unwrap();
        let (root, _) = root_with_secret(t.path());
        std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
        std::fs::write(
            root.join("etc/ssh/sshd_config"),
            "PasswordAuthentication yes\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("root")).unwrap();
        let pb = t.path().join("guard.yml");
        std::fs::write(
            &pb,
            "tasks:\n  - {name: motd, id: motd, file: {path: /etc/motd, content: \"m\\n\"}}\n  - {name: ssh, id: ssh.keys, sshd: {settings: {PasswordAuthentication: false, KbdInteractiveAuthentication: false}}}\n",
        )
        .unwrap();
        let state = t.path().join("state");
        // Check mode names the refused rule, and the one change apply would make.
        let args =
            json!({"playbook": pb, "root": root, "state_dir": state, "_ansible_check_mode": true});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["failed"], json!(true), "{out}");
        assert_eq!(
            out["harden"]["errors"][0]["rule_id"],
            json!("ssh.keys"),
            "{out}"
        );
        let msg = out["msg"].as_str().unwrap();
        assert!(msg.contains("ssh.keys: anti-lockout:"), "{msg}");
        assert!(
            msg.contains("(the other rules: 1 change(s) would be applied)"),
            "{msg}"
        );
        assert!(!root.join("etc/motd").exists(), "check mode wrote");
        // Apply: the refused rule writes nothing, the other is applied.
        let args = json!({"playbook": pb, "root": root, "state_dir": state});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["failed"], json!(true), "{out}");
        assert_eq!(out["changed"], json!(true), "{out}");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/ssh/sshd_config")).unwrap(),
            "PasswordAuthentication yes\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/motd")).unwrap(),
            "m\n"
        );
    }

    #[test]
    fn an_undeclared_var_fails_with_a_suggestion() {
        let t = tempfile::tempdir().unwrap();
        let (root, _) = root_with_secret(t.path());
        let pb = t.path().join("vars.yml");
        std::fs::write(
            &pb,
            "vars: {token: x, motd: m}\ntasks:\n  - {name: motd, id: motd, file: {path: /etc/motd, content: \"{{ motd }}\\n\"}}\n",
        )
        .unwrap();
        let args = json!({"playbook": pb, "root": root, "vars": {"tokn": "y"},
            "state_dir": t.path().join("state")});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["failed"], json!(true), "{out}");
        let msg = out["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("unknown variable `tokn` (-e, or the Ansible module's vars): no selected playbook declares it in `vars` or uses it (did you mean `token`?); declared: motd, token"),
            "{msg}"
        );
        assert!(!root.join("etc/motd").exists());
    }

    #[test]
    fn checked_state_never_changes() {
        let t = tempfile::tempdir().unwrap();
        let (root, pb) = root_with_secret(t.path());
        let args = json!({"playbook": pb, "root": root, "state": "checked",
            "state_dir": t.path().join("state"), "vars": {"token": "x", "motd": "m"}});
        let out = run_file(&write_args(t.path(), &args));
        assert_eq!(out["changed"], json!(false), "{out}");
        assert_eq!(out["drift"], json!(2), "{out}");
        assert!(!root.join("etc/motd").exists());
    }

    #[test]
    fn bad_arguments_and_bad_playbooks_fail_with_a_message() {
        let t = tempfile::tempdir().unwrap();
        let out = run_file(&write_args(t.path(), &json!({"playbok": "x"})));
        assert_eq!(out["failed"], json!(true));
        assert!(out["msg"].as_str().unwrap().contains("playbok"), "{out}");
        let out = run_file(&write_args(
            t.path(),
            &json!({"playbook": "/nonexistent.yml"}),
        ));
        assert_eq!(out["failed"], json!(true));
        assert!(
            out["msg"].as_str().unwrap().contains("/nonexistent.yml"),
            "{out}"
        );
    }
}
