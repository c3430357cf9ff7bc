//! Config file formats, each parsed and edited losslessly: untouched lines and
//! comments survive byte for byte. Formats work on text only; they never touch the
//! file system or run commands.

pub mod accounts;
pub mod fstab;
pub mod ini;
pub mod keyvalue;
mod lines;
pub mod sshd_config;
pub mod sysctl;
