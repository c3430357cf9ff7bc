//! Facts about the target: OS family (from the root's `os-release`), whether an init
//! system is running (only meaningful for the live root `/`), which binaries exist
//! under the root, and who is running this session. Facts are read, never written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Binaries whose presence makes a host a container or VM host (it forwards
/// packets for its guests).
pub const CONTAINER_RUNTIMES: [&str; 9] = [
    "dockerd",
    "containerd",
    "podman",
    "crio",
    "libvirtd",
    "lxd",
    "incusd",
    "kubelet",
    "k3s",
];

/// The OS family, as `when: { os_family: ... }` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Debian,
    Redhat,
    Suse,
    Arch,
    Alpine,
    Unknown,
}

/// The init system that runs the services of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    Systemd,
    /// The root is not the running system: its services are not running here.
    Offline,
    /// No init we can talk to (a container or this kind of CI machine).
    None,
}

/// The identity of the operator running harden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The login name that started this session (`SUDO_USER`, else `LOGNAME`/`USER`).
    pub user: Option<String>,
    /// `SSH_CONNECTION` is set: we are running over SSH.
    pub over_ssh: bool,
}

/// Facts gathered once per run.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub os_family: OsFamily,
    pub os_id: String,
    pub init: Init,
    pub session: Session,
}

impl Facts {
    /// Reads the facts of `root`; `live` says whether `root` is the running system.
    #[must_use]
    pub fn gather(root: &Path, live: bool) -> Self {
        let release = super::fs::read_resolving(root, Path::new("/etc/os-release"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let (os_id, os_family) = parse_os_release(&release);
        let init = if !live {
            Init::Offline
        } else if Path::new("/run/systemd/system").is_dir() {
            Init::Systemd
        } else {
            Init::None
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let session = Session {
            user: env("SUDO_USER")
                .or_else(|| env("LOGNAME"))
                .or_else(|| env("USER")),
            over_ssh: env("SSH_CONNECTION").is_some(),
        };
        Self {
            os_family,
            os_id,
            init,
            session,
        }
    }
}

/// `ID` and the family from `os-release` text (`ID` and `ID_LIKE`).
#[must_use]
pub fn parse_os_release(text: &str) -> (String, OsFamily) {
    let mut id = String::new();
    let mut like = String::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v
                .trim()
                .trim_matches('"')
                .trim_matches('\'')
                .to_ascii_lowercase();
            match k.trim() {
                "ID" => id = v,
                "ID_LIKE" => like = v,
                _ => {}
            }
        }
    }
    let words: Vec<&str> = std::iter::once(id.as_str())
        .chain(like.split_whitespace())
        .collect();
    let family = if words.iter().any(|w| matches!(*w, "debian" | "ubuntu")) {
        OsFamily::Debian
    } else if words
        .iter()
        .any(|w| matches!(*w, "rhel" | "fedora" | "centos" | "rocky" | "almalinux"))
    {
        OsFamily::Redhat
    } else if words.iter().any(|w| w.contains("suse")) {
        OsFamily::Suse
    } else if words.contains(&"arch") {
        OsFamily::Arch
    } else if words.contains(&"alpine") {
        OsFamily::Alpine
    } else {
        OsFamily::Unknown
    };
    (id, family)
}

/// The directories searched for binaries under the root.
pub const BIN_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Finds an executable `name` under `root` (following the root's own symlinks).
#[must_use]
pub fn find_binary(root: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return None;
    }
    BIN_DIRS.iter().find_map(|dir| {
        let logical = Path::new(dir).join(name);
        let host = super::fs::host_path(root, &logical);
        let meta = std::fs::metadata(&host).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(logical)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_families() {
        assert_eq!(parse_os_release("ID=debian\n").1, OsFamily::Debian);
        assert_eq!(
            parse_os_release("ID=ubuntu\nID_LIKE=debian\n").1,
            OsFamily::Debian
        );
        assert_eq!(
            parse_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n").1,
            OsFamily::Redhat
        );
        assert_eq!(parse_os_release("").1, OsFamily::Unknown);
    }
}
