//! Per-rule isolation at apply time. `plan` runs nothing from the root, so a
//! candidate its validator would reject is only found by `apply`. Before the
//! transaction starts, every rule's candidates are checked (the same staged,
//! confined checks the transaction runs, [`super::validate`]); a rule with a
//! rejected or uncheckable candidate becomes an error entry of the plan and the
//! rest is planned again without it, so rules that planned on top of its writes
//! (several `user:` tasks editing `/etc/passwd`) plan against what will really be
//! there. The transaction then validates what is left once more, under the lock.
//! Likewise a package rule naming a package the root's package manager cannot
//! find at apply (dnf resolves names from the root's repositories only then)
//! fails alone, before anything is installed, and a rule the anti-lockout guard
//! refuses fails alone (unless the operator accepts the risk): the rest is
//! judged again without it, so what is applied is what the guard passed.
//!
//! This room decides which rules go; it writes nothing and never touches the
//! transaction itself.

use std::collections::BTreeMap;

use super::{Filter, plan, validate};
use crate::host::{Host, packages};
use crate::modules::ModuleError;
use crate::plan::{Op, Plan};
use crate::playbook::Playbook;

/// The rules of `plan` whose candidates a validator rejects (or that cannot be
/// checked), each with the reason; secret candidates are scrubbed from it.
#[must_use]
pub fn rejected(host: &Host, plan: &Plan) -> BTreeMap<String, String> {
    let secret = plan.secret_paths();
    let mut out = BTreeMap::new();
    for change in &plan.changes {
        if out.contains_key(&change.rule_id) {
            continue;
        }
        for op in &change.ops {
            let Op::WriteFile(w) = op else { continue };
            if w.validators.is_empty() {
                continue;
            }
            if let Err(why) =
                validate::run_scrubbed(host, plan, w, secret.contains(w.path.as_path()))
            {
                out.insert(
                    change.rule_id.clone(),
                    format!("{}: {why}", w.path.display()),
                );
                break;
            }
        }
    }
    out
}

/// The rules of `plan` that install a package the root's package manager
/// cannot find ([`packages::unknown_at_apply`]), each with the reason. Asked
/// once for every name; not when the plan writes the package manager's
/// configuration (a rule may add the repository a package comes from), nor
/// when the manager could not tell: the install then decides.
#[must_use]
pub fn unknown_packages(host: &Host, plan: &Plan) -> BTreeMap<String, String> {
    let mut names: Vec<String> = Vec::new();
    let mut by_rule: Vec<(&str, &str)> = Vec::new();
    for change in &plan.changes {
        for op in &change.ops {
            match op {
                Op::Package(p) if p.install => {
                    names.push(p.name.clone());
                    by_rule.push((&change.rule_id, &p.name));
                }
                Op::WriteFile(w) if packages::configures_manager(&w.path) => {
                    return BTreeMap::new();
                }
                _ => {}
            }
        }
    }
    let Ok(Some(unknown)) = packages::unknown_at_apply(host, &names) else {
        return BTreeMap::new();
    };
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (rule, name) in by_rule {
        if unknown.iter().any(|u| u == name) {
            out.entry(rule.to_string()).or_default().push(name);
        }
    }
    out.into_iter()
        .map(|(rule, names)| {
            let why = format!(
                "the root's {} repositories know no package {}; nothing is installed",
                packages::manager(host).front_end(),
                names.join(", ")
            );
            (rule, why)
        })
        .collect()
}

/// Checks every rule's candidates (and the anti-lockout guards' verdict, see
/// [`without_refused`]) and plans again without the rejected ones, until every
/// candidate left passes. Returns the plan to apply (the rejected
/// rules are among its errors) and the filter that plans it again, for the
/// transaction's verification.
///
/// # Errors
/// A broken module catalogue (as [`plan`]).
pub fn without_rejected(
    host: &Host,
    playbook: &Playbook,
    filter: &Filter,
    mut current: Plan,
    accept_lockout: bool,
) -> Result<(Plan, Filter), ModuleError> {
    let mut filter = filter.clone();
    (current, filter) = without_refused(host, playbook, filter, current, accept_lockout)?;
    if !skip_injected() {
        let unknown = unknown_packages(host, &current);
        if !unknown.is_empty() {
            filter.exclude.extend(unknown);
            current = plan(host, playbook, &filter)?;
        }
    }
    // Each round removes at least one rule, so this ends. The guard judges
    // every plan a round makes: leaving a rule out can change its verdict.
    loop {
        (current, filter) = without_refused(host, playbook, filter, current, accept_lockout)?;
        let bad = if skip_injected() {
            BTreeMap::new()
        } else {
            rejected(host, &current)
        };
        if bad.is_empty() {
            break;
        }
        filter.exclude.extend(bad);
        current = plan(host, playbook, &filter)?;
    }
    let filter = excluding_failed(&filter, &current);
    Ok((current, filter))
}

/// The rules of `plan` the anti-lockout guards refuse (none when the operator
/// accepts the risk), each with every reason given for it.
#[must_use]
pub fn refused(plan: &Plan, accept_lockout: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    if accept_lockout {
        return out;
    }
    for n in plan.refusals() {
        let why = out
            .entry(n.rule_id.clone())
            .or_insert_with(|| "anti-lockout: ".to_string());
        if why.len() > "anti-lockout: ".len() {
            why.push_str("; ");
        }
        why.push_str(
            n.message
                .strip_prefix("anti-lockout: ")
                .unwrap_or(&n.message),
        );
    }
    for why in out
        .values_mut()
        .filter(|w| !w.contains("--i-accept-lockout-risk"))
    {
        why.push_str(
            " (not applied: fix the playbook or the host, or accept the risk: \
             --i-accept-lockout-risk, i_accept_lockout_risk in Ansible)",
        );
    }
    out
}

/// `plan` planned again without the rules the anti-lockout guards refuse,
/// until the guards refuse none of what is left (each round removes at least
/// one rule, so this ends); with the filter that plans it.
///
/// # Errors
/// A broken module catalogue (as [`plan`]).
pub fn without_refused(
    host: &Host,
    playbook: &Playbook,
    mut filter: Filter,
    mut current: Plan,
    accept_lockout: bool,
) -> Result<(Plan, Filter), ModuleError> {
    loop {
        let bad = refused(&current, accept_lockout);
        if bad.is_empty() {
            return Ok((current, filter));
        }
        filter.exclude.extend(bad);
        current = plan(host, playbook, &filter)?;
    }
}

/// `filter`, also leaving out every rule that failed in `plan`: the filter that
/// verifies an apply of `plan`. (A rule refused for "one path, one rule" would
/// otherwise plan again once the rule it collided with is converged.)
#[must_use]
pub fn excluding_failed(filter: &Filter, plan: &Plan) -> Filter {
    let mut f = filter.clone();
    for e in &plan.errors {
        f.exclude
            .entry(e.rule_id.clone())
            .or_insert_with(|| e.message.clone());
    }
    f
}

/// Fault injection for the tests, in debug builds only (as
/// [`crate::host::crash::crash_point`]): `HARDEN_FAULT=skip-precheck` leaves every
/// candidate to the transaction's own check, as when a file a validator reads
/// changed between this check and the lock.
fn skip_injected() -> bool {
    cfg!(debug_assertions) && std::env::var("HARDEN_FAULT").is_ok_and(|v| v == "skip-precheck")
}
