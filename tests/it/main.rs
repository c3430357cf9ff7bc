//! Integration tests: the real binary against temp roots, real validators and
//! network namespaces, one topic file per promise or module; `regression.rs` pins
//! bugs by name.

mod support;

mod accounts;
mod ansible;
mod apparmor;
mod apply;
mod apt_package;
mod audit;
mod backups;
mod baseline;
mod cli;
mod compose;
mod confirm;
mod crash;
mod debian_root;
mod deploy;
mod deploy_akkoma;
mod deploy_postiz;
mod dnf_package;
mod docker_daemon;
mod env_file;
mod fail2ban;
mod files;
mod firewall;
mod ini;
mod input_errors;
mod isolation;
mod kernel_module;
mod keyvalue;
mod managed_block;
mod mount_options;
mod nginx;
mod package;
mod plan;
mod planfile;
mod playbook_errors;
mod playbooks;
mod probe;
mod regression;
mod reports;
mod rollback;
mod rsyslog;
mod security_root;
mod security_state;
mod server_profile;
mod service;
mod sshd;
mod sysctl_live;
mod systemd_unit;
mod timer;
mod unattended_upgrades;
