//! Account databases: this module owns parsing and editing the four account
//! databases (`passwd`, `shadow`, `group`, `gshadow`) and reading the uid/gid
//! ranges in `login.defs`. Parsing is byte-for-byte lossless: comments, blank
//! lines and NIS `+`/`-` lines are kept verbatim, untouched entries render
//! exactly as read and a missing final newline stays missing, so `render()` of
//! an unedited file is its input. It is strict: a line it does not understand
//! is an error naming the database and line, because harden refuses to edit a
//! file it does not understand. It works on text only: it never touches files
//! or takes locks (the caller does both), and it never renders a password hash
//! (from any of the four password fields) into anything meant for display:
//! `Debug` output, [`FieldChange`] and errors show only whether a password is
//! empty, locked, disabled or set.
#![allow(clippy::module_name_repetitions, clippy::missing_errors_doc)]

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::ops::RangeInclusive;

/// The file a value or an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Database {
    /// `/etc/passwd`.
    Passwd,
    /// `/etc/shadow`.
    Shadow,
    /// `/etc/group`.
    Group,
    /// `/etc/gshadow`.
    Gshadow,
    /// Not an account database, but it shares the error reporting.
    LoginDefs,
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passwd => "passwd",
            Self::Shadow => "shadow",
            Self::Group => "group",
            Self::Gshadow => "gshadow",
            Self::LoginDefs => "login.defs",
        })
    }
}

/// Errors of this module. They name entries but never quote any other field value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// A line could not be understood (`line` is 1-based).
    #[error("{database}: line {line}: {reason}")]
    Malformed {
        /// The file.
        database: Database,
        /// 1-based line number.
        line: usize,
        /// What is wrong, without quoting any field value.
        reason: String,
    },
    /// An edit named an entry that does not exist.
    #[error("{database}: no entry named {name:?}")]
    NotFound {
        /// The file.
        database: Database,
        /// The name asked for.
        name: String,
    },
    /// `add` was given an entry whose name exists with different fields.
    #[error("{database}: an entry named {name:?} already exists with different fields")]
    Conflict {
        /// The file.
        database: Database,
        /// The name already present.
        name: String,
    },
    /// A value given to an edit or a constructor would not survive a re-parse.
    #[error("{database}: {reason}")]
    Invalid {
        /// The file.
        database: Database,
        /// What is wrong, without quoting the value.
        reason: String,
    },
}

mod sealed {
    pub trait Sealed {}
}

/// Layout of one account database; implemented only by the four marker types.
pub trait Format: sealed::Sealed + fmt::Debug + Clone + PartialEq + Eq {
    /// Which database this is.
    const DATABASE: Database;
    /// Type name used by `Debug`.
    const ENTRY: &'static str;
    /// Field names in file order; index 1 is always the password field.
    const FIELDS: &'static [&'static str];
    /// Fields holding a uid or gid (decimal `u32`).
    const IDS: &'static [usize];
    /// Fields holding an optional day count (empty or decimal `u64`).
    const DAYS: &'static [usize];
}

macro_rules! db_format {
    ($($ty:ident $db:ident $entry:literal $fields:expr, $ids:expr, $days:expr;)*) => {$(
        #[doc = concat!("Marker type for the `", stringify!($db), "` layout.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;
        impl sealed::Sealed for $ty {}
        impl Format for $ty {
            const DATABASE: Database = Database::$db;
            const ENTRY: &'static str = $entry;
            const FIELDS: &'static [&'static str] = $fields;
            const IDS: &'static [usize] = $ids;
            const DAYS: &'static [usize] = $days;
        }
    )*};
}

db_format! {
    PasswdFormat Passwd "PasswdEntry" &["name", "passwd", "uid", "gid", "gecos", "home", "shell"], &[2, 3], &[];
    ShadowFormat Shadow "ShadowEntry"
        &["name", "hash", "lastchg", "min", "max", "warn", "inactive", "expire", "reserved"],
        &[], &[2, 3, 4, 5, 6, 7];
    GroupFormat Group "GroupEntry" &["name", "passwd", "gid", "members"], &[2], &[];
    GshadowFormat Gshadow "GshadowEntry" &["name", "passwd", "admins", "members"], &[], &[];
}

/// What a password field allows, without revealing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    /// Empty: no password is asked for where PAM allows `nullok`.
    Empty,
    /// Starts with `!` (`passwd -l` / `usermod -L`); unlocking restores the rest.
    Locked,
    /// No password can match: `*`, `*LK*`, `x` (in passwd/group: see the shadow file), ...
    Disabled,
    /// Looks like a crypt(3) hash that some password matches.
    Set,
}

fn looks_like_hash(value: &str) -> bool {
    let des = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    value.starts_with('$')
        || value.starts_with('_')
        || (value.len() == 13 && value.bytes().all(des))
}

fn password_state(value: &str) -> PasswordState {
    match value {
        "" => PasswordState::Empty,
        v if v.starts_with('!') => PasswordState::Locked,
        v if looks_like_hash(v) => PasswordState::Set,
        _ => PasswordState::Disabled,
    }
}

/// Display-safe form of a password field: `<empty>`, `!`, `!!`, `*`, `!*`, `x`,
/// `<hash>`, `!<hash>`, `*<redacted>`, `<redacted>`.
fn redact(value: &str) -> String {
    let rest = value.trim_start_matches('!');
    let bangs = &value[..value.len() - rest.len()];
    let shown = match rest {
        "" if bangs.is_empty() => "<empty>",
        "" | "*" | "x" => rest,
        r if looks_like_hash(r) => "<hash>",
        r if r.starts_with('*') => "*<redacted>",
        _ => "<redacted>",
    };
    format!("{bangs}{shown}")
}

fn show(index: usize, value: &str) -> String {
    if index == 1 {
        redact(value)
    } else {
        value.to_owned()
    }
}

fn is_decimal(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// One account line. The password field is redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry<F: Format> {
    fields: Vec<String>,
    ids: Vec<u32>,
    format: PhantomData<F>,
}

/// A `passwd` line.
pub type PasswdEntry = Entry<PasswdFormat>;
/// A `shadow` line.
pub type ShadowEntry = Entry<ShadowFormat>;
/// A `group` line.
pub type GroupEntry = Entry<GroupFormat>;
/// A `gshadow` line.
pub type GshadowEntry = Entry<GshadowFormat>;

impl<F: Format> Entry<F> {
    /// Validates fields as the parser does; the error reason never quotes a value.
    fn build(fields: Vec<String>) -> Result<Self, String> {
        if fields.len() != F::FIELDS.len() {
            return Err(format!(
                "expected {} fields, found {}",
                F::FIELDS.len(),
                fields.len()
            ));
        }
        if fields[0].is_empty() || fields[0].starts_with(['#', '+', '-']) {
            return Err("the name is empty or starts with '#', '+' or '-'".to_owned());
        }
        let mut ids = Vec::with_capacity(F::IDS.len());
        for (i, value) in fields.iter().enumerate() {
            let name = F::FIELDS[i];
            if value.contains([':', '\n']) {
                return Err(format!("field {name} contains ':' or a newline"));
            }
            if F::IDS.contains(&i) {
                match value.parse::<u32>() {
                    Ok(id) if is_decimal(value) => ids.push(id),
                    _ => return Err(format!("field {name} is not a decimal id")),
                }
            }
            let days_ok = value.is_empty() || (is_decimal(value) && value.parse::<u64>().is_ok());
            if F::DAYS.contains(&i) && !days_ok {
                return Err(format!(
                    "field {name} is neither empty nor a decimal day count"
                ));
            }
        }
        Ok(Self {
            fields,
            ids,
            format: PhantomData,
        })
    }

    /// Builds an entry from all its fields in file order, validated as the parser would.
    pub fn from_fields(fields: &[&str]) -> Result<Self, AccountsError> {
        let fields = fields.iter().map(|f| (*f).to_owned()).collect();
        Self::build(fields).map_err(|reason| AccountsError::Invalid {
            database: F::DATABASE,
            reason,
        })
    }

    /// The account or group name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.fields[0]
    }

    /// The raw password field. It may be a hash: never display it, use [`Self::redacted_password`].
    #[must_use]
    pub fn password(&self) -> &str {
        &self.fields[1]
    }

    /// The password field in display-safe form (`<hash>`, `!<hash>`, `*`, `<empty>`, ...).
    #[must_use]
    pub fn redacted_password(&self) -> String {
        redact(self.password())
    }

    /// What the password field allows.
    #[must_use]
    pub fn password_state(&self) -> PasswordState {
        password_state(self.password())
    }

    /// Whether the password field starts with `!` (as `passwd -l` leaves it).
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.password_state() == PasswordState::Locked
    }

    /// Whether the field holds a hash some password matches (an empty field is
    /// not counted here; check [`PasswordState::Empty`] for that, worse, case).
    #[must_use]
    pub fn has_usable_password(&self) -> bool {
        self.password_state() == PasswordState::Set
    }

    fn list(&self, index: usize) -> impl Iterator<Item = &str> {
        self.fields[index].split(',').filter(|m| !m.is_empty())
    }

    fn days(&self, index: usize) -> Option<u64> {
        self.fields[index].parse().ok()
    }
}

#[allow(clippy::missing_fields_in_debug)] // `ids` only caches parsed fields
impl<F: Format> fmt::Debug for Entry<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct(F::ENTRY);
        for (i, (name, value)) in F::FIELDS.iter().zip(&self.fields).enumerate() {
            out.field(name, &show(i, value));
        }
        out.finish()
    }
}

impl PasswdEntry {
    /// A new line with password field `x` (the password lives in `shadow`).
    pub fn new(
        name: &str,
        uid: u32,
        gid: u32,
        gecos: &str,
        home: &str,
        shell: &str,
    ) -> Result<Self, AccountsError> {
        Self::from_fields(&[
            name,
            "x",
            &uid.to_string(),
            &gid.to_string(),
            gecos,
            home,
            shell,
        ])
    }
    /// User id.
    #[must_use]
    pub fn uid(&self) -> u32 {
        self.ids[0]
    }
    /// Primary group id.
    #[must_use]
    pub fn gid(&self) -> u32 {
        self.ids[1]
    }
    /// Comment (GECOS) field.
    #[must_use]
    pub fn gecos(&self) -> &str {
        &self.fields[4]
    }
    /// Home directory.
    #[must_use]
    pub fn home(&self) -> &str {
        &self.fields[5]
    }
    /// Login shell.
    #[must_use]
    pub fn shell(&self) -> &str {
        &self.fields[6]
    }
}

impl ShadowEntry {
    /// A new line with the given hash field (`!` or `*` for no password) and all other fields empty.
    pub fn new(name: &str, hash: &str) -> Result<Self, AccountsError> {
        Self::from_fields(&[name, hash, "", "", "", "", "", "", ""])
    }
    /// Day of the last password change (days since 1970-01-01).
    #[must_use]
    pub fn last_change(&self) -> Option<u64> {
        self.days(2)
    }
    /// Minimum password age in days.
    #[must_use]
    pub fn min_days(&self) -> Option<u64> {
        self.days(3)
    }
    /// Maximum password age in days.
    #[must_use]
    pub fn max_days(&self) -> Option<u64> {
        self.days(4)
    }
    /// Warning period in days.
    #[must_use]
    pub fn warn_days(&self) -> Option<u64> {
        self.days(5)
    }
    /// Inactivity period in days.
    #[must_use]
    pub fn inactive_days(&self) -> Option<u64> {
        self.days(6)
    }
    /// Account expiry day (days since 1970-01-01).
    #[must_use]
    pub fn expire(&self) -> Option<u64> {
        self.days(7)
    }
}

impl GroupEntry {
    /// A new line with password field `x`.
    pub fn new(name: &str, gid: u32, members: &[&str]) -> Result<Self, AccountsError> {
        Self::from_fields(&[name, "x", &gid.to_string(), &members.join(",")])
    }
    /// Group id.
    #[must_use]
    pub fn gid(&self) -> u32 {
        self.ids[0]
    }
    /// Supplementary members.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.list(3)
    }
}

impl GshadowEntry {
    /// A new line with the given password field (`!` for none) and no administrators.
    pub fn new(name: &str, password: &str, members: &[&str]) -> Result<Self, AccountsError> {
        Self::from_fields(&[name, password, "", &members.join(",")])
    }
    /// Group administrators.
    pub fn admins(&self) -> impl Iterator<Item = &str> {
        self.list(2)
    }
    /// Members.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.list(3)
    }
}

#[derive(Clone)]
enum Line<F: Format> {
    /// Comment, blank or NIS line, kept verbatim.
    Opaque(String),
    /// `original` is `None` for entries added since parsing.
    Entry {
        current: Entry<F>,
        original: Option<Vec<String>>,
    },
}

/// A parsed account database: every line, in order, plus the final-newline flag.
#[derive(Clone)]
pub struct Table<F: Format> {
    lines: Vec<Line<F>>,
    final_newline: bool,
}

/// `/etc/passwd`.
pub type Passwd = Table<PasswdFormat>;
/// `/etc/shadow`.
pub type Shadow = Table<ShadowFormat>;
/// `/etc/group`.
pub type Group = Table<GroupFormat>;
/// `/etc/gshadow`.
pub type Gshadow = Table<GshadowFormat>;

/// One field that differs from the parsed text; values are display-safe
/// (password fields are redacted). `before` is `None` for added entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The file.
    pub database: Database,
    /// The entry's name.
    pub name: String,
    /// The field's name, as in [`Format::FIELDS`].
    pub field: &'static str,
    /// Old value, redacted if a password; `None` for an added entry.
    pub before: Option<String>,
    /// New value, redacted if a password.
    pub after: Option<String>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let before = self.before.as_deref().unwrap_or("(absent)");
        let after = self.after.as_deref().unwrap_or("(absent)");
        write!(
            f,
            "{}: {}: {}: {before:?} -> {after:?}",
            self.database, self.name, self.field
        )
    }
}

impl<F: Format> Table<F> {
    /// Parses the whole file text. Comments (`#`), blank lines and NIS `+`/`-`
    /// lines are kept verbatim; any other line must be a valid entry, and
    /// names must be unique.
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let final_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        for (index, raw) in body.split('\n').enumerate().filter(|_| !text.is_empty()) {
            if raw.trim().is_empty() || raw.starts_with(['#', '+', '-']) {
                lines.push(Line::Opaque(raw.to_owned()));
                continue;
            }
            let malformed = |reason| AccountsError::Malformed {
                database: F::DATABASE,
                line: index + 1,
                reason,
            };
            let current =
                Entry::build(raw.split(':').map(str::to_owned).collect()).map_err(malformed)?;
            if !seen.insert(current.name().to_owned()) {
                return Err(malformed(format!("duplicate entry {:?}", current.name())));
            }
            let original = Some(current.fields.clone());
            lines.push(Line::Entry { current, original });
        }
        Ok(Self {
            lines,
            final_newline,
        })
    }

    /// The file text; equal to the parsed input when nothing was edited.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            match line {
                Line::Opaque(raw) => out.push_str(raw),
                Line::Entry { current, .. } => out.push_str(&current.fields.join(":")),
            }
        }
        if self.final_newline {
            out.push('\n');
        }
        out
    }

    /// Entries in file order (comments, blank and NIS lines are skipped).
    pub fn iter(&self) -> impl Iterator<Item = &Entry<F>> {
        self.lines.iter().filter_map(|line| match line {
            Line::Entry { current, .. } => Some(current),
            Line::Opaque(_) => None,
        })
    }

    /// The entry with this name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Entry<F>> {
        self.iter().find(|e| e.name() == name)
    }

    /// Appends an entry at the end (the file then ends with a newline).
    /// `Ok(false)` if an identical entry exists; a different one with the same name is a conflict.
    pub fn add(&mut self, entry: Entry<F>) -> Result<bool, AccountsError> {
        match self.get(entry.name()) {
            Some(existing) if *existing == entry => Ok(false),
            Some(_) => Err(AccountsError::Conflict {
                database: F::DATABASE,
                name: entry.name().to_owned(),
            }),
            None => {
                self.lines.push(Line::Entry {
                    current: entry,
                    original: None,
                });
                self.final_newline = true;
                Ok(true)
            }
        }
    }

    /// Field-level differences from the parsed text, in file order, password fields redacted.
    #[must_use]
    pub fn changes(&self) -> Vec<FieldChange> {
        let mut out = Vec::new();
        for line in &self.lines {
            let Line::Entry { current, original } = line else {
                continue;
            };
            for (i, field) in F::FIELDS.iter().enumerate() {
                let before = original.as_ref().map(|o| o[i].as_str());
                if before == Some(current.fields[i].as_str()) {
                    continue;
                }
                out.push(FieldChange {
                    database: F::DATABASE,
                    name: current.name().to_owned(),
                    field,
                    before: before.map(|b| show(i, b)),
                    after: Some(show(i, &current.fields[i])),
                });
            }
        }
        out
    }

    fn entry_mut(&mut self, name: &str) -> Result<&mut Entry<F>, AccountsError> {
        self.lines
            .iter_mut()
            .find_map(|line| match line {
                Line::Entry { current, .. } if current.name() == name => Some(current),
                _ => None,
            })
            .ok_or_else(|| AccountsError::NotFound {
                database: F::DATABASE,
                name: name.to_owned(),
            })
    }

    /// Sets field `index` of `name`, validating the result as a whole line.
    fn set_field(&mut self, name: &str, index: usize, value: &str) -> Result<bool, AccountsError> {
        let entry = self.entry_mut(name)?;
        if entry.fields[index] == value {
            return Ok(false);
        }
        let mut fields = entry.fields.clone();
        value.clone_into(&mut fields[index]);
        *entry = Entry::build(fields).map_err(|reason| AccountsError::Invalid {
            database: F::DATABASE,
            reason,
        })?;
        Ok(true)
    }
}

impl<F: Format> fmt::Debug for Table<F> {
    /// Opaque lines are only counted: NIS lines may carry password fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opaque = self
            .lines
            .iter()
            .filter(|l| matches!(l, Line::Opaque(_)))
            .count();
        f.debug_struct("Table")
            .field("database", &F::DATABASE)
            .field("entries", &self.iter().collect::<Vec<_>>())
            .field("opaque_lines", &opaque)
            .field("final_newline", &self.final_newline)
            .finish()
    }
}

impl Passwd {
    /// The first entry with this uid.
    #[must_use]
    pub fn by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.iter().find(|e| e.uid() == uid)
    }
    /// Sets the login shell.
    pub fn set_shell(&mut self, name: &str, shell: &str) -> Result<bool, AccountsError> {
        self.set_field(name, 6, shell)
    }
    /// Sets the comment (GECOS) field.
    pub fn set_gecos(&mut self, name: &str, gecos: &str) -> Result<bool, AccountsError> {
        self.set_field(name, 4, gecos)
    }
    /// Sets the home directory (the directory itself is not touched).
    pub fn set_home(&mut self, name: &str, home: &str) -> Result<bool, AccountsError> {
        self.set_field(name, 5, home)
    }
}

impl Shadow {
    /// Locks like `passwd -l`: prefixes `!` unless the hash already starts with
    /// `!`, so an empty hash becomes `!` and `*` becomes `!*` (already no
    /// password could match `*`; the `!` marks it locked for `passwd -S`).
    pub fn lock(&mut self, name: &str) -> Result<bool, AccountsError> {
        let hash = self.entry_mut(name)?.password();
        if hash.starts_with('!') {
            return Ok(false);
        }
        let locked = format!("!{hash}");
        self.set_field(name, 1, &locked)
    }
    /// Sets (`Some(days since 1970-01-01)`) or clears (`None`) the account expiry day.
    pub fn set_expire(
        &mut self,
        name: &str,
        days_since_epoch: Option<u64>,
    ) -> Result<bool, AccountsError> {
        if self.entry_mut(name)?.expire() == days_since_epoch {
            return Ok(false);
        }
        let value = days_since_epoch.map_or_else(String::new, |d| d.to_string());
        self.set_field(name, 7, &value)
    }
}

impl Group {
    /// The first entry with this gid.
    #[must_use]
    pub fn by_gid(&self, gid: u32) -> Option<&GroupEntry> {
        self.iter().find(|e| e.gid() == gid)
    }
}

/// The uid/gid ranges of `login.defs`, with shadow-utils defaults (per
/// `login.defs(5)` of shadow 4.13, Debian 12) for keys that are absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginDefs {
    /// `UID_MIN`, default 1000.
    pub uid_min: u32,
    /// `UID_MAX`, default 60000.
    pub uid_max: u32,
    /// `GID_MIN`, default 1000.
    pub gid_min: u32,
    /// `GID_MAX`, default 60000.
    pub gid_max: u32,
    /// `SYS_UID_MIN`, default 101.
    pub sys_uid_min: u32,
    /// `SYS_UID_MAX`, default `UID_MIN - 1`.
    pub sys_uid_max: u32,
    /// `SYS_GID_MIN`, default 101.
    pub sys_gid_min: u32,
    /// `SYS_GID_MAX`, default `GID_MIN - 1`.
    pub sys_gid_max: u32,
}

impl Default for LoginDefs {
    fn default() -> Self {
        Self::from_values([None; 8])
    }
}

const DEF_KEYS: [&str; 8] = [
    "UID_MIN",
    "UID_MAX",
    "GID_MIN",
    "GID_MAX",
    "SYS_UID_MIN",
    "SYS_UID_MAX",
    "SYS_GID_MIN",
    "SYS_GID_MAX",
];

impl LoginDefs {
    fn from_values(v: [Option<u32>; 8]) -> Self {
        let (uid_min, gid_min) = (v[0].unwrap_or(1000), v[2].unwrap_or(1000));
        Self {
            uid_min,
            uid_max: v[1].unwrap_or(60000),
            gid_min,
            gid_max: v[3].unwrap_or(60000),
            sys_uid_min: v[4].unwrap_or(101),
            sys_uid_max: v[5].unwrap_or(uid_min.saturating_sub(1)),
            sys_gid_min: v[6].unwrap_or(101),
            sys_gid_max: v[7].unwrap_or(gid_min.saturating_sub(1)),
        }
    }

    /// Reads the eight range keys from `KEY VALUE` lines (`#` starts a comment
    /// line; the last occurrence wins, as in shadow-utils; other keys are
    /// ignored). Stricter than shadow-utils, which falls back to the default
    /// on a bad value: a value that is not plain decimal (optionally in double
    /// quotes) is an error, and so is a leading zero, which shadow-utils may
    /// read as octal.
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let mut values = [None; 8];
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            let (key, value) = line.split_once([' ', '\t']).unwrap_or((line, ""));
            let Some(slot) = DEF_KEYS.iter().position(|k| *k == key) else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let plain = is_decimal(value) && (value == "0" || !value.starts_with('0'));
            values[slot] = Some(value.parse().ok().filter(|_| plain).ok_or_else(|| {
                AccountsError::Malformed {
                    database: Database::LoginDefs,
                    line: index + 1,
                    reason: format!("{key} is not a plain decimal number"),
                }
            })?);
        }
        Ok(Self::from_values(values))
    }

    /// `SYS_UID_MIN..=SYS_UID_MAX`.
    #[must_use]
    pub fn system_uids(&self) -> RangeInclusive<u32> {
        self.sys_uid_min..=self.sys_uid_max
    }

    /// `SYS_GID_MIN..=SYS_GID_MAX`.
    #[must_use]
    pub fn system_gids(&self) -> RangeInclusive<u32> {
        self.sys_gid_min..=self.sys_gid_max
    }
}

/// Picks a system id the way `useradd -r` (shadow-utils 4.13) picks a uid,
/// over both the system uid and gid ranges, so that the user's group can get
/// the same number: an id is taken if it is a uid or a primary gid in
/// `passwd` or a gid in `group`. Just below the lowest taken id of the range
/// if that is still in the range (so the ids of deleted accounts are not
/// reused), otherwise the highest free id going downwards; 0 is never picked.
/// Only the local files are consulted (no NSS/LDAP). `None` if the range is
/// empty or full.
#[must_use]
pub fn next_system_id(passwd: &Passwd, group: &Group, defs: &LoginDefs) -> Option<u32> {
    let low = defs.sys_uid_min.max(defs.sys_gid_min).max(1);
    let high = defs.sys_uid_max.min(defs.sys_gid_max);
    if low > high {
        return None;
    }
    let taken: BTreeSet<u32> = passwd
        .iter()
        .flat_map(|e| [e.uid(), e.gid()])
        .chain(group.iter().map(GroupEntry::gid))
        .collect();
    match taken.range(low..=high).next() {
        None => Some(high),
        Some(&lowest) if lowest > low => Some(lowest - 1),
        Some(_) => (low..=high).rev().find(|id| !taken.contains(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Verbatim copy of this Debian 12 machine's `/etc/passwd` (not sorted by uid).
    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
cloudsdk:x:1000:1000::/home/cloudsdk:/bin/bash
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
systemd-timesync:x:997:997:systemd Time Synchronization:/:/usr/sbin/nologin
messagebus:x:100:102::/nonexistent:/usr/sbin/nologin
polkitd:x:996:996:polkit:/nonexistent:/usr/sbin/nologin
postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
sshd:x:102:65534::/run/sshd:/usr/sbin/nologin
";

    /// Verbatim copy of this Debian 12 machine's `/etc/group`.
    const GROUP: &str = concat!(
        "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nlp:x:7:\n",
        "mail:x:8:\nnews:x:9:\nuucp:x:10:\nman:x:12:\nproxy:x:13:\nkmem:x:15:\ndialout:x:20:\n",
        "fax:x:21:\nvoice:x:22:\ncdrom:x:24:\nfloppy:x:25:\ntape:x:26:\nsudo:x:27:\naudio:x:29:\n",
        "dip:x:30:\nwww-data:x:33:\nbackup:x:34:\noperator:x:37:\nlist:x:38:\nirc:x:39:\n",
        "src:x:40:\nshadow:x:42:\nutmp:x:43:\nvideo:x:44:\nsasl:x:45:\nplugdev:x:46:\n",
        "staff:x:50:\ngames:x:60:\nusers:x:100:\nnogroup:x:65534:\ncloudsdk:x:1000:\n",
        "_ssh:x:101:\nsystemd-journal:x:999:\nsystemd-network:x:998:\nsystemd-timesync:x:997:\n",
        "messagebus:x:102:\npolkitd:x:996:\nssl-cert:x:103:postgres\npostgres:x:104:\n",
    );

    /// Realistic Debian 12 shadow for the passwd above, with fake hashes, plus an empty-password account.
    const SHADOW: &str =
        "root:$y$j9T$fakeROOTsalt$fakeROOThashAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
bin:*:19700:0:99999:7:::
sys:*:19700:0:99999:7:::
sync:*:19700:0:99999:7:::
games:*:19700:0:99999:7:::
man:*:19700:0:99999:7:::
lp:*:19700:0:99999:7:::
mail:*:19700:0:99999:7:::
news:*:19700:0:99999:7:::
uucp:*:19700:0:99999:7:::
proxy:*:19700:0:99999:7:::
www-data:*:19700:0:99999:7:::
backup:*:19700:0:99999:7:::
list:*:19700:0:99999:7:::
irc:*:19700:0:99999:7:::
_apt:*:19700:0:99999:7:::
nobody:*:19700:0:99999:7:::
cloudsdk:$y$j9T$fakeUSERsalt$fakeUSERhashBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB:19701:0:99999:7:::
systemd-network:!*:19700::::::
systemd-timesync:!*:19700::::::
messagebus:!:19701::::::
polkitd:!*:19701::::::
postgres:*:19701:0:99999:7:::
sshd:!:19701::::::
legacy::19000:0:99999:7:::
";

    const GSHADOW: &str =
        "root:*::\nadm:*::\nsudo:*::\nstaff:$6$fakeGRPsalt$fakeGROUPhashCCCCCCCC:cloudsdk:cloudsdk
users:*::\ncloudsdk:!::\n_ssh:!::\nsystemd-journal:!*::\nssl-cert:!::postgres\npostgres:!::\n";

    /// Debian 12 `login.defs`, abridged (the range keys are as shipped).
    const LOGIN_DEFS: &str = "#\n# /etc/login.defs - Configuration control definitions for the login package.
MAIL_DIR        /var/mail\nENV_PATH\tPATH=/usr/local/bin:/usr/bin:/bin\nPASS_MAX_DAYS\t99999
# Min/max values for automatic uid selection in useradd(8)\n#\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000
# System accounts\n#SYS_UID_MIN\t\t  100\n#SYS_UID_MAX\t\t  999\nGID_MIN\t\t\t 1000\nGID_MAX\t\t\t60000
ENCRYPT_METHOD SHA512\n";

    fn assert_no_secret(text: &str) {
        assert!(!text.contains("fake"), "a hash leaked into: {text}");
    }

    #[test]
    fn debian_round_trip_and_lookups() {
        let passwd = Passwd::parse(PASSWD).unwrap();
        assert_eq!(passwd.render(), PASSWD);
        assert_eq!(passwd.iter().count(), 25);
        let postgres = passwd.get("postgres").unwrap();
        assert_eq!(
            (postgres.uid(), postgres.gid(), postgres.gecos()),
            (101, 104, "PostgreSQL administrator,,,")
        );
        assert_eq!(passwd.by_uid(65534).unwrap().name(), "nobody");
        assert!(passwd.get("nosuch").is_none() && passwd.changes().is_empty());
        let group = Group::parse(GROUP).unwrap();
        assert_eq!(group.render(), GROUP);
        assert_eq!(
            group.by_gid(103).unwrap().members().collect::<Vec<_>>(),
            ["postgres"]
        );
        assert_eq!(group.get("sudo").unwrap().members().count(), 0);
        let shadow = Shadow::parse(SHADOW).unwrap();
        assert_eq!(shadow.render(), SHADOW);
        let root = shadow.get("root").unwrap();
        assert_eq!(
            (root.last_change(), root.min_days(), root.max_days()),
            (Some(19700), Some(0), Some(99999))
        );
        assert_eq!(
            (root.warn_days(), root.inactive_days(), root.expire()),
            (Some(7), None, None)
        );
        assert!(root.password().starts_with("$y$j9T$fake"));
        let gshadow = Gshadow::parse(GSHADOW).unwrap();
        assert_eq!(gshadow.render(), GSHADOW);
        assert_eq!(
            gshadow.get("staff").unwrap().admins().collect::<Vec<_>>(),
            ["cloudsdk"]
        );
        assert_eq!(Passwd::parse("").unwrap().render(), "");
    }

    #[test]
    fn opaque_lines_and_missing_final_newline_survive_edits() {
        let text = "# local\n\n+@admins::::::\n-baduser\nroot:x:0:0:root:/root:/bin/bash\n  \nal:x:1001:1001::/home/al:/bin/bash";
        let mut passwd = Passwd::parse(text).unwrap();
        assert_eq!(passwd.render(), text);
        assert!(passwd.set_shell("al", "/usr/sbin/nologin").unwrap());
        assert!(!passwd.set_shell("al", "/usr/sbin/nologin").unwrap());
        assert_eq!(
            passwd.render(),
            text.replace("al:/bin/bash", "al:/usr/sbin/nologin")
        );
        assert!(passwd.set_home("root", "/var/root").unwrap());
        assert_eq!(passwd.get("root").unwrap().home(), "/var/root");
        assert!(format!("{passwd:?}").contains("opaque_lines: 5"));
        let err = passwd.set_shell("ghost", "/bin/sh").unwrap_err();
        assert_eq!(
            err,
            AccountsError::NotFound {
                database: Database::Passwd,
                name: "ghost".into()
            }
        );
        let before = passwd.render();
        assert!(matches!(
            passwd.set_shell("root", "/bin/sh:x"),
            Err(AccountsError::Invalid { .. })
        ));
        assert!(matches!(
            passwd.set_home("root", "/a\nb"),
            Err(AccountsError::Invalid { .. })
        ));
        assert_eq!(passwd.render(), before);
    }

    #[test]
    fn lock_follows_passwd_l_and_is_idempotent() {
        let mut shadow = Shadow::parse(SHADOW).unwrap();
        assert!(shadow.get("root").unwrap().has_usable_password());
        assert!(shadow.lock("root").unwrap());
        let once = shadow.render();
        assert!(!shadow.lock("root").unwrap());
        assert_eq!(shadow.render(), once);
        let root = shadow.get("root").unwrap();
        assert!(
            root.is_locked() && !root.has_usable_password() && root.password().starts_with("!$y$")
        );
        assert_eq!(
            shadow.get("legacy").unwrap().password_state(),
            PasswordState::Empty
        );
        assert!(shadow.lock("legacy").unwrap() && shadow.lock("daemon").unwrap());
        assert!(!shadow.lock("systemd-network").unwrap());
        assert_eq!(
            shadow.get("postgres").unwrap().password_state(),
            PasswordState::Disabled
        );
        assert!(shadow.lock("ghost").is_err());
        let expected = SHADOW
            .replace("root:$", "root:!$")
            .replace("legacy::", "legacy:!:")
            .replace("daemon:*", "daemon:!*");
        assert_eq!(shadow.render(), expected);
    }

    #[test]
    fn set_expire_and_changes() {
        let mut shadow = Shadow::parse(SHADOW).unwrap();
        assert!(shadow.set_expire("cloudsdk", Some(1)).unwrap());
        assert!(!shadow.set_expire("cloudsdk", Some(1)).unwrap());
        assert_eq!(shadow.get("cloudsdk").unwrap().expire(), Some(1));
        assert!(shadow.lock("cloudsdk").unwrap());
        let shown: Vec<String> = shadow.changes().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"shadow: cloudsdk: hash: "<hash>" -> "!<hash>""#,
                r#"shadow: cloudsdk: expire: "" -> "1""#
            ]
        );
        assert!(shadow.set_expire("cloudsdk", None).unwrap());
        assert_eq!(shadow.changes().len(), 1);
    }

    #[test]
    fn add_appends_and_is_idempotent() {
        let mut passwd = Passwd::parse("root:x:0:0:root:/root:/bin/bash").unwrap();
        let svc =
            PasswdEntry::new("svc", 995, 995, "", "/nonexistent", "/usr/sbin/nologin").unwrap();
        assert!(passwd.add(svc.clone()).unwrap());
        assert!(!passwd.add(svc).unwrap());
        let expected =
            "root:x:0:0:root:/root:/bin/bash\nsvc:x:995:995::/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(passwd.render(), expected);
        let other = PasswdEntry::new("svc", 994, 994, "", "/", "/bin/sh").unwrap();
        assert!(matches!(
            passwd.add(other),
            Err(AccountsError::Conflict { .. })
        ));
        assert_eq!(passwd.changes().len(), 7);
        assert!(passwd.changes().iter().all(|c| c.before.is_none()));
        let mut shadow = Shadow::parse("").unwrap();
        assert!(shadow.add(ShadowEntry::new("svc", "!").unwrap()).unwrap());
        assert_eq!(shadow.render(), "svc:!:::::::\n");
        let mut group = Group::parse(GROUP).unwrap();
        assert!(
            group
                .add(GroupEntry::new("svc", 995, &["a", "b"]).unwrap())
                .unwrap()
        );
        assert!(group.render().ends_with("postgres:x:104:\nsvc:x:995:a,b\n"));
        let mut gshadow = Gshadow::parse(GSHADOW).unwrap();
        assert!(
            gshadow
                .add(GshadowEntry::new("svc", "!", &[]).unwrap())
                .unwrap()
        );
        assert!(gshadow.render().ends_with("\nsvc:!::\n"));
        assert!(PasswdEntry::new("+nis", 1, 1, "", "/", "/bin/sh").is_err());
        assert!(ShadowEntry::from_fields(&["x", "!", "soon", "", "", "", "", "", ""]).is_err());
    }

    #[test]
    fn malformed_lines_name_database_and_line() {
        let line_of = |text: &str| match Passwd::parse(text) {
            Err(AccountsError::Malformed {
                database: Database::Passwd,
                line,
                ..
            }) => line,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            line_of("# c\nroot:x:0:0:root:/root:/bin/bash\nbroken:x:1:1\n"),
            3
        );
        assert_eq!(line_of("a:x:zero:0::/:/bin/sh\n"), 1);
        assert_eq!(line_of("\na:x:+1:0::/:/bin/sh\n"), 2);
        assert_eq!(line_of("a:x:4294967296:0::/:/bin/sh\n"), 1);
        assert_eq!(line_of("a:x:1:1::/:/bin/sh\n\na:x:2:2::/:/bin/sh\n"), 3);
        let err = Shadow::parse("root:*:1::::::\nu:$6$fakesalt$fakehash:1:x:::::\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "shadow: line 2: field min is neither empty nor a decimal day count"
        );
        let err = Group::parse("g:x:1:\ng:x:12\n").unwrap_err();
        assert_eq!(err.to_string(), "group: line 2: expected 4 fields, found 3");
        assert!(Gshadow::parse("g:!::\ng:!:\n").is_err());
    }

    #[test]
    fn nothing_meant_for_display_shows_a_hash() {
        let mut shadow = Shadow::parse(SHADOW).unwrap();
        assert_no_secret(&format!("{shadow:?} {:?}", shadow.get("root").unwrap()));
        assert_eq!(shadow.get("root").unwrap().redacted_password(), "<hash>");
        shadow.lock("root").unwrap();
        shadow.lock("legacy").unwrap();
        shadow
            .add(ShadowEntry::new("new", "$y$j9T$fakeNEW$fakeNEWhash").unwrap())
            .unwrap();
        let changes = shadow.changes();
        assert_eq!(changes.len(), 11);
        for change in &changes {
            assert_no_secret(&format!("{change} {change:?}"));
        }
        assert_no_secret(&format!(
            "{shadow:?} {:?}",
            Gshadow::parse(GSHADOW).unwrap()
        ));
        assert_no_secret(&format!(
            "{:?}",
            Shadow::parse("+al:$6$fake$fake:::::::\n").unwrap()
        ));
        let shown = ["", "!", "!!", "*", "!*", "x", "*LK*", "NP", "abcdefghijklm"].map(redact);
        assert_eq!(
            shown,
            [
                "<empty>",
                "!",
                "!!",
                "*",
                "!*",
                "x",
                "*<redacted>",
                "<redacted>",
                "<hash>"
            ]
        );
    }

    #[test]
    fn login_defs_ranges_and_defaults() {
        let defs = LoginDefs::parse(LOGIN_DEFS).unwrap();
        assert_eq!(defs, LoginDefs::default());
        assert_eq!(
            (defs.system_uids(), defs.system_gids()),
            (101..=999, 101..=999)
        );
        assert_eq!(
            (defs.uid_min, defs.uid_max, defs.gid_min, defs.gid_max),
            (1000, 60000, 1000, 60000)
        );
        let custom =
            LoginDefs::parse("UID_MIN 500\nSYS_GID_MIN \"200\"\nSYS_UID_MIN 10\nSYS_UID_MIN\t20\n")
                .unwrap();
        assert_eq!(
            (custom.system_uids(), custom.system_gids()),
            (20..=499, 200..=999)
        );
        let err = LoginDefs::parse("# x\nUID_MIN 01000\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "login.defs: line 2: UID_MIN is not a plain decimal number"
        );
        assert!(
            LoginDefs::parse("SYS_UID_MAX\n").is_err()
                && LoginDefs::parse("UID_MAX 0x10\n").is_err()
        );
    }

    #[test]
    fn system_ids_follow_useradd_r() {
        let (defs, group) = (LoginDefs::default(), Group::parse(GROUP).unwrap());
        let passwd = Passwd::parse(PASSWD).unwrap();
        // 101 is taken, so search down from 999: 999 is systemd-journal's gid, 998..996 systemd/polkit.
        assert_eq!(next_system_id(&passwd, &group, &defs), Some(995));
        let parse = |text: &str| Passwd::parse(text).unwrap();
        let top = parse("root:x:0:0::/root:/bin/sh\nsd:x:998:998::/:/bin/false\n");
        let top_groups = Group::parse("root:x:0:\nsd:x:998:\nj:x:999:\n").unwrap();
        assert_eq!(next_system_id(&top, &top_groups, &defs), Some(997));
        let empty = Group::parse("").unwrap();
        let gap = parse("a:x:500:500::/:/bin/false\nb:x:999:999::/:/bin/false\n");
        assert_eq!(next_system_id(&gap, &empty, &defs), Some(499));
        assert_eq!(next_system_id(&parse(""), &empty, &defs), Some(999));
        let tiny = LoginDefs {
            sys_uid_min: 0,
            sys_uid_max: 1,
            sys_gid_min: 0,
            sys_gid_max: 5,
            ..defs
        };
        assert_eq!(
            next_system_id(&top, &Group::parse("g:x:1:\n").unwrap(), &tiny),
            None
        );
        let disjoint = LoginDefs {
            sys_gid_min: 2000,
            sys_gid_max: 3000,
            ..defs
        };
        assert_eq!(next_system_id(&passwd, &group, &disjoint), None);
    }

    /// Valid files of format `F`: uniquely named entries among comment, blank and NIS lines.
    fn valid_file<F: Format>() -> impl Strategy<Value = String> {
        let field = |i| match i {
            _ if F::IDS.contains(&i) => "[0-9]{1,9}".boxed(),
            _ if F::DAYS.contains(&i) => "([0-9]{1,6})?".boxed(),
            _ => "[a-zA-Z0-9/ ._,$!*-]{0,12}".boxed(),
        };
        let entry = (1..F::FIELDS.len()).map(field).collect::<Vec<_>>();
        let line = prop_oneof![
            3 => entry.prop_map(|fields| (true, fields.join(":"))),
            1 => "(#[^\n]{0,20}|[+-][a-z:]{0,10}|[ \t]{0,3})".prop_map(|raw| (false, raw)),
        ];
        (proptest::collection::vec(line, 0..20), any::<bool>()).prop_map(
            |(lines, final_newline)| {
                let lines: Vec<String> = (lines.into_iter().enumerate())
                    .map(|(i, (entry, text))| if entry { format!("u{i}:{text}") } else { text })
                    .collect();
                lines.join("\n") + if final_newline { "\n" } else { "" }
            },
        )
    }

    /// Whenever parsing succeeds, rendering gives the input back.
    fn render_matches<F: Format>(text: &str) -> bool {
        Table::<F>::parse(text).map_or(true, |table| table.render() == text)
    }

    proptest! {
        #[test]
        fn valid_files_round_trip(
            p in valid_file::<PasswdFormat>(),
            s in valid_file::<ShadowFormat>(),
            g in valid_file::<GroupFormat>(),
            gs in valid_file::<GshadowFormat>(),
        ) {
            prop_assert_eq!(Passwd::parse(&p).unwrap().render(), p);
            prop_assert_eq!(Shadow::parse(&s).unwrap().render(), s);
            prop_assert_eq!(Group::parse(&g).unwrap().render(), g);
            prop_assert_eq!(Gshadow::parse(&gs).unwrap().render(), gs);
        }

        #[test]
        fn parse_never_panics(any_text in any::<String>(), shaped in "[a-z0-9:#+\n \t!$-]{0,80}") {
            for text in [&any_text, &shaped] {
                prop_assert!(render_matches::<PasswdFormat>(text) && render_matches::<ShadowFormat>(text));
                prop_assert!(render_matches::<GroupFormat>(text) && render_matches::<GshadowFormat>(text));
                let _ = LoginDefs::parse(text);
            }
        }
    }
}
