//! The service layer: reloads and restarts through the init system that runs the
//! target. Where none runs (an offline `--root`, a container, this kind of CI
//! machine), an action is reported as skipped with the reason, never as a failure.

use std::path::Path;

use super::Host;
use super::facts::Init;
use super::runner::Cmd;

pub use crate::plan::{Handler, Verb};

/// How running a handler went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Skipped(String),
    Failed(String),
}

/// Runs handler `h` on the host.
#[must_use]
pub fn run(host: &Host, h: &Handler) -> Outcome {
    let (word, unit) = match h {
        Handler::FirewallSync => return firewall_sync(host),
        Handler::LoadProfile { path } => {
            return load_profile(host, path, Path::new(APPARMOR_KERNEL));
        }
        Handler::Remount { mountpoint } => return remount(host, mountpoint),
        Handler::DaemonReload => ("daemon-reload", None),
        Handler::Systemctl { verb, unit } => (verb.word(), Some(unit.as_str())),
    };
    match host.facts.init {
        Init::Offline => {
            return Outcome::Skipped(format!(
                "offline root {}, {word} skipped",
                host.root.display(),
            ));
        }
        Init::None => {
            return Outcome::Skipped(format!("no running init, {word} skipped"));
        }
        Init::Systemd => {}
    }
    let argv = ["systemctl", word].into_iter().chain(unit);
    match host.runner.run(&Cmd::new(argv)) {
        Ok(out) if out.success() => Outcome::Done,
        Ok(out) => Outcome::Failed(out.brief()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Where the kernel shows AppArmor when it has it.
pub const APPARMOR_KERNEL: &str = "/sys/kernel/security/apparmor";

/// Whether the running kernel (this machine's) has AppArmor.
#[must_use]
pub fn kernel_has_apparmor() -> bool {
    Path::new(APPARMOR_KERNEL).exists()
}

/// `apparmor_parser -r PROFILE` on the running system when the kernel (seen at
/// `kernel`) has AppArmor; skipped with the reason otherwise.
fn load_profile(host: &Host, profile: &Path, kernel: &Path) -> Outcome {
    if !host.is_live() {
        return Outcome::Skipped(format!(
            "offline root {}, profile not loaded",
            host.root.display()
        ));
    }
    if !kernel.exists() {
        return Outcome::Skipped("not loaded: kernel without AppArmor".into());
    }
    outcome(
        host,
        &[
            "apparmor_parser".as_ref(),
            "-r".as_ref(),
            profile.as_os_str(),
        ],
    )
}

/// `mount -o remount MOUNTPOINT` on the running system; skipped on an offline root.
fn remount(host: &Host, mountpoint: &Path) -> Outcome {
    if !host.is_live() {
        return Outcome::Skipped(format!(
            "offline root {}, {} not remounted",
            host.root.display(),
            mountpoint.display()
        ));
    }
    outcome(
        host,
        &[
            "mount".as_ref(),
            "-o".as_ref(),
            "remount".as_ref(),
            mountpoint.as_os_str(),
        ],
    )
}

fn outcome(host: &Host, argv: &[&std::ffi::OsStr]) -> Outcome {
    match host.runner.run(&Cmd::new(argv.iter().copied())) {
        Ok(out) if out.success() => Outcome::Done,
        Ok(out) => Outcome::Failed(out.brief()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn firewall_sync(host: &Host) -> Outcome {
    if !host.is_live() {
        return Outcome::Skipped(format!(
            "offline root {}, firewall not loaded",
            host.root.display()
        ));
    }
    let enabled = host
        .read(std::path::Path::new("/etc/ufw/ufw.conf"))
        .ok()
        .flatten()
        .is_some_and(|c| {
            String::from_utf8_lossy(&c)
                .lines()
                .any(|l| l.trim() == "ENABLED=yes")
        });
    let argv: &[&str] = if enabled {
        &["ufw", "--force", "enable"]
    } else {
        &["ufw", "disable"]
    };
    match host.runner.run(&Cmd::new(argv.iter().copied())) {
        Ok(out) if out.success() => Outcome::Done,
        Ok(out) => Outcome::Failed(out.brief()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Whether `unit` is active now (`systemctl is-active`, a read-only query),
/// where systemd runs the target; `None` where no init runs (an offline root, a
/// container or this kind of CI machine) or systemd cannot say.
#[must_use]
pub fn is_active(host: &Host, unit: &str) -> Option<bool> {
    if host.facts.init != Init::Systemd {
        return None;
    }
    let out = host
        .runner
        .run(&Cmd::new(["systemctl", "is-active", "--quiet", unit]))
        .ok()?;
    // 0: active; any other status: not active (inactive, failed, activating);
    // killed or timed out: unknown.
    out.code.map(|c| c == 0)
}

/// `systemctl enable --now UNIT` (or `disable --now`): for units harden installs
/// itself (its own timer). Skipped with the reason where no init runs, like
/// [`run`].
#[must_use]
pub fn enable(host: &Host, unit: &str, on: bool) -> Outcome {
    let verb = if on { "enable" } else { "disable" };
    match host.facts.init {
        Init::Offline => {
            return Outcome::Skipped(format!(
                "offline root {}, `systemctl {verb} --now {unit}` skipped",
                host.root.display()
            ));
        }
        Init::None => {
            return Outcome::Skipped(format!(
                "no running init, `systemctl {verb} --now {unit}` skipped"
            ));
        }
        Init::Systemd => {}
    }
    match host
        .runner
        .run(&Cmd::new(["systemctl", verb, "--now", unit]))
    {
        Ok(out) if out.success() => Outcome::Done,
        Ok(out) => Outcome::Failed(out.brief()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::host::runner::RecordingRunner;

    fn host(init: Init, runner: Arc<RecordingRunner>) -> Host {
        let mut h = Host::new(std::path::PathBuf::from("/nonexistent-root"), runner);
        h.facts.init = init;
        h
    }

    #[test]
    fn profiles_load_and_mounts_remount_only_on_the_running_system() {
        let r = Arc::new(RecordingRunner::new());
        let mut live = Host::new(std::path::PathBuf::from("/"), r.clone());
        live.facts.init = Init::None;
        let have = tempfile::tempdir().unwrap();
        let none = have.path().join("absent");
        assert_eq!(
            load_profile(&live, Path::new("/etc/apparmor.d/p"), &none),
            Outcome::Skipped("not loaded: kernel without AppArmor".into())
        );
        assert!(r.calls().is_empty());
        assert_eq!(
            load_profile(&live, Path::new("/etc/apparmor.d/p"), have.path()),
            Outcome::Done
        );
        assert_eq!(
            run(
                &live,
                &Handler::Remount {
                    mountpoint: "/opt".into()
                }
            ),
            Outcome::Done
        );
        assert_eq!(
            r.calls(),
            vec![
                vec!["apparmor_parser", "-r", "/etc/apparmor.d/p"],
                vec!["mount", "-o", "remount", "/opt"],
            ]
        );
        let offline = host(Init::Offline, r.clone());
        assert!(matches!(
            load_profile(&offline, Path::new("/etc/apparmor.d/p"), have.path()),
            Outcome::Skipped(m) if m.contains("profile not loaded")
        ));
        assert!(matches!(
            run(&offline, &Handler::Remount { mountpoint: "/opt".into() }),
            Outcome::Skipped(m) if m.contains("/opt not remounted")
        ));
        assert_eq!(r.calls().len(), 2);
    }

    #[test]
    fn without_init_reloads_are_skipped_with_the_reason() {
        let r = Arc::new(RecordingRunner::new());
        let out = run(
            &host(Init::None, r.clone()),
            &Handler::systemctl(Verb::Reload, "ssh"),
        );
        assert_eq!(
            out,
            Outcome::Skipped("no running init, reload skipped".into())
        );
        let out = run(
            &host(Init::Offline, r.clone()),
            &Handler::systemctl(Verb::Reload, "ssh"),
        );
        assert!(matches!(out, Outcome::Skipped(m) if m.starts_with("offline root")));
        assert!(r.calls().is_empty());
    }

    #[test]
    fn with_systemd_it_calls_systemctl() {
        let r = Arc::new(RecordingRunner::new());
        assert_eq!(
            run(
                &host(Init::Systemd, r.clone()),
                &Handler::systemctl(Verb::Reload, "ssh")
            ),
            Outcome::Done
        );
        assert_eq!(
            run(&host(Init::Systemd, r.clone()), &Handler::DaemonReload),
            Outcome::Done
        );
        assert_eq!(
            r.calls(),
            vec![
                vec!["systemctl".to_string(), "reload".into(), "ssh".into()],
                vec!["systemctl".to_string(), "daemon-reload".into()],
            ]
        );
        assert_eq!(
            enable(&host(Init::Systemd, r.clone()), "harden.timer", true),
            Outcome::Done
        );
        assert_eq!(
            r.calls().last().unwrap(),
            &["systemctl", "enable", "--now", "harden.timer"]
        );
        assert!(matches!(
            enable(&host(Init::None, r.clone()), "harden.timer", false),
            Outcome::Skipped(m) if m.contains("disable --now harden.timer")
        ));
        let failing = Arc::new(RecordingRunner::failing_on("reload ssh"));
        assert!(matches!(
            run(
                &host(Init::Systemd, failing),
                &Handler::systemctl(Verb::Reload, "ssh")
            ),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn start_and_stop_go_through_systemctl_and_undo_each_other() {
        let r = Arc::new(RecordingRunner::new());
        let live = host(Init::Systemd, r.clone());
        assert_eq!(
            run(&live, &Handler::systemctl(Verb::Start, "ssh.service")),
            Outcome::Done
        );
        assert_eq!(
            run(&live, &Handler::systemctl(Verb::Stop, "ssh.service").undo()),
            Outcome::Done
        );
        assert_eq!(is_active(&live, "ssh.service"), Some(true));
        assert_eq!(
            r.calls(),
            vec![
                vec!["systemctl", "start", "ssh.service"],
                vec!["systemctl", "start", "ssh.service"],
                vec!["systemctl", "is-active", "--quiet", "ssh.service"],
            ]
        );
        let inactive = Arc::new(RecordingRunner::failing_on("is-active"));
        assert_eq!(
            is_active(&host(Init::Systemd, inactive), "x.service"),
            Some(false)
        );
        assert_eq!(Verb::Start.undo(), Verb::Stop);
        assert_eq!(Handler::DaemonReload.undo(), Handler::DaemonReload);
        // No running init here: nothing is asked, nothing is run, and it says so.
        let none = Arc::new(RecordingRunner::new());
        assert_eq!(
            is_active(&host(Init::None, none.clone()), "ssh.service"),
            None
        );
        assert_eq!(
            run(&host(Init::None, none.clone()), &Handler::DaemonReload),
            Outcome::Skipped("no running init, daemon-reload skipped".into())
        );
        assert_eq!(
            run(
                &host(Init::None, none.clone()),
                &Handler::systemctl(Verb::Stop, "ssh.service")
            ),
            Outcome::Skipped("no running init, stop skipped".into())
        );
        assert!(none.calls().is_empty());
    }

    #[test]
    fn firewall_sync_uses_ufw_itself_and_only_on_the_running_system() {
        let runner = Arc::new(RecordingRunner::new());
        let offline = host(Init::Systemd, runner.clone());
        assert!(matches!(
            run(&offline, &Handler::FirewallSync),
            Outcome::Skipped(_)
        ));
        assert!(runner.calls().is_empty());
        // The running system, through a recording runner: nothing is executed.
        let mut live = Host::new(std::path::PathBuf::from("/"), runner.clone());
        live.facts.init = Init::None;
        assert_eq!(run(&live, &Handler::FirewallSync), Outcome::Done);
        let on = std::fs::read_to_string("/etc/ufw/ufw.conf")
            .is_ok_and(|c| c.lines().any(|l| l.trim() == "ENABLED=yes"));
        let want: Vec<String> = if on {
            vec!["ufw".into(), "--force".into(), "enable".into()]
        } else {
            vec!["ufw".into(), "disable".into()]
        };
        assert_eq!(runner.calls(), vec![want]);
    }
}
