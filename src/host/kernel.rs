//! Live kernel parameters under `/proc/sys` of the running system: reading and
//! writing one key. Keys are checked with [`valid_key`] before they become paths, so
//! a key from a playbook or from a state directory can never name a file outside
//! `/proc/sys`. This module knows nothing of playbooks or snapshots.

use std::path::{Path, PathBuf};

use crate::formats::sysctl::{normalise_value, proc_path, valid_key};

/// Where live kernel parameters are read and written.
pub const PROC_SYS: &str = "/proc/sys";

/// A key that is not a kernel parameter name (`..`, empty parts, odd characters).
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a kernel parameter name")]
pub struct BadKey(pub String);

/// The `/proc/sys` path of a key, once the key is known to be well formed.
///
/// # Errors
/// When the key is not a kernel parameter name.
pub fn live_path(key: &str) -> Result<PathBuf, BadKey> {
    if !valid_key(key) {
        return Err(BadKey(key.to_string()));
    }
    Ok(Path::new(PROC_SYS).join(proc_path(key)))
}

/// Reads a live value; `None` when this kernel has no such key (or the key is
/// not a kernel parameter name).
#[must_use]
pub fn read_live(key: &str) -> Option<String> {
    let path = live_path(key).ok()?;
    std::fs::read_to_string(path)
        .ok()
        .map(|v| normalise_value(&v))
}

/// Writes a live value.
///
/// # Errors
/// When the key is malformed or the kernel refuses the value.
pub fn write_live(key: &str, value: &str) -> Result<(), std::io::Error> {
    let path =
        live_path(key).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    std::fs::write(path, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_climb_out_of_proc_sys_are_refused() {
        for key in ["/../../etc/passwd", "net/../../x", "", "a..b", "kernel.x\n"] {
            assert!(live_path(key).is_err(), "{key:?}");
        }
        assert_eq!(
            live_path("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
    }
}
