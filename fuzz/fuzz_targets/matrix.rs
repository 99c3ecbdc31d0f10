//! The matrix.toml loader on arbitrary text: an error or a matrix, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = xtask::model::matrix::parse(std::path::Path::new("fuzz.toml"), text) {
            let _ = xtask::model::plan::plan(&m, &Default::default()).to_github(256);
        }
    }
});
