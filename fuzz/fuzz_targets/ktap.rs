//! The KTAP parser and the boot classifier on arbitrary console bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = xtask::stages::ktap::decode(data);
    for t in xtask::stages::ktap::parse_all(&text) {
        let _ = xtask::stages::ktap::cases(&t);
    }
    let _ = xtask::stages::ktap::cases(&xtask::stages::ktap::parse_first(&text));
    let _ = xtask::stages::boot::console::classify(&text, true, false, false, &[(0, 3)]);
});
