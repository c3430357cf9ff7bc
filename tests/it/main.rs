//! Integration tests: the real binary against temp roots, real validators and
//! network namespaces. Topic files below; `regression.rs` pins bugs by name.

mod support;

mod accounts;
mod ansible;
mod apply;
mod cli;
mod confirm;
mod crash;
mod docker_daemon;
mod env_file;
mod fail2ban;
mod files;
mod firewall;
mod managed_block;
mod nginx;
mod plan;
mod playbook_errors;
mod playbooks;
mod sshd;
mod sysctl_live;
mod systemd_unit;
mod unattended_upgrades;
