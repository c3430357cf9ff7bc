//! The service layer: reloads and restarts through the init system that runs the
//! target. Where none runs (an offline `--root`, a container, this kind of CI
//! machine), an action is reported as skipped with the reason, never as a failure.

use super::Host;
use super::facts::Init;
use super::runner::Cmd;

/// What the handler asked of a service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Reload,
    Restart,
    ReloadOrRestart,
    DaemonReload,
}

impl Action {
    #[must_use]
    pub fn verb(self) -> &'static str {
        match self {
            Self::Reload => "reload",
            Self::Restart => "restart",
            Self::ReloadOrRestart => "reload-or-restart",
            Self::DaemonReload => "daemon-reload",
        }
    }
}

/// How running a handler went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Skipped(String),
    Failed(String),
}

/// Runs `action` on `unit` (ignored for daemon-reload) on the host.
#[must_use]
pub fn run(host: &Host, action: Action, unit: &str) -> Outcome {
    if !host.is_live() {
        return Outcome::Skipped(format!(
            "offline root {}, {} skipped",
            host.root.display(),
            action.verb()
        ));
    }
    if host.facts.init == Init::None {
        return Outcome::Skipped(format!("no running init, {} skipped", action.verb()));
    }
    let mut argv = vec!["systemctl".to_string(), action.verb().to_string()];
    if action != Action::DaemonReload {
        argv.push(unit.to_string());
    }
    match host.runner.run(&Cmd::new(argv)) {
        Ok(out) if out.success() => Outcome::Done,
        Ok(out) => Outcome::Failed(out.brief()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
