//! Helpers shared by the test files.

use std::path::PathBuf;

/// A temporary folder with a random name (`tempfile`), removed when dropped. `.0` is its
/// path.
pub struct TempDir(pub PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = tempfile::Builder::new()
            .prefix(&format!("rfl-test-{tag}-"))
            .tempdir()
            .unwrap();
        TempDir(d.path().to_path_buf(), d)
    }
}
