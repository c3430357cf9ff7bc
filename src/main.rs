//! The `harden` binary: one of two front doors, then exit with its code.
//! Started by Ansible as a binary module (one argument, its arguments file) it
//! answers in Ansible's JSON; otherwise it is the command line. Everything else
//! lives in the library so tests and benches use the same code.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = match harden::ansible::args_file(&argv) {
        Some(file) => harden::ansible::main(&file),
        None => harden::cli::main(argv),
    };
    std::process::exit(code);
}
