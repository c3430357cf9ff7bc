//! `harden completions SHELL` and `harden man`: generated from the one
//! definition of the flags ([`crate::cli::args`]).

use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::error::{Error, exit};

pub fn script(shell: clap_complete::Shell) -> i32 {
    clap_complete::generate(shell, &mut Cli::command(), "harden", &mut std::io::stdout());
    exit::OK
}

pub fn man() -> Result<i32, Error> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|source| Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })?;
    Ok(exit::OK)
}
