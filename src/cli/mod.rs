//! The command line, one front door onto the [`crate::session`]: flags defined
//! once in [`args`] (clap), one file per command in [`commands`], everything
//! printed through [`output`], and exit codes from [`crate::error::exit`]. The
//! plan goes to stdout, logs to stderr.

pub mod args;
pub mod commands;
pub mod output;
pub mod record;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::field::MakeExt;

pub use args::Cli;

use crate::engine::render;
use crate::error::exit;

/// Runs the command line `argv` (the program name first) and returns the exit
/// code.
#[must_use]
pub fn main(argv: Vec<OsString>) -> i32 {
    // Usage errors exit 1 like every error before a change (clap's own default,
    // 2, means "changes" here); --help and --version exit 0.
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
        }
    };
    init_logging(&cli);
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            e.code()
        }
    }
}

fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Log fields may carry names from an image: control characters are escaped
    // like everything else harden prints (a newline cannot forge a log line).
    let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = render::esc(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{}={text}", field.name())
        }
    })
    .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .fmt_fields(fields)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .try_init();
}
