//! `managed_block`: a marked block of lines in any text file, between
//! `PREFIX BEGIN harden RULEID` and `PREFIX END harden RULEID` (the comment prefix
//! is configurable: `#` by default, `//`, `;`, `--` ...). Everything outside the
//! markers is kept byte for byte; the block is replaced in place when present,
//! else added at the end (or start). An optional validator (`%s` = the candidate,
//! staged next to the file) runs before install, e.g. Elixir's `Config.Reader` for
//! Akkoma's `prod.secret.exs`. Markers that do not pair up are an error: harden
//! never guesses which lines are its own.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Ctx, ModuleError, Out, diff, write_op};
use crate::plan::Verb;
use crate::plan::{Handler, Validator};

/// Whether the block is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// Where a new block goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    #[default]
    End,
    Start,
}

/// Parameters of `managed_block:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file (it must exist unless `create: true`).
    pub path: PathBuf,
    /// The lines between the markers.
    #[serde(default)]
    pub block: String,
    /// `present` (default) or `absent` (remove the block and its markers).
    #[serde(default)]
    pub state: State,
    /// The comment prefix of the marker lines (default `#`).
    #[serde(default)]
    pub comment: Option<String>,
    /// Where a new block goes: `end` (default) or `start`.
    #[serde(default)]
    pub position: Position,
    /// Create the file (`0644 root:root`) when missing.
    #[serde(default)]
    pub create: bool,
    /// Validator argument vector; `%s` is the candidate file.
    #[serde(default)]
    pub validator: Option<Vec<String>>,
    /// `ACTION UNIT` run after a change (`restart akkoma`, `reload nginx`).
    #[serde(default)]
    pub handler: Option<String>,
    /// The file holds secrets: diffs are redacted.
    #[serde(default)]
    pub secret: bool,
}

/// The marker lines of a rule.
fn markers(prefix: &str, id: &str) -> (String, String) {
    (
        format!("{prefix} BEGIN harden {id}"),
        format!("{prefix} END harden {id}"),
    )
}

/// `text` with the block set (`Some`) or removed (`None`). Errors when the
/// markers do not pair up.
fn edit(
    text: &str,
    begin: &str,
    end: &str,
    block: Option<&str>,
    position: Position,
) -> Result<String, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is = |l: &str, m: &str| l.trim_end_matches(['\n', '\r']).trim_end() == m;
    let begins: Vec<usize> = (0..lines.len()).filter(|&i| is(lines[i], begin)).collect();
    let ends: Vec<usize> = (0..lines.len()).filter(|&i| is(lines[i], end)).collect();
    let rendered = block.map(|b| {
        let mut s = format!("{begin}\n");
        for l in b.lines() {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(end);
        s.push('\n');
        s
    });
    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => {
            let Some(new) = rendered else {
                return Ok(text.to_string());
            };
            Ok(match position {
                Position::Start => format!("{new}{text}"),
                Position::End if text.is_empty() || text.ends_with('\n') => format!("{text}{new}"),
                Position::End => format!("{text}\n{new}"),
            })
        }
        ([b], [e]) if b < e => {
            let mut out: String = lines[..*b].concat();
            out.push_str(rendered.as_deref().unwrap_or_default());
            let rest = lines[e + 1..].concat();
            // A block that ended the file without a newline keeps none after it.
            out.push_str(&rest);
            Ok(out)
        }
        _ => Err(format!(
            "the markers `{begin}` ({} found) and `{end}` ({} found) do not pair up; fix the file by hand",
            begins.len(),
            ends.len()
        )),
    }
}

/// `ACTION UNIT` → a handler.
pub(crate) fn parse_handler(s: &str) -> Result<Handler, String> {
    let mut it = s.split_whitespace();
    let (Some(verb), Some(unit), None) = (it.next(), it.next(), it.next()) else {
        return Err(format!("handler `{s}`: expected `ACTION UNIT`"));
    };
    let verb = match verb {
        "reload" => Verb::Reload,
        "restart" => Verb::Restart,
        "reload-or-restart" => Verb::ReloadOrRestart,
        _ => {
            return Err(format!(
                "handler `{s}`: action must be reload, restart or reload-or-restart"
            ));
        }
    };
    Ok(Handler::systemctl(verb, unit))
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(Some(&p.path), "path")?;
    let default_prefix = ctx.spec.defaults.get("comment").map_or("#", String::as_str);
    let prefix = p.comment.as_deref().unwrap_or(default_prefix);
    if prefix.trim().is_empty() || prefix.contains(['\n', '\r']) {
        return Err(ctx.invalid("`comment` must be a non-empty one-line prefix"));
    }
    let (begin, end) = markers(prefix, &ctx.task.id);
    if p.block
        .lines()
        .any(|l| l.trim_end() == begin || l.trim_end() == end)
    {
        return Err(ctx.invalid("the block contains its own marker lines"));
    }
    if p.state == State::Present && p.block.trim().is_empty() {
        return Err(ctx.invalid("`block` is empty (use `state: absent` to remove a block)"));
    }
    let handler = p
        .handler
        .as_deref()
        .map(parse_handler)
        .transpose()
        .map_err(|m| ctx.invalid(m))?;
    let validators = match &p.validator {
        Some(argv) => {
            crate::plan::check_argv(argv).map_err(|m| ctx.invalid(format!("`validator` {m}")))?;
            Validator::argv(argv).into_iter().collect()
        }
        None => Vec::new(),
    };
    let meta = ctx.regular_or_absent(&path)?;
    let before = ctx.read_planned(&path)?;
    let Some(text) = before
        .as_deref()
        .map(str::from_utf8)
        .transpose()
        .map_err(|_| ctx.invalid(format!("{} is not UTF-8 text", path.display())))?
        .map(str::to_string)
        .or_else(|| (p.create && p.state == State::Present).then(String::new))
    else {
        if p.state == State::Absent {
            return Ok(());
        }
        return Err(ctx.invalid(format!(
            "{} does not exist (set `create: true` to create it)",
            path.display()
        )));
    };
    let wanted = (p.state == State::Present).then_some(p.block.as_str());
    let after = edit(&text, &begin, &end, wanted, p.position).map_err(|m| ctx.invalid(m))?;
    if before.as_deref() == Some(after.as_bytes()) {
        return Ok(());
    }
    let (mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
    let summary = match (p.state, before.is_some()) {
        (State::Absent, _) => "remove managed block",
        (State::Present, false) => "create file with managed block",
        (State::Present, true) if text.contains(&begin) => "update managed block",
        (State::Present, true) => "add managed block",
    };
    let mut c = ctx.change(path.display().to_string(), summary);
    c.diff = Some(diff(
        before.as_deref().unwrap_or_default(),
        after.as_bytes(),
        p.secret,
    ));
    c.ops.push(write_op(
        path,
        after.into_bytes(),
        (mode, uid, gid),
        before.as_deref(),
        validators,
    ));
    c.handlers.extend(handler);
    out.changes.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "# BEGIN harden r1";
    const E: &str = "# END harden r1";

    #[test]
    fn adds_replaces_and_removes_keeping_the_rest_byte_for_byte() {
        let text = "a = 1\n  b = 2  \n";
        let added = edit(text, B, E, Some("x\ny"), Position::End).unwrap();
        assert_eq!(
            added,
            "a = 1\n  b = 2  \n# BEGIN harden r1\nx\ny\n# END harden r1\n"
        );
        assert_eq!(
            edit(&added, B, E, Some("x\ny"), Position::End).unwrap(),
            added
        );
        let mid = format!("{added}tail\r\n");
        let changed = edit(&mid, B, E, Some("z"), Position::End).unwrap();
        assert_eq!(
            changed,
            "a = 1\n  b = 2  \n# BEGIN harden r1\nz\n# END harden r1\ntail\r\n"
        );
        assert_eq!(
            edit(&changed, B, E, None, Position::End).unwrap(),
            "a = 1\n  b = 2  \ntail\r\n"
        );
        assert_eq!(
            edit("no newline", B, E, Some("x"), Position::End).unwrap(),
            "no newline\n# BEGIN harden r1\nx\n# END harden r1\n"
        );
        assert_eq!(
            edit("first\n", B, E, Some("x"), Position::Start).unwrap(),
            "# BEGIN harden r1\nx\n# END harden r1\nfirst\n"
        );
        assert_eq!(edit("keep\n", B, E, None, Position::End).unwrap(), "keep\n");
    }

    #[test]
    fn unpaired_markers_are_errors() {
        for bad in [
            "# BEGIN harden r1\nx\n",
            "x\n# END harden r1\n",
            "# END harden r1\n# BEGIN harden r1\n",
            "# BEGIN harden r1\n# END harden r1\n# BEGIN harden r1\n# END harden r1\n",
        ] {
            assert!(
                edit(bad, B, E, Some("y"), Position::End).is_err(),
                "{bad:?}"
            );
        }
        // Another rule's block is not ours.
        let other = "# BEGIN harden r10\nx\n# END harden r10\n";
        assert_eq!(edit(other, B, E, None, Position::End).unwrap(), other);
    }

    #[test]
    fn handlers() {
        assert_eq!(
            parse_handler("restart akkoma").unwrap(),
            Handler::systemctl(Verb::Restart, "akkoma")
        );
        assert!(parse_handler("stop akkoma").is_err());
        assert!(parse_handler("restart").is_err());
    }
}
