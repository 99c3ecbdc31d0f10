//! Call-trace frames of a kernel report: Rust symbols demangled, and the *guilty* frame, the
//! first that is not one of the kernel's generic helpers (allocation, locking, printing,
//! KASAN and lockdep reporting, the splat machinery itself, Rust's panic and library code).
//! A report is known by that frame, the way syzbot titles crashes: two bugs that trip the
//! same check (`might_sleep` in the allocator, a WARN in `refcount_warn_saturate`) are told
//! apart by who called it. Pure.

use std::borrow::Cow;

/// One frame: `symbol+0xoff/0xlen [module]`, as the kernel prints it (`%pS`, `%pB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function, its Rust name demangled.
    pub function: String,
    pub module: Option<String>,
    /// x86's `? ` frames: a return address found on the stack, not known to be a caller.
    pub unreliable: bool,
}

impl Frame {
    /// One of the helpers every report of its kind passes through, never the culprit.
    pub fn is_generic(&self) -> bool {
        let f = self.function.as_str();
        if f.contains("::") {
            let owner = rust_owner(f);
            return GENERIC_RUST.iter().any(|p| owner.starts_with(p));
        }
        let bare = f.trim_start_matches('_');
        GENERIC_C.iter().any(|p| bare.starts_with(p))
    }
}

/// Rust paths whose functions are plumbing: the language's own libraries (and its panic
/// entry, `__rustc::rust_begin_unwind`), and the kernel crate's allocation, locking,
/// formatting and printing.
const GENERIC_RUST: [&str; 9] = [
    "core::",
    "alloc::",
    "std::",
    "compiler_builtins::",
    "__rustc::",
    "kernel::alloc::",
    "kernel::sync::",
    "kernel::fmt::",
    "kernel::print::",
];

/// C functions (compared without their leading underscores) a report passes through on its
/// way to the culprit, by prefix.
const GENERIC_C: &[&str] = &[
    // Printing a splat: the stack dump, WARN and BUG, traps and faults, panics.
    "dump_stack",
    "show_stack",
    "show_regs",
    "dump_backtrace",
    "warn",
    "report_bug",
    "handle_bug",
    "exc_",
    "asm_exc_",
    "do_trap",
    "do_error_trap",
    "do_int3",
    "die",
    "oops_",
    "panic",
    "nmi_panic",
    "check_panic_on_warn",
    "bug_handler",
    "bug_brk_handler",
    "call_break_hook",
    "brk_handler",
    "do_brk",
    "do_bp",
    "do_ri",
    "el1",
    "do_mem_abort",
    "do_page_fault",
    "do_kernel_fault",
    "do_translation_fault",
    "do_bad_area",
    "page_fault_oops",
    "kernelmode_fixup_or_oops",
    "do_user_addr_fault",
    "handle_page_fault",
    "handle_exception",
    "no_context",
    "might_resched",
    "might_sleep",
    "might_fault",
    "might_alloc",
    "cant_sleep",
    "cant_migrate",
    "rcu_sleep_check",
    "print_",
    "debug_show_held_locks",
    // Rust's panic path and the C helpers Rust code calls through.
    "rust_begin_unwind",
    "rust_panic",
    "rust_helper_",
    "rust_build_error",
    // Allocation.
    "kmalloc",
    "do_kmalloc",
    "kmem_cache_",
    "krealloc",
    "kfree",
    "kzalloc",
    "kcalloc",
    "kvmalloc",
    "kvrealloc",
    "kvfree",
    "vmalloc",
    "vrealloc",
    "vzalloc",
    "vfree",
    "alloc_pages",
    "get_free_pages",
    "free_pages",
    "slab_",
    "new_slab",
    "allocate_slab",
    "pcpu_alloc",
    // Locking, and lockdep's checks and reports.
    "mutex_",
    "ww_mutex_",
    "rt_mutex",
    "raw_spin_",
    "spin_",
    "raw_read_",
    "raw_write_",
    "read_lock",
    "read_unlock",
    "write_lock",
    "write_unlock",
    "down_",
    "up_read",
    "up_write",
    "rwsem_",
    "lock_acquire",
    "lock_release",
    "lock_acquired",
    "lock_contended",
    "lock_is_held",
    "lockdep_",
    "check_noncircular",
    "check_prev_add",
    "check_prevs_add",
    "check_irq_usage",
    "validate_chain",
    "mark_lock",
    "mark_usage",
    "valid_state",
    "debug_check_no_locks",
    "rcu_read_lock",
    "rcu_read_unlock",
    "local_bh_",
    "preempt_",
    // Printing.
    "printk",
    "vprintk",
    "console_",
    "dev_printk",
    "dev_err",
    "dev_warn",
    "dev_info",
    "snprintf",
    "vsnprintf",
    "sprintf",
    "scnprintf",
    "kasprintf",
    "kvasprintf",
    // Memory and string helpers (what KASAN catches an access in), user copies, lists,
    // reference counts.
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "memchr",
    "strlen",
    "strnlen",
    "strcpy",
    "strncpy",
    "strscpy",
    "strlcpy",
    "strcmp",
    "strncmp",
    "strchr",
    "copy_from_user",
    "copy_to_user",
    "raw_copy_",
    "check_object_size",
    "usercopy_",
    "fortify_",
    "list_",
    "refcount_",
    // The sanitizers' own reporting.
    "kasan",
    "asan_",
    "hwasan_",
    "kmsan",
    "msan_",
    "kcsan",
    "tsan_",
    "ubsan",
    "sanitizer",
    "kfence_",
    "check_memory_region",
];

/// The path a Rust function belongs to: its own, or for a method `<T as Trait>::m` or
/// `<T>::m`, the type's (`<rust_minimal::RustMinimal as kernel::Module>::init` is the
/// module's, `<kernel::alloc::kbox::Box<T>>::new` the allocator's).
fn rust_owner(f: &str) -> &str {
    match f.strip_prefix('<') {
        Some(rest) => {
            let end = rest.find([' ', '<', '>']).unwrap_or(rest.len());
            &rest[..end]
        }
        None => f,
    }
}

/// `text` with every Rust symbol (v0 `_R…`, legacy `_ZN…E`) demangled, without hashes.
pub fn demangle(text: &str) -> Cow<'_, str> {
    if !text.contains("_R") && !text.contains("_ZN") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_symbol(rest) {
        out.push_str(&rest[..start]);
        let len = rest[start..]
            .find(|c: char| !is_symbol_char(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        match rustc_demangle::try_demangle(word) {
            Ok(d) => push_capped(&mut out, &d),
            Err(_) => out.push_str(word),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The most characters one demangled symbol is shown in: a v0 symbol's back-references let
/// a couple of hundred bytes stand for a megabyte of names.
pub const MAX_DEMANGLED: usize = 512;

/// Append `d`'s hash-less form, cut at [`MAX_DEMANGLED`] bytes with `…`: the formatter is
/// stopped there, so a huge expansion is never built.
fn push_capped(out: &mut String, d: &rustc_demangle::Demangle<'_>) {
    let mut w = Capped {
        out,
        left: MAX_DEMANGLED,
        cut: false,
    };
    let _ = std::fmt::Write::write_fmt(&mut w, format_args!("{d:#}"));
    if w.cut {
        w.out.push('…');
    }
}

/// A writer that takes `left` more bytes into `out`, cut at a character boundary, then fails
/// (which stops the formatter writing into it).
struct Capped<'a> {
    out: &'a mut String,
    left: usize,
    cut: bool,
}

impl std::fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.len() <= self.left {
            self.out.push_str(s);
            self.left -= s.len();
            return Ok(());
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.left = 0;
        self.cut = true;
        Err(std::fmt::Error)
    }
}

/// Where the next word that may be a mangled Rust symbol starts.
fn next_symbol(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (0..b.len()).find(|&i| {
        let starts = b[i..].starts_with(b"_R") || b[i..].starts_with(b"_ZN");
        starts && (i == 0 || !is_symbol_char(b[i - 1] as char))
    })
}

fn is_symbol_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.')
}

/// A frame line of a call trace: `[<addr>] ` (riscv, loongarch) and `? ` (x86) may come
/// first; the frame is the line's first word.
pub fn frame_line(line: &str) -> Option<Frame> {
    let mut t = line.trim_start();
    if let Some(r) = t.strip_prefix("[<") {
        t = r.split_once(">]")?.1.trim_start();
    }
    let unreliable = t.starts_with("? ");
    if unreliable {
        t = t[2..].trim_start();
    }
    let mut words = t.split_whitespace();
    let mut f = frame_word(words.next()?, words.next())?;
    f.unreliable = unreliable;
    Some(f)
}

/// `symbol+0xoff/0xlen` and, when `next` is `[module]` or `[module build-id`, its module.
pub fn frame_word(word: &str, next: Option<&str>) -> Option<Frame> {
    let word = word.trim_end_matches(',');
    let (symbol, place) = word.split_once("+0x")?;
    let (off, len) = place.split_once("/0x")?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let symbol_ok = !symbol.is_empty() && symbol.chars().all(is_symbol_char);
    if !(symbol_ok && hex(off) && hex(len)) {
        return None;
    }
    let module = next
        .and_then(|n| n.strip_prefix('['))
        .map(|n| n.trim_end_matches([',', ']']))
        .filter(|n| is_module_name(n));
    Some(Frame {
        function: demangle(symbol).into_owned(),
        module: module.map(str::to_string),
        unreliable: false,
    })
}

/// A kernel module's name as the kernel writes it: `[A-Za-z0-9_]`, not empty.
pub fn is_module_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The first frame that is not a generic helper, of those known to be callers; when none of
/// those is (these x86 boots mark every frame of a trace `?`), of them all.
pub fn guilty(frames: &[Frame]) -> Option<&Frame> {
    let culprit = |f: &&Frame| !f.is_generic();
    frames
        .iter()
        .filter(|f| !f.unreliable)
        .find(culprit)
        .or_else(|| frames.iter().find(culprit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 171-byte v0 symbol whose back-references double a tuple 17 times: shown in at most
    /// `MAX_DEMANGLED` characters, and the expansion is never built.
    #[test]
    fn a_short_symbol_that_expands_to_megabytes_is_cut() {
        let sym = "_RINvC1a1fTuuuuETB7_B7_ETBd_Bd_ETBl_Bl_ETBt_Bt_ETBB_BB_ETBJ_BJ_ETBR_BR_ETBZ_BZ_ETB17_B17_ETB1f_B1f_ETB1p_B1p_ETB1z_B1z_ETB1J_B1J_ETB1T_B1T_ETB23_B23_ETB2d_B2d_ETB2n_B2n_EE";
        let full = format!("{:#}", rustc_demangle::try_demangle(sym).unwrap());
        assert!(full.len() > 1_000_000, "{}", full.len());
        let line = format!("[<ffffffff8100>] {sym}+0x1/0x2 [m]");
        let shown = demangle(&line);
        assert!(shown.len() < MAX_DEMANGLED + 64, "{}", shown.len());
        assert!(
            shown.starts_with("[<ffffffff8100>] a::f::<((), (), (), ()), (((), (), (), ()),"),
            "{shown}"
        );
        assert!(shown.ends_with("…+0x1/0x2 [m]"), "{shown}");
        let f = frame_line(&line).unwrap();
        assert!(
            f.function.len() <= MAX_DEMANGLED + '…'.len_utf8(),
            "{}",
            f.function.len()
        );
        assert_eq!(f.module.as_deref(), Some("m"));
    }

    /// The cap takes whole characters only, and stops the writer once it is reached.
    #[test]
    fn the_cap_cuts_between_characters() {
        use std::fmt::Write;
        let mut s = String::new();
        let mut w = Capped {
            out: &mut s,
            left: 4,
            cut: false,
        };
        assert!(w.write_str("ab").is_ok());
        assert!(w.write_str("cé").is_err());
        assert!(w.cut);
        assert!(w.write_str("x").is_err());
        assert_eq!(s, "abc");
        // A symbol at the end of a line, after other text, is demangled whole.
        assert_eq!(
            demangle("at _ZN6kernel4sync4lock4Lock4lock17hc9441d3f4d87650fE"),
            "at kernel::sync::lock::Lock::lock"
        );
    }

    /// A frame word is `symbol+0xoff/0xlen` with a symbol of symbol characters only, and its
    /// module a `[name]` of a kernel module's characters.
    #[test]
    fn a_frame_word_and_its_module_are_checked() {
        assert!(frame_word("+0x1/0x2", None).is_none());
        assert!(frame_word("f<x>+0x1/0x2", None).is_none());
        assert!(frame_word("f+0xg/0x2", None).is_none());
        let module = |next: &str| frame_word("f+0x1/0x2", Some(next)).unwrap().module;
        assert_eq!(module("[rust_minimal]").as_deref(), Some("rust_minimal"));
        assert_eq!(module("[m,"), Some("m".into()));
        assert_eq!(module("[]"), None);
        assert_eq!(module("[a-b]"), None);
        assert_eq!(module("x"), None);
    }

    #[test]
    fn v0_and_legacy_symbols_are_demangled_in_place_without_hashes() {
        assert_eq!(
            demangle("RIP: 0010:_RNvMs1_NtCsl7L7n58I0Vr_6kernel4taskNtB5_4Task3pid+0x4/0xb"),
            "RIP: 0010:<kernel::task::Task>::pid+0x4/0xb"
        );
        assert_eq!(
            demangle(" _RNvXCs5qGvIIhPNWG_12rust_minimalNtB2_11RustMinimalNtCsl7L7n58I0Vr_6kernel6Module4init+0x158/0x267 [rust_minimal]"),
            " <rust_minimal::RustMinimal as kernel::Module>::init+0x158/0x267 [rust_minimal]"
        );
        // Legacy symbols as rustc 1.95 writes them by default (`nm` of a built crate).
        assert_eq!(
            demangle("at _ZN60_$LT$rust_minimal..RustMinimal$u20$as$u20$kernel..Module$GT$4init17h0c9325ec692c3751E+0x1/0x2,"),
            "at <rust_minimal::RustMinimal as kernel::Module>::init+0x1/0x2,"
        );
        assert_eq!(
            demangle("_ZN6kernel4sync4lock4Lock4lock17hc9441d3f4d87650fE"),
            "kernel::sync::lock::Lock::lock"
        );
        // C names, and words that only look like a start, are left alone.
        for s in [
            "_RET_IP_ and foo_Rbar",
            "kunit_try_run_case+0x54/0x130",
            "x_ZNy",
        ] {
            assert_eq!(demangle(s), s);
        }
    }

    #[test]
    fn frames_are_read_in_every_arch_s_form() {
        let f = |l: &str| frame_line(l).map(|f| (f.function, f.module, f.unreliable));
        assert_eq!(
            f(" rust_minimal_init+0x1a/0x30 [rust_minimal]"),
            Some((
                "rust_minimal_init".into(),
                Some("rust_minimal".into()),
                false
            ))
        );
        assert_eq!(
            f(" ? kthread+0xda/0xf0"),
            Some(("kthread".into(), None, true))
        );
        assert_eq!(
            f("[<ffffffff80128b82>] kunit_generic_run_threadfn_adapter+0x14/0x2a"),
            Some(("kunit_generic_run_threadfn_adapter".into(), None, false))
        );
        assert_eq!(
            f(" _RNvMs1_NtCsl7L7n58I0Vr_6kernel4taskNtB5_4Task3pid+0x4/0x14 (P)"),
            Some(("<kernel::task::Task>::pid".into(), None, false))
        );
        assert_eq!(
            f(" m_init+0x1/0x2 [m 0123456789abcdef]"),
            Some(("m_init".into(), Some("m".into()), false))
        );
        for not in [
            " <TASK>",
            "Modules linked in: m(+)",
            "Code: 91004000",
            "x+0xzz/0x1",
        ] {
            assert_eq!(frame_line(not), None, "{not}");
        }
    }

    #[test]
    fn the_guilty_frame_skips_helpers_and_unreliable_frames() {
        let frames: Vec<Frame> = [
            " dump_stack_lvl+0x4c/0x70",
            " __might_resched+0x14a/0x160",
            " __kmalloc_cache_noprof+0x5a/0x2c0",
            " ? rust_minimal_helper+0x1/0x2 [rust_minimal]",
            " _RNvNtCsgEmfK2I1SDS_4core9panicking18panic_bounds_check+0x1/0x2",
            " _RNvMNtNtCs1EKtwoKEMO2_6kernel4sync4lockNtB2_4Lock4lock+0x20/0x40",
            " _RNvXCs5qGvIIhPNWG_12rust_minimalNtB2_11RustMinimalNtCsl7L7n58I0Vr_6kernel6Module4init+0x158/0x267 [rust_minimal]",
            " do_one_initcall+0x5c/0x2a0",
        ]
        .iter()
        .map(|l| frame_line(l).unwrap())
        .collect();
        let g = guilty(&frames).unwrap();
        assert_eq!(
            (g.function.as_str(), g.module.as_deref()),
            (
                "<rust_minimal::RustMinimal as kernel::Module>::init",
                Some("rust_minimal")
            )
        );
        // A trace of `?` frames only: the first that is not a helper.
        let guessed: Vec<Frame> = frames
            .iter()
            .map(|f| Frame {
                unreliable: true,
                ..f.clone()
            })
            .collect();
        assert_eq!(guilty(&guessed).unwrap().function, "rust_minimal_helper");
        let names: Vec<&str> = frames[4..6].iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            [
                "core::panicking::panic_bounds_check",
                "<kernel::sync::lock::Lock>::lock"
            ]
        );
    }
}
