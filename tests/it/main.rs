//! Integration tests: the real binary against temp roots, real validators and
//! network namespaces. Topic files below; `regression.rs` pins bugs by name.

mod support;

mod accounts;
mod ansible;
mod apply;
mod cli;
mod confirm;
mod crash;
mod fail2ban;
mod files;
mod firewall;
mod plan;
mod planfile;
mod playbook_errors;
mod reports;
mod sshd;
mod sysctl_live;
mod timer;
