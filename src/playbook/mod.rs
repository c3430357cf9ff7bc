//! Playbooks: what the user wants, read strictly. A playbook is YAML with `name`,
//! `vars`, `include` and `tasks`; each task has a name, a stable rule `id`, a
//! severity, tags, an optional `when:` on host facts, and exactly one module key.
//! Unknown fields, unknown modules, duplicate keys and wrong types are errors naming
//! file, line and column. `{{ var }}` references are replaced before parsing, from
//! the playbook's `vars` and `-e KEY=VALUE` overrides. This module knows nothing of
//! the host beyond evaluating `when:`.

pub mod schema;
pub mod single_line;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::host::Host;
use crate::host::facts::OsFamily;
use crate::modules::{ModuleCall, at_marker};
pub use crate::plan::{Severity, VarValue};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/playbooks.rs"));
}

/// The playbooks shipped inside the binary (`playbooks/*.yml`), by name.
pub const EMBEDDED: &[(&str, &str)] = embedded::PLAYBOOKS;

/// A playbook could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("-e {0}: expected KEY=VALUE")]
    BadOverride(String),
    #[error(
        "playbook `{name}` is neither a file nor an embedded playbook{hint}; embedded: {embedded}"
    )]
    UnknownPlaybook {
        name: String,
        hint: String,
        embedded: String,
    },
    #[error(
        "unknown variable `{name}` (-e, or the Ansible module's vars): no selected playbook declares it in `vars` or uses it{hint}; declared: {declared}"
    )]
    UnknownVar {
        name: String,
        hint: String,
        declared: String,
    },
    #[error(
        "{flag} {value}: no selected task has this tag or rule id{hint}; tags: {tags}; rule ids: {ids}"
    )]
    UnknownTag {
        flag: &'static str,
        value: String,
        hint: String,
        tags: String,
        ids: String,
    },
}

/// `names` joined for an error message, or `(none)`.
fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.into_iter().collect();
    if all.is_empty() {
        "(none)".into()
    } else {
        all.join(", ")
    }
}

/// Conditions on host facts; all given conditions must hold.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The OS family of the root (from its os-release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<OsFamily>,
    /// This path exists under the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<PathBuf>,
    /// This path does not exist under the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<PathBuf>,
    /// An executable of this name exists under the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// The root is (true) or is not (false) the running system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
    /// The root's `/etc/fstab` has an entry for this mount point (a separate
    /// filesystem, e.g. `/opt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstab_entry: Option<String>,
    /// A container or VM runtime is (true) or is not (false) installed under the
    /// root: Docker, containerd, Podman, CRI-O, libvirt, LXD, Incus, kubelet, k3s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_host: Option<bool>,
}

impl When {
    /// Whether the conditions hold on `host`; `Err` names the first that fails.
    ///
    /// # Errors
    /// Returns the reason the task is skipped.
    pub fn check(&self, host: &Host) -> Result<(), String> {
        if let Some(f) = self.os_family
            && host.facts.os_family != f
        {
            // As a playbook writes them (`redhat`), not as Rust debug-prints them.
            let name = |f: OsFamily| format!("{f:?}").to_lowercase();
            return Err(format!(
                "os_family is {}, not {}",
                name(host.facts.os_family),
                name(f)
            ));
        }
        if let Some(p) = &self.exists
            && !matches!(host.lstat(p), Ok(Some(_)))
        {
            return Err(format!("{} does not exist", p.display()));
        }
        if let Some(p) = &self.absent
            && !matches!(host.lstat(p), Ok(None))
        {
            return Err(format!("{} exists", p.display()));
        }
        if let Some(b) = &self.binary
            && host.binary(b).is_none()
        {
            return Err(format!("no `{b}` binary"));
        }
        if let Some(l) = self.live
            && host.is_live() != l
        {
            return Err(if l { "offline root" } else { "live root" }.into());
        }
        if let Some(wanted) = self.container_host {
            match (wanted, host.container_runtime()) {
                (true, None) => return Err("no container or VM runtime installed".into()),
                (false, Some(rt)) => {
                    return Err(format!("container or VM host ({rt} installed)"));
                }
                _ => {}
            }
        }
        if let Some(m) = &self.fstab_entry {
            let text = host
                .read(std::path::Path::new("/etc/fstab"))
                .ok()
                .flatten()
                .unwrap_or_default();
            if crate::formats::fstab::Fstab::parse(&String::from_utf8_lossy(&text))
                .find(m)
                .is_empty()
            {
                return Err(format!("/etc/fstab has no entry for {m}"));
            }
        }
        Ok(())
    }
}

/// One task: a rule with exactly one module call.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub id: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub when: Option<When>,
    /// Why the rule exists, one line (shown in docs and reports).
    pub rationale: Option<String>,
    /// The benchmark items the rule covers, by benchmark (`cis: "5.2.4"`,
    /// `anssi: "R29"`): shown in plans, reports and JSON.
    pub references: BTreeMap<String, String>,
    /// `false`: audit only. The rule is planned and its drift reported, but
    /// nothing it would change is ever applied.
    pub enforce: bool,
    pub module: ModuleCall,
    /// The file the task came from.
    pub source: String,
}

impl Task {
    /// Who a module plans for: the rule's id, name and severity, and the module.
    #[must_use]
    pub fn rule(&self) -> crate::plan::Rule {
        crate::plan::Rule {
            id: self.id.clone(),
            name: self.name.clone(),
            severity: self.severity,
            module: self.module.name(),
        }
    }
}

/// A task's `references:` as written: the map it must be, or anything else
/// (refused with an example).
#[derive(Deserialize)]
#[serde(untagged)]
enum References {
    Map(BTreeMap<String, String>),
    Other(serde::de::IgnoredAny),
}

const TASK_FIELDS: [&str; 8] = [
    "name",
    "id",
    "severity",
    "tags",
    "when",
    "rationale",
    "references",
    "enforce",
];

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TaskVisitor)
    }
}

struct TaskVisitor;

impl<'de> Visitor<'de> for TaskVisitor {
    type Value = Task;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a task: name, id, severity, tags, when, rationale, references, enforce and one module key",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Task, A::Error> {
        let mut name = None;
        let mut id: Option<String> = None;
        let mut severity = None;
        let mut tags = None;
        let mut when = None;
        let mut rationale = None;
        let mut references = None;
        let mut enforce = None;
        let mut module: Option<(String, ModuleCall)> = None;
        while let Some(spanned) = map.next_key::<serde_saphyr::Spanned<String>>()? {
            let key = spanned.value;
            let at = |msg: String| {
                de::Error::custom(at_marker(
                    spanned.referenced.line(),
                    spanned.referenced.column(),
                    &msg,
                ))
            };
            match key.as_str() {
                "name" => name = Some(map.next_value()?),
                "id" => id = Some(map.next_value()?),
                "severity" => severity = Some(map.next_value()?),
                "tags" => tags = Some(map.next_value()?),
                "when" => when = Some(map.next_value()?),
                "rationale" => rationale = Some(map.next_value()?),
                "references" => match map.next_value()? {
                    References::Map(m) => references = Some(m),
                    References::Other(_) => {
                        return Err(at("`references` is a map from benchmark to item, e.g. \
                             { cis: \"5.2.4\", anssi: \"R29\" }"
                            .into()));
                    }
                },
                "enforce" => enforce = Some(map.next_value()?),
                other => {
                    if let Some((first, _)) = &module {
                        return Err(at(format!(
                            "a task has exactly one module; `{first}` and `{other}` both given"
                        )));
                    }
                    match crate::modules::deserialize_call(other, &mut map)? {
                        Some(call) => module = Some((other.to_string(), call)),
                        None => {
                            return Err(at(format!(
                                "unknown field or module `{other}` (task fields: {}; modules: {})",
                                TASK_FIELDS.join(", "),
                                crate::modules::names().join(", ")
                            )));
                        }
                    }
                }
            }
        }
        let name: String = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(de::Error::custom(format!(
                "rule id `{id}`: use letters, digits, `.`, `_` and `-`"
            )));
        }
        let Some((_, module)) = module else {
            return Err(de::Error::custom(format!(
                "task `{name}` has no module (one of: {})",
                crate::modules::names().join(", ")
            )));
        };
        Ok(Task {
            name,
            id,
            severity: severity.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
            when,
            rationale,
            references: references.unwrap_or_default(),
            enforce: enforce.unwrap_or(true),
            module,
            source: String::new(),
        })
    }
}

/// The file as written (before includes are resolved).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    vars: BTreeMap<String, VarValue>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    tasks: Vec<Task>,
}

/// The first pass reads only `vars`, leniently, so templates can be filled in;
/// each value keeps its position for the errors about it.
#[derive(Debug, Deserialize)]
struct VarsOnly {
    #[serde(default)]
    vars: BTreeMap<String, serde_saphyr::Spanned<VarValue>>,
}

/// A loaded playbook with its includes resolved.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The name shown in plans and history.
    pub name: String,
    /// Where it came from (a path, or `embedded:NAME`).
    pub source: String,
    pub tasks: Vec<Task>,
}

/// Where a playbook comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Embedded(&'static str, &'static str),
}

impl Source {
    /// An embedded playbook by name, or a path.
    #[must_use]
    pub fn resolve(spec: &str) -> Self {
        if let Some((n, text)) = EMBEDDED.iter().find(|(n, _)| *n == spec) {
            return Self::Embedded(n, text);
        }
        Self::File(PathBuf::from(spec))
    }

    fn label(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Embedded(n, _) => format!("embedded:{n}"),
        }
    }

    fn text(&self) -> Result<String, PlaybookError> {
        match self {
            Self::File(p) => read_regular(p, MAX_PLAYBOOK)
                .and_then(|b| {
                    String::from_utf8(b)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                })
                .map_err(|source| PlaybookError::Read {
                    file: self.label(),
                    source,
                }),
            Self::Embedded(_, t) => Ok((*t).to_string()),
        }
    }
}

/// The largest playbook (or include) read, in bytes.
pub const MAX_PLAYBOOK: u64 = 16 << 20;

/// Reads a file given on the command line or included: only a regular file
/// (opened without blocking, so a FIFO cannot hang the run; a device is refused
/// before any read), and at most `max` bytes even if it grows while being read.
///
/// # Errors
/// When it cannot be opened or read, is not a regular file, or is larger.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let too_large = || std::io::Error::other(format!("larger than {} MiB", max >> 20));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC | nix::libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (never read from a device, FIFO or socket)",
        ));
    }
    if meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses `KEY=VALUE` overrides from the command line.
///
/// # Errors
/// When an override has no `=` or an empty key.
pub fn parse_overrides(raw: &[String]) -> Result<BTreeMap<String, VarValue>, PlaybookError> {
    raw.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), VarValue::Str(v.to_string())))
            }
            _ => Err(PlaybookError::BadOverride(kv.clone())),
        })
        .collect()
}

/// Loads the playbooks in order (their tasks concatenated), resolving includes.
///
/// # Errors
/// Any read, syntax or validation error, naming the file and position.
pub fn load(
    sources: &[Source],
    overrides: &BTreeMap<String, VarValue>,
) -> Result<Playbook, PlaybookError> {
    let mut tasks = Vec::new();
    let mut names = Vec::new();
    let mut labels = Vec::new();
    let mut declared = BTreeSet::new();
    for src in sources {
        if let Source::File(p) = src
            && std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            let name = p.display().to_string();
            return Err(PlaybookError::UnknownPlaybook {
                hint: suggest::hint(&name, EMBEDDED.iter().map(|(n, _)| *n)),
                name,
                embedded: listing(EMBEDDED.iter().map(|(n, _)| *n)),
            });
        }
        let mut stack = Vec::new();
        let mut walk = Walk {
            overrides,
            stack: &mut stack,
            out: &mut tasks,
            declared: &mut declared,
        };
        let name = load_one(src, &BTreeMap::new(), &mut walk)?;
        names.push(name);
        labels.push(src.label());
    }
    if let Some(name) = overrides.keys().find(|k| !declared.contains(*k)) {
        return Err(PlaybookError::UnknownVar {
            name: name.clone(),
            hint: suggest::hint(name, declared.iter().map(String::as_str)),
            declared: listing(declared.iter().map(String::as_str)),
        });
    }
    if tasks.is_empty() {
        return Err(PlaybookError::Invalid {
            file: labels.join(","),
            message: "the playbook has no tasks: nothing to plan".into(),
        });
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &tasks {
        if let Some(prev) = seen.insert(&t.id, &t.source) {
            return Err(PlaybookError::Invalid {
                file: t.source.clone(),
                message: format!("rule id `{}` is used twice (also in {prev})", t.id),
            });
        }
    }
    Ok(Playbook {
        name: names.join("+"),
        source: labels.join(","),
        tasks,
    })
}

/// What loading one playbook and its includes accumulates.
struct Walk<'a> {
    overrides: &'a BTreeMap<String, VarValue>,
    /// The includes being loaded, outermost first (for cycles).
    stack: &'a mut Vec<String>,
    out: &'a mut Vec<Task>,
    /// Every variable some loaded playbook declares.
    declared: &'a mut BTreeSet<String>,
}

fn load_one(
    src: &Source,
    inherited: &BTreeMap<String, VarValue>,
    walk: &mut Walk,
) -> Result<String, PlaybookError> {
    let label = src.label();
    if walk.stack.contains(&label) {
        return Err(PlaybookError::Invalid {
            file: label,
            message: format!("include cycle: {}", walk.stack.join(" -> ")),
        });
    }
    let text = src.text()?;
    let syntax = |e: serde_saphyr::Error| syntax_error(&label, &e);
    let opts = || serde_saphyr::options! { strict_booleans: true };
    let pre: VarsOnly = serde_saphyr::from_str_with_options(&text, opts()).map_err(syntax)?;
    // A variable the playbook uses without a default in `vars` is one it
    // expects from `-e`: declared too.
    walk.declared.extend(pre.vars.keys().cloned());
    walk.declared.extend(references(&text));
    let vars = resolve_vars(&label, pre.vars, inherited, walk.overrides)?;
    let text = substitute(&text, &vars, &label)?;
    let file: PlaybookFile = serde_saphyr::from_str_with_options(&text, opts()).map_err(syntax)?;
    single_line::check(&text, &label)?;
    walk.stack.push(label.clone());
    for inc in &file.include {
        let inc_src = match src {
            Source::File(p) if !EMBEDDED.iter().any(|(n, _)| n == inc) => {
                let base = p.parent().unwrap_or(Path::new("."));
                Source::File(base.join(inc))
            }
            _ => Source::resolve(inc),
        };
        if let Source::File(_) = inc_src
            && matches!(src, Source::Embedded(..))
        {
            return Err(PlaybookError::Invalid {
                file: label,
                message: format!("embedded playbooks include only embedded ones, not `{inc}`"),
            });
        }
        load_one(&inc_src, &vars, walk)?;
    }
    walk.stack.pop();
    for mut t in file.tasks {
        t.source.clone_from(&label);
        walk.out.push(t);
    }
    Ok(file.name.unwrap_or_else(|| match src {
        Source::File(p) => p
            .file_stem()
            .map_or_else(|| label.clone(), |s| s.to_string_lossy().into_owned()),
        Source::Embedded(n, _) => (*n).to_string(),
    }))
}

fn syntax_error(file: &str, e: &serde_saphyr::Error) -> PlaybookError {
    let (mut line, mut column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let mut message = match e {
        serde_saphyr::Error::Message { msg, .. } => msg.clone(),
        other => {
            // The rendered message may embed a snippet; keep its first line.
            let full = other.to_string();
            let first = full
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(&full)
                .trim();
            let plain = first.strip_prefix("error: ").unwrap_or(first);
            match plain.split_once(": ") {
                Some((pos, rest)) if pos.starts_with("line ") => rest.to_string(),
                _ => plain.to_string(),
            }
        }
    };
    if let Some(start) = message.find("[@")
        && let Some((pos, msg)) = message[start + 2..].split_once("] ")
        && let Some((l, c)) = pos.split_once(':')
    {
        line = l.parse().unwrap_or(line);
        column = c.parse().unwrap_or(column);
        message = msg.to_string();
    }
    PlaybookError::Syntax {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// A variable as loading sees it: its own value (a template when it is the
/// playbook's, with its position), or one already final (from an including
/// playbook, or `-e`).
struct Var {
    value: VarValue,
    /// Line and column of a playbook's own value; `None` for a final one.
    at: Option<(u64, u64)>,
}

/// The variables of one playbook with every `{{ other }}` in its own values
/// replaced (a variable may use another; a cycle is an error). Values given by
/// an including playbook and by `-e` win over the playbook's own and are used
/// as they are.
fn resolve_vars(
    file: &str,
    own: BTreeMap<String, serde_saphyr::Spanned<VarValue>>,
    inherited: &BTreeMap<String, VarValue>,
    overrides: &BTreeMap<String, VarValue>,
) -> Result<BTreeMap<String, VarValue>, PlaybookError> {
    let mut vars: BTreeMap<String, Var> = own
        .into_iter()
        .map(|(k, v)| {
            let at = Some((v.referenced.line(), v.referenced.column()));
            (k, Var { value: v.value, at })
        })
        .collect();
    for (k, v) in inherited.iter().chain(overrides) {
        vars.insert(
            k.clone(),
            Var {
                value: v.clone(),
                at: None,
            },
        );
    }
    let mut done: BTreeMap<String, VarValue> = BTreeMap::new();
    let names: Vec<String> = vars.keys().cloned().collect();
    for name in &names {
        let mut stack = Vec::new();
        expand(file, name, &vars, &mut done, &mut stack)?;
    }
    Ok(done)
}

/// The final value of `name`, expanding the variables its value uses first.
fn expand(
    file: &str,
    name: &str,
    vars: &BTreeMap<String, Var>,
    done: &mut BTreeMap<String, VarValue>,
    stack: &mut Vec<String>,
) -> Result<VarValue, PlaybookError> {
    if let Some(v) = done.get(name) {
        return Ok(v.clone());
    }
    let var = &vars[name];
    let (VarValue::Str(text), Some((line, column))) = (&var.value, var.at) else {
        done.insert(name.to_string(), var.value.clone());
        return Ok(var.value.clone());
    };
    let err = |message: String| PlaybookError::Syntax {
        file: file.to_string(),
        line,
        column,
        message,
    };
    stack.push(name.to_string());
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            return Err(err(format!(
                "variable `{name}`: `{{{{` without closing `}}}}`"
            )));
        };
        let used = rest[start + 2..start + len].trim();
        if stack.iter().any(|s| s == used) {
            let mut path = stack.clone();
            path.push(used.to_string());
            let first = path.iter().position(|s| s == used).unwrap_or(0);
            return Err(err(format!(
                "variables refer to each other in a cycle: {}",
                path[first..].join(" -> ")
            )));
        }
        if !vars.contains_key(used) {
            return Err(err(format!(
                "variable `{name}` uses undefined variable `{used}`{}",
                suggest::hint(used, vars.keys().map(String::as_str))
            )));
        }
        let value = expand(file, used, vars, done, stack)?.to_string();
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    stack.pop();
    let value = VarValue::Str(out);
    done.insert(name.to_string(), value.clone());
    Ok(value)
}

/// The names of the `{{ name }}` references in `text`.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push(rest[start + 2..start + len].trim().to_string());
        rest = &rest[start + len + 2..];
    }
    out
}

/// Replaces `{{ name }}` with variable values, keeping line and column positions of
/// everything before the reference intact.
fn substitute(
    text: &str,
    vars: &BTreeMap<String, VarValue>,
    file: &str,
) -> Result<String, PlaybookError> {
    let mut out = String::with_capacity(text.len());
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let col = line.len() - rest.len() + start + 1;
            let err = |message: String| PlaybookError::Syntax {
                file: file.to_string(),
                line: lineno as u64 + 1,
                column: col as u64,
                message,
            };
            let Some(len) = rest[start..].find("}}") else {
                return Err(err("`{{` without closing `}}`".into()));
            };
            let name = rest[start + 2..start + len].trim();
            let value = vars
                .get(name)
                .ok_or_else(|| err(format!("undefined variable `{name}`")))?
                .to_string();
            if value.contains('\n') {
                return Err(err(format!("variable `{name}` holds a newline")));
            }
            out.push_str(&rest[..start]);
            out.push_str(&value);
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Refuses a `--tags` or `--skip-tags` value that is neither a tag nor a rule id
/// of any task: a typo would otherwise select nothing, or skip nothing, silently.
///
/// # Errors
/// [`PlaybookError::UnknownTag`], listing the valid values.
pub fn check_selection(
    pb: &Playbook,
    tags: &BTreeSet<String>,
    skip: &BTreeSet<String>,
) -> Result<(), PlaybookError> {
    let mut known_tags: BTreeSet<&str> = BTreeSet::new();
    let mut ids: Vec<&str> = Vec::new();
    for t in &pb.tasks {
        known_tags.extend(t.tags.iter().map(String::as_str));
        ids.push(&t.id);
    }
    for (flag, set) in [("--tags", tags), ("--skip-tags", skip)] {
        for v in set {
            if known_tags.contains(v.as_str()) || ids.contains(&v.as_str()) {
                continue;
            }
            return Err(PlaybookError::UnknownTag {
                flag,
                value: v.clone(),
                hint: suggest::hint(v, known_tags.iter().copied().chain(ids.iter().copied())),
                tags: listing(known_tags.iter().copied()),
                ids: listing(ids.iter().copied()),
            });
        }
    }
    Ok(())
}

/// Selects tasks by `--tags` / `--skip-tags` (a task's id also counts as a tag).
#[must_use]
pub fn selected(task: &Task, tags: &BTreeSet<String>, skip: &BTreeSet<String>) -> bool {
    let has = |set: &BTreeSet<String>| {
        set.contains(&task.id) || task.tags.iter().any(|t| set.contains(t))
    };
    (tags.is_empty() || has(tags)) && !has(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Playbook, PlaybookError> {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("pb.yml");
        std::fs::write(&p, text).unwrap();
        load(&[Source::File(p)], &BTreeMap::new())
    }

    #[test]
    fn substitutes_vars_with_overrides() {
        let vars: BTreeMap<String, VarValue> = [("port".to_string(), VarValue::Int(22))]
            .into_iter()
            .collect();
        let out = substitute("a: \"{{ port }}\"\n", &vars, "f").unwrap();
        assert_eq!(out, "a: \"22\"\n");
        let err = substitute("a: 1\nb: \"{{nope}}\"\n", &vars, "f").unwrap_err();
        assert_eq!(err.to_string(), "f:2:5: undefined variable `nope`");
    }

    #[test]
    fn unknown_module_names_position() {
        let err = load_text("tasks:\n  - name: x\n    id: a.b\n    sysctll: {}\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pb.yml:4:"), "{msg}");
        assert!(msg.contains("unknown field or module `sysctll`"), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = load_text("name: a\nname: b\n").unwrap_err();
        assert!(err.to_string().contains("pb.yml:2:"), "{err}");
    }

    #[test]
    fn duplicate_rule_ids_are_errors() {
        let err = load_text(
            "tasks:\n  - {name: a, id: x, sysctl: {settings: {a.b: 1}}}\n  - {name: b, id: x, sysctl: {settings: {a.c: 1}}}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("rule id `x` is used twice"),
            "{err}"
        );
    }

    #[test]
    fn tags_select() {
        let pb = load_text(
            "tasks:\n  - {name: a, id: k.s, tags: [kernel], sysctl: {settings: {a.b: 1}}}\n",
        )
        .unwrap();
        let t = &pb.tasks[0];
        let set = |v: &[&str]| v.iter().map(ToString::to_string).collect::<BTreeSet<_>>();
        assert!(selected(t, &set(&[]), &set(&[])));
        assert!(selected(t, &set(&["kernel"]), &set(&[])));
        assert!(selected(t, &set(&["k.s"]), &set(&[])));
        assert!(!selected(t, &set(&["ssh"]), &set(&[])));
        assert!(!selected(t, &set(&[]), &set(&["kernel"])));
    }
}
