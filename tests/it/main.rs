//! Integration tests: the real binary against temp roots, real validators and
//! network namespaces. Topic files below; `regression.rs` pins bugs by name.

mod support;

mod apply;
mod cli;
mod crash;
mod plan;
mod playbook_errors;
mod sshd;
mod sysctl_live;
