//! The expectations.toml loader on arbitrary text: errors or expectations, never a panic; what
//! loads is applied to an empty cell and its notes made.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtask::model::expect::{parse, Date, Known};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let known = Known {
            entries: vec!["e".into()],
            bases: vec!["b".into()],
            configs: vec!["release".into()],
            toolchains: vec!["debian".into()],
        };
        let today = Date::parse("2026-12-06").unwrap();
        if let Ok(x) = parse(std::path::Path::new("fuzz.toml"), text, &known, today) {
            let _ = x.notes(&[], true);
        }
    }
});
