//! The registry importer's link parsing (`classify_link`) on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtask::model::registry::link::{classify_link, Link};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let link = classify_link(text);
    let url = text.trim().trim_end_matches('/');
    let authority = url.split_once("://").map_or("", |(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""));
    match &link {
        Link::Git(source) => {
            // A forge link never carries a user (the host a reader sees is the host fetched),
            // and what is kept is an http(s) URL that git may be handed.
            assert!(!authority.contains('@'), "{text:?} → {link:?}");
            let v = source.value();
            assert!(v.starts_with("http://") || v.starts_with("https://"), "{text:?} → {v}");
            assert!(xtask::model::matrix::check_git_url(v).is_ok(), "{text:?} → {v}");
        }
        Link::Lore(_) => assert!(!authority.contains('@'), "{text:?} → {link:?}"),
        Link::Unknown { reason, .. } => assert!(!reason.is_empty(), "{text:?}"),
        Link::Unpublished => {}
    }
});
