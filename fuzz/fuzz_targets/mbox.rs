//! The mbox splitter and series picker on arbitrary bytes (also through gunzip).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = xtask::sources::lore::pick_series(&xtask::sources::lore::split_mbox(&text)) {
        let _ = xtask::sources::lore::to_mbox(&s);
    }
    let _ = xtask::sources::lore::gunzip(data);
});
