//! Integration tests: the real binary against temp roots, real validators and
//! network namespaces. Topic files below; `regression.rs` pins bugs by name.

mod support;

mod accounts;
mod fail2ban;
mod files;
