//! Compiles every `scenarios/*.toml` of the workspace into the binary, so
//! `observer lab --scenario NAME` works from any directory.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                println!("cargo:rerun-if-changed={}", p.display());
                if let (Some(stem), Ok(abs)) = (p.file_stem(), p.canonicalize()) {
                    entries.push((
                        stem.to_string_lossy().into_owned(),
                        abs.display().to_string(),
                    ));
                }
            }
        }
    }
    entries.sort();
    let mut src = String::from(
        "/// Scenarios compiled in: (name, TOML text).\npub const BUILTIN: &[(&str, &str)] = &[\n",
    );
    for (name, path) in entries {
        src.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    src.push_str("];\n");
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("scenarios.rs");
    std::fs::write(out, src).expect("write scenarios.rs");
}
