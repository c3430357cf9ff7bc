//! Running external commands: argument vectors only (never a shell string with
//! interpolated values), with a timeout, output captured. The [`Runner`] trait lets
//! tests record calls where a real daemon cannot run; everything else uses
//! [`SystemRunner`] and the real tools.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<OsString>,
    pub timeout: Duration,
}

impl Cmd {
    /// A command with the default timeout (60 s).
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The start of an argument vector that runs `script` with `sh` in new
    /// mount, PID (forked), IPC and UTS namespaces; the arguments pushed after
    /// it are the script's `$1`, `$2`, ...
    #[must_use]
    pub fn namespaced_sh(script: &str) -> [&str; 11] {
        [
            "unshare", "-m", "-p", "-f", "-i", "-u", "--", "sh", "-c", script, "sh",
        ]
    }

    /// The same command in a private mount namespace with its own tmpfs `/run`
    /// (holding an empty `/run/sshd`), so tools that write caches or markers
    /// there (`sshd -t` needs `/run/sshd`, `findmnt` writes libblkid's cache,
    /// `systemd-analyze` a units-load marker) leave the machine's `/run` alone.
    /// Only root can make the namespace; others run the command as it is.
    #[must_use]
    pub fn in_private_run(self) -> Self {
        if !nix::unistd::geteuid().is_root() {
            return self;
        }
        let mut argv: Vec<OsString> = [
            "unshare",
            "-m",
            "sh",
            "-c",
            "mount --make-rprivate / && mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec \"$@\"",
            "sh",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        argv.extend(self.argv);
        Self {
            argv,
            timeout: self.timeout,
        }
    }

    /// The command as one line for messages (not for execution).
    #[must_use]
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command returned.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Exit code; `None` when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    #[must_use]
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The first non-empty lines of stderr, else stdout, for an error message.
    #[must_use]
    pub fn brief(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .collect();
        lines.join("\n")
    }
}

/// A command could not be started or waited for.
#[derive(Debug, thiserror::Error)]
#[error("running `{cmd}`: {source}")]
pub struct RunError {
    pub cmd: String,
    #[source]
    pub source: std::io::Error,
}

/// Runs commands for the host.
pub trait Runner: Send + Sync {
    /// Runs `cmd` to completion (or its timeout).
    ///
    /// # Errors
    /// When the program cannot be started.
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError>;
}

/// Runs real processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        let err = |source| RunError {
            cmd: cmd.display(),
            source,
        };
        let Some((program, args)) = cmd.argv.split_first() else {
            return Err(err(std::io::Error::other("empty command")));
        };
        tracing::debug!(cmd = %cmd.display(), "run");
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(err)?;
        let mut out = child.stdout.take();
        let mut errp = child.stderr.take();
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(o) = out.as_mut() {
                let _ = o.read_to_end(&mut s);
            }
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(e) = errp.as_mut() {
                let _ = e.read_to_end(&mut s);
            }
            s
        });
        let deadline = Instant::now() + cmd.timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(err)? {
                break status;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                let _ = child.kill();
                break child.wait().map_err(err)?;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = t_out.join().unwrap_or_default();
        let stderr = t_err.join().unwrap_or_default();
        Ok(Output {
            code: if timed_out { None } else { status.code() },
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            timed_out,
        })
    }
}

/// Records every call and answers with a fixed output: for tests of logic around
/// commands that cannot really run here (service reloads without an init).
#[derive(Debug, Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<Vec<String>>>,
    fail_when_contains: Option<String>,
}

impl RecordingRunner {
    /// A runner whose commands all succeed.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A runner whose commands fail (exit 1) when their line contains `needle`.
    #[must_use]
    pub fn failing_on(needle: &str) -> Self {
        Self {
            calls: Mutex::default(),
            fail_when_contains: Some(needle.to_string()),
        }
    }

    /// The calls so far, each as its argument vector.
    #[must_use]
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Runner for RecordingRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        let argv: Vec<String> = cmd
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let fail = self
            .fail_when_contains
            .as_ref()
            .is_some_and(|n| argv.join(" ").contains(n.as_str()));
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(argv);
        }
        Ok(Output {
            code: Some(i32::from(fail)),
            stderr: if fail {
                "recorded failure".into()
            } else {
                String::new()
            },
            ..Output::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_code() {
        let out = SystemRunner
            .run(&Cmd::new(["sh", "-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn times_out() {
        let mut cmd = Cmd::new(["sleep", "5"]);
        cmd.timeout = Duration::from_millis(100);
        let out = SystemRunner.run(&cmd).unwrap();
        assert!(out.timed_out);
        assert!(!out.success());
    }

    #[test]
    fn missing_program_is_an_error() {
        assert!(SystemRunner.run(&Cmd::new(["/nonexistent/prog"])).is_err());
    }
}
