//! Lossless parsing and editing of flat key/value files: shell-style
//! `KEY=value` files (`.env`, `/etc/default/*`), whitespace-separated
//! `KEY value` files (`/etc/login.defs`) and `key = value` files without quoting
//! (`/etc/security/pwquality.conf`, `faillock.conf`). [`KvDoc::parse`] followed by
//! [`KvDoc::render`] reproduces the input byte for byte; edits touch only the
//! lines they change. Values may be secrets, so `Debug` output and errors never
//! contain them. This module only transforms text: it never reads or writes
//! files and never runs commands.
//!
//! When a key occurs more than once, the last occurrence wins in both dialects:
//! a shell sourcing `/etc/default/*` keeps the last assignment, and shadow's
//! `getdef.c` overwrites earlier definitions of a `login.defs` key as it reads.
//! [`KvDoc::set`] therefore edits the last occurrence and [`KvDoc::remove`]
//! removes all of them. [`KvDoc::set_first`] leaves no room for either rule: it
//! sets the first occurrence and comments out the later ones.

use super::lines::{Eol, split_lines};
use std::fmt;
use thiserror::Error;

/// The file flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvDialect {
    /// `KEY=value` with optional `export `, single- or double-quoted values and
    /// `#` comments (also after a value, following whitespace). Values are
    /// returned without quotes; `\"`, `\\`, `\$` and `` \` `` are unescaped in
    /// double quotes; no variable expansion is done.
    Equals,
    /// `KEY value` separated by spaces or tabs, `#` comment lines, as read by
    /// shadow's `getdef.c`: a line with a single field is ignored, quotes around
    /// the value are dropped.
    Whitespace,
    /// `key SEP value` with optional blanks around the separator character
    /// (`minlen = 12`), `#` starting a comment anywhere on the line and no
    /// quoting, as libpwquality reads `pwquality.conf` and `pam_faillock`
    /// `faillock.conf`. A line without the separator (a bare flag such as
    /// `even_deny_root`) is kept as is and holds no value. The separator must not
    /// be a blank or `#`.
    Separated(char),
}

/// A line that could not be parsed; `line` is 1-based. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with the line.
    pub message: &'static str,
}

/// An edit that cannot be written so that it reads back as given. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    /// The key is not valid in this dialect.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The value cannot be represented in this dialect.
    #[error("value cannot be written in this dialect: {0}")]
    InvalidValue(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    /// Blank, comment, or a line the dialect ignores.
    Other,
    /// The value as written (with quotes) is `text[start..end]`.
    Entry {
        key: String,
        start: usize,
        end: usize,
        quote: Quote,
    },
}

#[derive(Clone, PartialEq, Eq)]
struct Line {
    text: String,
    eol: Eol,
    kind: Kind,
}

/// A parsed key/value file that renders back to its exact source text.
#[derive(Clone, PartialEq, Eq)]
pub struct KvDoc {
    dialect: KvDialect,
    lines: Vec<Line>,
    eol: Eol,
}

impl fmt::Debug for KvDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvDoc")
            .field("dialect", &self.dialect)
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

const BLANKS: [char; 2] = [' ', '\t'];

fn skip_blanks(text: &str, from: usize) -> usize {
    text.len() - text[from..].trim_start_matches(BLANKS).len()
}

fn is_shell_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_equals(text: &str) -> Result<Kind, &'static str> {
    let mut pos = skip_blanks(text, 0);
    if text[pos..].trim().is_empty() || text[pos..].starts_with('#') {
        return Ok(Kind::Other);
    }
    if let Some(rest) = text[pos..].strip_prefix("export")
        && rest.starts_with(BLANKS)
    {
        pos = skip_blanks(text, pos + "export".len());
    }
    let key_len = text[pos..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len() - pos);
    let key = &text[pos..pos + key_len];
    if !is_shell_name(key) {
        return Err("expected a variable name");
    }
    let eq = skip_blanks(text, pos + key_len);
    if !text[eq..].starts_with('=') {
        return Err("expected `=` after the name");
    }
    let mut start = skip_blanks(text, eq + 1);
    if start > eq + 1 && text[start..].starts_with('#') {
        start = eq + 1; // `KEY= # comment` assigns the empty string
    }
    let rest = &text[start..];
    let (quote, end) = if let Some(inner) = rest.strip_prefix('\'') {
        let close = inner.find('\'').ok_or("unterminated single quote")?;
        (Quote::Single, start + close + 2)
    } else if rest.starts_with('"') {
        let mut escaped = false;
        let close = rest
            .char_indices()
            .skip(1)
            .find(|&(_, c)| {
                let hit = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                hit
            })
            .ok_or("unterminated double quote")?;
        (Quote::Double, start + close.0 + 1)
    } else if start == eq + 1 && rest.starts_with(BLANKS) {
        (Quote::None, start)
    } else {
        let comment = rest
            .match_indices(" #")
            .chain(rest.match_indices("\t#"))
            .map(|m| m.0)
            .min();
        let value = rest[..comment.unwrap_or(rest.len())].trim_end();
        (Quote::None, start + value.len())
    };
    let tail = &text[end..];
    let after = tail.trim_start_matches(BLANKS);
    if !(after.trim().is_empty() || (after.starts_with('#') && after.len() < tail.len())) {
        return Err("unexpected text after the closing quote");
    }
    Ok(Kind::Entry {
        key: key.to_string(),
        start,
        end,
        quote,
    })
}

fn parse_whitespace(text: &str) -> Kind {
    let pos = skip_blanks(text, 0);
    if text[pos..].trim().is_empty() || text[pos..].starts_with('#') {
        return Kind::Other;
    }
    let key_len = text[pos..].find(BLANKS).unwrap_or(text.len() - pos);
    let start = skip_blanks(text, pos + key_len);
    let end = start + text[start..].trim_end().len();
    if start >= end {
        return Kind::Other;
    }
    let quote = if text[start..].starts_with('"') {
        Quote::Double
    } else {
        Quote::None
    };
    Kind::Entry {
        key: text[pos..pos + key_len].to_string(),
        start,
        end,
        quote,
    }
}

fn parse_separated(text: &str, sep: char) -> Kind {
    let pos = skip_blanks(text, 0);
    let content = text.find('#').unwrap_or(text.len());
    if pos >= content {
        return Kind::Other;
    }
    let Some(at) = text[pos..content].find(sep) else {
        return Kind::Other;
    };
    let key = text[pos..pos + at].trim_end_matches(BLANKS);
    if key.is_empty() || key.contains(BLANKS) {
        return Kind::Other;
    }
    let start = skip_blanks(text, pos + at + sep.len_utf8()).min(content);
    let end = start + text[start..content].trim_end_matches(BLANKS).len();
    Kind::Entry {
        key: key.to_string(),
        start,
        end,
        quote: Quote::None,
    }
}

/// How one line reads in `dialect`.
fn parse_line(dialect: KvDialect, text: &str) -> Result<Kind, &'static str> {
    match dialect {
        KvDialect::Equals => parse_equals(text),
        KvDialect::Whitespace => Ok(parse_whitespace(text)),
        KvDialect::Separated(sep) => Ok(parse_separated(text, sep)),
    }
}

fn unquote(raw: &str, quote: char) -> &str {
    raw.strip_prefix(quote)
        .and_then(|r| r.strip_suffix(quote))
        .unwrap_or(raw)
}

fn decode(dialect: KvDialect, raw: &str, quote: Quote) -> String {
    match (dialect, quote) {
        (KvDialect::Whitespace, _) => {
            let v = raw.trim_start_matches([' ', '\t', '"']);
            v[..v.find('"').unwrap_or(v.len())].to_string()
        }
        (KvDialect::Equals, Quote::None) | (KvDialect::Separated(_), _) => raw.to_string(),
        (KvDialect::Equals, Quote::Single) => unquote(raw, '\'').to_string(),
        (KvDialect::Equals, Quote::Double) => {
            let mut out = String::new();
            let mut chars = unquote(raw, '"').chars().peekable();
            while let Some(c) = chars.next() {
                match (c, chars.peek()) {
                    ('\\', Some(&n)) if matches!(n, '"' | '\\' | '$' | '`') => {
                        out.push(n);
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            out
        }
    }
}

fn needs_quotes(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_whitespace() || "\"'\\$`;&|<>()*?[]#~!{}".contains(c))
}

fn double_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The value as it must be written, given the quoting of the value it replaces.
fn encode(dialect: KvDialect, value: &str, previous: Quote) -> Result<String, EditError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(EditError::InvalidValue("line break or NUL"));
    }
    match dialect {
        KvDialect::Whitespace => {
            if value.is_empty() || value.contains('"') || value.trim() != value {
                return Err(EditError::InvalidValue("empty, `\"` or outer whitespace"));
            }
            Ok(if previous == Quote::Double {
                format!("\"{value}\"")
            } else {
                value.to_string()
            })
        }
        KvDialect::Separated(_) => {
            if value.is_empty() || value.contains('#') || value.trim() != value {
                return Err(EditError::InvalidValue("empty, `#` or outer whitespace"));
            }
            Ok(value.to_string())
        }
        KvDialect::Equals => Ok(match previous {
            Quote::Single if !value.contains('\'') => format!("'{value}'"),
            Quote::Double => double_quote(value),
            _ if needs_quotes(value) => double_quote(value),
            _ => value.to_string(),
        }),
    }
}

fn check_key(dialect: KvDialect, key: &str) -> Result<(), EditError> {
    let ok = match dialect {
        KvDialect::Equals => is_shell_name(key),
        KvDialect::Whitespace => {
            !key.is_empty() && !key.starts_with('#') && !key.contains(char::is_whitespace)
        }
        KvDialect::Separated(sep) => {
            !key.is_empty() && !key.contains(['#', sep]) && !key.contains(char::is_whitespace)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(EditError::InvalidKey("not a valid name for this dialect"))
    }
}

impl KvDoc {
    /// Parses `text`.
    ///
    /// # Errors
    /// `Equals` only: a line that is not an assignment, comment or blank, an
    /// unterminated quote, or text after a closing quote. `Whitespace` and
    /// `Separated` never fail.
    pub fn parse(text: &str, dialect: KvDialect) -> Result<Self, ParseError> {
        let raw = split_lines(text);
        let eol = raw
            .iter()
            .map(|l| l.1)
            .find(|e| *e != Eol::None)
            .unwrap_or(Eol::Lf);
        let mut lines = Vec::with_capacity(raw.len());
        for (i, (text, eol)) in raw.into_iter().enumerate() {
            let kind = parse_line(dialect, text).map_err(|message| ParseError {
                line: i + 1,
                message,
            })?;
            lines.push(Line {
                text: text.to_string(),
                eol,
                kind,
            });
        }
        Ok(KvDoc {
            dialect,
            lines,
            eol,
        })
    }

    /// The document as text; identical to the parsed input until edited.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(&l.text);
            out.push_str(l.eol.as_str());
        }
        out
    }

    /// The dialect the document was parsed with.
    #[must_use]
    pub fn dialect(&self) -> KvDialect {
        self.dialect
    }

    /// Distinct keys in order of first appearance.
    #[must_use]
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for l in &self.lines {
            if let Kind::Entry { key, .. } = &l.kind
                && !out.contains(&key.as_str())
            {
                out.push(key);
            }
        }
        out
    }

    /// The effective (last) value of `key`, without quotes.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<String> {
        let i = self.last(key)?;
        let line = &self.lines[i];
        match &line.kind {
            Kind::Entry {
                start, end, quote, ..
            } => Some(decode(self.dialect, &line.text[*start..*end], *quote)),
            Kind::Other => None,
        }
    }

    /// Sets `key`, rewriting only the value of its last occurrence (keeping
    /// `export`, spacing, quoting where possible and a trailing comment), or
    /// appending `KEY=value` / `KEY<tab>value` at the end. `Equals` values with
    /// whitespace or shell-special characters are double-quoted.
    ///
    /// # Errors
    /// An invalid key, or a value the dialect cannot hold (line breaks; for
    /// `Whitespace` also empty, `"` or outer whitespace); nothing is changed.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EditError> {
        check_key(self.dialect, key)?;
        if let Some(i) = self.last(key) {
            self.lines[i] = self.replaced(i, key, value)?;
            return Ok(());
        }
        let encoded = encode(self.dialect, value, Quote::None)?;
        let sep = match self.dialect {
            KvDialect::Equals => "=".to_string(),
            KvDialect::Whitespace => "\t".to_string(),
            KvDialect::Separated(c) => c.to_string(),
        };
        self.append(format!("{key}{sep}{encoded}"), key, value)
    }

    /// Sets `key` so that exactly one active line holds it: the first occurrence
    /// gets the value (its spacing, `export` and quoting kept where possible),
    /// later occurrences are commented out with a leading `#`, and a missing key
    /// is appended as `KEY{separator}VALUE`. Whether a reader lets the first or
    /// the last occurrence win, the file then says one thing.
    ///
    /// # Errors
    /// As for [`KvDoc::set`], and a separator with which the appended line would
    /// not read back as `key` and `value`; nothing is changed.
    pub fn set_first(&mut self, key: &str, value: &str, separator: &str) -> Result<(), EditError> {
        check_key(self.dialect, key)?;
        let found: Vec<usize> = (0..self.lines.len())
            .filter(|&i| matches!(&self.lines[i].kind, Kind::Entry { key: k, .. } if k == key))
            .collect();
        let Some((&first, later)) = found.split_first() else {
            let encoded = encode(self.dialect, value, Quote::None)?;
            return self.append(format!("{key}{separator}{encoded}"), key, value);
        };
        self.lines[first] = self.replaced(first, key, value)?;
        for &i in later {
            let line = &mut self.lines[i];
            line.text.insert(0, '#');
            line.kind = Kind::Other;
        }
        Ok(())
    }

    /// Line `i` (an entry of `key`) with its value replaced by `value`.
    fn replaced(&self, i: usize, key: &str, value: &str) -> Result<Line, EditError> {
        let line = &self.lines[i];
        let Kind::Entry {
            start, end, quote, ..
        } = line.kind
        else {
            return Ok(line.clone());
        };
        let encoded = encode(self.dialect, value, quote)?;
        let text = format!("{}{encoded}{}", &line.text[..start], &line.text[end..]);
        let new_quote = match encoded.chars().next() {
            Some('"') => Quote::Double,
            Some('\'') => Quote::Single,
            _ => Quote::None,
        };
        let kind = Kind::Entry {
            key: key.to_string(),
            start,
            end: start + encoded.len(),
            quote: new_quote,
        };
        Ok(Line {
            text,
            eol: line.eol,
            kind,
        })
    }

    /// Appends the line `text`, which must read back as `key` holding `value`.
    fn append(&mut self, text: String, key: &str, value: &str) -> Result<(), EditError> {
        let kind = parse_line(self.dialect, &text)
            .map_err(|_| EditError::InvalidValue("not representable"))?;
        let reads_back = match &kind {
            Kind::Entry {
                key: k,
                start,
                end,
                quote,
            } => k == key && decode(self.dialect, &text[*start..*end], *quote) == value,
            Kind::Other => false,
        };
        if !reads_back {
            return Err(EditError::InvalidValue(
                "the appended line would not read back (check the separator)",
            ));
        }
        let eol = self.eol;
        match self.lines.last_mut() {
            Some(prev) if prev.eol == Eol::None => {
                prev.eol = eol;
                self.lines.push(Line {
                    text,
                    eol: Eol::None,
                    kind,
                });
            }
            _ => self.lines.push(Line { text, eol, kind }),
        }
        Ok(())
    }

    /// Removes every occurrence of `key`; returns whether any was found.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.lines.len();
        let missing_final_eol = self.lines.last().is_some_and(|l| l.eol == Eol::None);
        self.lines
            .retain(|l| !matches!(&l.kind, Kind::Entry { key: k, .. } if k == key));
        if missing_final_eol && let Some(last) = self.lines.last_mut() {
            last.eol = Eol::None;
        }
        self.lines.len() != before
    }

    fn last(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .rposition(|l| matches!(&l.kind, Kind::Entry { key: k, .. } if k == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Trimmed copy of Debian's /etc/login.defs.
    const LOGIN_DEFS: &str = "#
# /etc/login.defs - Configuration control definitions for the login package.
#
# Comment lines (lines beginning with \"#\") and blank lines are ignored.
#
# Modified for Linux.  --marekm

# REQUIRED for useradd/userdel/usermod
MAIL_DIR        /var/mail
#MAIL_FILE      .mail

# Enable logging and display of /var/log/faillog login failure info.
FAILLOG_ENAB\t\tyes
LOG_UNKFAIL_ENAB\tno
ENV_SUPATH\tPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV_PATH\tPATH=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games
UMASK\t\t022

# Password aging controls:
#
#\tPASS_MAX_DAYS\tMaximum number of days a password may be used.
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
PASS_WARN_AGE\t7
UID_MIN\t\t\t 1000
SUB_UID_COUNT\t\t    65536
#ENCRYPT_METHOD DES
ENCRYPT_METHOD SHA512
";

    /// Excerpt of Debian's /etc/default/ufw.
    const UFW: &str = "# /etc/default/ufw
#

# Set to yes to apply rules to support IPv6 (no means only IPv6 on loopback
# accepted).
IPV6=yes

# Set the default input policy to ACCEPT, DROP, or REJECT.
DEFAULT_INPUT_POLICY=\"DROP\"
MANAGE_BUILTINS=no
IPT_SYSCTL=/etc/ufw/sysctl.conf
IPT_MODULES=\"\"
";

    const ENV: &str = "# app settings\n\
        export API_TOKEN='s3cr3t-token'\n\
        DB_URL=\"postgres://u:p@h/db?x=\\\"1\\\"\"   # quoted\n\
        PLAIN=value # trailing comment\n\
        \tINDENTED = spaced\n\
        EMPTY=\n\
        EMPTY_COMMENT= # nothing\n\
        PLAIN=second\n";

    /// Excerpt of Debian's /etc/security/faillock.conf, with one setting active.
    const FAILLOCK: &str = "# Configuration for locking the user after multiple failed
# authentication attempts.
#
# The directory where the user files with the failure records are kept.
# The default is /var/run/faillock.
# dir = /var/run/faillock
#
# Will log the user name into the system log if the user is not found.
# Enabled if option is present.
# audit
silent
#
# Deny access if the number of consecutive authentication failures
# for this user during the recent interval exceeds n tries.
# The default is 3.
# deny = 3
deny=5 # set by the installer
#
# The access will be re-enabled after n seconds after the lock out.
# The default is 600 (10 minutes).
# unlock_time = 600
  unlock_time\t=\t900
deny = 4
";

    const PWQ: KvDialect = KvDialect::Separated('=');

    fn active(doc: &KvDoc, key: &str) -> usize {
        doc.lines
            .iter()
            .filter(|l| matches!(&l.kind, Kind::Entry { key: k, .. } if k == key))
            .count()
    }

    fn parse(text: &str, d: KvDialect) -> KvDoc {
        KvDoc::parse(text, d).unwrap()
    }

    #[test]
    fn fixtures_round_trip_with_any_line_ending() {
        for (text, d) in [
            (LOGIN_DEFS, KvDialect::Whitespace),
            (UFW, KvDialect::Equals),
            (ENV, KvDialect::Equals),
            (FAILLOCK, PWQ),
        ] {
            for variant in [
                text.to_string(),
                text.replace('\n', "\r\n"),
                text.trim_end().to_string(),
            ] {
                assert_eq!(parse(&variant, d).render(), variant);
            }
        }
    }

    #[test]
    fn login_defs_lookups_and_edits() {
        let mut doc = parse(LOGIN_DEFS, KvDialect::Whitespace);
        assert_eq!(doc.get("UMASK").as_deref(), Some("022"));
        assert_eq!(doc.get("UID_MIN").as_deref(), Some("1000"));
        assert_eq!(doc.get("ENCRYPT_METHOD").as_deref(), Some("SHA512"));
        assert_eq!(doc.get("MAIL_FILE"), None);
        assert!(
            doc.get("ENV_PATH")
                .is_some_and(|v| v.starts_with("PATH=/usr/local/bin:"))
        );
        assert_eq!(doc.keys().len(), 12);
        doc.set("PASS_MAX_DAYS", "90").unwrap();
        doc.set("UMASK", "027").unwrap();
        doc.set("SHA_CRYPT_MIN_ROUNDS", "5000").unwrap();
        let expected = LOGIN_DEFS
            .replace("PASS_MAX_DAYS\t99999", "PASS_MAX_DAYS\t90")
            .replace("UMASK\t\t022", "UMASK\t\t027")
            + "SHA_CRYPT_MIN_ROUNDS\t5000\n";
        assert_eq!(doc.render(), expected);
        let mut quoted = parse("A \"x y\"\nB\nA  z\n", KvDialect::Whitespace);
        assert_eq!(
            quoted.get("A").as_deref(),
            Some("z"),
            "last occurrence wins"
        );
        assert_eq!(
            quoted.get("B"),
            None,
            "a single field is ignored, as getdef.c does"
        );
        quoted.remove("A");
        quoted.set("A", "w").unwrap();
        assert_eq!(quoted.render(), "B\nA\tw\n");
        let mut q = parse("A \"x y\"\n", KvDialect::Whitespace);
        q.set("A", "1 2").unwrap();
        assert_eq!(q.render(), "A \"1 2\"\n");
    }

    #[test]
    fn separated_lookups_follow_libpwquality() {
        let doc = parse(FAILLOCK, PWQ);
        assert_eq!(doc.keys(), ["deny", "unlock_time"]);
        assert_eq!(doc.get("deny").as_deref(), Some("4"));
        assert_eq!(doc.get("unlock_time").as_deref(), Some("900"));
        assert_eq!(doc.get("dir"), None, "a commented-out setting");
        assert_eq!(doc.get("silent"), None, "a bare flag holds no value");
        let inline = parse("minlen=12# long\nminclass =\n= 3\na b = c\n", PWQ);
        assert_eq!(inline.get("minlen").as_deref(), Some("12"));
        assert_eq!(inline.get("minclass").as_deref(), Some(""));
        assert_eq!(inline.keys(), ["minlen", "minclass"]);
    }

    #[test]
    fn set_first_sets_the_first_and_comments_out_the_rest() {
        let mut doc = parse(FAILLOCK, PWQ);
        doc.set_first("deny", "3", " = ").unwrap();
        doc.set_first("unlock_time", "600", " = ").unwrap();
        doc.set_first("fail_interval", "900", " = ").unwrap();
        let expected = FAILLOCK
            .replace("deny=5 # set by", "deny=3 # set by")
            .replace("unlock_time\t=\t900", "unlock_time\t=\t600")
            .replace("\ndeny = 4\n", "\n#deny = 4\n")
            + "fail_interval = 900\n";
        assert_eq!(doc.render(), expected);
        assert_eq!(active(&doc, "deny"), 1);
        assert_eq!(doc.get("deny").as_deref(), Some("3"));
        let mut again = doc.clone();
        for (k, v) in [
            ("deny", "3"),
            ("unlock_time", "600"),
            ("fail_interval", "900"),
        ] {
            again.set_first(k, v, " = ").unwrap();
        }
        assert_eq!(again, doc, "idempotent");

        let mut defs = parse(LOGIN_DEFS, KvDialect::Whitespace);
        defs.set_first("UMASK", "027", " ").unwrap();
        defs.set_first("SHA_CRYPT_MIN_ROUNDS", "65536", " ")
            .unwrap();
        let mut dup = parse("UMASK 022\n#UMASK 077\nUMASK\t002", KvDialect::Whitespace);
        dup.set_first("UMASK", "027", " ").unwrap();
        assert_eq!(dup.render(), "UMASK 027\n#UMASK 077\n#UMASK\t002");
        assert!(defs.render().ends_with("UMASK\t\t027\n\n# Password aging controls:\n#\n#\tPASS_MAX_DAYS\tMaximum number of days a password may be used.\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\nPASS_WARN_AGE\t7\nUID_MIN\t\t\t 1000\nSUB_UID_COUNT\t\t    65536\n#ENCRYPT_METHOD DES\nENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 65536\n"));
    }

    #[test]
    fn set_first_refuses_what_would_not_read_back() {
        let mut doc = parse(FAILLOCK, PWQ);
        for bad in ["", "a # b", " 3", "3\n4"] {
            assert!(matches!(
                doc.set_first("deny", bad, " = "),
                Err(EditError::InvalidValue(_))
            ));
        }
        assert!(
            matches!(
                doc.set_first("new", "1", " : "),
                Err(EditError::InvalidValue(_))
            ),
            "a separator the dialect does not read"
        );
        assert!(matches!(
            doc.set_first("a=b", "1", " = "),
            Err(EditError::InvalidKey(_))
        ));
        assert_eq!(doc.render(), FAILLOCK);
        let mut defs = parse("", KvDialect::Whitespace);
        assert!(defs.set_first("A", "1", "=").is_err(), "`A=1` is one field");
        assert_eq!(defs.render(), "");
    }

    #[test]
    fn equals_lookups() {
        let doc = parse(ENV, KvDialect::Equals);
        assert_eq!(doc.get("API_TOKEN").as_deref(), Some("s3cr3t-token"));
        assert_eq!(
            doc.get("DB_URL").as_deref(),
            Some("postgres://u:p@h/db?x=\"1\"")
        );
        assert_eq!(doc.get("PLAIN").as_deref(), Some("second"));
        assert_eq!(doc.get("INDENTED").as_deref(), Some("spaced"));
        assert_eq!(doc.get("EMPTY").as_deref(), Some(""));
        assert_eq!(doc.get("EMPTY_COMMENT").as_deref(), Some(""));
        assert_eq!(
            doc.keys(),
            [
                "API_TOKEN",
                "DB_URL",
                "PLAIN",
                "INDENTED",
                "EMPTY",
                "EMPTY_COMMENT"
            ]
        );
        let ufw = parse(UFW, KvDialect::Equals);
        assert_eq!(ufw.get("DEFAULT_INPUT_POLICY").as_deref(), Some("DROP"));
        assert_eq!(ufw.get("IPT_MODULES").as_deref(), Some(""));
    }

    #[test]
    fn equals_edits_keep_quoting_and_comments() {
        let mut doc = parse(ENV, KvDialect::Equals);
        doc.set("API_TOKEN", "new token").unwrap();
        doc.set("DB_URL", "a$b").unwrap();
        doc.set("PLAIN", "two words").unwrap();
        doc.set("EMPTY_COMMENT", "x").unwrap();
        doc.set("INDENTED", "it's").unwrap();
        let out = doc.render();
        assert!(out.contains("export API_TOKEN='new token'\n"));
        assert!(out.contains("DB_URL=\"a\\$b\"   # quoted\n"));
        assert!(
            out.contains("PLAIN=value # trailing comment\n"),
            "earlier duplicate untouched"
        );
        assert!(out.ends_with("EMPTY_COMMENT=x # nothing\nPLAIN=\"two words\"\n"));
        assert!(out.contains("\tINDENTED = \"it's\"\n"));
        let mut ufw = parse(UFW, KvDialect::Equals);
        ufw.set("DEFAULT_INPUT_POLICY", "REJECT").unwrap();
        ufw.set("IPV6", "no").unwrap();
        ufw.set("DEFAULT_FORWARD_POLICY", "DROP").unwrap();
        let expected = UFW
            .replace("\"DROP\"", "\"REJECT\"")
            .replace("IPV6=yes", "IPV6=no")
            + "DEFAULT_FORWARD_POLICY=DROP\n";
        assert_eq!(ufw.render(), expected);
    }

    #[test]
    fn edits_are_idempotent_and_keep_line_endings() {
        let mut once = parse("A=1\r\nB='x'", KvDialect::Equals);
        once.set("B", "y z").unwrap();
        once.set("C", "$HOME").unwrap();
        assert_eq!(once.render(), "A=1\r\nB='y z'\r\nC=\"\\$HOME\"");
        let mut twice = once.clone();
        twice.set("B", "y z").unwrap();
        twice.set("C", "$HOME").unwrap();
        assert_eq!(once, twice);
        assert!(twice.remove("C"));
        assert!(!twice.remove("C"));
        assert_eq!(twice.render(), "A=1\r\nB='y z'");
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let mut doc = parse(ENV, KvDialect::Equals);
        let debug = format!("{doc:?}");
        assert!(
            debug.contains("API_TOKEN") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        let err = doc.set("API_TOKEN", "s3cr3t\nmore").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"));
        let err = KvDoc::parse("A=1\nTOKEN='s3cr3t\n", KvDialect::Equals).unwrap_err();
        assert_eq!(
            err,
            ParseError {
                line: 2,
                message: "unterminated single quote"
            }
        );
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }

    #[test]
    fn malformed_equals_lines_are_errors() {
        for bad in [
            "just words",
            "1A=x",
            "A=\"open",
            "A='x'y",
            "A=\"x\"#c",
            "export =1",
        ] {
            assert!(KvDoc::parse(bad, KvDialect::Equals).is_err(), "{bad}");
        }
        let mut doc = parse("", KvDialect::Equals);
        assert!(matches!(doc.set("A-B", "x"), Err(EditError::InvalidKey(_))));
        let mut defs = parse("", KvDialect::Whitespace);
        assert!(matches!(
            defs.set("A", " x"),
            Err(EditError::InvalidValue(_))
        ));
        assert!(matches!(defs.set("A", ""), Err(EditError::InvalidValue(_))));
        assert_eq!(doc.render(), "");
    }

    fn equals_line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ \t]*",
            "[ \t]*#[ -~]{0,12}",
            "[ \t]{0,2}(export[ \t]+)?[A-Za-z_][A-Za-z0-9_]{0,5}[ \t]*=[!-~&&[^'\"#]]{0,8}([ \t]+#[ -~]{0,6})?",
            "[A-Z]{1,3}='[^'\n\r]{0,8}'[ \t]*",
            "[A-Z]{1,3}=\"([^\"\\\\\n\r]|\\\\[ -~]){0,8}\"( #[ -~]{0,4})?",
        ]
    }

    fn document(line: BoxedStrategy<String>) -> impl Strategy<Value = String> {
        (
            prop::collection::vec((line, prop_oneof!["\n", "\r\n"]), 0..10),
            any::<bool>(),
        )
            .prop_map(|(lines, final_eol)| {
                let mut out: String = lines.into_iter().map(|(l, e)| l + &e).collect();
                if !final_eol {
                    out.truncate(out.trim_end_matches(['\r', '\n']).len());
                }
                out
            })
    }

    proptest! {
        #[test]
        fn generated_equals_documents_round_trip(text in document(equals_line().boxed())) {
            let doc = KvDoc::parse(&text, KvDialect::Equals);
            prop_assert!(doc.is_ok(), "{:?}", doc);
            prop_assert_eq!(doc.unwrap().render(), text);
        }

        #[test]
        fn whitespace_dialect_accepts_anything(text in any::<String>()) {
            prop_assert_eq!(KvDoc::parse(&text, PWQ).unwrap().render(), text.clone());
            prop_assert_eq!(KvDoc::parse(&text, KvDialect::Whitespace).unwrap().render(), text);
        }

        #[test]
        fn set_first_leaves_one_active_line_and_the_rest_byte_for_byte(
            (dialect, text) in prop_oneof![Just(KvDialect::Whitespace), Just(PWQ)].prop_flat_map(|d| {
                let line = if d == PWQ {
                    "[ \t]*(#[ \t]*)?[a-c]{1,2}[ \t]*=?[ \t]*[ -~]{0,8}".boxed()
                } else {
                    "[ \t]*(#[ \t]*)?[a-c]{1,2}[ \t]+[ -~]{0,8}".boxed()
                };
                (Just(d), document(line))
            }),
            key in "[a-c]{1,2}",
            value in "[!-~&&[^#\"]]([ -~&&[^#\"]]{0,6}[!-~&&[^#\"]])?",
        ) {
            let sep = if dialect == PWQ { " = " } else { " " };
            let mut doc = KvDoc::parse(&text, dialect).unwrap();
            let before = doc.clone();
            doc.set_first(&key, &value, sep).unwrap();
            let reparsed = KvDoc::parse(&doc.render(), dialect).unwrap();
            prop_assert_eq!(active(&reparsed, &key), 1);
            prop_assert_eq!(reparsed.get(&key), Some(value.clone()));
            // Other lines are untouched; later lines of the key are commented out.
            let mut seen = false;
            for (i, b) in before.lines.iter().enumerate() {
                let now = &reparsed.lines[i].text;
                match &b.kind {
                    Kind::Entry { key: k, .. } if *k == key => {
                        if seen {
                            prop_assert_eq!(now, &format!("#{}", b.text));
                        }
                        seen = true;
                    }
                    _ => prop_assert_eq!(now, &b.text),
                }
            }
            let mut again = reparsed.clone();
            again.set_first(&key, &value, sep).unwrap();
            prop_assert_eq!(again.render(), doc.render());
        }

        #[test]
        fn arbitrary_input_never_panics(text in prop_oneof![any::<String>(), "[A='\"\\\\# \t=\r\n]{0,40}"]) {
            if let Ok(mut doc) = KvDoc::parse(&text, KvDialect::Equals) {
                prop_assert_eq!(doc.render(), text);
                let _ = doc.set("A", "v");
            }
        }

        #[test]
        fn set_then_get(
            (whitespace, text) in any::<bool>().prop_flat_map(|ws| {
                let line = if ws { "[ \t]*[A-C]{1,2}[ \t]+[ -~]{0,8}".boxed() } else { equals_line().boxed() };
                (Just(ws), document(line))
            }),
            key in "[A-C]{1,2}",
            value in "[ -~]{0,12}",
        ) {
            let (dialect, value) = if whitespace {
                (KvDialect::Whitespace, format!("v{}v", value.replace('"', "")))
            } else {
                (KvDialect::Equals, value)
            };
            let mut doc = KvDoc::parse(&text, dialect).unwrap();
            doc.set(&key, &value).unwrap();
            prop_assert_eq!(doc.get(&key), Some(value.clone()));
            let reparsed = KvDoc::parse(&doc.render(), dialect).unwrap();
            prop_assert_eq!(reparsed.get(&key), Some(value.clone()));
            let mut again = doc.clone();
            again.set(&key, &value).unwrap();
            prop_assert_eq!(again.render(), doc.render());
        }
    }
}
