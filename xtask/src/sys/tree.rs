//! Files of a tree a stranger's patch shaped, read safely: a regular file only, never
//! through a link, and bounded.

use std::path::Path;

/// The most of one Kconfig file of the tree that is read: the kernel's largest is ~100 KiB.
const TREE_TEXT_MAX: u64 = 4 << 20;

/// A file of the patched tree (a Kconfig, a `.config`, a log) as text: only a regular file (a patch may turn it into a
/// link to `/dev/zero` or out of the tree), at most `TREE_TEXT_MAX` bytes; else empty.
pub fn read_tree_text(path: &Path) -> String {
    use std::io::Read;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = std::fs::File::open(path).and_then(|f| f.take(TREE_TEXT_MAX).read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}
