//! `harden schema`: the JSON Schema of playbooks (committed as
//! `docs/playbook.schema.json`, drift-tested).

use crate::cli::output;
use crate::error::exit;

pub fn run() -> i32 {
    output::json(&crate::playbook::schema::generate());
    exit::OK
}
