//! Locating the workspace and the external programs a test needs.

use std::path::{Path, PathBuf};

/// Environment variable that turns a missing external program into a test failure (CI).
pub const REQUIRE_ALL_ENV: &str = "SATLAB_REQUIRE_ALL";

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // This package lives in `<root>/tests`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// True when `SATLAB_REQUIRE_ALL=1`: missing programs fail instead of skipping.
pub fn require_all() -> bool {
    std::env::var(REQUIRE_ALL_ENV).is_ok_and(|v| v == "1")
}

/// Find `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of the program `name`, or `None` after printing
/// `skipped: needs NAME (INSTALL_HINT)` — the caller then returns.
///
/// Under `SATLAB_REQUIRE_ALL=1` a missing program panics instead, so CI cannot pass by
/// skipping. `install_hint` is the command that installs it, e.g.
/// `apt-get install prometheus`.
pub fn require_tool(name: &str, install_hint: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None if require_all() => {
            panic!("{name} is required ({REQUIRE_ALL_ENV}=1) but missing: {install_hint}")
        }
        None => {
            println!("skipped: needs {name} ({install_hint})");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn finds_a_program_that_exists_and_not_one_that_does_not() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("satlab-no-such-program-xyz").is_none());
    }
}
