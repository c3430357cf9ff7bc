//! `harden` converges a host (or an offline root file system) to a hardened desired
//! state: a playbook is planned against the host, printed as a dry run, and applied
//! as one transaction with snapshots, validation, reloads and rollback.
//!
//! The rooms: [`plan`] is the shared vocabulary of changes and operations on the
//! ground floor, [`playbook`] reads what the user wants, [`modules`] turn it into typed
//! changes, [`formats`] edit config text losslessly, [`host`] is the only way to touch
//! the machine, and [`engine`] plans, applies, snapshots and rolls back.
//! [`session`] is the application layer on top: a target and a request become a
//! host, a state directory and a plan. [`cli`] and [`ansible`] are the two front
//! doors onto it (the command line and Ansible's binary-module protocol); neither
//! calls the other.

pub mod ansible;
pub mod cli;
pub mod engine;
pub mod error;
pub mod formats;
pub mod host;
pub mod modules;
pub mod plan;
pub mod planfile;
pub mod playbook;
pub mod report;
pub mod session;
pub mod timer;
