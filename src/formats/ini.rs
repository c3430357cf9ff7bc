//! Lossless parsing and editing of INI text as used by fail2ban (`jail.local`,
//! `filter.d/*.conf`, read by Python's `configparser`) and by systemd units and
//! drop-ins. [`IniDoc::parse`] followed by [`IniDoc::render`] reproduces the input
//! byte for byte (comments, spacing, `\n`/`\r\n`, a missing final newline); edits
//! touch only the lines they change. This module only transforms text: it never
//! reads or writes files and never runs commands.

use super::lines::{Eol, split_lines};
use thiserror::Error;

/// The INI flavour, which decides separators, key matching and continuations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IniDialect {
    /// systemd: `Key=Value`, case-sensitive keys, repeated keys accumulate (an
    /// empty assignment resets the list), a trailing `\` continues a line.
    Systemd,
    /// Python `configparser` as used by fail2ban: `=` or `:` separates,
    /// case-insensitive keys, indented lines continue a value, ` ;` starts an
    /// inline comment, the last assignment of a key wins.
    Python,
}

/// A line that could not be parsed; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with the line.
    pub message: &'static str,
}

/// An edit that cannot be written so that it reads back as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    /// The section name cannot appear in a header.
    #[error("invalid section name: {0}")]
    InvalidSection(&'static str),
    /// The key cannot appear on an assignment line.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The value would not read back unchanged in this dialect.
    #[error("value cannot be written in this dialect: {0}")]
    InvalidValue(&'static str),
    /// The edit would change how neighbouring lines parse; nothing was changed.
    #[error("the edit would change how neighbouring lines parse")]
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Section(String),
    /// `sep` is the separator's byte index; the value is `value_start..value_end`.
    Entry {
        key: String,
        sep: usize,
        value_start: usize,
        value_end: usize,
    },
    Continuation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    eol: Eol,
    kind: Kind,
}

/// An entry: key line plus the lines continuing it (`key_line..end`).
#[derive(Clone, Copy)]
struct Span {
    header: usize,
    key_line: usize,
    end: usize,
}

/// A parsed INI document that renders back to its exact source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDoc {
    dialect: IniDialect,
    lines: Vec<Line>,
    eol: Eol,
}

fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with('#') || trimmed.starts_with(';')
}

fn odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// configparser (as set up by fail2ban) starts an inline comment at a `;` that
/// begins the line or follows whitespace.
fn inline_comment_start(s: &str) -> Option<usize> {
    let mut prev_ws = true;
    for (i, c) in s.char_indices() {
        if c == ';' && prev_ws {
            return Some(i);
        }
        prev_ws = c.is_whitespace();
    }
    None
}

fn content_end(dialect: IniDialect, text: &str) -> usize {
    match dialect {
        IniDialect::Python => inline_comment_start(text).unwrap_or(text.len()),
        IniDialect::Systemd => text.len(),
    }
}

fn entry_kind(dialect: IniDialect, text: &str, sep: usize) -> Kind {
    let end = content_end(dialect, text).max(sep + 1);
    let region = &text[sep + 1..end];
    let value_start = end - region.trim_start().len();
    let value_end = value_start + text[value_start..end].trim_end().len();
    Kind::Entry {
        key: text[..sep].trim().to_string(),
        sep,
        value_start,
        value_end,
    }
}

fn header_name(content: &str) -> Result<String, &'static str> {
    content
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or("malformed section header")
}

#[derive(Default)]
struct State {
    in_section: bool,
    /// Python: indentation of the key line whose value may still continue.
    open_indent: Option<usize>,
    /// Systemd: the previous assignment line ended with a backslash.
    continuing: bool,
}

fn classify(dialect: IniDialect, text: &str, st: &mut State) -> Result<Kind, &'static str> {
    let trimmed = text.trim();
    if dialect == IniDialect::Systemd && st.continuing {
        if is_comment(trimmed) {
            return Ok(Kind::Comment);
        }
        st.continuing = odd_backslashes(text);
        return Ok(Kind::Continuation);
    }
    if trimmed.is_empty() {
        return Ok(Kind::Blank);
    }
    if is_comment(trimmed) {
        return Ok(Kind::Comment);
    }
    let indent = text.len() - text.trim_start().len();
    if let Some(open) = st.open_indent
        && indent > open
    {
        return Ok(Kind::Continuation);
    }
    let end = content_end(dialect, text);
    let content = text[..end].trim();
    if content.starts_with('[') {
        st.open_indent = None;
        st.in_section = true;
        return header_name(content).map(Kind::Section);
    }
    let sep = match dialect {
        IniDialect::Systemd => text.find('=').ok_or("expected `Key=Value`")?,
        IniDialect::Python => text[..end]
            .find(['=', ':'])
            .ok_or("expected `key = value` or `key: value`")?,
    };
    if text[..sep].trim().is_empty() {
        return Err("empty key");
    }
    if !st.in_section {
        return Err("assignment before any section header");
    }
    match dialect {
        IniDialect::Systemd => st.continuing = odd_backslashes(text),
        IniDialect::Python => st.open_indent = Some(indent),
    }
    Ok(entry_kind(dialect, text, sep))
}

fn check_section(name: &str) -> Result<(), EditError> {
    if name.is_empty() {
        return Err(EditError::InvalidSection("empty"));
    }
    if name.contains(['[', ']', '\n', '\r', ';', '#']) || name.trim() != name {
        return Err(EditError::InvalidSection(
            "brackets, `;`, `#`, line breaks or outer whitespace",
        ));
    }
    Ok(())
}

fn check_key(dialect: IniDialect, key: &str) -> Result<(), EditError> {
    let bad: &[char] = match dialect {
        IniDialect::Systemd => &['=', '\n', '\r'],
        IniDialect::Python => &['=', ':', ';', '\n', '\r'],
    };
    if key.is_empty() || key.trim() != key || key.contains(bad) {
        return Err(EditError::InvalidKey(
            "empty, outer whitespace, separator or line break",
        ));
    }
    if key.starts_with(['[', '#', ';']) {
        return Err(EditError::InvalidKey("starts like a header or comment"));
    }
    Ok(())
}

fn check_value(dialect: IniDialect, value: &str) -> Result<(), EditError> {
    if value.contains('\r') {
        return Err(EditError::InvalidValue("carriage return"));
    }
    if dialect == IniDialect::Systemd {
        if value.contains('\n') {
            return Err(EditError::InvalidValue("line break in a systemd value"));
        }
        if odd_backslashes(value) {
            return Err(EditError::InvalidValue(
                "trailing backslash continues the line",
            ));
        }
    }
    let parts: Vec<&str> = value.split('\n').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.trim() != *part {
            return Err(EditError::InvalidValue("leading or trailing whitespace"));
        }
        if dialect == IniDialect::Python {
            if inline_comment_start(part).is_some() {
                return Err(EditError::InvalidValue(
                    "`;` after whitespace starts a comment",
                ));
            }
            if i > 0 && part.starts_with('#') {
                return Err(EditError::InvalidValue(
                    "continuation line starting with `#`",
                ));
            }
        }
    }
    if parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        return Err(EditError::InvalidValue("trailing empty line"));
    }
    Ok(())
}

/// Separator style of an assignment: optional space, separator, optional space.
#[derive(Clone, Copy)]
struct SepStyle {
    before: bool,
    ch: char,
    after: bool,
}

impl SepStyle {
    fn canonical(dialect: IniDialect) -> Self {
        let spaced = dialect == IniDialect::Python;
        SepStyle {
            before: spaced,
            ch: '=',
            after: spaced,
        }
    }
}

/// Lines (text, kind) for a fresh assignment in the given style.
fn entry_lines(
    dialect: IniDialect,
    key: &str,
    style: SepStyle,
    value: &str,
) -> Vec<(String, Kind)> {
    let mut parts = value.split('\n');
    let first = parts.next().unwrap_or_default();
    let mut text = format!(
        "{key}{}{}{}{first}",
        if style.before { " " } else { "" },
        style.ch,
        if style.after { " " } else { "" }
    );
    if first.is_empty() {
        text.truncate(text.trim_end().len());
    }
    let kind = entry_kind(dialect, &text, key.len() + usize::from(style.before));
    let mut out = vec![(text, kind)];
    out.extend(continuation_lines(parts, ""));
    out
}

fn continuation_lines<'a>(
    parts: impl Iterator<Item = &'a str>,
    indent: &str,
) -> Vec<(String, Kind)> {
    parts
        .map(|p| {
            if p.is_empty() {
                (String::new(), Kind::Blank)
            } else {
                (format!("{indent}    {p}"), Kind::Continuation)
            }
        })
        .collect()
}

impl IniDoc {
    /// Parses `text`.
    ///
    /// # Errors
    /// A malformed section header, a line that is neither comment nor
    /// assignment (nor a continuation), or an assignment before the first section.
    pub fn parse(text: &str, dialect: IniDialect) -> Result<Self, ParseError> {
        let raw = split_lines(text);
        let eol = raw
            .iter()
            .map(|l| l.1)
            .find(|e| *e != Eol::None)
            .unwrap_or(Eol::Lf);
        let mut st = State::default();
        let mut lines = Vec::with_capacity(raw.len());
        for (i, (text, eol)) in raw.into_iter().enumerate() {
            let kind = classify(dialect, text, &mut st).map_err(|message| ParseError {
                line: i + 1,
                message,
            })?;
            lines.push(Line {
                text: text.to_string(),
                eol,
                kind,
            });
        }
        Ok(IniDoc {
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
    pub fn dialect(&self) -> IniDialect {
        self.dialect
    }

    /// Section names in order of first appearance (a repeated header is listed once).
    #[must_use]
    pub fn sections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for l in &self.lines {
            if let Kind::Section(name) = &l.kind
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        }
        out
    }

    /// Keys of `section` in order of first appearance, as spelled first.
    #[must_use]
    pub fn keys(&self, section: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for span in self.spans() {
            if self.section_of(&span) == section {
                let key = self.key_of(&span);
                if !out.iter().any(|k| self.key_eq(k, key)) {
                    out.push(key);
                }
            }
        }
        out
    }

    /// The effective value: the last assignment of `key` in `section`.
    /// Python: continuation lines are joined with `\n`, each stripped and
    /// without inline comment. Systemd: `\`-continued lines are joined with a space.
    #[must_use]
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        self.find(section, key).last().map(|s| self.value_of(s))
    }

    /// Systemd: all assignments in order, an empty one discarding those before.
    /// Python: the lines of the effective value (empty when the key is absent).
    #[must_use]
    pub fn get_all(&self, section: &str, key: &str) -> Vec<String> {
        match self.dialect {
            IniDialect::Python => self
                .get(section, key)
                .map(|v| v.split('\n').map(str::to_string).collect())
                .unwrap_or_default(),
            IniDialect::Systemd => {
                let mut out = Vec::new();
                for span in self.find(section, key) {
                    let v = self.value_of(&span);
                    if v.is_empty() {
                        out.clear();
                    } else {
                        out.push(v);
                    }
                }
                out
            }
        }
    }

    /// Sets the effective assignment of `key`, editing it in place (keeping the
    /// key's spelling, the separator style and an inline comment); otherwise
    /// appends it after the section's last assignment, creating the section at
    /// the end of the document if needed. Python: `\n` in `value` becomes
    /// continuation lines indented by 4 spaces.
    ///
    /// # Errors
    /// Invalid section or key, a value that would not read back unchanged
    /// (line breaks in systemd, outer whitespace, ` ;` in Python, ...), or
    /// [`EditError::Conflict`]; the document is unchanged on error.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        self.checked(|doc| doc.set_unchecked(section, key, value))
    }

    fn set_unchecked(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        check_section(section)?;
        check_key(self.dialect, key)?;
        check_value(self.dialect, value)?;
        let Some(span) = self.find(section, key).pop() else {
            self.append_entries(section, key, &[value]);
            return Ok(());
        };
        self.edit_span(&span, value);
        Ok(())
    }

    /// Sets `key` in `section` so that exactly one active assignment holds it:
    /// the first assignment gets the value (edited in place as [`IniDoc::set`]
    /// does), every line of the later ones is commented out with a leading `#`,
    /// and a missing key is appended as `set` appends it (the section created
    /// at the end when missing). Whether a reader lets the first or the last
    /// assignment win, the file then says one thing; for a systemd list setting
    /// this leaves a list of one.
    ///
    /// # Errors
    /// As for [`IniDoc::set`]; the document is unchanged on error.
    pub fn set_first(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        self.checked(|doc| {
            check_section(section)?;
            check_key(doc.dialect, key)?;
            check_value(doc.dialect, value)?;
            let spans = doc.find(section, key);
            let Some((first, later)) = spans.split_first() else {
                doc.append_entries(section, key, &[value]);
                return Ok(());
            };
            for span in later {
                for line in &mut doc.lines[span.key_line..span.end] {
                    if line.kind != Kind::Comment {
                        line.text.insert(0, '#');
                        line.kind = Kind::Comment;
                    }
                }
            }
            doc.edit_span(first, value);
            Ok(())
        })
    }

    /// Replaces the value of the assignment `span` in place.
    fn edit_span(&mut self, span: &Span, value: &str) {
        let mut parts = value.split('\n');
        let first = parts.next().unwrap_or_default();
        let Some((line, sep, value_start, value_end)) = self.entry_at(span) else {
            return;
        };
        let mut text = line[..value_start].to_string();
        let spaced = line[..sep].ends_with(char::is_whitespace);
        if !first.is_empty() && value_start == value_end && value_start == sep + 1 && spaced {
            text.push(' ');
        }
        text.push_str(first);
        let suffix = &line[value_end..];
        if !first.is_empty() && suffix.starts_with(';') {
            text.push(' ');
        }
        text.push_str(suffix);
        let indent = &line[..line.len() - line.trim_start().len()];
        let cont = continuation_lines(parts, indent);
        let kind = entry_kind(self.dialect, &text, sep);
        self.lines[span.key_line].text = text;
        self.lines[span.key_line].kind = kind;
        self.remove_spans(&[Span {
            key_line: span.key_line + 1,
            ..*span
        }]);
        self.insert_lines(span.key_line + 1, cont);
    }

    /// Replaces every assignment of `key` in `section`. Systemd: one line per
    /// value, written where the first assignment was (pass `""` first to reset
    /// a list inherited from the unit). Python: the values become one
    /// multi-line value.
    ///
    /// # Errors
    /// As for [`IniDoc::set`]; the document is unchanged on error.
    pub fn set_all(&mut self, section: &str, key: &str, values: &[&str]) -> Result<(), EditError> {
        if self.dialect == IniDialect::Python {
            return self.set(section, key, &values.join("\n"));
        }
        self.checked(|doc| doc.set_all_unchecked(section, key, values))
    }

    fn set_all_unchecked(
        &mut self,
        section: &str,
        key: &str,
        values: &[&str],
    ) -> Result<(), EditError> {
        check_section(section)?;
        check_key(self.dialect, key)?;
        for v in values {
            check_value(self.dialect, v)?;
        }
        let spans = self.find(section, key);
        let Some(first) = spans.first() else {
            self.append_entries(section, key, values);
            return Ok(());
        };
        let (at, style) = (first.key_line, self.style_of(first));
        let spelled = self.key_of(first).to_string();
        self.remove_spans(&spans);
        let lines = values
            .iter()
            .flat_map(|v| entry_lines(self.dialect, &spelled, style, v))
            .collect();
        self.insert_lines(at, lines);
        Ok(())
    }

    /// Removes every assignment of `key` in `section` with its continuation
    /// lines (comments between them stay). Returns whether anything was removed.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        let spans = self.find(section, key);
        self.remove_spans(&spans);
        !spans.is_empty()
    }

    /// Runs `edit`, then verifies that the result parses to the same lines;
    /// otherwise restores the document.
    fn checked(
        &mut self,
        edit: impl FnOnce(&mut Self) -> Result<(), EditError>,
    ) -> Result<(), EditError> {
        let before = self.lines.clone();
        let result = edit(self).and_then(|()| match IniDoc::parse(&self.render(), self.dialect) {
            Ok(doc) if doc.lines == self.lines => Ok(()),
            _ => Err(EditError::Conflict),
        });
        if result.is_err() {
            self.lines = before;
        }
        result
    }

    fn spans(&self) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        let mut header = 0;
        for (i, l) in self.lines.iter().enumerate() {
            match l.kind {
                Kind::Section(_) => header = i,
                Kind::Entry { .. } => out.push(Span {
                    header,
                    key_line: i,
                    end: i + 1,
                }),
                Kind::Continuation => {
                    if let Some(last) = out.last_mut() {
                        last.end = i + 1;
                    }
                }
                Kind::Blank | Kind::Comment => {}
            }
        }
        out
    }

    fn section_of(&self, span: &Span) -> &str {
        match &self.lines[span.header].kind {
            Kind::Section(name) => name,
            _ => "",
        }
    }

    fn key_of(&self, span: &Span) -> &str {
        match &self.lines[span.key_line].kind {
            Kind::Entry { key, .. } => key,
            _ => "",
        }
    }

    fn key_eq(&self, a: &str, b: &str) -> bool {
        match self.dialect {
            IniDialect::Systemd => a == b,
            IniDialect::Python => a.to_lowercase() == b.to_lowercase(),
        }
    }

    fn find(&self, section: &str, key: &str) -> Vec<Span> {
        let spans = self.spans().into_iter();
        spans
            .filter(|s| self.section_of(s) == section && self.key_eq(self.key_of(s), key))
            .collect()
    }

    /// The assignment line that starts `span`: its text, the separator's byte
    /// index and where its value starts and ends (`None` for any other line).
    fn entry_at(&self, span: &Span) -> Option<(&str, usize, usize, usize)> {
        let line = &self.lines[span.key_line];
        match line.kind {
            Kind::Entry {
                sep,
                value_start,
                value_end,
                ..
            } => Some((line.text.as_str(), sep, value_start, value_end)),
            _ => None,
        }
    }

    fn style_of(&self, span: &Span) -> SepStyle {
        let Some((line, sep, value_start, value_end)) = self.entry_at(span) else {
            return SepStyle::canonical(self.dialect);
        };
        let before = line[..sep].ends_with(char::is_whitespace);
        SepStyle {
            before,
            ch: line[sep..].chars().next().unwrap_or('='),
            after: if value_start == value_end {
                before
            } else {
                value_start > sep + 1
            },
        }
    }

    fn value_of(&self, span: &Span) -> String {
        let Some((line, _, value_start, value_end)) = self.entry_at(span) else {
            return String::new();
        };
        let rest = self.lines[span.key_line + 1..span.end].iter();
        match self.dialect {
            IniDialect::Python => {
                let mut parts = vec![&line[value_start..value_end]];
                for l in rest {
                    match l.kind {
                        Kind::Blank => parts.push(""),
                        Kind::Continuation => {
                            parts.push(l.text[..content_end(self.dialect, &l.text)].trim());
                        }
                        _ => {}
                    }
                }
                parts.join("\n")
            }
            IniDialect::Systemd => {
                let mut out = String::new();
                let texts = std::iter::once(&line[value_start..]);
                let conts = rest
                    .filter(|l| l.kind == Kind::Continuation)
                    .map(|l| l.text.as_str());
                for t in texts.chain(conts) {
                    match t.strip_suffix('\\').filter(|_| odd_backslashes(t)) {
                        Some(head) => {
                            out.push_str(head);
                            out.push(' ');
                        }
                        None => out.push_str(t),
                    }
                }
                out.trim().to_string()
            }
        }
    }

    /// Appends assignments after the section's last one, creating the section.
    fn append_entries(&mut self, section: &str, key: &str, values: &[&str]) {
        if values.is_empty() {
            return;
        }
        let spans = self.spans();
        let style = spans
            .last()
            .map_or(SepStyle::canonical(self.dialect), |s| self.style_of(s));
        let mut lines: Vec<(String, Kind)> = values
            .iter()
            .flat_map(|v| entry_lines(self.dialect, key, style, v))
            .collect();
        let header = self
            .lines
            .iter()
            .rposition(|l| l.kind == Kind::Section(section.to_string()));
        let at = if let Some(h) = header {
            spans
                .iter()
                .filter(|s| s.header == h)
                .map(|s| s.end)
                .max()
                .unwrap_or(h + 1)
        } else {
            let mut new = Vec::new();
            if self.lines.last().is_some_and(|l| l.kind != Kind::Blank) {
                new.push((String::new(), Kind::Blank));
            }
            new.push((format!("[{section}]"), Kind::Section(section.to_string())));
            new.append(&mut lines);
            lines = new;
            self.lines.len()
        };
        self.insert_lines(at, lines);
    }

    fn insert_lines(&mut self, at: usize, new: Vec<(String, Kind)>) {
        if new.is_empty() {
            return;
        }
        let mut last_eol = self.eol;
        if at == self.lines.len()
            && let Some(prev) = self.lines.last_mut()
            && prev.eol == Eol::None
        {
            prev.eol = self.eol;
            last_eol = Eol::None;
        }
        let count = new.len();
        let eol = self.eol;
        let lines = new.into_iter().enumerate().map(|(i, (text, kind))| Line {
            text,
            eol: if i + 1 == count { last_eol } else { eol },
            kind,
        });
        self.lines.splice(at..at, lines);
    }

    /// Removes the non-comment lines of the given spans.
    fn remove_spans(&mut self, spans: &[Span]) {
        let mut drop = vec![false; self.lines.len()];
        for s in spans {
            for (i, flag) in drop.iter_mut().enumerate().take(s.end).skip(s.key_line) {
                *flag = self.lines[i].kind != Kind::Comment;
            }
        }
        let missing_final_eol = self.lines.last().is_some_and(|l| l.eol == Eol::None);
        let mut flags = drop.into_iter();
        self.lines.retain(|_| !flags.next().unwrap_or(false));
        if missing_final_eol && let Some(last) = self.lines.last_mut() {
            last.eol = Eol::None;
        }
    }
}

/// Renders a fresh document in canonical style (`key = value` for Python,
/// `Key=Value` for systemd) for files harden owns entirely.
#[derive(Debug, Clone)]
pub struct IniBuilder {
    dialect: IniDialect,
    comments: Vec<String>,
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl IniBuilder {
    /// An empty document in `dialect`.
    #[must_use]
    pub fn new(dialect: IniDialect) -> Self {
        IniBuilder {
            dialect,
            comments: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// Adds `# ` comment lines at the top (one per line of `text`).
    #[must_use]
    pub fn comment(mut self, text: &str) -> Self {
        self.comments.extend(
            text.lines()
                .map(|l| format!("# {l}").trim_end().to_string()),
        );
        self
    }

    /// Adds a section with its assignments in order (keys may repeat for systemd).
    #[must_use]
    pub fn section<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        name: &str,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()));
        self.sections.push((name.to_string(), entries.collect()));
        self
    }

    /// The rendered text, `\n`-terminated, sections separated by a blank line.
    ///
    /// # Errors
    /// A section name, key or value that [`IniDoc::set`] would reject.
    pub fn render(&self) -> Result<String, EditError> {
        let mut out = String::new();
        for c in &self.comments {
            out.push_str(c);
            out.push('\n');
        }
        for (i, (name, entries)) in self.sections.iter().enumerate() {
            check_section(name)?;
            if i > 0 || !self.comments.is_empty() {
                out.push('\n');
            }
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
            for (k, v) in entries {
                check_key(self.dialect, k)?;
                check_value(self.dialect, v)?;
                for (text, _) in entry_lines(self.dialect, k, SepStyle::canonical(self.dialect), v)
                {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Excerpt of Debian's /etc/fail2ban/jail.conf.
    const JAIL: &str = r#"#
# WARNING: heavily refactored in 0.9.0 release.  Please review and
#          customize settings for your setup.

[INCLUDES]

#before = paths-distro.conf
before = paths-debian.conf

# The DEFAULT allows a global definition of the options.
[DEFAULT]

# "bantime" is the number of seconds that a host is banned.
bantime  = 10m
findtime  = 10m
maxretry = 5
ignorecommand =
banaction = iptables-multiport

# ban & send an e-mail with whois report to the destemail.
action_mw = %(action_)s
            %(mta)s-whois[sender="%(sender)s", dest="%(destemail)s", protocol="%(protocol)s", chain="%(chain)s"]

action_mwl = %(action_)s
             %(mta)s-whois-lines[sender="%(sender)s", dest="%(destemail)s", logpath="%(logpath)s", chain="%(chain)s"]

[sshd]

# To use more aggressive sshd modes set filter parameter "mode" in jail.local:
#mode   = normal
port    = ssh
logpath = %(sshd_log)s
backend = %(sshd_backend)s
"#;

    /// Excerpt of fail2ban's filter.d/sshd.conf, with inline comments added.
    const FILTER: &str = r"[INCLUDES]
before = common.conf

[Definition]
mode = normal ; normal, ddos, extra or aggressive
failregex = %(cmnfailre)s
            <mdre-<mode>>

            %(cfooterre)s
# a comment inside the value is skipped
            ^Bad line ; with a comment
ignoreregex =
maxlines: 1
";

    /// A systemd drop-in resetting `ExecStart`, with a continued line.
    const DROPIN: &str = "[Unit]\n# not specified by LSB\nAfter=network-online.target\n\n\
        [Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D \\\n    $SSHD_OPTS\n\
        NoNewPrivileges=yes\nReadWritePaths=/var/log\nReadWritePaths=/run\n";

    /// Excerpt of Debian 12's /etc/systemd/journald.conf.
    const JOURNALD: &str = "#  This file is part of systemd.
#
# Entries in this file show the compile time defaults. Local configuration
# should be created by either modifying this file, or by creating \"drop-ins\" in
# the journald.conf.d/ subdirectory. The latter is generally recommended.
#
# See journald.conf(5) for details.

[Journal]
#Storage=auto
#Compress=yes
#Seal=yes
#SystemMaxUse=
#ForwardToSyslog=yes
";

    fn py(text: &str) -> IniDoc {
        IniDoc::parse(text, IniDialect::Python).unwrap()
    }

    fn sd(text: &str) -> IniDoc {
        IniDoc::parse(text, IniDialect::Systemd).unwrap()
    }

    #[test]
    fn fixtures_round_trip_with_any_line_ending() {
        for (text, dialect) in [
            (JAIL, IniDialect::Python),
            (FILTER, IniDialect::Python),
            (DROPIN, IniDialect::Systemd),
            (JOURNALD, IniDialect::Systemd),
        ] {
            for variant in [
                text.to_string(),
                text.replace('\n', "\r\n"),
                text.trim_end().to_string(),
            ] {
                assert_eq!(IniDoc::parse(&variant, dialect).unwrap().render(), variant);
            }
        }
    }

    #[test]
    fn python_lookups() {
        let doc = py(JAIL);
        assert_eq!(doc.sections(), ["INCLUDES", "DEFAULT", "sshd"]);
        assert_eq!(doc.get("DEFAULT", "BanTime").as_deref(), Some("10m"));
        assert_eq!(doc.get("DEFAULT", "ignorecommand").as_deref(), Some(""));
        assert_eq!(doc.get("sshd", "mode"), None);
        let mwl = doc.get("DEFAULT", "action_mwl").unwrap();
        assert!(
            mwl.starts_with("%(action_)s\n%(mta)s-whois-lines[sender="),
            "{mwl}"
        );
        assert_eq!(doc.get_all("DEFAULT", "action_mw").len(), 2);
        assert_eq!(doc.keys("sshd"), ["port", "logpath", "backend"]);
        let filter = py(FILTER);
        assert_eq!(filter.get("Definition", "mode").as_deref(), Some("normal"));
        assert_eq!(
            filter.get("Definition", "failregex").as_deref(),
            Some("%(cmnfailre)s\n<mdre-<mode>>\n\n%(cfooterre)s\n^Bad line")
        );
        assert_eq!(filter.get("Definition", "maxlines").as_deref(), Some("1"));
    }

    #[test]
    fn python_set_edits_in_place() {
        let mut doc = py(JAIL);
        doc.set("DEFAULT", "BANTIME", "1h").unwrap();
        assert_eq!(
            doc.render(),
            JAIL.replace("bantime  = 10m", "bantime  = 1h")
        );
        doc.set("DEFAULT", "ignorecommand", "/bin/true").unwrap();
        assert!(doc.render().contains("\nignorecommand = /bin/true\n"));
        let mut filter = py(FILTER);
        filter.set("Definition", "mode", "aggressive").unwrap();
        assert!(
            filter
                .render()
                .contains("\nmode = aggressive ; normal, ddos")
        );
        filter.set("Definition", "maxlines", "2").unwrap();
        assert!(filter.render().contains("\nmaxlines: 2\n"));
        assert_eq!(
            filter.get("Definition", "mode").as_deref(),
            Some("aggressive")
        );
    }

    #[test]
    fn python_multiline_values() {
        let mut doc = py(FILTER);
        doc.set("Definition", "failregex", "^one <HOST>$\n^two <HOST>$")
            .unwrap();
        let expected = "failregex = ^one <HOST>$\n    ^two <HOST>$\n# a comment inside the value is skipped\nignoreregex =\n";
        assert!(doc.render().contains(expected), "{}", doc.render());
        doc.set("Definition", "failregex", "single").unwrap();
        assert!(doc.render().contains("failregex = single\n# a comment"));
        doc.set_all("Definition", "ignoreregex", &["a", "", "b"])
            .unwrap();
        assert!(doc.render().contains("ignoreregex = a\n\n    b\nmaxlines"));
        assert_eq!(doc.get_all("Definition", "ignoreregex"), ["a", "", "b"]);
    }

    #[test]
    fn new_keys_go_after_the_last_key_of_the_section() {
        let mut doc = py(JAIL);
        doc.set("INCLUDES", "after", "paths-overrides.local")
            .unwrap();
        assert!(doc.render().contains(
            "before = paths-debian.conf\nafter = paths-overrides.local\n\n# The DEFAULT"
        ));
        doc.set("DEFAULT", "bantime.increment", "true").unwrap();
        assert!(
            doc.render()
                .contains("chain=\"%(chain)s\"]\nbantime.increment = true\n\n[sshd]")
        );
        let mut sparse = py("[a]\n# only a comment\n[b]\nx=1\n");
        sparse.set("a", "k", "v").unwrap();
        sparse.set("b", "y", "2").unwrap();
        assert_eq!(
            sparse.render(),
            "[a]\nk=v\n# only a comment\n[b]\nx=1\ny=2\n"
        );
    }

    #[test]
    fn missing_sections_are_created_at_the_end() {
        let mut doc = py("[DEFAULT]\nbantime = 1h");
        doc.set("sshd", "enabled", "true").unwrap();
        assert_eq!(
            doc.render(),
            "[DEFAULT]\nbantime = 1h\n\n[sshd]\nenabled = true"
        );
        let mut doc = py("[DEFAULT]\r\nbantime = 1h\r\n\r\n");
        doc.set("sshd", "enabled", "true").unwrap();
        assert_eq!(
            doc.render(),
            "[DEFAULT]\r\nbantime = 1h\r\n\r\n[sshd]\r\nenabled = true\r\n"
        );
        let mut empty = py("");
        empty.set("sshd", "port", "ssh").unwrap();
        assert_eq!(empty.render(), "[sshd]\nport = ssh\n");
    }

    #[test]
    fn edits_are_idempotent() {
        for (text, dialect) in [(JAIL, IniDialect::Python), (DROPIN, IniDialect::Systemd)] {
            let mut once = IniDoc::parse(text, dialect).unwrap();
            once.set("Service", "ProtectSystem", "strict").unwrap();
            once.set("DEFAULT", "maxretry", "3").unwrap();
            let mut twice = once.clone();
            twice.set("Service", "ProtectSystem", "strict").unwrap();
            twice.set("DEFAULT", "maxretry", "3").unwrap();
            assert_eq!(once.render(), twice.render());
        }
    }

    #[test]
    fn systemd_repeated_keys_and_continuations() {
        let mut doc = sd(DROPIN);
        assert_eq!(
            doc.get_all("Service", "ExecStart"),
            ["/usr/sbin/sshd -D      $SSHD_OPTS"]
        );
        assert_eq!(
            doc.get_all("Service", "ReadWritePaths"),
            ["/var/log", "/run"]
        );
        assert_eq!(doc.get("Service", "readwritepaths"), None);
        doc.set("Service", "ExecStart", "/usr/sbin/sshd -D")
            .unwrap();
        assert!(
            doc.render()
                .contains("ExecStart=\nExecStart=/usr/sbin/sshd -D\nNoNewPrivileges=yes\n")
        );
        doc.set_all("Service", "ReadWritePaths", &["/var/lib/x"])
            .unwrap();
        assert!(
            doc.render()
                .ends_with("NoNewPrivileges=yes\nReadWritePaths=/var/lib/x\n")
        );
        doc.set_all("Service", "ExecStart", &["", "/bin/a", "/bin/b"])
            .unwrap();
        assert_eq!(doc.get_all("Service", "ExecStart"), ["/bin/a", "/bin/b"]);
        assert!(doc.remove("Service", "ExecStart"));
        assert!(!doc.remove("Service", "ExecStart"));
        assert_eq!(
            doc.render(),
            "[Unit]\n# not specified by LSB\nAfter=network-online.target\n\n[Service]\nNoNewPrivileges=yes\nReadWritePaths=/var/lib/x\n"
        );
    }

    #[test]
    fn set_first_leaves_one_assignment() {
        let mut doc = sd(JOURNALD);
        doc.set_first("Journal", "Storage", "persistent").unwrap();
        doc.set_first("Journal", "Compress", "yes").unwrap();
        assert_eq!(
            doc.render(),
            JOURNALD.replace(
                "[Journal]\n",
                "[Journal]\nStorage=persistent\nCompress=yes\n"
            )
        );
        let mut twice = doc.clone();
        twice.set_first("Journal", "Storage", "persistent").unwrap();
        assert_eq!(twice, doc);

        // Repeated sections and keys: the first is set, the rest commented out,
        // continuation lines included.
        let text = "[Journal]\nStorage=volatile\nSeal=no\n[Other]\nStorage=x\n\
            [Journal]\nStorage=auto \\\n  none\n# kept\nStorage=none\n";
        let mut dup = sd(text);
        dup.set_first("Journal", "Storage", "persistent").unwrap();
        assert_eq!(
            dup.render(),
            "[Journal]\nStorage=persistent\nSeal=no\n[Other]\nStorage=x\n\
            [Journal]\n#Storage=auto \\\n#  none\n# kept\n#Storage=none\n"
        );
        assert_eq!(dup.get_all("Journal", "Storage"), ["persistent"]);
        assert_eq!(dup.get("Other", "Storage").as_deref(), Some("x"));

        let mut coredump = sd("# no section yet\n");
        coredump.set_first("Coredump", "Storage", "none").unwrap();
        coredump
            .set_first("Coredump", "ProcessSizeMax", "0")
            .unwrap();
        assert_eq!(
            coredump.render(),
            "# no section yet\n\n[Coredump]\nStorage=none\nProcessSizeMax=0\n"
        );
        assert!(matches!(
            coredump.set_first("Coredump", "Storage", "a\nb"),
            Err(EditError::InvalidValue(_))
        ));
    }

    #[test]
    fn remove_keeps_missing_final_newline_and_comments() {
        let mut doc = py("[a]\nx = 1\ny = 2\n  # kept\n  more");
        assert!(doc.remove("a", "Y"));
        assert_eq!(doc.render(), "[a]\nx = 1\n  # kept");
    }

    #[test]
    fn parse_errors_report_line_numbers() {
        let err = |t: &str, d| IniDoc::parse(t, d).unwrap_err();
        assert_eq!(
            err("Key=1\n", IniDialect::Systemd),
            ParseError {
                line: 1,
                message: "assignment before any section header"
            }
        );
        assert_eq!(err("[a]\n\n[b\n", IniDialect::Systemd).line, 3);
        assert_eq!(err("[a]\njust words\n", IniDialect::Systemd).line, 2);
        assert_eq!(err("[a]\nkey: v\n", IniDialect::Systemd).line, 2);
        assert_eq!(err("key = v\n", IniDialect::Python).line, 1);
        assert_eq!(err("[a]\n= v\n", IniDialect::Python).message, "empty key");
        assert_eq!(
            err("[]\n", IniDialect::Python).message,
            "malformed section header"
        );
    }

    #[test]
    fn invalid_edits_are_rejected_without_change() {
        let kind = |e: EditError| match e {
            EditError::InvalidSection(_) => "section",
            EditError::InvalidKey(_) => "key",
            EditError::InvalidValue(_) => "value",
            EditError::Conflict => "conflict",
        };
        let mut doc = sd(DROPIN);
        for (section, key, value, want) in [
            ("Service", "A=B", "x", "key"),
            ("Ser]vice", "A", "x", "section"),
            ("Service", "A", "x\ny", "value"),
            ("Service", "A", "x\\", "value"),
        ] {
            let got = doc.set(section, key, value).map_err(kind);
            assert_eq!(got, Err(want), "[{section}] {key}={value:?}");
        }
        let mut py_doc = py(FILTER);
        for value in ["a ;b", "a\n#b"] {
            let got = py_doc.set("Definition", "mode", value).map_err(kind);
            assert_eq!(got, Err("value"), "{value:?}");
        }
        // A dangling continuation at the end of the file would swallow the new line.
        let text = "[S]\nA=x \\\n# c";
        let mut dangling = sd(text);
        assert_eq!(dangling.set("S", "B", "y"), Err(EditError::Conflict));
        assert_eq!(dangling.render(), text);
        assert_eq!(doc.render(), DROPIN);
    }

    #[test]
    fn builder_renders_canonical_style() {
        let unit = IniBuilder::new(IniDialect::Systemd)
            .comment("Managed by harden.")
            .section(
                "Service",
                [
                    ("ExecStart", ""),
                    ("ExecStart", "/usr/sbin/sshd -D"),
                    ("NoNewPrivileges", "yes"),
                ],
            )
            .render()
            .unwrap();
        assert_eq!(
            unit,
            "# Managed by harden.\n\n[Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D\nNoNewPrivileges=yes\n"
        );
        let jail = IniBuilder::new(IniDialect::Python)
            .section("DEFAULT", [("bantime", "1h")])
            .section("sshd", [("enabled", "true"), ("failregex", "^a$\n^b$")])
            .render()
            .unwrap();
        assert_eq!(
            jail,
            "[DEFAULT]\nbantime = 1h\n\n[sshd]\nenabled = true\nfailregex = ^a$\n    ^b$\n"
        );
        assert_eq!(
            py(&jail).get("sshd", "failregex").as_deref(),
            Some("^a$\n^b$")
        );
        let bad = IniBuilder::new(IniDialect::Systemd)
            .section("S", [("K", "a\nb")])
            .render();
        assert!(bad.is_err());
    }

    fn doc_strategy(dialect: IniDialect) -> impl Strategy<Value = String> {
        let entry = match dialect {
            IniDialect::Python => "[a-cA-C_.]{1,3}[ \t]*[=:][ \t]*[ -~]{0,10}",
            IniDialect::Systemd => "[a-cA-C_.]{1,3}=[ -~]{0,10}",
        };
        let cont = match dialect {
            IniDialect::Python => "[ \t]{1,4}[!-~][ -~]{0,10}",
            IniDialect::Systemd => "[ -~]{0,10}",
        };
        let block = prop_oneof![
            "[ \t]*".prop_map(|s| vec![s]),
            "[ \t]*[#;][ -~]{0,12}".prop_map(|s| vec![s]),
            "\\[[ab]{1,2}\\][ \t]*".prop_map(|s| vec![s]),
            (entry, prop::collection::vec(cont, 0..3)).prop_map(move |(e, c)| {
                if dialect == IniDialect::Systemd && !c.is_empty() {
                    let mut lines = vec![format!("{e} \\")];
                    let n = c.len();
                    lines.extend(
                        c.into_iter()
                            .enumerate()
                            .map(|(i, l)| if i + 1 < n { format!("{l} \\") } else { l }),
                    );
                    return lines;
                }
                std::iter::once(e).chain(c).collect()
            }),
        ];
        (
            prop::collection::vec((block, prop_oneof!["\n", "\r\n"]), 0..12),
            any::<bool>(),
        )
            .prop_map(|(blocks, final_eol)| {
                let mut out = String::from("[a]\n");
                for (lines, eol) in blocks {
                    for l in lines {
                        out.push_str(&l);
                        out.push_str(&eol);
                    }
                }
                if !final_eol {
                    out.truncate(out.trim_end_matches(['\r', '\n']).len());
                }
                out
            })
    }

    fn dialects() -> impl Strategy<Value = IniDialect> {
        prop_oneof![Just(IniDialect::Python), Just(IniDialect::Systemd)]
    }

    proptest! {
        #[test]
        fn generated_documents_round_trip(text in dialects().prop_flat_map(|d| (Just(d), doc_strategy(d)))) {
            let (dialect, text) = text;
            let doc = IniDoc::parse(&text, dialect);
            prop_assert!(doc.is_ok(), "{:?}", doc);
            prop_assert_eq!(doc.unwrap().render(), text);
        }

        #[test]
        fn arbitrary_input_never_panics(text in prop_oneof![any::<String>(), "[\\[\\]=:;# \t\\\\ab\r\n]{0,64}"], d in dialects()) {
            if let Ok(mut doc) = IniDoc::parse(&text, d) {
                prop_assert_eq!(doc.render(), text);
                let _ = doc.set("a", "b", "c");
                let _ = doc.remove("a", "a");
            }
        }

        #[test]
        fn set_then_get(
            input in dialects().prop_flat_map(|d| (Just(d), doc_strategy(d))),
            section in "[ab]{1,2}",
            key in "[a-cA-C_.]{1,3}",
            lines in prop::collection::vec("[!-:<-~]([ !-:<-~]{0,8}[!-:<-~])?", 1..4),
        ) {
            let (dialect, text) = input;
            let value = match dialect {
                IniDialect::Python => lines.join("\n").replace("\n#", "\nx"),
                IniDialect::Systemd => lines[0].trim_end_matches(['\\', ' ']).to_string(),
            };
            let mut doc = IniDoc::parse(&text, dialect).unwrap();
            match doc.set(&section, &key, &value) {
                Ok(()) => {
                    prop_assert_eq!(doc.get(&section, &key), Some(value.clone()));
                    let reparsed = IniDoc::parse(&doc.render(), dialect).unwrap();
                    prop_assert_eq!(reparsed.get(&section, &key), Some(value.clone()));
                    let mut again = doc.clone();
                    again.set(&section, &key, &value).unwrap();
                    prop_assert_eq!(again.render(), doc.render());
                }
                Err(e) => {
                    prop_assert_eq!(e, EditError::Conflict);
                    prop_assert_eq!(doc.render(), text);
                }
            }
        }

        #[test]
        fn set_first_leaves_one_assignment_and_the_rest_in_order(
            input in dialects().prop_flat_map(|d| (Just(d), doc_strategy(d))),
            section in "[ab]{1,2}",
            key in "[a-cA-C_.]{1,3}",
            value in "[!-:<-~]([ !-:<-~]{0,8}[!-:<-~])?",
        ) {
            let (dialect, text) = input;
            // A value may not end in a backslash (systemd continues the line)
            // nor, once that is cut off, in a space: strip both, as often as needed.
            let value = value.trim_end_matches(['\\', ' ']).to_string();
            prop_assume!(!value.is_empty());
            let before = IniDoc::parse(&text, dialect).unwrap();
            let mut doc = before.clone();
            match doc.set_first(&section, &key, &value) {
                Ok(()) => {
                    let after = IniDoc::parse(&doc.render(), dialect).unwrap();
                    prop_assert_eq!(after.find(&section, &key).len(), 1);
                    prop_assert_eq!(after.get(&section, &key), Some(value.clone()));
                    // Every line outside the key's assignments is still there, in order.
                    let in_key: Vec<usize> = before
                        .find(&section, &key)
                        .iter()
                        .flat_map(|s| s.key_line..s.end)
                        .collect();
                    let mut rest = after.lines.iter().map(|l| &l.text);
                    for (i, l) in before.lines.iter().enumerate() {
                        if !in_key.contains(&i) || l.kind == Kind::Comment {
                            prop_assert!(rest.any(|t| *t == l.text), "line {} lost: {:?}", i, l.text);
                        }
                    }
                    let mut again = doc.clone();
                    again.set_first(&section, &key, &value).unwrap();
                    prop_assert_eq!(again.render(), doc.render());
                }
                Err(e) => {
                    prop_assert_eq!(e, EditError::Conflict);
                    prop_assert_eq!(doc.render(), text);
                }
            }
        }
    }
}
