//! Parsing and editing of OpenSSH `sshd_config` text, with a byte-for-byte
//! round trip: rendering an unedited [`SshdConfig`] returns exactly the input,
//! and edits touch only the lines they must. This module works on strings
//! only: it never reads or writes files, expands `Include` globs, or runs
//! `sshd`; callers do that and hand the text in and out.

use std::fmt;
use std::ops::Range;

/// Marker appended to lines that harden disabled by commenting them out.
pub const DISABLED_MARKER: &str = "# disabled by harden";

/// Directory that relative `Include` paths are resolved against.
pub const SSH_DIR: &str = "/etc/ssh";

/// Whitespace that separates a keyword from its arguments.
const SEP_WS: [char; 3] = [' ', '\t', '\r'];
/// Whitespace `sshd` strips from the end of a line before parsing it.
const TRAILING_WS: [char; 4] = [' ', '\t', '\r', '\x0c'];

/// A line `sshd` would reject, reported with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with the line.
    pub message: String,
}

/// An edit request that cannot be written as valid `sshd_config` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Keyword is empty, not alphanumeric, or `Match`/`Include`.
    #[error("invalid sshd_config keyword {0:?}")]
    InvalidKeyword(String),
    /// An empty value list was given.
    #[error("no values given for {0}")]
    NoValues(String),
    /// A value contains a line break or NUL.
    #[error("value {value:?} for {keyword} contains a line break or NUL")]
    InvalidValue {
        /// Keyword being set.
        keyword: String,
        /// Offending value.
        value: String,
    },
}

/// Where a directive applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Before the first `Match` line: applies to every connection.
    Global,
    /// Inside the `Match` block opened at `line` (a `Match` line is in its own block).
    Match {
        /// 1-based line number of the `Match` line.
        line: usize,
        /// Criteria text as written, e.g. `User anoncvs`.
        criteria: String,
    },
}

/// One `Keyword arguments...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line number.
    pub line: usize,
    /// Keyword as written.
    pub keyword: String,
    /// Keyword in ASCII lower case, for comparisons.
    pub keyword_lower: String,
    /// Arguments with quotes and escapes removed (trailing `# comment` excluded).
    pub args: Vec<String>,
    /// Global scope or the enclosing `Match` block.
    pub scope: Scope,
    /// Byte range of the arguments in the line text.
    args_span: Range<usize>,
}

impl Directive {
    /// Whether the directive is before the first `Match` line.
    #[must_use]
    pub fn is_global(&self) -> bool {
        self.scope == Scope::Global
    }
}

/// An `Include` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// 1-based line number.
    pub line: usize,
    /// Paths or globs as written.
    pub patterns: Vec<String>,
    /// Scope the included files are read in.
    pub scope: Scope,
}

impl Include {
    /// Patterns with relative paths made relative to [`SSH_DIR`], as `sshd` does.
    #[must_use]
    pub fn resolved_patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                if p.starts_with(['/', '~']) {
                    p.clone()
                } else {
                    format!("{SSH_DIR}/{p}")
                }
            })
            .collect()
    }
}

/// What an edit changed; line numbers are 1-based and refer to the text after the edit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    /// Lines whose arguments were rewritten in place.
    pub changed: Vec<usize>,
    /// Lines newly inserted.
    pub inserted: Vec<usize>,
    /// Lines disabled by commenting them out.
    pub commented: Vec<usize>,
}

impl Edit {
    /// True when the text was left unchanged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.inserted.is_empty() && self.commented.is_empty()
    }

    fn shift_from(&mut self, line: usize) {
        for n in self.changed.iter_mut().chain(&mut self.commented) {
            if *n >= line {
                *n += 1;
            }
        }
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("changed", &self.changed),
            ("inserted", &self.inserted),
            ("commented out", &self.commented),
        ];
        let text: Vec<String> = (parts.iter().filter(|(_, l)| !l.is_empty()))
            .map(|(what, l)| format!("{what} lines {l:?}"))
            .collect();
        if text.is_empty() {
            f.write_str("no change")
        } else {
            f.write_str(&text.join("; "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// Line text without its line ending.
    text: String,
    /// `"\n"`, `"\r\n"`, or `""` for a last line without newline.
    eol: &'static str,
    directive: Option<Directive>,
}

/// A parsed `sshd_config` file that renders back to its exact input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdConfig {
    lines: Vec<Line>,
}

/// How repeated occurrences of a keyword combine in `sshd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// First value wins.
    Single,
    /// Accumulates, one value per line (`Port 22` and `Port 2222`).
    OnePerLine,
    /// Accumulates, many values per line.
    Accumulating,
    /// One line per subsystem name (first argument).
    Subsystem,
}

fn kind(lower: &str) -> Kind {
    match lower {
        "port" | "listenaddress" | "hostkey" | "hostcertificate" => Kind::OnePerLine,
        "allowusers" | "allowgroups" | "denyusers" | "denygroups" | "acceptenv" | "setenv" => {
            Kind::Accumulating
        }
        "subsystem" => Kind::Subsystem,
        _ => Kind::Single,
    }
}

/// Whether values of `keyword` accumulate over several lines instead of the first winning.
#[must_use]
pub fn is_list_keyword(keyword: &str) -> bool {
    kind(&keyword.to_ascii_lowercase()) != Kind::Single
}

impl SshdConfig {
    /// Parses `sshd_config` text.
    ///
    /// # Errors
    /// Fails on lines `sshd` rejects syntactically: an unterminated quote, a
    /// keyword without arguments, or an argument list without a keyword.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut lines = Vec::new();
        for (idx, raw) in text.split_inclusive('\n').enumerate() {
            let (body, eol) = if let Some(b) = raw.strip_suffix("\r\n") {
                (b, "\r\n")
            } else if let Some(b) = raw.strip_suffix('\n') {
                (b, "\n")
            } else {
                (raw, "")
            };
            lines.push(Line {
                text: body.to_string(),
                eol,
                directive: parse_directive(body, idx + 1)?,
            });
        }
        let mut config = Self { lines };
        config.reindex();
        Ok(config)
    }

    /// The text, byte-for-byte identical to the input if nothing was edited.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.text);
            out.push_str(line.eol);
        }
        out
    }

    /// All directives in file order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.lines.iter().filter_map(|l| l.directive.as_ref())
    }

    /// Every `Include` directive with its patterns and scope.
    #[must_use]
    pub fn includes(&self) -> Vec<Include> {
        self.directives()
            .filter(|d| d.keyword_lower == "include")
            .map(|d| Include {
                line: d.line,
                patterns: d.args.clone(),
                scope: d.scope.clone(),
            })
            .collect()
    }

    /// Global-scope occurrences of `keyword` (case-insensitive), in file order.
    #[must_use]
    pub fn global_values(&self, keyword: &str) -> Vec<&Directive> {
        self.directives()
            .filter(|d| d.is_global() && d.keyword.eq_ignore_ascii_case(keyword))
            .collect()
    }

    /// Makes `values` the global value of `keyword`.
    ///
    /// The first global occurrence is edited in place (keyword spelling,
    /// indentation and trailing comment kept); without one, a line is inserted
    /// before the first `Match` (or at the end). Other global occurrences are
    /// commented out with [`DISABLED_MARKER`]. `Port`, `ListenAddress`,
    /// `HostKey` and `HostCertificate` take one value per line; `Subsystem`
    /// only touches lines for the subsystem named by `values[0]`. Lines inside
    /// `Match` blocks are never touched. Applying the same edit again changes nothing.
    ///
    /// # Errors
    /// See [`EditError`]; the text is unchanged on error.
    pub fn set_global(&mut self, keyword: &str, values: &[String]) -> Result<Edit, EditError> {
        self.set(keyword, values, false)
    }

    /// Like [`set_global`](Self::set_global), but the value must come before
    /// any `Include` line so that it wins over included files: if the first
    /// global occurrence is after an `Include` (or there is none), a new line
    /// is inserted before the first directive and all other occurrences are
    /// commented out.
    ///
    /// # Errors
    /// See [`EditError`]; the text is unchanged on error.
    pub fn set_global_at_top(
        &mut self,
        keyword: &str,
        values: &[String],
    ) -> Result<Edit, EditError> {
        self.set(keyword, values, true)
    }

    /// Comments out every global occurrence of `keyword`; returns how many.
    pub fn comment_out_global(&mut self, keyword: &str) -> usize {
        let targets = self.global_indices(keyword, None);
        for &idx in &targets {
            self.comment_line(idx);
        }
        targets.len()
    }

    /// Comments out the global occurrences of `keyword` for which `pred` holds;
    /// returns their 1-based line numbers (commenting never moves lines).
    pub fn comment_out_global_if(
        &mut self,
        keyword: &str,
        pred: impl Fn(&Directive) -> bool,
    ) -> Vec<usize> {
        let targets: Vec<usize> = self
            .global_indices(keyword, None)
            .into_iter()
            .filter(|&i| self.lines[i].directive.as_ref().is_some_and(&pred))
            .collect();
        for &idx in &targets {
            self.comment_line(idx);
        }
        targets.iter().map(|i| i + 1).collect()
    }

    fn set(&mut self, keyword: &str, values: &[String], top: bool) -> Result<Edit, EditError> {
        validate(keyword, values)?;
        let kind = kind(&keyword.to_ascii_lowercase());
        let wanted: Vec<Vec<String>> = if kind == Kind::OnePerLine {
            values.iter().map(|v| vec![v.clone()]).collect()
        } else {
            vec![values.to_vec()]
        };
        let name = values.first().filter(|_| kind == Kind::Subsystem);
        let found = self.global_indices(keyword, name);
        let first_include = self.position(|d| d.keyword_lower == "include");
        let misplaced = top
            && match (found.first(), first_include) {
                (Some(&f), Some(inc)) => f > inc,
                _ => false,
            };
        let (keep, insert_at) = match found.first() {
            Some(_) if !misplaced => {
                let keep = found.len().min(wanted.len());
                (keep, found[keep - 1] + 1)
            }
            _ if top => (0, self.position(|_| true).unwrap_or(self.lines.len())),
            _ => (
                0,
                self.position(|d| d.keyword_lower == "match")
                    .unwrap_or(self.lines.len()),
            ),
        };
        let mut edit = Edit::default();
        for (i, &idx) in found.iter().enumerate() {
            if i >= keep {
                self.comment_line(idx);
                edit.commented.push(idx + 1);
            } else if self.rewrite_args(idx, &wanted[i]) {
                edit.changed.push(idx + 1);
            }
        }
        for (n, args) in wanted[keep..].iter().enumerate() {
            let at = insert_at + n;
            self.insert_line(at, keyword, args);
            edit.shift_from(at + 1);
            edit.inserted.push(at + 1);
        }
        self.reindex();
        Ok(edit)
    }

    /// Indices of global lines for `keyword`, optionally only those whose first argument is `name`.
    fn global_indices(&self, keyword: &str, name: Option<&String>) -> Vec<usize> {
        let matches = |d: &Directive| {
            d.is_global()
                && d.keyword.eq_ignore_ascii_case(keyword)
                && name.is_none_or(|n| d.args.first() == Some(n))
        };
        let lines = self.lines.iter().enumerate();
        lines
            .filter(|(_, l)| l.directive.as_ref().is_some_and(matches))
            .map(|(i, _)| i)
            .collect()
    }

    fn position(&self, pred: impl Fn(&Directive) -> bool) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| l.directive.as_ref().is_some_and(&pred))
    }

    /// Recomputes line numbers and scopes after lines moved.
    fn reindex(&mut self) {
        let mut scope = Scope::Global;
        for (idx, line) in self.lines.iter_mut().enumerate() {
            if let Some(d) = line.directive.as_mut() {
                d.line = idx + 1;
                if d.keyword_lower == "match" {
                    let criteria = line.text.get(d.args_span.clone()).unwrap_or_default();
                    scope = Scope::Match {
                        line: idx + 1,
                        criteria: criteria.to_string(),
                    };
                }
                d.scope = scope.clone();
            }
        }
    }

    fn rewrite_args(&mut self, idx: usize, args: &[String]) -> bool {
        let Some(line) = self.lines.get_mut(idx) else {
            return false;
        };
        let Some(d) = line.directive.as_mut() else {
            return false;
        };
        if d.args == args {
            return false;
        }
        let new = format_args(args);
        line.text.replace_range(d.args_span.clone(), &new);
        d.args_span = d.args_span.start..d.args_span.start + new.len();
        d.args = args.to_vec();
        true
    }

    fn comment_line(&mut self, idx: usize) {
        let Some(line) = self.lines.get_mut(idx) else {
            return;
        };
        let body = line.text.trim_end_matches(TRAILING_WS);
        let rest = body.trim_start_matches(SEP_WS);
        let indent = &body[..body.len() - rest.len()];
        line.text = format!("{indent}# {rest}  {DISABLED_MARKER}");
        line.directive = None;
    }

    fn insert_line(&mut self, at: usize, keyword: &str, args: &[String]) {
        let eol = self
            .lines
            .iter()
            .map(|l| l.eol)
            .find(|e| !e.is_empty())
            .unwrap_or("\n");
        let mut new_eol = eol;
        if at == self.lines.len()
            && let Some(last) = self.lines.last_mut()
            && last.eol.is_empty()
        {
            // Keep the file's missing final newline.
            last.eol = eol;
            new_eol = "";
        }
        let text = format!("{keyword} {}", format_args(args));
        let directive = Directive {
            line: at + 1,
            keyword: keyword.to_string(),
            keyword_lower: keyword.to_ascii_lowercase(),
            args: args.to_vec(),
            scope: Scope::Global,
            args_span: keyword.len() + 1..text.len(),
        };
        let line = Line {
            text,
            eol: new_eol,
            directive: Some(directive),
        };
        self.lines.insert(at.min(self.lines.len()), line);
    }
}

fn validate(keyword: &str, values: &[String]) -> Result<(), EditError> {
    if keyword.is_empty()
        || !keyword.chars().all(|c| c.is_ascii_alphanumeric())
        || keyword.eq_ignore_ascii_case("match")
        || keyword.eq_ignore_ascii_case("include")
    {
        return Err(EditError::InvalidKeyword(keyword.to_string()));
    }
    if values.is_empty() {
        return Err(EditError::NoValues(keyword.to_string()));
    }
    if let Some(value) = values.iter().find(|v| v.contains(['\n', '\r', '\0'])) {
        return Err(EditError::InvalidValue {
            keyword: keyword.to_string(),
            value: value.clone(),
        });
    }
    Ok(())
}

/// Joins arguments, double-quoting those with whitespace or characters that
/// would otherwise be read differently (quotes, backslash, leading `#`/`=`, empty).
fn format_args(args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|v| {
            let plain = !v.is_empty()
                && !v.starts_with(['#', '='])
                && !v
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
            if plain {
                return v.clone();
            }
            let mut s = String::from('"');
            for c in v.chars() {
                if matches!(c, '"' | '\\') {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            s
        })
        .collect();
    quoted.join(" ")
}

fn parse_error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Parses one line (without line ending) as `sshd` does; `None` for blanks and comments.
fn parse_directive(body: &str, line: usize) -> Result<Option<Directive>, ParseError> {
    let text = body.trim_end_matches(TRAILING_WS);
    let rest = text.trim_start_matches(SEP_WS);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let kw_len = rest.find([' ', '\t', '\r', '=']).unwrap_or(rest.len());
    if kw_len == 0 {
        return Err(parse_error(line, "missing keyword before '='"));
    }
    let keyword = &rest[..kw_len];
    // Separator: whitespace, or a single '=' optionally surrounded by whitespace.
    let after = &rest[kw_len..];
    let after = if let Some(a) = after.strip_prefix('=') {
        a
    } else {
        let a = after.trim_start_matches(SEP_WS);
        a.strip_prefix('=').unwrap_or(a)
    };
    let args_start = text.len() - after.trim_start_matches(SEP_WS).len();
    let (args, span) = split_args(text, args_start, line)?;
    let Some(args_span) = span else {
        return Err(parse_error(
            line,
            format!("no argument after keyword {keyword:?}"),
        ));
    };
    Ok(Some(Directive {
        line,
        keyword: keyword.to_string(),
        keyword_lower: keyword.to_ascii_lowercase(),
        args,
        scope: Scope::Global,
        args_span,
    }))
}

/// Splits arguments like OpenSSH's `argv_split`: single or double quotes,
/// `\\`, `\"`, `\'` and (unquoted) `\ ` escapes, and a `#` starting a token
/// begins a trailing comment. Returns the arguments and their byte span.
fn split_args(
    text: &str,
    from: usize,
    line: usize,
) -> Result<(Vec<String>, Option<Range<usize>>), ParseError> {
    let mut args = Vec::new();
    let mut span: Option<Range<usize>> = None;
    let mut chars = text
        .char_indices()
        .skip_while(|&(i, _)| i < from)
        .peekable();
    loop {
        while chars.next_if(|&(_, c)| c == ' ' || c == '\t').is_some() {}
        let Some(&(start, c)) = chars.peek() else {
            break;
        };
        if c == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        let mut end = text.len();
        while let Some((i, c)) = chars.next() {
            match (c, quote) {
                ('\\', q) => match chars.peek() {
                    Some(&(_, n))
                        if matches!(n, '\'' | '"' | '\\') || (q.is_none() && n == ' ') =>
                    {
                        arg.push(n);
                        chars.next();
                    }
                    _ => arg.push('\\'),
                },
                (' ' | '\t', None) => {
                    end = i;
                    break;
                }
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err(parse_error(line, "unterminated quote"));
        }
        args.push(arg);
        span = Some(span.map_or(start, |s| s.start)..end);
    }
    Ok((args, span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEBIAN_12: &str = r#"
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/bin:/usr/games

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

#HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_ecdsa_key
#HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# Logging
#SyslogFacility AUTH
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
#PermitRootLogin prohibit-password
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

#PubkeyAuthentication yes

# Expect .ssh/authorized_keys2 to be disregarded by default in future.
#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2

#AuthorizedPrincipalsFile none

#AuthorizedKeysCommand none
#AuthorizedKeysCommandUser nobody

# For this to work you will also need host keys in /etc/ssh/ssh_known_hosts
#HostbasedAuthentication no
# Change to yes if you don't trust ~/.ssh/known_hosts for
# HostbasedAuthentication
#IgnoreUserKnownHosts no
# Don't read the user's ~/.rhosts and ~/.shosts files
#IgnoreRhosts yes

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

# Kerberos options
#KerberosAuthentication no
#KerberosOrLocalPasswd yes
#KerberosTicketCleanup yes
#KerberosGetAFSToken no

# GSSAPI options
#GSSAPIAuthentication no
#GSSAPICleanupCredentials yes
#GSSAPIStrictAcceptorCheck yes
#GSSAPIKeyExchange no

# Set this to 'yes' to enable PAM authentication, account processing,
# and session processing. If this is enabled, PAM authentication will
# be allowed through the KbdInteractiveAuthentication and
# PasswordAuthentication.  Depending on your PAM configuration,
# PAM authentication via KbdInteractiveAuthentication may bypass
# the setting of "PermitRootLogin prohibit-password".
# If you just want the PAM account and session checks to run without
# PAM authentication, then enable this but set PasswordAuthentication
# and KbdInteractiveAuthentication to 'no'.
UsePAM yes

#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
PrintMotd no
#PrintLastLog yes
#TCPKeepAlive yes
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#UseDNS no
#PidFile /run/sshd.pid
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

# no default banner path
#Banner none

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem	sftp	/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"#;

    fn cfg(text: &str) -> SshdConfig {
        SshdConfig::parse(text).unwrap()
    }

    fn v(values: &[&str]) -> Vec<String> {
        values.iter().map(ToString::to_string).collect()
    }

    fn set(text: &str, keyword: &str, values: &[&str]) -> (String, Edit) {
        let mut c = cfg(text);
        let edit = c.set_global(keyword, &v(values)).unwrap();
        (c.render(), edit)
    }

    const MATCHES: &str = "Port 22\n\
        Match User alice,bob Address 10.0.0.0/8 # admins\n\
        \tPasswordAuthentication yes\n\
        \n\
        Match all\n\
        X11Forwarding no\n";

    #[test]
    fn round_trips_debian_default() {
        let c = cfg(DEBIAN_12);
        assert_eq!(c.render(), DEBIAN_12);
        let d = c.global_values("subsystem")[0];
        assert_eq!((d.line, d.keyword.as_str()), (115, "Subsystem"));
        assert_eq!(d.args, v(&["sftp", "/usr/lib/openssh/sftp-server"]));
        assert_eq!(c.global_values("AcceptEnv")[0].args, v(&["LANG", "LC_*"]));
    }

    #[test]
    fn round_trips_match_blocks_and_reports_scope() {
        let c = cfg(MATCHES);
        assert_eq!(c.render(), MATCHES);
        let all: Vec<_> = c.directives().collect();
        assert!(all[0].is_global());
        let admins = Scope::Match {
            line: 2,
            criteria: "User alice,bob Address 10.0.0.0/8".into(),
        };
        assert_eq!(all[1].scope, admins);
        assert_eq!((all[2].line, &all[2].scope), (3, &admins));
        assert_eq!(all[2].keyword_lower, "passwordauthentication");
        let last = Scope::Match {
            line: 5,
            criteria: "all".into(),
        };
        assert_eq!(all[4].scope, last);
        assert!(c.global_values("X11Forwarding").is_empty());
    }

    #[test]
    fn round_trips_include_crlf_without_final_newline() {
        let text = "# head\r\nInclude sshd_config.d/*.conf /etc/extra.conf\r\n\r\nMatch Group sftp\r\n  Include sftp.conf";
        let c = cfg(text);
        assert_eq!(c.render(), text);
        let inc = c.includes();
        assert_eq!(inc.len(), 2);
        assert_eq!((inc[0].line, &inc[0].scope), (2, &Scope::Global));
        assert_eq!(
            inc[0].resolved_patterns(),
            v(&["/etc/ssh/sshd_config.d/*.conf", "/etc/extra.conf"])
        );
        assert_eq!(inc[1].patterns, v(&["sftp.conf"]));
        assert!(matches!(inc[1].scope, Scope::Match { line: 4, .. }));
    }

    #[test]
    fn parses_equals_and_quoted_forms() {
        let text = "Port=22\nport = 2222\nPORT =\t2200\nBanner= \"/etc/my banner\"\n\
            AuthorizedKeysFile '.ssh/a b' \"x\\\"y\" c\\ d # note\nForceCommand \"\"\n";
        let c = cfg(text);
        assert_eq!(c.render(), text);
        let ports: Vec<_> = c
            .global_values("Port")
            .iter()
            .map(|d| d.args[0].clone())
            .collect();
        assert_eq!(ports, v(&["22", "2222", "2200"]));
        assert_eq!(c.global_values("banner")[0].args, v(&["/etc/my banner"]));
        let keys = &c.global_values("authorizedkeysfile")[0].args;
        assert_eq!(*keys, v(&[".ssh/a b", "x\"y", "c d"]));
        assert_eq!(c.global_values("forcecommand")[0].args, v(&[""]));
    }

    #[test]
    fn rejects_what_sshd_rejects() {
        let err = SshdConfig::parse("# ok\nBanner \"/etc/issue\nPort 22\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("unterminated quote"), "{err}");
        assert_eq!(SshdConfig::parse("Port\n").unwrap_err().line, 1);
        assert_eq!(SshdConfig::parse("\n\nPort # none\n").unwrap_err().line, 3);
        assert!(SshdConfig::parse("=22\n").is_err());
    }

    #[test]
    fn edits_in_place_keeping_spelling_indent_and_comment() {
        let text = "# x\n  permitRootLogin=yes # was\nMatch all\n  PermitRootLogin yes\n";
        let (out, edit) = set(text, "PermitRootLogin", &["no"]);
        let want = "# x\n  permitRootLogin=no # was\nMatch all\n  PermitRootLogin yes\n";
        assert_eq!(out, want);
        assert_eq!(edit.changed, vec![2]);
        assert_eq!(edit.to_string(), "changed lines [2]");
    }

    #[test]
    fn inserts_before_first_match_and_leaves_match_untouched() {
        let (out, edit) = set(MATCHES, "passwordauthentication", &["no"]);
        let want = MATCHES.replacen("Match User", "passwordauthentication no\nMatch User", 1);
        assert_eq!(out, want);
        assert_eq!(edit.inserted, vec![2]);
        let c = cfg(&out);
        assert_eq!(
            c.global_values("PasswordAuthentication")[0].args,
            v(&["no"])
        );
        assert_eq!(c.directives().nth(3).unwrap().args, v(&["yes"]));
    }

    #[test]
    fn appends_at_end_keeping_line_endings() {
        let (out, _) = set("Port 22\r\nUsePAM yes", "Banner", &["/etc/issue net"]);
        assert_eq!(out, "Port 22\r\nUsePAM yes\r\nBanner \"/etc/issue net\"");
        assert_eq!(set("", "UsePAM", &["no"]).0, "UsePAM no\n");
    }

    #[test]
    fn comments_out_later_duplicates() {
        let text = "X11Forwarding yes\nx11forwarding no\n\tX11FORWARDING yes  \nMatch all\nX11Forwarding yes\n";
        let (out, edit) = set(text, "X11Forwarding", &["no"]);
        let want = "X11Forwarding no\n# x11forwarding no  # disabled by harden\n\
            \t# X11FORWARDING yes  # disabled by harden\nMatch all\nX11Forwarding yes\n";
        assert_eq!(out, want);
        assert_eq!((edit.changed, edit.commented), (vec![1], vec![2, 3]));
    }

    #[test]
    fn list_keywords_replace_all_global_occurrences() {
        let text = "AllowUsers a\nPort 22\nAllowUsers b c\nPort 2222\nPort 2200\n";
        let (out, _) = set(text, "allowusers", &["ops", "deploy"]);
        assert!(out.starts_with("AllowUsers ops deploy\nPort 22\n# AllowUsers b c  # disabled"));
        // Port takes one value per line: existing lines are reused, extras commented or added.
        let (out, edit) = set(text, "Port", &["22", "4422"]);
        assert!(
            out.ends_with(
                "Port 22\nAllowUsers b c\nPort 4422\n# Port 2200  # disabled by harden\n"
            )
        );
        assert_eq!((edit.changed, edit.commented), (vec![4], vec![5]));
        let (out, edit) = set("Port 22\nMatch all\n", "Port", &["22", "23"]);
        assert_eq!(
            (out.as_str(), edit.inserted),
            ("Port 22\nPort 23\nMatch all\n", vec![2])
        );
        assert!(is_list_keyword("HOSTKEY") && !is_list_keyword("PermitRootLogin"));
    }

    #[test]
    fn subsystem_is_edited_per_name() {
        let text = "Subsystem sftp /usr/lib/sftp-server\nSubsystem other /bin/x\n";
        let (out, _) = set(text, "Subsystem", &["sftp", "internal-sftp"]);
        assert_eq!(
            out,
            "Subsystem sftp internal-sftp\nSubsystem other /bin/x\n"
        );
    }

    #[test]
    fn edits_are_idempotent() {
        for (kw, vals) in [
            ("PasswordAuthentication", &["no"][..]),
            ("Port", &["22", "2"][..]),
        ] {
            let mut c = cfg(MATCHES);
            c.set_global(kw, &v(vals)).unwrap();
            let once = c.render();
            assert!(c.set_global(kw, &v(vals)).unwrap().is_empty());
            assert_eq!(c.render(), once);
        }
    }

    #[test]
    fn set_at_top_goes_before_include() {
        let mut c = cfg(DEBIAN_12);
        let edit = c
            .set_global_at_top("KbdInteractiveAuthentication", &v(&["no"]))
            .unwrap();
        assert_eq!((edit.inserted, edit.commented), (vec![12], vec![63]));
        let out = c.render();
        assert!(out.contains("default value.\n\nKbdInteractiveAuthentication no\nInclude "));
        assert!(out.contains("\n# KbdInteractiveAuthentication no  # disabled by harden\n"));
        assert!(
            c.set_global_at_top("KbdInteractiveAuthentication", &v(&["no"]))
                .unwrap()
                .is_empty()
        );
        assert_eq!(c.global_values("kbdinteractiveauthentication")[0].line, 12);
    }

    #[test]
    fn comment_out_global_skips_match_blocks() {
        let mut c = cfg("Banner /a\n#Banner /b\nBanner /c\nMatch all\nBanner /d\n");
        assert_eq!(c.comment_out_global("banner"), 2);
        assert_eq!(c.comment_out_global("banner"), 0);
        assert_eq!(c.directives().count(), 2);
    }

    #[test]
    fn rejects_bad_edits() {
        let mut c = cfg(MATCHES);
        let bad = c.set_global("Banner", &v(&["a\nPermitRootLogin yes"]));
        assert!(matches!(bad, Err(EditError::InvalidValue { .. })));
        assert!(matches!(
            c.set_global("Port", &[]),
            Err(EditError::NoValues(_))
        ));
        assert!(matches!(
            c.set_global("Match", &v(&["all"])),
            Err(EditError::InvalidKeyword(_))
        ));
        assert!(matches!(
            c.set_global("Po rt", &v(&["1"])),
            Err(EditError::InvalidKeyword(_))
        ));
        assert_eq!(c.render(), MATCHES);
    }

    fn arb_keyword() -> impl Strategy<Value = String> {
        let words = vec![
            "Port",
            "PermitRootLogin",
            "AllowUsers",
            "Include",
            "X11Forwarding",
        ];
        (prop::sample::select(words), any::<u64>()).prop_map(|(k, mask)| {
            k.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> i & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
    }

    fn arb_line() -> impl Strategy<Value = String> {
        let arg = prop_oneof![
            "[a-zA-Z0-9/._,*@-]{1,8}",
            "[a-z #=']{0,8}".prop_map(|s| format!("\"{s}\"")),
            "[a-z]{1,4}".prop_map(|s| format!("'{s} \\' x'")),
        ];
        let seps = prop::sample::select(vec![" ", "\t", "=", " = ", "  ="]);
        let directive = (
            "[ \t]{0,2}",
            arb_keyword(),
            seps,
            prop::collection::vec(arg, 1..4),
            "( #[a-z ]{0,6})?[ \t]{0,2}",
        )
            .prop_map(|(ind, k, sep, args, tail)| format!("{ind}{k}{sep}{}{tail}", args.join(" ")));
        let crit = prop::sample::select(vec![
            "all",
            "User bob",
            "Group adm,wheel Address 10.0.0.0/8",
        ]);
        let matcher = (
            "[ \t]{0,2}",
            prop::sample::select(vec!["Match", "match"]),
            crit,
        )
            .prop_map(|(ind, m, c)| format!("{ind}{m} {c}"));
        prop_oneof!["[ \t]{0,3}", "[ \t]{0,2}#[ -~]{0,20}", directive, matcher]
    }

    fn arb_config() -> impl Strategy<Value = String> {
        let lines = prop::collection::vec((arb_line(), any::<bool>()), 0..20);
        (lines, any::<bool>()).prop_map(|(lines, final_newline)| {
            let mut s: String = lines
                .into_iter()
                .map(|(l, crlf)| l + if crlf { "\r\n" } else { "\n" })
                .collect();
            if !final_newline {
                s.truncate(s.trim_end_matches(['\r', '\n']).len());
            }
            s
        })
    }

    /// The text from the first `Match` line on.
    fn match_tail(c: &SshdConfig) -> String {
        let text = c.render();
        let first = c
            .directives()
            .find(|d| !d.is_global())
            .map_or(usize::MAX, |d| d.line);
        text.split_inclusive('\n')
            .skip(first.saturating_sub(1))
            .collect()
    }

    proptest! {
        #[test]
        fn parse_render_is_identity(text in arb_config()) {
            prop_assert_eq!(cfg(&text).render(), text);
        }

        #[test]
        fn parse_never_panics(text in any::<String>(), noisy in "[ \t=#\"'\\\\aP\r\n]{0,60}") {
            for t in [text, noisy] {
                if let Ok(c) = SshdConfig::parse(&t) {
                    prop_assert_eq!(c.render(), t);
                }
            }
        }

        #[test]
        fn set_global_wins_and_spares_match_blocks(
            text in arb_config(),
            keyword in prop::sample::select(vec!["Port", "permitrootlogin", "AllowUsers", "HostKey", "Ciphers"]),
            values in prop::collection::vec("[a-zA-Z0-9 #=\"'\\\\]{0,6}", 1..4),
            top in any::<bool>(),
        ) {
            let mut c = cfg(&text);
            let apply = |c: &mut SshdConfig| if top { c.set_global_at_top(keyword, &values) } else { c.set_global(keyword, &values) };
            apply(&mut c).unwrap();
            let once = c.render();
            let reparsed = cfg(&once);
            let got: Vec<String> = reparsed.global_values(keyword).iter().flat_map(|d| d.args.clone()).collect();
            prop_assert_eq!(&got, &values);
            prop_assert_eq!(match_tail(&reparsed), match_tail(&cfg(&text)));
            prop_assert!(apply(&mut c).unwrap().is_empty());
            prop_assert_eq!(c.render(), once);
        }
    }
}
