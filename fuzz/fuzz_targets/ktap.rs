//! The KTAP parser and the boot classifier on arbitrary console bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = xtask::ktap::decode(data);
    for t in xtask::ktap::parse_all(&text) {
        let _ = xtask::ktap::cases(&t);
    }
    let _ = xtask::ktap::cases(&xtask::ktap::parse_first(&text));
    let _ = xtask::boot::classify(&text, true, false, false, &[(0, 3)]);
});
