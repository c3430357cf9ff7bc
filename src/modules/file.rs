//! `file`: a path's existence, content, mode and owner, optionally recursive with
//! separate file and directory modes. Owner and group names resolve in the root's
//! own `passwd`/`group`. A symlink is never followed: at the target it is an error,
//! inside a recursive tree it is left alone, and a walk never crosses into another
//! file system. `secret: true` keeps content out of every diff.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::{Ctx, FileWrite, ModuleError, Out, missing_parents, observed};
use crate::host::fs::{self, Kind, Listed, Meta};
use crate::host::walk;
use crate::plan::{MakeDir, Observed, Op, Remove, SetMeta, Validator};

/// An octal permission mode, written as a quoted string (`"0640"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FileMode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an octal mode as a quoted string, e.g. \"0640\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<FileMode, E> {
                let digits = s.strip_prefix("0o").unwrap_or(s);
                if digits.is_empty() || digits.len() > 5 {
                    return Err(E::custom(format!(
                        "mode `{s}`: expected 3 or 4 octal digits"
                    )));
                }
                let m = u32::from_str_radix(digits, 8)
                    .map_err(|_| E::custom(format!("mode `{s}` is not octal")))?;
                if m > 0o7777 {
                    return Err(E::custom(format!("mode `{s}` is larger than 07777")));
                }
                Ok(FileMode(m))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "mode {n}: write modes as quoted octal strings (\"0{n}\"); unquoted, YAML reads them as decimal numbers"
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "mode {n}: write modes as quoted octal strings, e.g. \"0640\"; unquoted, YAML reads them as numbers"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "mode {n}: write modes as quoted octal strings, e.g. \"0640\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for FileMode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileMode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0o)?[0-7]{3,5}$",
            "description": "Octal permission bits as a quoted string, e.g. \"0640\"."
        })
    }
}

/// What should exist at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A regular file (created only when `content` is given).
    File,
    /// A directory (created when missing).
    Directory,
    /// Nothing: a file, symlink or empty directory is removed.
    Absent,
}

/// Parameters of `file:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The path, absolute.
    pub path: PathBuf,
    /// What should be there. Without it, as Ansible's `file`: the path keeps
    /// the kind it has (a directory stays a directory); a missing path is a
    /// directory with `recurse: true`, a file otherwise.
    #[serde(default)]
    pub state: Option<State>,
    /// Mode of the path (and, with `recurse`, of everything below unless
    /// `file_mode`/`dir_mode` say otherwise).
    #[serde(default)]
    pub mode: Option<FileMode>,
    /// Owner name (or numeric uid), resolved in the root's passwd.
    #[serde(default)]
    pub owner: Option<String>,
    /// Group name (or numeric gid), resolved in the root's group.
    #[serde(default)]
    pub group: Option<String>,
    /// Apply owner, group and modes to everything below a directory.
    #[serde(default)]
    pub recurse: bool,
    /// With `recurse`: the mode of regular files below.
    #[serde(default)]
    pub file_mode: Option<FileMode>,
    /// With `recurse`: the mode of directories below.
    #[serde(default)]
    pub dir_mode: Option<FileMode>,
    /// The whole content of the file.
    #[serde(default)]
    pub content: Option<String>,
    /// The content is secret: diffs and reports never show it.
    #[serde(default)]
    pub secret: bool,
    /// A validator run on the candidate before install; `%s` is its path
    /// (e.g. `[visudo, -c, -f, "%s"]`).
    #[serde(default)]
    pub validate: Option<Vec<String>>,
}

struct Wanted {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Wanted {
    fn meta_op(&self, path: &Path, m: &Meta) -> Option<(Op, String)> {
        let op = self.set_meta(path.to_path_buf(), m)?;
        Some((op, self.describe(m)))
    }

    /// Whether a path whose metadata is `m` needs a change.
    fn differs(&self, m: &Meta) -> bool {
        self.mode.is_some_and(|x| x != m.mode)
            || self.uid.is_some_and(|x| x != m.uid)
            || self.gid.is_some_and(|x| x != m.gid)
    }

    /// The op that gives `path` (whose metadata is `m`) what is wanted, if any.
    fn set_meta(&self, path: PathBuf, m: &Meta) -> Option<Op> {
        if !self.differs(m) {
            return None;
        }
        let mode = self.mode.filter(|x| *x != m.mode);
        let uid = self.uid.filter(|x| *x != m.uid);
        let gid = self.gid.filter(|x| *x != m.gid);
        Some(Op::SetMeta(SetMeta {
            path,
            mode,
            uid,
            gid,
            expect: (m.mode, m.uid, m.gid),
        }))
    }

    /// What [`Wanted::set_meta`] changes, in words ("mode 0644 -> 0640, owner 0 -> 33").
    fn describe(&self, m: &Meta) -> String {
        let mut what = Vec::new();
        if let Some(x) = self.mode.filter(|x| *x != m.mode) {
            what.push(format!("mode {:04o} -> {x:04o}", m.mode));
        }
        if let Some(x) = self.uid.filter(|x| *x != m.uid) {
            what.push(format!("owner {} -> {x}", m.uid));
        }
        if let Some(x) = self.gid.filter(|x| *x != m.gid) {
            what.push(format!("group {} -> {x}", m.gid));
        }
        what.join(", ")
    }
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(Some(&p.path), "path")?;
    if path == Path::new("/") {
        return Err(ctx.invalid("refusing to manage `/` itself"));
    }
    let uid =
        p.owner
            .as_deref()
            .map(|o| {
                ctx.host.ids.uid(o).ok_or_else(|| {
                    ctx.invalid(format!("owner `{o}` is not in the root's /etc/passwd"))
                })
            })
            .transpose()?;
    let gid =
        p.group
            .as_deref()
            .map(|g| {
                ctx.host.ids.gid(g).ok_or_else(|| {
                    ctx.invalid(format!("group `{g}` is not in the root's /etc/group"))
                })
            })
            .transpose()?;
    if let Some(v) = &p.validate {
        crate::plan::check_argv(v).map_err(|m| ctx.invalid(format!("`validate` {m}")))?;
    }
    let meta = ctx.host.lstat(&path).map_err(ctx.fs())?;
    let state = match p.state {
        Some(s) => s,
        None if p.recurse => State::Directory,
        None if meta.as_ref().is_some_and(|m| m.kind == Kind::Dir) => State::Directory,
        None => State::File,
    };
    if p.recurse && state != State::Directory {
        return Err(ctx.invalid("`recurse` needs `state: directory`"));
    }
    if (p.file_mode.is_some() || p.dir_mode.is_some()) && !p.recurse {
        return Err(ctx.invalid("`file_mode` and `dir_mode` need `recurse: true`"));
    }
    if p.content.is_some() && state != State::File {
        return Err(ctx.invalid(if p.state.is_some() {
            "`content` needs `state: file`".to_string()
        } else {
            format!(
                "`content` needs a regular file, and {} is a directory",
                path.display()
            )
        }));
    }
    if let Some(m) = &meta
        && m.kind == Kind::Symlink
        && state != State::Absent
    {
        return Err(ctx.invalid(format!(
            "{} is a symlink; harden does not manage a path through a symlink",
            path.display()
        )));
    }
    match state {
        State::Absent => plan_absent(ctx, &path, meta, out),
        State::File => {
            let wanted = Wanted {
                mode: p.mode.map(|m| m.0),
                uid,
                gid,
            };
            plan_file(ctx, p, &path, meta, &wanted, out)
        }
        State::Directory => plan_dir(ctx, p, &path, meta, (uid, gid), out),
    }
}

fn plan_dir(
    ctx: &Ctx,
    p: &Params,
    path: &Path,
    meta: Option<Meta>,
    (uid, gid): (Option<u32>, Option<u32>),
    out: &mut Out,
) -> Result<(), ModuleError> {
    let target = path.display().to_string();
    let top = Wanted {
        mode: p.mode.or(p.dir_mode).map(|m| m.0),
        uid,
        gid,
    };
    match meta {
        None => {
            let mut c = ctx.change(&target, "create directory");
            c.ops = missing_parents(ctx, path)?;
            c.ops.push(Op::MakeDir(MakeDir {
                path: path.to_path_buf(),
                mode: top.mode.unwrap_or(0o755),
                uid: uid.unwrap_or(0),
                gid: gid.unwrap_or(0),
            }));
            out.changes.push(c);
        }
        Some(m) if m.kind == Kind::Dir => {
            if let Some((op, what)) = top.meta_op(path, &m) {
                let mut c = ctx.change(&target, what);
                c.ops.push(op);
                out.changes.push(c);
            }
            if p.recurse {
                plan_tree(ctx, p, path, uid, gid, out)?;
            }
        }
        Some(_) => {
            return Err(ctx.invalid(format!("{target} exists and is not a directory")));
        }
    }
    Ok(())
}

fn plan_absent(
    ctx: &Ctx,
    path: &Path,
    meta: Option<Meta>,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let Some(m) = meta else { return Ok(()) };
    let expect = match m.kind {
        Kind::File => observed(ctx.host.read(path).map_err(ctx.fs())?.as_deref()),
        Kind::Dir => {
            let empty = ctx
                .host
                .read_dir(path)
                .is_ok_and(|d| d.is_some_and(|d| d.is_empty()));
            if !empty {
                return Err(ctx.invalid(format!(
                    "{} is a directory that is not empty; harden removes only empty directories",
                    path.display()
                )));
            }
            Observed::Dir
        }
        Kind::Symlink => Observed::Absent,
        Kind::Other => {
            return Err(ctx.invalid(format!("{} is not a file or directory", path.display())));
        }
    };
    let mut c = ctx.change(path.display().to_string(), "remove");
    c.ops.push(Op::Remove(Remove {
        path: path.to_path_buf(),
        expect,
    }));
    out.changes.push(c);
    Ok(())
}

fn plan_file(
    ctx: &Ctx,
    p: &Params,
    path: &Path,
    meta: Option<Meta>,
    wanted: &Wanted,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let target = path.display().to_string();
    if let Some(m) = &meta
        && m.kind != Kind::File
    {
        return Err(ctx.invalid(format!("{target} exists and is not a regular file")));
    }
    if let Some(content) = &p.content {
        let before = ctx.host.read(path).map_err(ctx.fs())?;
        if before.as_deref() != Some(content.as_bytes()) {
            let mode = wanted.mode.or(meta.map(|m| m.mode)).unwrap_or(0o644);
            let uid = wanted.uid.or(meta.map(|m| m.uid)).unwrap_or(0);
            let gid = wanted.gid.or(meta.map(|m| m.gid)).unwrap_or(0);
            let c = ctx.write_change(FileWrite {
                path,
                before: before.as_deref(),
                after: content.as_bytes(),
                mode,
                uid,
                gid,
                validators: p
                    .validate
                    .iter()
                    .filter_map(|argv| Validator::argv(argv))
                    .collect(),
                secret: p.secret,
                what: "file",
            })?;
            out.changes.push(c);
            return Ok(());
        }
    }
    let Some(m) = meta else {
        return Err(ctx.invalid(format!(
            "{target} does not exist; give `content` to create it, or add `when: {{ exists: {target} }}`"
        )));
    };
    if let Some((op, what)) = wanted.meta_op(path, &m) {
        let mut c = ctx.change(&target, what);
        c.ops.push(op);
        out.changes.push(c);
    }
    Ok(())
}

/// Walks the tree below `top` (not following symlinks, not crossing file systems)
/// and plans one change holding every metadata fix. Each directory is opened from
/// its parent's fd ([`fs::Dirs`]) and listed in name order, so the plan's order
/// does not depend on the order the file system lists names in.
/// What a recursive rule keeps of one directory of its tree: the ops of the
/// entries that change (the directory's own change is its parent's entry), the
/// first few described, and the counts for the summary.
#[derive(Default)]
struct Listing {
    ops: Vec<Op>,
    examples: Vec<String>,
    seen: usize,
    skipped_links: usize,
}

/// The modes and owner a recursive rule wants below its top, and the file
/// system the walk stays on.
struct TreeRule {
    files: Wanted,
    dirs: Wanted,
    dev: u64,
}

/// Paths described in a recursive change's summary; words for every path of a
/// big tree would cost more than the walk.
const EXAMPLES: usize = 3;

impl walk::Visitor for TreeRule {
    type Out = Listing;

    fn descend(&self, entry: &Listed) -> bool {
        entry.dev == self.dev
    }

    fn visit(&self, dir: &Path, entries: Vec<Listed>) -> Listing {
        let mut l = Listing {
            seen: entries.len(),
            ..Listing::default()
        };
        for entry in entries {
            let wanted = match entry.meta.kind {
                Kind::Symlink => {
                    l.skipped_links += 1;
                    continue;
                }
                Kind::Dir if entry.dev != self.dev => continue,
                Kind::Dir => &self.dirs,
                Kind::File => &self.files,
                Kind::Other => continue,
            };
            // A converged path costs no path: the names of a tree are joined
            // only for what changes.
            if !wanted.differs(&entry.meta) {
                continue;
            }
            let logical = dir.join(&entry.name);
            if l.examples.len() < EXAMPLES {
                l.examples.push(format!(
                    "{}: {}",
                    logical.display(),
                    wanted.describe(&entry.meta)
                ));
            }
            l.ops.extend(wanted.set_meta(logical, &entry.meta));
        }
        l
    }
}

fn plan_tree(
    ctx: &Ctx,
    p: &Params,
    top: &Path,
    uid: Option<u32>,
    gid: Option<u32>,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let rule = TreeRule {
        files: Wanted {
            mode: p.file_mode.or(p.mode).map(|m| m.0),
            uid,
            gid,
        },
        dirs: Wanted {
            mode: p.dir_mode.or(p.mode).map(|m| m.0),
            uid,
            gid,
        },
        dev: fs::Dirs::new(&ctx.host.root)
            .dev(top)
            .map_err(ctx.fs())?
            .ok_or_else(|| ctx.invalid(format!("{}: no such directory", top.display())))?,
    };
    let listings = walk::tree(&ctx.host.root, top, &rule)
        .map_err(ctx.fs())?
        .ok_or_else(|| ctx.invalid(format!("{}: no such directory", top.display())))?;
    // In walk order: the examples are the first paths that change.
    let mut ops = Vec::with_capacity(listings.iter().map(|l| l.ops.len()).sum());
    let mut examples = Vec::new();
    let (mut seen, mut skipped_links) = (0usize, 0usize);
    for l in listings {
        ops.extend(l.ops);
        examples.extend(l.examples.into_iter().take(EXAMPLES - examples.len()));
        seen += l.seen;
        skipped_links += l.skipped_links;
    }
    if !ops.is_empty() {
        let more = ops.len().saturating_sub(examples.len());
        let mut summary = format!(
            "{} of {seen} paths below change; {}",
            ops.len(),
            examples.join("; ")
        );
        if more > 0 {
            let _ = write!(summary, "; and {more} more");
        }
        if skipped_links > 0 {
            let _ = write!(summary, " ({skipped_links} symlinks left alone)");
        }
        let mut c = ctx.change(format!("{}/** (recursive)", top.display()), summary);
        c.ops = ops;
        out.changes.push(c);
    }
    Ok(())
}
