//! The registry import on arbitrary markdown.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let imp = xtask::model::registry::import(text, &Default::default());
        // Ids must stay unique and valid whatever the table says.
        let mut seen = std::collections::HashSet::new();
        for e in &imp.entries {
            assert!(seen.insert(e.id.clone()), "duplicate id {}", e.id);
            assert!(xtask::model::matrix::check_id(&e.id).is_ok(), "bad id {:?}", e.id);
        }
    }
});
