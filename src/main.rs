//! The `harden` binary: parse the command line, run, exit with the documented code.
//! Everything else lives in the library so tests and benches use the same code.

fn main() {
    std::process::exit(harden::cli::main());
}
