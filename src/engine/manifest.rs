//! The manifest file of a transaction: what its snapshot saved, one entry per
//! line in the order the paths were touched, behind a one-line JSON header.
//!
//! ```text
//! harden-manifest 2
//! {"id":"…","kind":"apply",…,"handlers":[],"locks":[]}
//! D 755 0 0 /srv/tree
//! F 644 0 0 - /srv/tree/a
//! F 600 0 0 3f2a…(sha-256) /etc/ssh/sshd_config
//! A /etc/motd.d/harden
//! L ../target /etc/link
//! J {"kind":"sysctl","key":"net.ipv4.ip_forward","value":"0"}
//! ```
//!
//! `F`/`D` are a file or directory (octal mode, uid, gid; a file's saved
//! content by hash, or `-` for metadata only), `A` a path that did not exist,
//! `L` a symlink (target, then path), `J` any other entry as JSON. Paths and
//! link targets are their exact bytes: printable ASCII as is, every other byte
//! (space, newline, a name that is not UTF-8) and `\` written `\xNN`. A
//! recursive rule saves 100k of these lines in a few milliseconds, where JSON
//! took tens, and a name JSON cannot hold is saved like any other.
//!
//! Manifests written before this format (`manifest.json`, one JSON document)
//! are still read ([`FILE_V1`]). What is read either way is checked as data by
//! [`super::loaded`] before it is used.

use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::snapshot::{Entry, Manifest, Saved};
use super::state::TxnKind;
use crate::plan::{Handler, Lock};

/// The file a transaction's manifest is written to.
pub const FILE: &str = "manifest";
/// The file earlier versions wrote it to, as one JSON document.
pub const FILE_V1: &str = "manifest.json";
/// The first line of [`FILE`].
const MAGIC: &[u8] = b"harden-manifest 2";

/// The header line, borrowed from a manifest to write it.
#[derive(Serialize)]
struct HeadOut<'a> {
    id: &'a str,
    kind: TxnKind,
    started: &'a str,
    playbook: &'a str,
    root: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    restores: Option<&'a str>,
    changes: usize,
    rules: &'a [String],
    handlers: &'a [Handler],
    locks: &'a [Lock],
}

/// The header line as read.
#[derive(Deserialize)]
pub struct Head {
    pub id: String,
    pub kind: TxnKind,
    pub started: String,
    pub playbook: String,
    pub root: PathBuf,
    #[serde(default)]
    pub restores: Option<String>,
    pub changes: usize,
    pub rules: Vec<String>,
    #[serde(deserialize_with = "crate::plan::stored_handlers")]
    pub handlers: Vec<Handler>,
    #[serde(default)]
    pub locks: Vec<Lock>,
}

/// Writes `m` in the line format.
///
/// # Errors
/// When the writer fails, or the header cannot be JSON (a root that is not
/// UTF-8).
pub fn write(w: &mut dyn Write, m: &Manifest) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(b"\n")?;
    let head = HeadOut {
        id: &m.id,
        kind: m.kind,
        started: &m.started,
        playbook: &m.playbook,
        root: &m.root,
        restores: m.restores.as_deref(),
        changes: m.changes,
        rules: &m.rules,
        handlers: &m.handlers,
        locks: &m.locks,
    };
    serde_json::to_writer(&mut *w, &head).map_err(std::io::Error::other)?;
    w.write_all(b"\n")?;
    for e in &m.entries {
        entry(w, e)?;
    }
    Ok(())
}

fn entry(w: &mut dyn Write, e: &Entry) -> std::io::Result<()> {
    match e {
        Entry::Path { path, saved } => {
            match saved {
                Saved::Absent => w.write_all(b"A ")?,
                Saved::File {
                    mode,
                    uid,
                    gid,
                    blob,
                } => write!(
                    w,
                    "F {mode:o} {uid} {gid} {} ",
                    blob.as_deref().unwrap_or("-")
                )?,
                Saved::Dir { mode, uid, gid } => write!(w, "D {mode:o} {uid} {gid} ")?,
                Saved::Symlink { target } => {
                    w.write_all(b"L ")?;
                    escaped(w, target.as_os_str().as_bytes())?;
                    w.write_all(b" ")?;
                }
            }
            escaped(w, path.as_os_str().as_bytes())?;
        }
        Entry::Sysctl { .. } | Entry::Packages { .. } => {
            w.write_all(b"J ")?;
            serde_json::to_writer(&mut *w, e).map_err(std::io::Error::other)?;
        }
    }
    w.write_all(b"\n")
}

/// Whether `b` is written as itself.
const fn plain(b: u8) -> bool {
    b > b' ' && b < 0x7f && b != b'\\'
}

/// Writes `bytes`, every byte that is not [`plain`] as `\xNN`.
fn escaped(w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.iter().all(|&b| plain(b)) {
        return w.write_all(bytes);
    }
    for &b in bytes {
        if plain(b) {
            w.write_all(&[b])?;
        } else {
            write!(w, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// Reads the bytes [`escaped`] wrote; `None` for anything it could not have.
fn unescaped(field: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        match field[i] {
            b'\\' => {
                let hex = field.get(i + 1..i + 4)?;
                if hex[0] != b'x' || !hex[1..].iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let s = std::str::from_utf8(&hex[1..]).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 4;
            }
            b if plain(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Reads a manifest in the line format.
///
/// # Errors
/// Anything [`write`] could not have written, naming the line.
pub fn read(bytes: &[u8]) -> Result<Manifest, String> {
    let (head, body) = split_head(bytes)?;
    let mut entries = Vec::new();
    // Every line ends with a newline: the last piece is empty.
    let mut lines = body.split(|&b| b == b'\n');
    let mut n = 2;
    let mut last = None;
    for line in lines.by_ref() {
        n += 1;
        if let Some(prev) = last.replace(line) {
            entries.push(parse_entry(prev).map_err(|e| format!("line {}: {e}", n - 1))?);
        }
    }
    if last.is_some_and(|l| !l.is_empty()) {
        return Err(format!("line {n}: not ended by a newline"));
    }
    Ok(Manifest {
        id: head.id,
        kind: head.kind,
        started: head.started,
        playbook: head.playbook,
        root: head.root,
        restores: head.restores,
        changes: head.changes,
        rules: head.rules,
        handlers: head.handlers,
        locks: head.locks,
        entries,
    })
}

/// Reads only the header of a manifest in the line format (for `history`).
///
/// # Errors
/// When the first two lines are not a header.
pub fn read_head(bytes: &[u8]) -> Result<Head, String> {
    split_head(bytes).map(|(h, _)| h)
}

fn split_head(bytes: &[u8]) -> Result<(Head, &[u8]), String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix(b"\n"))
        .ok_or("line 1: not `harden-manifest 2`")?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("line 2: no header")?;
    let head: Head =
        serde_json::from_slice(&rest[..end]).map_err(|e| format!("line 2: header: {e}"))?;
    Ok((head, &rest[end + 1..]))
}

fn parse_entry(line: &[u8]) -> Result<Entry, String> {
    let (tag, rest) = line.split_at_checked(2).ok_or("too short")?;
    if tag[1] != b' ' {
        return Err("no entry kind".into());
    }
    if tag[0] == b'J' {
        let e: Entry = serde_json::from_slice(rest).map_err(|e| e.to_string())?;
        return match e {
            Entry::Path { .. } => Err("a path entry written as JSON".into()),
            e => Ok(e),
        };
    }
    let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
    let path = |f: &[u8]| {
        unescaped(f)
            .map(|b| PathBuf::from(std::ffi::OsString::from_vec(b)))
            .ok_or_else(|| "a path that is not written as harden writes paths".to_string())
    };
    let saved = match (tag[0], fields.as_slice()) {
        (b'A', [p]) => return Ok(path_entry(path(p)?, Saved::Absent)),
        (b'F', [mode, uid, gid, blob, p]) => {
            let blob = match *blob {
                b"-" => None,
                b => Some(String::from_utf8(b.to_vec()).map_err(|_| "content hash")?),
            };
            let (mode, uid, gid) = meta(mode, uid, gid)?;
            (
                p,
                Saved::File {
                    mode,
                    uid,
                    gid,
                    blob,
                },
            )
        }
        (b'D', [mode, uid, gid, p]) => {
            let (mode, uid, gid) = meta(mode, uid, gid)?;
            (p, Saved::Dir { mode, uid, gid })
        }
        (b'L', [target, p]) => (
            p,
            Saved::Symlink {
                target: path(target)?,
            },
        ),
        (b'A' | b'F' | b'D' | b'L', _) => return Err("wrong number of fields".into()),
        _ => return Err("unknown entry kind".into()),
    };
    Ok(path_entry(path(saved.0)?, saved.1))
}

const fn path_entry(path: PathBuf, saved: Saved) -> Entry {
    Entry::Path { path, saved }
}

/// Mode (octal), uid and gid fields.
fn meta(mode: &[u8], uid: &[u8], gid: &[u8]) -> Result<(u32, u32, u32), String> {
    let num = |f: &[u8], radix: u32, what: &str| {
        std::str::from_utf8(f)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| u32::from_str_radix(s, radix).ok())
            .ok_or_else(|| format!("{what} is not a number"))
    };
    Ok((
        num(mode, 8, "mode")?,
        num(uid, 10, "uid")?,
        num(gid, 10, "gid")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(entries: Vec<Entry>) -> Manifest {
        Manifest {
            id: "20260101-000000000-000".into(),
            kind: TxnKind::Apply,
            started: "2026-01-01T00:00:00.000Z".into(),
            playbook: "p".into(),
            root: "/tmp/r".into(),
            restores: None,
            changes: 2,
            rules: vec!["a".into(), "b".into()],
            handlers: vec![Handler::DaemonReload],
            locks: Vec::new(),
            entries,
        }
    }

    fn bytes(m: &Manifest) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, m).unwrap();
        out
    }

    fn path(b: &[u8]) -> PathBuf {
        PathBuf::from(std::ffi::OsString::from_vec(b.to_vec()))
    }

    #[test]
    fn every_kind_of_entry_reads_back_as_written_whatever_bytes_its_paths_hold() {
        let m = sample(vec![
            path_entry(
                "/srv/tree".into(),
                Saved::Dir {
                    mode: 0o2755,
                    uid: 0,
                    gid: 4,
                },
            ),
            path_entry(
                path(b"/srv/tree/caf\xe9 \\x41\n.txt"),
                Saved::File {
                    mode: 0o644,
                    uid: 65534,
                    gid: 65534,
                    blob: None,
                },
            ),
            path_entry(
                "/etc/ssh/sshd_config".into(),
                Saved::File {
                    mode: 0o600,
                    uid: 0,
                    gid: 0,
                    blob: Some("ab".repeat(32)),
                },
            ),
            path_entry("/etc/motd.d/harden".into(), Saved::Absent),
            path_entry(
                "/etc/link".into(),
                Saved::Symlink {
                    target: path(b"../a b/\x01"),
                },
            ),
            Entry::Sysctl {
                key: "net.ipv4.ip_forward".into(),
                value: Some("0".into()),
            },
            Entry::Sysctl {
                key: "kernel.x".into(),
                value: None,
            },
            Entry::Packages {
                installed: [("tree".to_string(), "2.1.0-1".to_string())].into(),
            },
        ]);
        let text = bytes(&m);
        assert_eq!(
            text.split(|&b| b == b'\n').count() - 1,
            2 + m.entries.len(),
            "one line per entry"
        );
        let back = read(&text).unwrap();
        assert_eq!(back.entries, m.entries);
        assert_eq!(
            (back.id, back.kind, back.rules, back.handlers),
            (m.id.clone(), m.kind, m.rules.clone(), m.handlers.clone())
        );
        assert_eq!(read_head(&text).unwrap().changes, 2);
        // The odd name is one line, in plain ASCII.
        let line = text.split(|&b| b == b'\n').nth(3).unwrap();
        assert_eq!(
            line,
            b"F 644 65534 65534 - /srv/tree/caf\\xe9\\x20\\x5cx41\\x0a.txt"
        );
    }

    #[test]
    fn anything_the_writer_could_not_have_written_is_refused_with_its_line() {
        let good = bytes(&sample(vec![path_entry("/a".into(), Saved::Absent)]));
        let head: Vec<u8> = good[..good.len() - b"A /a\n".len()].to_vec();
        for (body, why) in [
            (&b"A /a"[..], "not ended by a newline"),
            (b"A /a\\x4\n", "not written as harden writes"),
            (b"A /a\\q41\n", "not written as harden writes"),
            (b"A \n", "not written as harden writes"),
            (b"A /a /b\n", "wrong number of fields"),
            (b"F 644 0 0 /a\n", "wrong number of fields"),
            (b"F 648 0 0 - /a\n", "mode is not a number"),
            (b"D 755 -1 0 /a\n", "uid is not a number"),
            (b"X /a\n", "unknown entry kind"),
            (b"A\t/a\n", "no entry kind"),
            (b"\n", "too short"),
            (
                b"J {\"kind\":\"path\",\"path\":\"/a\",\"saved\":{\"state\":\"absent\"}}\n",
                "JSON",
            ),
        ] {
            let mut text = head.clone();
            text.extend_from_slice(body);
            let err = read(&text).unwrap_err();
            assert!(
                err.contains(why) && err.starts_with("line 3"),
                "{body:?}: {err}"
            );
        }
        assert!(read(b"{\"id\":1}\n").unwrap_err().contains("line 1"));
        assert!(
            read(b"harden-manifest 2\n{}\n")
                .unwrap_err()
                .contains("line 2")
        );
    }
}
