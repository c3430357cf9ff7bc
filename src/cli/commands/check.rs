//! `harden check`: a quiet plan for monitoring, probes evaluated. Exit 0 when
//! compliant, 2 on drift (a change, an audit-only finding, a failed probe or a
//! failed rule). Writes a run report, nothing else.

use super::request;
use crate::cli::args::{Format, PlanArgs};
use crate::cli::output;
use crate::cli::record::Recorder;
use crate::engine::render::esc;
use crate::error::{Error, exit};
use crate::session::{Request, Session, Target};

pub fn run(target: &Target, args: &PlanArgs, rec: &mut Recorder) -> Result<i32, Error> {
    let request = Request {
        probes: true,
        ..request(args)?
    };
    let (_, planned) = Session::plan(target, &request)?;
    let plan = &planned.plan;
    let compliant = plan.changes.is_empty()
        && plan.audit.is_empty()
        && plan.errors.is_empty()
        && plan.failed_probes().next().is_none();
    rec.result = if !plan.errors.is_empty() {
        "failed"
    } else if compliant {
        "compliant"
    } else {
        "drift"
    };
    let plan = &*rec.plan.insert(planned.plan);
    if args.format == Format::Json {
        output::plan(plan, args.format)?;
    } else {
        for (c, mark) in plan
            .changes
            .iter()
            .map(|c| (c, ""))
            .chain(plan.audit.iter().map(|c| (c, " (audit only)")))
        {
            println!(
                "drift{mark} [{}] {} {}: {}",
                c.severity.as_str(),
                esc(&c.rule_id),
                esc(&c.target),
                esc(&c.summary)
            );
        }
        for p in plan.failed_probes() {
            println!(
                "probe failed [{}] {}: {}",
                p.severity.as_str(),
                esc(&p.rule_id),
                esc(&p.message)
            );
        }
        for e in &plan.errors {
            println!("failed {}: {}", esc(&e.rule_id), esc(&e.message));
        }
        for k in &plan.skipped {
            println!("skipped {}: {}", esc(&k.rule_id), esc(&k.reason));
        }
    }
    output::rule_errors(plan);
    Ok(if compliant { exit::OK } else { exit::CHANGED })
}
