//! Confirm-or-revert (`apply --confirm-within`): the pending confirmation and
//! its watchdog, `harden confirm` that keeps the transaction, and the hidden
//! `harden watchdog` that reverts it when no confirmation comes in time.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::output;
use crate::engine::apply::Report;
use crate::engine::confirm;
use crate::engine::state::{Outcome, StateDir};
use crate::error::{Error, exit};
use crate::host::Host;
use crate::host::facts::Init;
use crate::session::{Session, Target};

/// `harden confirm`: keep the transaction applied with `--confirm-within`.
pub fn run(target: &Target) -> Result<i32, Error> {
    let session = Session::open(target)?;
    let state = session.state()?;
    match confirm::confirm(&state)? {
        confirm::Confirmed::Kept(txn) => {
            println!("confirmed transaction {txn}: it stays; its watchdog stops");
            Ok(exit::OK)
        }
        confirm::Confirmed::Expired(p) => Err(Error::Refused(format!(
            "too late: transaction {} was not confirmed in time{}",
            p.txn,
            p.outcome.map(|o| format!(" ({o})")).unwrap_or_default()
        ))),
        confirm::Confirmed::NothingPending => Err(Error::Refused(
            "no transaction waits for a confirmation".into(),
        )),
    }
}

/// `harden watchdog --txn TXN`: waits for the confirmation, reverts without it.
pub fn watchdog(target: &Target, txn: &str) -> Result<i32, Error> {
    // A session of its own: the SSH session that started the apply may hang up.
    let _ = nix::unistd::setsid();
    let session = Session::open(target)?;
    let state = session.state()?;
    match confirm::watch(&session.host, &state, txn)? {
        confirm::Watch::Reverted(r) if r.outcome != Outcome::Committed => Ok(exit::ROLLBACK_FAILED),
        _ => Ok(exit::OK),
    }
}

/// Refuses while an earlier transaction waits for `harden confirm` or is being
/// reverted by its watchdog.
pub fn check_none_pending(state: &StateDir) -> Result<(), Error> {
    confirm::settle(state);
    if let Some(p) = confirm::pending(state)? {
        return Err(Error::Refused(format!(
            "transaction {} waits for `harden confirm` (its watchdog reverts it otherwise); confirm it, let it expire or `harden rollback {}` first",
            p.txn, p.txn
        )));
    }
    if let Some(p) = confirm::reverting(state)? {
        return Err(Error::Refused(format!(
            "the confirm watchdog is reverting transaction {}; wait for it to finish",
            p.txn
        )));
    }
    Ok(())
}

/// After a committed apply with `--confirm-within`, the window starts now; a
/// failed apply cancels its watchdog.
pub fn start_window(state: &StateDir, report: &Report, secs: u64) -> Result<(), Error> {
    if report.outcome != Outcome::Committed {
        confirm::disarm(state, &report.txn);
        return Ok(());
    }
    if let Some(mut p) = confirm::pending(state)? {
        p.deadline = confirm::now_unix() + secs;
        confirm::set_pending(state, &p)?;
    }
    crate::engine::apply::crash_point("after-commit-confirm");
    output::say(&format!(
        "run `harden confirm` within {secs} s to keep transaction {}; otherwise it is rolled back",
        report.txn
    ));
    Ok(())
}

/// Records the pending confirmation of `txn` and starts its watchdog: a transient
/// systemd service when this is the running system under systemd (it outlives any
/// login session), otherwise our own binary in a new session with no terminal.
pub fn arm_watchdog(host: &Host, state: &StateDir, txn: &str, secs: u64) -> Result<(), String> {
    let mut pending = confirm::Pending {
        txn: txn.to_string(),
        deadline: confirm::now_unix() + secs,
        watchdog_pid: None,
        outcome: None,
    };
    confirm::set_pending(state, &pending).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find our own binary: {e}"))?;
    let mut argv: Vec<OsString> = vec![
        exe.into(),
        "watchdog".into(),
        "--root".into(),
        host.root.clone().into(),
        "--state-dir".into(),
        state.path.clone().into(),
        "--txn".into(),
        txn.into(),
    ];
    let systemd = host.root == Path::new("/")
        && host.facts.init == Init::Systemd
        && Path::new("/usr/bin/systemd-run").exists();
    if systemd {
        let unit = format!("--unit=harden-confirm-{txn}");
        let mut full: Vec<OsString> = vec![
            "/usr/bin/systemd-run".into(),
            unit.into(),
            "--collect".into(),
            "--quiet".into(),
            "--".into(),
        ];
        full.append(&mut argv);
        argv = full;
    }
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env_remove("HARDEN_CRASH_AT")
        .spawn()
        .map_err(|e| format!("cannot start the confirm watchdog: {e}"))?;
    if systemd {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("systemd-run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "systemd-run failed to start the watchdog ({})",
                out.status
            ));
        }
    } else {
        pending.watchdog_pid = Some(child.id());
        confirm::set_pending(state, &pending).map_err(|e| e.to_string())?;
    }
    Ok(())
}
