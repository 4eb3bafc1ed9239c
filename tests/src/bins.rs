//! The workspace's programs for tests that run them as processes.

use crate::tools::workspace_root;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The observer binary (`SATLAB_OBSERVER_BIN`, else built once per test process with the
/// test's own profile: `cargo build -p observer`, a no-op when it is up to date).
pub fn observer_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SATLAB_OBSERVER_BIN") {
            return PathBuf::from(p);
        }
        // A test runs from target/<profile>/deps/; the observer lands in target/<profile>/.
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in target/<profile>/deps")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace_root())
            .args(["build", "-p", "observer", "--bin", "observer"]);
        if release {
            build.arg("--release");
        }
        let st = build.status().expect("running cargo build -p observer");
        assert!(st.success(), "cargo build -p observer failed: {st}");
        let bin = profile_dir.join("observer");
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}
