//! Print the file-level import cycles of the crates under the given directories (default:
//! every crate of the workspace); exit 1 when there is one. `tests/house.rs` asserts the
//! same; this is the quick form while refactoring:
//! `cargo run -p satlab-tests --bin import-cycles -- loadgen observer` (add `--edges` to
//! list every file-to-file import).

use satlab_tests::{modgraph, workspace_root};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = workspace_root();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_edges = args.iter().any(|a| a == "--edges");
    let mut dirs: Vec<PathBuf> = args
        .iter()
        .filter(|a| *a != "--edges")
        .map(|a| root.join(a))
        .collect();
    if dirs.is_empty() {
        dirs = std::fs::read_dir(&root)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        dirs.sort();
    }
    let mut any = false;
    for dir in dirs
        .iter()
        .filter(|d| d.join("src").is_dir() && d.join("Cargo.toml").is_file())
    {
        let g = match modgraph::read_crate(&dir.join("src")) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        if show_edges {
            for (from, to) in &g.edges {
                for t in to {
                    println!("{name}: {} -> {}", from.display(), t.display());
                }
            }
        }
        for cycle in g.cycles() {
            any = true;
            let files: Vec<String> = cycle.iter().map(|p| p.display().to_string()).collect();
            println!("{name}: {}", files.join(" <-> "));
        }
    }
    if any {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
