//! Embeds the module catalogue (`modules/*.yaml`) and the playbooks
//! (`playbooks/*.yml`) into the binary, so they are data in the tree and need no
//! files at run time.

use std::fmt::Write;
use std::path::Path;

fn list(dir: &str, ext: &str) -> Vec<String> {
    println!("cargo:rerun-if-changed={dir}");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for (konst, dir, ext) in [
        ("SPECS", "modules", ".yaml"),
        ("PLAYBOOKS", "playbooks", ".yml"),
    ] {
        let mut code = String::new();
        let _ = writeln!(code, "pub const {konst}: &[(&str, &str)] = &[");
        for name in list(dir, ext) {
            let path = Path::new(&manifest).join(dir).join(&name);
            println!("cargo:rerun-if-changed={}", path.display());
            let stem = name.trim_end_matches(ext);
            let _ = writeln!(
                code,
                "    ({stem:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        let _ = writeln!(code, "];");
        std::fs::write(Path::new(&out).join(format!("{dir}.rs")), code)
            .expect("write embedded list");
    }
}
