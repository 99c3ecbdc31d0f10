//! The mbox splitter and series picker on arbitrary bytes (also through gunzip).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let msgs = xtask::sources::lore::split_mbox(&text);
    // Each message's id named in turn (at most a few): the series is its sender's.
    for m in msgs.iter().take(4) {
        if let Ok(s) = xtask::sources::lore::pick_series(&msgs, &m.message_id) {
            let _ = xtask::sources::lore::to_mbox(&s);
        }
    }
    let _ = xtask::sources::lore::gunzip(data);
});
