//! Differential test of the KTAP parser and the KUnit verdict against the kernel's own
//! `kunit_parser.py`, taken from the tagged base in the harness's git store (`cargo xtask
//! setup` imports it; nothing of it is kept here).
//!
//! Thousands of KTAP shapes, generated and mutated from a fixed seed and from the kernel's
//! own `test_data` logs (each also as it is), are parsed by both and compared by
//! `oracle::compare`: per test its name, status and counts; the parse errors; the cases the
//! harness records adding up to kunit_parser's counts; the verdict. A difference fails the
//! test unless `xtask::stages::ktap::DELIBERATE` names it with its reason.

use std::path::{Path, PathBuf};

mod common;
mod oracle;

/// xorshift64: the same shapes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True `pct` times in a hundred.
    fn pct(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const NAMES: [&str; 8] = [
    "rust_doctest_kernel_str_rs_3",
    "a",
    "case two",
    "example_simple_test",
    "b-c",
    "x.y",
    "résumé",
    "t",
];

/// One test at `indent` spaces, numbered `num`: a suite (sometimes) or a case.
fn gen_test(r: &mut Rng, depth: usize, num: usize, indent: usize, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    let name = format!("{}{}", r.pick(&NAMES), r.below(3));
    let suite = depth < 3 && r.pct(if depth == 0 { 85 } else { 25 });
    let mut ok = !r.pct(15);
    if suite {
        if r.pct(80) {
            out.push(format!(
                "{pad}KTAP version {}",
                if r.pct(95) { 1 } else { 2 }
            ));
        }
        if r.pct(90) {
            out.push(format!("{pad}# Subtest: {name}"));
        }
        let n = if r.pct(8) { 0 } else { 1 + r.below(4) };
        // The plan: right, wrong, missing or late.
        let plan = format!("{pad}    1..{}", if r.pct(10) { r.below(6) } else { n });
        let late = r.pct(5);
        if !late && r.pct(92) {
            out.push(plan.clone());
        }
        for i in 1..=n {
            let child = if r.pct(3) { i + 1 } else { i };
            gen_test(r, depth + 1, child, indent + 4, out);
        }
        if late {
            out.push(plan);
        }
        // A suite's own result: mostly its cases', sometimes `not ok` over passing ones.
        if r.pct(10) {
            ok = false;
        }
    } else {
        for _ in 0..r.below(3) {
            let line = match r.below(5) {
                0 => format!(
                    "{pad}# {name}.location: rust/kernel/str.rs:{}",
                    r.below(900)
                ),
                1 => format!(
                    "{pad}# {name}: EXPECTATION FAILED at lib/x.c:{}",
                    r.below(99)
                ),
                2 => format!("{pad}    Expected a == b, but"),
                3 => "Oops: general protection fault, probably for non-canonical address".into(),
                _ => format!("{pad}# {name}: try faulted"),
            };
            out.push(line);
        }
    }
    let directive = match r.below(14) {
        0 => " # SKIP not on this arch".to_string(),
        1 => " # SKIP".into(),
        2 => " # TODO later".into(),
        3 => " # skip lowercase".into(),
        _ => String::new(),
    };
    let dash = r.pick(&["", "", "- ", ":- "]);
    out.push(format!(
        "{pad}{} {num} {dash}{name}{directive}",
        if ok { "ok" } else { "not ok" }
    ));
}

/// A whole console: noise, one block (or two), noise.
fn gen_console(r: &mut Rng) -> Vec<u8> {
    let mut lines = Vec::new();
    if r.pct(30) {
        lines.push("Linux version 7.2.13 (rfl@health)".to_string());
    }
    if r.pct(5) {
        lines.push("kunit executor: filter_glob: no match".to_string());
    }
    for _ in 0..1 + usize::from(r.pct(10)) {
        lines.push(if r.pct(90) {
            "KTAP version 1".into()
        } else {
            r.pick(&[
                "TAP version 14",
                "TAP version 13",
                "KTAP version 0",
                "TAP version 15",
            ])
            .into()
        });
        let n = if r.pct(5) { 0 } else { 1 + r.below(3) };
        if r.pct(95) {
            lines.push(format!("1..{}", if r.pct(5) { n + 1 } else { n }));
        }
        for i in 1..=n {
            gen_test(r, 0, i, 4, &mut lines);
        }
    }
    if r.pct(20) {
        lines.push("reboot: System halted".into());
    }
    mutate(r, lines)
}

/// Prefixes, noise, cuts and bad bytes over a console's lines.
fn mutate(r: &mut Rng, mut lines: Vec<String>) -> Vec<u8> {
    for _ in 0..r.below(4) {
        if lines.is_empty() {
            break;
        }
        let i = r.below(lines.len());
        match r.below(9) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 if i + 1 < lines.len() => lines.swap(i, i + 1),
            3 => lines.truncate(i + 1),
            4 => {
                let cut = r.below(lines[i].len() + 1);
                let mut l = lines[i].clone().into_bytes();
                l.truncate(cut);
                lines[i] = String::from_utf8_lossy(&l).into_owned();
                lines.truncate(i + 1);
            }
            5 => lines.insert(
                i,
                r.pick(&[
                    "random noise",
                    "",
                    "   ",
                    "# a diagnostic",
                    "ok",
                    "1..2 plan-ish",
                    "Kernel panic - not syncing: VFS: Unable to mount root fs",
                ])
                .into(),
            ),
            6 => lines[i] = lines[i].trim_start().to_string(),
            7 => lines[i] = format!("\t{}", lines[i]),
            _ => lines[i] = lines[i].replacen("ok", "not ok", 1),
        }
    }
    let prefix = match r.below(6) {
        0 => Some("[    1.234567] "),
        1 => Some("<6>"),
        _ => None,
    };
    let eol: &[u8] = match r.below(12) {
        0 => b"\r\n",
        1 => b"\r",
        _ => b"\n",
    };
    let mut out = Vec::new();
    for l in &lines {
        if let Some(p) = prefix {
            // A few lines lose or change their prefix, as interleaved consoles do.
            if !r.pct(3) {
                out.extend_from_slice(p.as_bytes());
            }
        }
        out.extend_from_slice(l.as_bytes());
        match r.below(60) {
            0 => out.push(0),
            1 => out.push(0xff),
            2 => out.extend_from_slice(" \t".as_bytes()),
            3 => out.extend_from_slice("\u{2028}x".as_bytes()),
            4 => out.extend_from_slice("\u{85}x\u{a0}".as_bytes()),
            _ => {}
        }
        out.extend_from_slice(eol);
    }
    if r.pct(10) {
        out.pop();
    }
    out
}

/// The shapes: generated ones, then the kernel's own test logs mutated.
fn shapes(kunit: &Path) -> Vec<Vec<u8>> {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    // The issue's two shapes, an empty console, then the generated ones.
    let mut out: Vec<Vec<u8>> = vec![
        b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s\n".to_vec(),
        b"KTAP version 1\n1..2\n    # Subtest: empty\n    1..0\nok 1 empty\n    # Subtest: s\n    1..1\n    ok 1 a\nok 2 s\n".to_vec(),
        Vec::new(),
    ];
    out.extend((0..6000).map(|_| gen_console(&mut r)));
    let data = kunit.join("test_data");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    assert!(
        logs.len() >= 20,
        "only {} logs in {}",
        logs.len(),
        data.display()
    );
    for p in &logs {
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        out.push(std::fs::read(p).unwrap());
        for _ in 0..40 {
            out.push(mutate(&mut r, lines.clone()));
        }
    }
    out
}

#[test]
fn ktap_verdicts_equal_kunit_parsers_on_thousands_of_shapes() {
    let tmp = common::TempDir::new("ktap-diff");
    let (tag, kunit) = oracle::kunit_tool(&tmp.0);
    let shapes = shapes(&kunit);
    let answers = oracle::ask(&kunit, &shapes, &tmp.0);
    let mut differences = Vec::new();
    let mut explained = std::collections::BTreeMap::<&str, usize>::new();
    let (mut passes, mut fails) = (0, 0);
    for (i, (bytes, want)) in shapes.iter().zip(&answers).enumerate() {
        match oracle::compare(bytes, want) {
            Ok(oracle::Agreement::Same { success: true }) => passes += 1,
            Ok(oracle::Agreement::Same { success: false }) => fails += 1,
            Ok(oracle::Agreement::Deliberate(why)) => *explained.entry(why).or_default() += 1,
            Err(e) => differences.push(format!(
                "shape {i}: {:?}\n  {e}",
                String::from_utf8_lossy(bytes)
            )),
        }
    }
    eprintln!(
        "compared {} KTAP shapes with {tag}'s kunit_parser.py: {passes} successes, {fails} \
         failures, {} deliberate differences {explained:?}, {} other differences",
        shapes.len(),
        explained.values().sum::<usize>(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{} shapes differ from kunit_parser.py; the first ten:\n{}",
        differences.len(),
        differences
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Both verdicts, in numbers, and the deliberate difference seen.
    assert!(
        passes > 300 && fails > 300,
        "{passes} passes, {fails} failures"
    );
    assert!(explained.contains_key("no-console"), "{explained:?}");
}
