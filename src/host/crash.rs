//! Fault injection for the crash tests: in debug builds only, `HARDEN_CRASH_AT=NAME`
//! kills the process (SIGKILL, no unwinding) when it reaches the point `NAME`. The
//! points live where the crash matters (the engine's transaction steps, the
//! shadow-utils lock protocol); release builds compile this to nothing.

/// Kills the process at a named point when `HARDEN_CRASH_AT` names it (debug builds).
pub fn crash_point(name: &str) {
    if cfg!(debug_assertions) && std::env::var("HARDEN_CRASH_AT").is_ok_and(|v| v == name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}
