//! House rules checked on the sources: no file-level import cycle in any crate (a file
//! never imports, directly or round a loop, a file that imports it).

use satlab_tests::{modgraph, workspace_root};

#[test]
fn no_file_level_import_cycles() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut crates = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let src = dir.join("src");
        if !dir.join("Cargo.toml").is_file() || !src.is_dir() {
            continue;
        }
        crates += 1;
        let g = modgraph::read_crate(&src).unwrap();
        for cycle in g.cycles() {
            let names: Vec<String> = cycle.iter().map(|p| p.display().to_string()).collect();
            found.push(format!(
                "{}: {}",
                dir.file_name().unwrap().to_string_lossy(),
                names.join(" <-> ")
            ));
        }
    }
    assert!(
        crates >= 5,
        "found only {crates} crates under {}",
        root.display()
    );
    assert!(
        found.is_empty(),
        "file-level import cycles:\n  {}",
        found.join("\n  ")
    );
}
