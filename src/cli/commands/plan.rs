//! `harden plan`: show what would change. Writes nothing on the host; `-o FILE`
//! writes only that file.

use std::path::Path;

use super::request;
use crate::cli::args::PlanArgs;
use crate::cli::output;
use crate::error::{Error, exit};
use crate::session::{Session, Target};

pub fn run(
    target: &Target,
    args: &PlanArgs,
    out: Option<&Path>,
    detailed_exitcode: bool,
) -> Result<i32, Error> {
    let request = request(args)?;
    let (session, planned) = Session::plan(target, &request)?;
    let plan = &planned.plan;
    output::plan(plan, args.format)?;
    if let Some(out) = out {
        crate::planfile::save(out, request.identity()?, plan)?;
        output::say(&format!(
            "plan saved to {} (0600: it holds the content to write); apply it with `harden apply {}`",
            out.display(),
            out.display()
        ));
    }
    if let Some(j) = session.interrupted() {
        tracing::warn!(
            "transaction {} was interrupted (started {}); run `harden rollback` to restore its snapshot",
            j.txn,
            j.started
        );
        output::say(&format!(
            "warning: transaction {} was interrupted; run `harden rollback` to restore its snapshot",
            j.txn
        ));
    }
    output::rule_errors(plan);
    Ok(if !plan.errors.is_empty() {
        exit::ERROR
    } else if detailed_exitcode && !plan.changes.is_empty() {
        exit::CHANGED
    } else {
        exit::OK
    })
}
