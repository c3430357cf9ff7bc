//! `backups`: the hygiene of one backup directory (the Postiz guide's backup
//! section). Fixed by harden: the directory's mode (default `0700`) and owner,
//! the files' mode (default `0600`) and owner, and, with `prune: true`, the
//! removal of backups older than `retention_days` (with their `.sha256`
//! siblings). Reported only, never fixed: unencrypted files (harden never
//! encrypts), files without a checksum, and checksums that do not match (the
//! semantics of `sha256sum -c`: every `NAME.sha256` and `SHA256SUMS` line is
//! checked against the file it names). Only the directory's own entries are
//! looked at, not subdirectories. Pruning is a `Remove` operation, so the
//! snapshot copies each pruned file first and rollback restores it (with a new
//! mtime); because that copy costs disk space, harden refuses to prune more than
//! `max_prune_bytes` (default 1 GiB) in one run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::file::FileMode;
use super::{Ctx, ModuleError, Out};
use crate::host::fs::{Kind, Meta};
use crate::plan::{NoticeLevel, Observed, Op, Remove, SetMeta};

/// Parameters of `backups:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The backup directory (must exist).
    pub path: PathBuf,
    /// Mode of the directory (default `"0700"`).
    #[serde(default)]
    pub dir_mode: Option<FileMode>,
    /// Mode of every file in it (default `"0600"`).
    #[serde(default)]
    pub file_mode: Option<FileMode>,
    /// Owner of the directory and its files (default `root`).
    #[serde(default)]
    pub owner: Option<String>,
    /// Group of the directory and its files (default `root`).
    #[serde(default)]
    pub group: Option<String>,
    /// Names of encrypted files, `*` and `?` wildcards (default `*.gpg`, `*.age`, `*.enc`).
    #[serde(default)]
    pub encrypted: Option<Vec<String>>,
    /// Report backups whose mtime is older than this many days.
    #[serde(default)]
    pub retention_days: Option<u64>,
    /// Remove the backups older than `retention_days` (default false: report only).
    #[serde(default)]
    pub prune: bool,
    /// Refuse to prune more than this many bytes in one run (default 1 GiB).
    #[serde(default)]
    pub max_prune_bytes: Option<u64>,
}

const SUMS: &str = "SHA256SUMS";
const DEFAULT_ENCRYPTED: [&str; 3] = ["*.gpg", "*.age", "*.enc"];
const DEFAULT_MAX_PRUNE: u64 = 1 << 30;

/// Whether a name is a checksum file rather than a backup.
fn is_checksum(name: &str) -> bool {
    name == SUMS || name.ends_with(".sha256")
}

/// One entry of the directory.
struct Entry {
    name: String,
    meta: Meta,
    mtime: SystemTime,
}

/// The lines of a `sha256sum` output: (hex, name); malformed lines are counted.
fn parse_sums(text: &str) -> (Vec<(String, String)>, usize) {
    let mut ok = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // `\` first: the name is escaped (`\\`, `\n`).
        let (escaped, line) = match line.strip_prefix('\\') {
            Some(l) => (true, l),
            None => (false, line),
        };
        let parsed = line.split_at_checked(64).and_then(|(hex, rest)| {
            let name = rest
                .strip_prefix("  ")
                .or_else(|| rest.strip_prefix(" *"))?;
            (hex.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty())
                .then(|| (hex.to_ascii_lowercase(), name.to_string()))
        });
        match parsed {
            Some((hex, name)) if escaped => {
                ok.push((hex, name.replace("\\n", "\n").replace("\\\\", "\\")));
            }
            Some(p) => ok.push(p),
            None => bad += 1,
        }
    }
    (ok, bad)
}

/// The SHA-256 of a regular file of the directory (no symlinks), streamed.
fn hash(ctx: &Ctx, dir: &Path, name: &str) -> Result<String, String> {
    let mut f = ctx
        .host
        .open(&dir.join(name))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{name}: vanished"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{name}: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// The directory's regular files, sorted by name; other entries are reported.
fn entries(ctx: &Ctx, dir: &Path, out: &mut Out) -> Result<Vec<Entry>, ModuleError> {
    let names: Vec<String> = ctx
        .host
        .read_dir(dir)
        .map_err(|e| ctx.invalid(format!("cannot list {}: {e}", dir.display())))?
        .ok_or_else(|| ctx.invalid(format!("cannot list {}: no such directory", dir.display())))?
        .iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .collect();
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let Some(meta) = ctx.host.lstat(&path).map_err(ctx.fs())? else {
            continue;
        };
        if meta.kind != Kind::File {
            out.notices.push(ctx.notice(
                NoticeLevel::Info,
                format!("{} is not a regular file: not checked", path.display()),
            ));
            continue;
        }
        let mtime = ctx
            .host
            .open(&path)
            .map_err(|e| e.to_string())
            .and_then(|f| f.ok_or_else(|| "vanished".to_string()))
            .and_then(|f| {
                f.metadata()
                    .and_then(|m| m.modified())
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| ctx.invalid(format!("{}: {e}", path.display())))?;
        files.push(Entry { name, meta, mtime });
    }
    Ok(files)
}

/// Checks every listed checksum; returns the names that some checksum covers.
fn verify_checksums(ctx: &Ctx, dir: &Path, files: &[Entry], out: &mut Out) -> Vec<String> {
    let mut covered = Vec::new();
    for sums in files.iter().filter(|e| is_checksum(&e.name)) {
        let path = dir.join(&sums.name);
        let text = match ctx.host.read(&path) {
            Ok(Some(t)) => String::from_utf8_lossy(&t).into_owned(),
            _ => continue,
        };
        let (lines, bad) = parse_sums(&text);
        if bad > 0 {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!(
                    "{}: {bad} improperly formatted checksum line(s)",
                    path.display()
                ),
            ));
        }
        for (want, name) in lines {
            let listed = Path::new(&name);
            let plain = listed.components().count() == 1 && !name.contains('/');
            let message = if !plain {
                Some(format!(
                    "lists `{name}`, outside the directory: not checked"
                ))
            } else if !files.iter().any(|e| e.name == name) {
                Some(format!(
                    "lists `{name}`, which is missing (FAILED open or read)"
                ))
            } else {
                match hash(ctx, dir, &name) {
                    Ok(got) if got == want => None,
                    Ok(_) => Some(format!("checksum of `{name}` does not match (FAILED)")),
                    Err(e) => Some(format!("cannot read `{name}`: {e}")),
                }
            };
            match message {
                Some(m) => out
                    .notices
                    .push(ctx.notice(NoticeLevel::Warning, format!("{}: {m}", path.display()))),
                None => covered.push(name),
            }
        }
    }
    covered
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let dir = ctx.path_param(Some(&p.path), "path")?;
    let id = |what: &str, v: Option<&str>, f: &dyn Fn(&str) -> Option<u32>| {
        let name = v.unwrap_or("root");
        f(name).ok_or_else(|| ctx.invalid(format!("{what} `{name}` is not known in the root")))
    };
    let uid = id("owner", p.owner.as_deref(), &|n| ctx.host.ids.uid(n))?;
    let gid = id("group", p.group.as_deref(), &|n| ctx.host.ids.gid(n))?;
    let dmeta = ctx
        .host
        .lstat(&dir)
        .map_err(ctx.fs())?
        .ok_or_else(|| ctx.invalid(format!("{} does not exist", dir.display())))?;
    if dmeta.kind != Kind::Dir {
        return Err(ctx.invalid(format!("{} is not a directory", dir.display())));
    }
    let files = entries(ctx, &dir, out)?;
    let pruned = prune(ctx, p, &dir, &files, out)?;
    let want_dir = (p.dir_mode.map_or(0o700, |m| m.0), uid, gid);
    let want_file = (p.file_mode.map_or(0o600, |m| m.0), uid, gid);
    let mut metas = Vec::new();
    metas.extend(meta_op(&dir, &dmeta, want_dir));
    for e in files.iter().filter(|e| !pruned.contains(&e.name)) {
        metas.extend(meta_op(&dir.join(&e.name), &e.meta, want_file));
    }
    if !metas.is_empty() {
        let (ops, what): (Vec<Op>, Vec<String>) = metas.into_iter().unzip();
        let mut c = ctx.change(dir.display().to_string(), what.join("; "));
        c.ops = ops;
        out.changes.push(c);
    }
    report(ctx, p, &dir, &files, out);
    Ok(())
}

/// Warnings for unencrypted and unchecksummed backups, and bad checksums.
fn report(ctx: &Ctx, p: &Params, dir: &Path, files: &[Entry], out: &mut Out) {
    let patterns: Vec<String> = p
        .encrypted
        .clone()
        .unwrap_or_else(|| DEFAULT_ENCRYPTED.iter().map(|s| (*s).to_string()).collect());
    let covered = verify_checksums(ctx, dir, files, out);
    for e in files.iter().filter(|e| !is_checksum(&e.name)) {
        let path = dir.join(&e.name);
        if !patterns
            .iter()
            .any(|pat| crate::host::glob::matches(pat, &e.name))
        {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!("{} is not encrypted (expected {}); encrypt it, e.g. gpg --encrypt (harden never encrypts)", path.display(), patterns.join(", ")),
            ));
        }
        let sibling = format!("{}.sha256", e.name);
        if !files.iter().any(|f| f.name == sibling) && !covered.contains(&e.name) {
            out.notices.push(ctx.notice(
                NoticeLevel::Warning,
                format!(
                    "{} has no checksum ({sibling} or a line in {SUMS})",
                    path.display()
                ),
            ));
        }
    }
}

fn meta_op(path: &Path, m: &Meta, (mode, uid, gid): (u32, u32, u32)) -> Option<(Op, String)> {
    if (m.mode, m.uid, m.gid) == (mode, uid, gid) {
        return None;
    }
    let what = format!(
        "{}: {:04o} {}:{} -> {mode:04o} {uid}:{gid}",
        path.display(),
        m.mode,
        m.uid,
        m.gid
    );
    Some((
        Op::SetMeta(SetMeta {
            path: path.to_path_buf(),
            mode: (m.mode != mode).then_some(mode),
            uid: (m.uid != uid).then_some(uid),
            gid: (m.gid != gid).then_some(gid),
            expect: (m.mode, m.uid, m.gid),
        }),
        what,
    ))
}

/// Reports backups past retention and, with `prune`, plans their removal (with
/// their `.sha256` siblings). Returns the names removed.
fn prune(
    ctx: &Ctx,
    p: &Params,
    dir: &Path,
    files: &[Entry],
    out: &mut Out,
) -> Result<Vec<String>, ModuleError> {
    let Some(days) = p.retention_days else {
        if p.prune {
            return Err(ctx.invalid("`prune` needs `retention_days`"));
        }
        return Ok(Vec::new());
    };
    let cutoff = SystemTime::now()
        .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut old: Vec<&Entry> = Vec::new();
    for e in files
        .iter()
        .filter(|e| !is_checksum(&e.name) && e.mtime < cutoff)
    {
        old.push(e);
        let sibling = format!("{}.sha256", e.name);
        old.extend(files.iter().filter(|f| f.name == sibling));
    }
    if old.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = old.iter().map(|e| e.name.as_str()).collect();
    if !p.prune {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "{}: older than {days} days: {} (prune: true removes them)",
                dir.display(),
                names.join(", ")
            ),
        ));
        return Ok(Vec::new());
    }
    let bytes: u64 = old.iter().map(|e| e.meta.len).sum();
    let max = p.max_prune_bytes.unwrap_or(DEFAULT_MAX_PRUNE);
    if bytes > max {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!("{}: refusing to prune {bytes} bytes ({}), more than max_prune_bytes {max}: the snapshot would copy them all; raise max_prune_bytes or remove them by hand", dir.display(), names.join(", ")),
        ));
        return Ok(Vec::new());
    }
    let mut c = ctx.change(
        dir.display().to_string(),
        format!(
            "remove backups older than {days} days: {}",
            names.join(", ")
        ),
    );
    for e in &old {
        let sha256 = hash(ctx, dir, &e.name).map_err(|m| ctx.invalid(m))?;
        c.ops.push(Op::Remove(Remove {
            path: dir.join(&e.name),
            expect: Observed::File { sha256 },
        }));
    }
    out.changes.push(c);
    Ok(names.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_lines() {
        let h = "a".repeat(64);
        let text = format!("{h}  a.gpg\n{h} *b.gpg\nnot a line\n\\{h}  c\\nd\n");
        let (ok, bad) = parse_sums(&text);
        assert_eq!(bad, 1);
        assert_eq!(
            ok,
            vec![
                (h.clone(), "a.gpg".to_string()),
                (h.clone(), "b.gpg".to_string()),
                (h, "c\nd".to_string())
            ]
        );
    }
}
