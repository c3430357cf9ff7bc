//! The transaction driving a `service` rule on a running systemd, through the
//! recording runner (no init runs here): what the plan asks, what apply runs
//! (daemon-reload, start, stop, enable) and what the rollback undoes. Here, not
//! in `modules::service`, because it exercises the engine: modules plan only.

use std::path::{Path, PathBuf};

/// A root with `usr/lib/systemd/system/app.service` holding `unit`, a
/// playbook of the one `service:` parameter map `params`, and a host whose
/// systemd runs (a recording runner stands for `systemctl`).
struct Live {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: crate::host::Host,
    runner: std::sync::Arc<crate::host::runner::RecordingRunner>,
    plan: crate::engine::plan::Plan,
    state: crate::engine::state::StateDir,
}

fn live(unit: &str, params: &str, runner: crate::host::runner::RecordingRunner) -> Live {
    use crate::engine::{self, Filter};
    use crate::playbook::{self, Source};
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let file = root.join("usr/lib/systemd/system/app.service");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::fs::write(&file, unit).unwrap();
    let pb = t.path().join("pb.yml");
    std::fs::write(
        &pb,
        format!("name: t\ntasks:\n  - name: app\n    id: svc.app\n    service: {params}\n"),
    )
    .unwrap();
    let pb = playbook::load(&[Source::File(pb)], &std::collections::BTreeMap::new()).unwrap();
    let runner = std::sync::Arc::new(runner);
    let mut host = crate::host::Host::new(root.clone(), runner.clone());
    host.facts.init = crate::host::facts::Init::Systemd;
    let plan = engine::plan(&host, &pb, &Filter::default()).unwrap();
    let state = crate::engine::state::StateDir::new(t.path().join("state")).unwrap();
    Live {
        _dir: t,
        root,
        host,
        runner,
        plan,
        state,
    }
}

impl Live {
    /// Applies the plan (verification sees it converged), then rolls back.
    fn apply_then(&self, between: impl FnOnce()) -> Vec<String> {
        use crate::engine::apply;
        use crate::engine::state::Outcome;
        let empty = crate::engine::plan::Plan {
            changes: Vec::new(),
            ..self.plan.clone()
        };
        let report =
            apply::apply(&self.host, &self.state, &self.plan, &|| Ok(empty.clone())).unwrap();
        assert_eq!(report.outcome, Outcome::Committed, "{:?}", report.message);
        between();
        let report = apply::rollback(&self.host, &self.state, None).unwrap();
        assert_eq!(report.outcome, Outcome::Committed, "{:?}", report.message);
        self.runner.calls().iter().map(|c| c.join(" ")).collect()
    }

    fn summaries(&self) -> Vec<&str> {
        self.plan
            .changes
            .iter()
            .map(|c| c.summary.as_str())
            .collect()
    }
}

/// `state:` on a running systemd, through the recording runner (no init runs
/// here): plan asks `is-active`, apply runs daemon-reload then start, and the
/// rollback stops what the transaction started.
#[test]
fn live_state_starts_and_rollback_stops_it_again() {
    use crate::host::runner::RecordingRunner;
    // Every `is-active` answers "not active".
    let l = live(
        "[Service]\nExecStart=/bin/true\n",
        "{ name: app, state: started }",
        RecordingRunner::failing_on("is-active"),
    );
    assert_eq!(l.summaries(), ["start app.service"]);
    assert_eq!(
        l.apply_then(|| {}),
        [
            "systemctl is-active --quiet app.service",
            "systemctl daemon-reload",
            "systemctl start app.service",
            "systemctl daemon-reload",
            "systemctl stop app.service",
        ]
    );
}

/// `enabled: true` with `state: stopped` on a running systemd, through the
/// recording runner: the link is made as a file operation, then one
/// daemon-reload and the stop; the rollback removes the link, reloads and
/// starts the unit again.
#[test]
fn live_enable_and_stop_then_rollback_starts_it_again() {
    use crate::host::runner::RecordingRunner;
    // Every `is-active` answers "active".
    let l = live(
        "[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n",
        "{ name: app, enabled: true, state: stopped }",
        RecordingRunner::new(),
    );
    assert_eq!(
        l.summaries(),
        [
            "enable app.service: create symlink -> /usr/lib/systemd/system/app.service",
            "stop app.service"
        ]
    );
    let link = l
        .root
        .join("etc/systemd/system/multi-user.target.wants/app.service");
    let calls = l.apply_then(|| {
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("/usr/lib/systemd/system/app.service")
        );
    });
    assert!(std::fs::symlink_metadata(&link).is_err(), "the link stayed");
    assert_eq!(
        calls,
        [
            "systemctl is-active --quiet app.service",
            "systemctl daemon-reload",
            "systemctl stop app.service",
            "systemctl daemon-reload",
            "systemctl start app.service",
        ]
    );
}
