//! `harden modules`: the module catalogue, or with `--markdown` the playbook
//! reference generated from the module specs.

use crate::error::{Error, exit};

pub fn run(markdown: bool) -> Result<i32, Error> {
    if markdown {
        print!("{}", crate::modules::reference()?);
        return Ok(exit::OK);
    }
    let cat = crate::modules::catalogue()?;
    let width = cat.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in cat {
        println!("{:<width$} {}", s.name, s.description);
    }
    Ok(exit::OK)
}
