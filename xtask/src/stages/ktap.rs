//! KTAP parser (v1, tolerant of TAP 13/14 and v2 lines), following the kernel's own
//! `kunit_parser.py` step by step so that verdicts agree with `kunit.py parse`. Pure.
//!
//! A console may hold several KTAP blocks (boot-time suites, then one per module KUnit
//! suite loaded by the init): `parse_all` returns each.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Success,
    Failure,
    Skipped,
    Crashed,
    NoTests,
    FailureToParse,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub crashed: usize,
    pub skipped: usize,
    pub errors: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.crashed + self.skipped
    }
    fn add(&mut self, o: &Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.crashed += o.crashed;
        self.skipped += o.skipped;
        self.errors += o.errors;
    }
    fn status(&self) -> Status {
        if self.total() == 0 {
            Status::NoTests
        } else if self.crashed > 0 {
            Status::Crashed
        } else if self.failed > 0 {
            Status::Failure
        } else if self.passed > 0 {
            Status::Success
        } else {
            Status::Skipped
        }
    }
    fn add_status(&mut self, s: Status) {
        match s {
            Status::Success => self.passed += 1,
            Status::Failure => self.failed += 1,
            Status::Skipped => self.skipped += 1,
            Status::NoTests => {}
            _ => self.crashed += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: String,
    pub status: Status,
    pub expected_count: Option<usize>,
    pub subtests: Vec<Test>,
    pub log: Vec<String>,
    pub counts: Counts,
    pub skip_reason: String,
    pub errors: Vec<String>,
}

impl Test {
    fn new() -> Test {
        Test {
            name: String::new(),
            status: Status::Crashed,
            expected_count: Some(0),
            subtests: Vec::new(),
            log: Vec::new(),
            counts: Counts::default(),
            skip_reason: String::new(),
            errors: Vec::new(),
        }
    }
    fn add_error(&mut self, msg: &str) {
        self.counts.errors += 1;
        self.errors.push(format!("Test: {}: {msg}", self.name));
    }
}

struct Res {
    ktap_start: Regex,
    tap_start: Regex,
    executor_error: Regex,
    header: Regex,
    plan: Regex,
    result_skip: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| Res {
        ktap_start: Regex::new(r"^\s*KTAP version ([0-9]+)$").unwrap(),
        tap_start: Regex::new(r"^\s*TAP version ([0-9]+)$").unwrap(),
        executor_error: Regex::new(r"\s*kunit executor: (.*)$").unwrap(),
        header: Regex::new(r"^\s*# Subtest: (.*)$").unwrap(),
        plan: Regex::new(r"^\s*1\.\.([0-9]+)").unwrap(),
        result_skip: Regex::new(r"^\s*(ok|not ok) ([0-9]+) ?(:?- )?(.*) # SKIP ?(.*)$").unwrap(),
    })
}

/// Decode console bytes as Python's `errors='backslashreplace'` does.
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).expect("validated prefix"));
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                rest = &bad[n..];
            }
        }
    }
}

/// Split like Python's text-mode read followed by `str.splitlines()`.
///
/// Scans bytes, not chars (a console is mostly ASCII): the breaks are ASCII controls and three
/// multi-byte chars, whose UTF-8 encodings start with 0xC2 or 0xE2.
pub fn split_lines(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let len = match b[i] {
            b'\n' | b'\x0b' | b'\x0c' | 0x1c | 0x1d | 0x1e => 1,
            b'\r' => {
                if b.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                }
            }
            // U+0085
            0xC2 if b.get(i + 1) == Some(&0x85) => 2,
            // U+2028, U+2029
            0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) => 3,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..i]);
        i += len;
        start = i;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn py_rstrip(s: &str) -> &str {
    // Most lines end in a printable ASCII char: nothing to strip.
    if s.as_bytes().last().is_some_and(u8::is_ascii_graphic) {
        return s;
    }
    s.trim_end_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

fn drop_chars(s: &str, n: usize) -> &str {
    // The prefix is nearly always an ASCII timestamp: then chars are bytes.
    if let Some(head) = s.as_bytes().get(..n) {
        if head.is_ascii() {
            return &s[n..];
        }
    } else if s.is_ascii() {
        return "";
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[i..],
        None => "",
    }
}

/// The start of one KTAP block, as kunit_parser's `extract_tap_lines` finds it from console
/// line `from`: the executor-error lines before it and its first line (prefix-stripped),
/// the console index of that first line (or the console's length), and the prefix width.
/// The block's further lines are read on demand by `Stream`, so a console of many blocks is
/// parsed in linear time.
fn extract(lines: &[&str], from: usize) -> (Vec<String>, Option<usize>, usize) {
    let r = res();
    let mut head = Vec::new();
    for (i, raw) in lines.iter().enumerate().skip(from) {
        let line = py_rstrip(raw);
        if let Some(at) = find_version(line).or_else(|| find_tap_version(line)) {
            let prefix = line[..at].chars().count();
            head.push(drop_chars(line, prefix).to_string());
            return (head, Some(i), prefix);
        } else if line.contains("kunit executor: ") && r.executor_error.is_match(line) {
            head.push(line.to_string());
        }
    }
    (head, None, 0)
}

/// Byte offset of the `KTAP version N` that ends the line (kunit_parser's KTAP_START.search).
fn find_version(line: &str) -> Option<usize> {
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| Regex::new(r"\s*KTAP version ([0-9]+)$").unwrap());
    if !line.contains("KTAP version ") {
        return None;
    }
    re.find(line)
        .map(|_| line.find("KTAP version").expect("matched"))
}

fn find_tap_version(line: &str) -> Option<usize> {
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| Regex::new(r"\s*TAP version ([0-9]+)$").unwrap());
    if !line.contains("TAP version ") {
        return None;
    }
    re.find(line)
        .map(|_| line.find("TAP version").expect("matched"))
}

/// The lines of one block: `head` (what came before and the first line), then the console
/// after it with the block's prefix dropped, up to kunit_parser's end-of-KTAP marker (found
/// lazily, as far as the parser reads).
struct Stream<'a> {
    head: Vec<String>,
    rest: &'a [&'a str],
    prefix: usize,
    /// Lines of `rest` known not to be the end marker, and the end marker's index once seen.
    checked: std::cell::Cell<usize>,
    end: std::cell::Cell<Option<usize>>,
    pos: usize,
    /// The console's budget of tests, shared by every block and level.
    budget: Budget,
    /// Read as one of every block (`parse_all`): the block ends where the next starts, at an
    /// unindented `KTAP version` line. kunit_parser (`parse_first`) reads on through it.
    split: bool,
}

pub use crate::model::outcome::MAX_TESTS;

/// What is left of a console's test budget. The last slot is kept for the one crashed test
/// that says the console went past the budget, so a cut parse never reads as a pass.
#[derive(Debug, Clone, Copy)]
struct Budget {
    max: usize,
    left: usize,
    /// The over-budget test was recorded (once per console).
    over: bool,
}

impl Budget {
    fn new(max: usize) -> Budget {
        Budget {
            max,
            left: max.saturating_sub(1),
            over: false,
        }
    }
    /// Take one test's slot; false when the budget is spent.
    fn take(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
    /// The crashed test that says the console was cut, the first time it is asked for.
    fn over_marker(&mut self) -> Option<Test> {
        if self.over {
            return None;
        }
        self.over = true;
        let mut t = Test::new();
        t.name = "ktap-limit".into();
        t.log.push(format!(
            "the console holds more than {} KTAP tests; the rest was not parsed",
            self.max
        ));
        Some(t)
    }
}

impl Stream<'_> {
    fn line(&self, i: usize) -> Option<&str> {
        if let Some(h) = self.head.get(i) {
            return Some(h);
        }
        let j = i - self.head.len();
        while self.end.get().is_none()
            && self.checked.get() <= j
            && self.checked.get() < self.rest.len()
        {
            let k = self.checked.get();
            if is_ktap_end(self.rest[k]) || (self.split && self.starts_block(self.rest[k])) {
                self.end.set(Some(k));
            } else {
                self.checked.set(k + 1);
            }
        }
        (j < self.checked.get()).then(|| drop_chars(py_rstrip(self.rest[j]), self.prefix))
    }
    fn more(&self) -> bool {
        self.line(self.pos).is_some()
    }
    /// Is this console line, its prefix dropped, a block's first line (`KTAP version N`
    /// or `TAP version N` with nothing before it)?
    fn starts_block(&self, raw: &str) -> bool {
        let l = drop_chars(py_rstrip(raw), self.prefix);
        find_version(l) == Some(0) || find_tap_version(l) == Some(0)
    }
    /// The next line; past the end, the last line (kunit_parser's `LineStream.peek` keeps the
    /// line it read last, so a suite's result line is still seen when the stream ended on it).
    fn peek(&self) -> &str {
        self.line(self.pos)
            .or_else(|| self.pos.checked_sub(1).and_then(|p| self.line(p)))
            .unwrap_or("")
    }
    fn pop(&mut self) -> String {
        let l = self.peek().to_string();
        self.pos += 1;
        l
    }
}

/// kunit_parser's end-of-KTAP regex, which is a search for any of three literals (its
/// leading `\s*` may match nothing): three substring searches.
fn is_ktap_end(line: &str) -> bool {
    line.contains("List of all partitions:")
        || line.contains("Kernel panic - not syncing: VFS:")
        || line.contains("reboot: System halted")
}

/// Cheap checks that a line can match one of the anchored regexes (`^\s*…`): most lines
/// cannot, and then no regex runs on them.
fn starts(line: &str, lit: &str) -> bool {
    line.trim_start().starts_with(lit)
}

/// A test result line's parts, as kunit_parser's TEST_RESULT regex
/// (`^\s*(ok|not ok) ([0-9]+) ?(:?- )?([^#]*)( # .*)?$`) captures them.
#[derive(Debug, PartialEq, Eq)]
struct ResultLine<'a> {
    ok: bool,
    num: &'a str,
    name: &'a str,
}

/// That regex matched by hand: its captures were most of the parse time. The backtracking
/// order is the regex's: the longest digit run, then the space and `- ` (or `:- `) taken
/// when they lead to a match, then the name up to a ` # ` directive or the end. A `#` that
/// is not ` # ` makes the line no result at all. `a_result_line_is_matched_as_the_regex_does`
/// checks it against the regex itself.
fn match_result(line: &str) -> Option<ResultLine<'_>> {
    let t = line.trim_start();
    let (ok, rest) = if let Some(r) = t.strip_prefix("ok ") {
        (true, r)
    } else {
        (false, t.strip_prefix("not ok ")?)
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (num, after) = rest.split_at(digits);
    let b = after.as_bytes();
    // The first `#` after the number: none of the optional parts before the name holds one.
    let hash = b.iter().position(|&c| c == b'#');
    // The name may start at `p` (an offset into `after`) when what follows it is a name with
    // no `#`, or a name ending where ` # ` starts.
    let name_at = |p: usize| -> Option<&str> {
        match hash {
            None => Some(&after[p..]),
            // `.` in ` # .*$` takes anything but a newline.
            Some(h) => (h > p
                && b[h - 1] == b' '
                && b.get(h + 1) == Some(&b' ')
                && !b[h..].contains(&b'\n'))
            .then(|| &after[p..h - 1]),
        }
    };
    let dash = |p: usize| -> Option<usize> {
        let r = &b[p.min(b.len())..];
        if r.starts_with(b":- ") {
            Some(p + 3)
        } else if r.starts_with(b"- ") {
            Some(p + 2)
        } else {
            None
        }
    };
    let spaced = b.first() == Some(&b' ');
    let tries = [
        spaced.then(|| dash(1)).flatten(),
        spaced.then_some(1),
        dash(0),
        Some(0),
    ];
    let name = tries.into_iter().flatten().find_map(name_at)?;
    Some(ResultLine { ok, num, name })
}

fn parse_ktap_header(s: &mut Stream, test: &mut Test) -> bool {
    let r = res();
    if !starts(s.peek(), "KTAP version") && !starts(s.peek(), "TAP version") {
        return false;
    }
    let line = s.peek().to_string();
    if let Some(c) = r.ktap_start.captures(&line) {
        let v: u64 = c[1].parse().unwrap_or(u64::MAX);
        if v < 1 {
            test.add_error("KTAP version lower than expected!");
        } else if v > 1 {
            test.add_error("KTAP version higher than expected!");
        }
    } else if let Some(c) = r.tap_start.captures(&line) {
        let v: u64 = c[1].parse().unwrap_or(u64::MAX);
        if v < 13 {
            test.add_error("TAP version lower than expected!");
        } else if v > 14 {
            test.add_error("TAP version higher than expected!");
        }
    } else {
        return false;
    }
    s.pop();
    true
}

fn parse_test_header(s: &mut Stream, test: &mut Test) -> bool {
    if !starts(s.peek(), "# Subtest:") {
        return false;
    }
    match res().header.captures(s.peek()) {
        Some(c) => {
            test.name = c[1].to_string();
            s.pop();
            true
        }
        None => false,
    }
}

fn parse_test_plan(s: &mut Stream, test: &mut Test) {
    if !starts(s.peek(), "1..") {
        test.expected_count = None;
        return;
    }
    match res().plan.captures(s.peek()) {
        Some(c) => {
            test.expected_count = c[1].parse().ok();
            s.pop();
        }
        None => test.expected_count = None,
    }
}

fn peek_name_match(s: &Stream, test: &Test) -> bool {
    match match_result(s.peek()) {
        Some(m) => !m.name.is_empty() && m.name == test.name,
        None => false,
    }
}

fn parse_test_result(s: &mut Stream, test: &mut Test, expected_num: usize) -> bool {
    let r = res();
    let line = s.peek();
    let Some(m) = match_result(line) else {
        return false;
    };
    let skip = if line.contains(" # SKIP") {
        r.result_skip.captures(line)
    } else {
        None
    };
    test.name = match &skip {
        Some(sk) => sk.get(4).map_or("", |x| x.as_str()).to_string(),
        None => m.name.to_string(),
    };
    // The number as Python's int() reads it: any length, leading zeros dropped.
    if m.num.parse::<usize>().ok() != Some(expected_num) {
        let digits = m.num.trim_start_matches('0');
        let found = if digits.is_empty() { "0" } else { digits };
        test.add_error(&format!(
            "Expected test number {expected_num} but found {found}"
        ));
    }
    if let Some(sk) = skip {
        test.status = Status::Skipped;
        test.skip_reason = sk.get(5).map_or("", |x| x.as_str()).to_string();
    } else if m.ok {
        test.status = Status::Success;
    } else {
        test.status = Status::Failure;
    }
    s.pos += 1;
    true
}

fn parse_diagnostic(s: &mut Stream) -> Vec<String> {
    let r = res();
    let mut log = Vec::new();
    while let Some(l) = s.line(s.pos) {
        let t = l.trim_start();
        let maybe = t.starts_with("ok")
            || t.starts_with("not ok")
            || t.starts_with("# Subtest:")
            || t.starts_with("KTAP version")
            || t.starts_with("TAP version")
            || t.starts_with("1..");
        if maybe
            && (match_result(l).is_some()
                || r.header.is_match(l)
                || r.ktap_start.is_match(l)
                || r.tap_start.is_match(l)
                || r.plan.is_match(l))
        {
            break;
        }
        log.push(l.to_string());
        s.pos += 1;
    }
    log
}

fn bubble_up(test: &mut Test) {
    let status = test.status;
    let sub: Vec<Counts> = test.subtests.iter().map(|t| t.counts.clone()).collect();
    for c in &sub {
        test.counts.add(c);
    }
    if test.counts.total() == 0 {
        test.counts.add_status(status);
    } else if test.counts.status() == Status::Crashed {
        test.status = Status::Crashed;
    }
    if status == Status::Failure && test.counts.status() == Status::Success {
        test.counts.add_status(status);
    }
}

/// How many missing subtests of one plan are recorded as crashed at most.
const MAX_MISSING: usize = 10_000;

fn parse_test(
    s: &mut Stream,
    expected_num: usize,
    log: Vec<String>,
    is_subtest: bool,
    depth: usize,
) -> Test {
    let mut test = Test::new();
    test.log.extend(log);
    let err_log = parse_diagnostic(s);
    test.log.extend(err_log);
    let parent;
    if !is_subtest {
        test.name = "main".into();
        parse_ktap_header(s, &mut test);
        let d = parse_diagnostic(s);
        test.log.extend(d);
        parse_test_plan(s, &mut test);
        parent = true;
    } else {
        let k = parse_ktap_header(s, &mut test);
        let h = parse_test_header(s, &mut test);
        let d = parse_diagnostic(s);
        test.log.extend(d);
        parse_test_plan(s, &mut test);
        parent = k || h;
    }
    let expected = test.expected_count;
    let mut subtests = Vec::new();
    let mut num = 1;
    // Recursion depth is bounded so that hostile input cannot overflow the stack.
    while parent && depth < 64 && expected.is_none_or(|e| num <= e) {
        let sub_log = parse_diagnostic(s);
        let at_end = !s.more() || (peek_name_match(s, &test) && is_subtest);
        let records = !at_end || expected.is_some_and(|e| e > 0 && num <= e);
        // Past the console's budget no further test is recorded, at this level or any other:
        // one crashed test says why, and every enclosing loop stops here too.
        if records && !s.budget.take() {
            if let Some(marker) = s.budget.over_marker() {
                test.add_error("the console holds more tests than the harness records");
                test.counts.add_status(Status::Crashed);
                subtests.push(marker);
            }
            break;
        }
        if at_end {
            if expected.is_some_and(|e| e > 0 && num <= e) {
                // kunit_parser.py records one crashed subtest per missing one; a hostile plan
                // (`1..475048780`) would make that millions, so past a bound it stops.
                if num > MAX_MISSING {
                    test.add_error("plan promises more subtests than the harness records");
                    break;
                }
                test.add_error("missing expected subtest!");
                let mut sub = Test::new();
                sub.log.extend(sub_log);
                test.counts.add_status(Status::Crashed);
                subtests.push(sub);
            } else {
                test.log.extend(sub_log);
                break;
            }
        } else {
            subtests.push(parse_test(s, num, sub_log, true, depth + 1));
        }
        num += 1;
    }
    test.subtests = subtests;
    if is_subtest {
        let d = parse_diagnostic(s);
        test.log.extend(d);
        if !test.name.is_empty() && !peek_name_match(s, &test) {
            test.add_error("missing subtest result line!");
        } else if !s.more() {
            test.status = Status::NoTests;
            test.add_error("No more test results!");
        } else {
            parse_test_result(s, &mut test, expected_num);
        }
    }
    if parent
        && test.subtests.is_empty()
        && matches!(test.status, Status::Crashed | Status::Success)
    {
        test.status = Status::NoTests;
        test.add_error("0 tests run!");
    }
    bubble_up(&mut test);
    test
}

/// Parse the first KTAP block of a console log, exactly as `kunit.py parse` does.
pub fn parse_first(console: &str) -> Test {
    let lines = split_lines(console);
    parse_block(&lines, 0, &mut Budget::new(MAX_TESTS), false).0
}

fn parse_block(lines: &[&str], from: usize, budget: &mut Budget, split: bool) -> (Test, usize) {
    let (head, found, prefix) = extract(lines, from);
    let start = found.unwrap_or(lines.len());
    // Executor-error lines yielded before the block's first line.
    let before = if found.is_some() { head.len() - 1 } else { 0 };
    if head.is_empty() {
        let mut t = Test::new();
        t.name = "<missing>".into();
        t.add_error("Could not find any KTAP output. Did any KUnit tests run?");
        t.status = Status::FailureToParse;
        return (t, lines.len());
    }
    let rest: &[&str] = match found {
        Some(st) => &lines[st + 1..],
        None => &[],
    };
    let mut s = Stream {
        head,
        rest,
        prefix,
        checked: std::cell::Cell::new(0),
        end: std::cell::Cell::new(None),
        pos: 0,
        budget: *budget,
        split,
    };
    let mut t = parse_test(&mut s, 0, Vec::new(), false, 0);
    *budget = s.budget;
    if t.status != Status::NoTests {
        t.status = t.counts.status();
    }
    // After the block's first line, stream lines map one to one onto console lines.
    let next = start + s.pos.saturating_sub(before).max(1);
    (t, next.min(lines.len()))
}

/// Every KTAP block of a console: the boot-time one first, then those of module suites; at
/// most [`MAX_TESTS`] tests in all, the last of them a crash that says the console was cut.
pub fn parse_all(console: &str) -> Vec<Test> {
    parse_all_limited(console, MAX_TESTS)
}

/// [`parse_all`] with a budget of `max_tests` tests (blocks, suites and cases together).
pub fn parse_all_limited(console: &str, max_tests: usize) -> Vec<Test> {
    let lines = split_lines(console);
    let mut out = Vec::new();
    let mut from = 0;
    let mut budget = Budget::new(max_tests);
    while from < lines.len() {
        let rest_has_block = lines[from..].iter().any(|l| {
            find_version(py_rstrip(l)).is_some() || find_tap_version(py_rstrip(l)).is_some()
        });
        if !rest_has_block {
            break;
        }
        // A block counts too: a console of nothing but `KTAP version 1` lines is millions of
        // empty blocks. Past the budget, one last block holds the crash that says so.
        if !budget.take() {
            if let Some(marker) = budget.over_marker() {
                let mut main = Test::new();
                main.name = "main".into();
                main.subtests.push(marker);
                main.counts.add_status(Status::Crashed);
                main.status = Status::Crashed;
                out.push(main);
            }
            break;
        }
        let (t, next) = parse_block(&lines, from, &mut budget, true);
        out.push(t);
        if next <= from {
            break;
        }
        from = next;
    }
    out
}

pub use crate::model::outcome::{Case, CaseStatus, Kunit, SuiteCounts, MAX_KUNIT_ERRORS};
use crate::model::outcome::{Fault, Stage, StageResult, Status as StageStatus};

/// A parsed test's status as results record it.
pub fn case_status(s: Status) -> CaseStatus {
    match s {
        Status::Success => CaseStatus::Pass,
        Status::Skipped => CaseStatus::Skip,
        Status::Crashed => CaseStatus::Crash,
        _ => CaseStatus::Fail,
    }
}

/// Flatten a parsed tree into its test cases: the tests kunit_parser counts, each once.
///
/// A case is every test whose own status enters kunit_parser's counts: each leaf (a test with
/// no subtests) but one that ran no test (`NoTests`), and a suite whose own result counts
/// beside its cases' (its `not ok` over cases that all passed; a suite none of whose subtests
/// ran a test). So the cases' statuses add up to the run's counts, and the verdict read from
/// them is kunit.py's.
pub fn cases(main: &Test) -> Vec<Case> {
    let mut out = Vec::new();
    flatten(main, &mut Vec::new(), &mut out);
    own_cases(main, &[], &mut out);
    out
}

fn flatten(t: &Test, path: &mut Vec<String>, out: &mut Vec<Case>) {
    for sub in &t.subtests {
        if sub.subtests.is_empty() {
            // A test that ran no test counts nothing (kunit_parser's NO_TESTS).
            if sub.status != Status::NoTests {
                out.push(leaf_case(t, sub, path));
            }
            continue;
        }
        path.push(sub.name.clone());
        flatten(sub, path, out);
        path.pop();
        own_cases(sub, path, out);
    }
}

fn leaf_case(parent: &Test, sub: &Test, path: &[String]) -> Case {
    let location = sub.log.iter().chain(parent.log.iter()).find_map(|l| {
        let l = l.trim_start();
        let rest = l
            .strip_prefix("# ")?
            .strip_prefix(sub.name.as_str())?
            .strip_prefix(".location: ")?;
        Some(rest.trim().to_string())
    });
    let status = case_status(sub.status);
    let summary = if status == CaseStatus::Pass {
        String::new()
    } else {
        summarise(sub)
    };
    Case {
        suite: path.join("."),
        name: sub.name.clone(),
        status,
        location,
        summary,
    }
}

/// What a test adds to its parent's counts: a leaf its own status (a missing subtest, which
/// kunit_parser counts in the parent directly, is a crashed leaf), a suite its counts.
fn contribution(t: &Test) -> Counts {
    if t.subtests.is_empty() {
        let mut c = Counts::default();
        c.add_status(t.status);
        c
    } else {
        t.counts.clone()
    }
}

/// A suite's own part of its counts: what kunit_parser added for the suite itself beyond its
/// subtests' (`bubble_up_test_results`), as cases named after the suite.
/// A suite's own part of its counts (nothing for a leaf) and its subtests' part.
fn own_counts(t: &Test) -> (Counts, Counts) {
    let mut inner = Counts::default();
    if t.subtests.is_empty() {
        return (Counts::default(), inner);
    }
    for s in &t.subtests {
        inner.add(&contribution(s));
    }
    let c = &t.counts;
    let own = Counts {
        passed: c.passed.saturating_sub(inner.passed),
        failed: c.failed.saturating_sub(inner.failed),
        crashed: c.crashed.saturating_sub(inner.crashed),
        skipped: c.skipped.saturating_sub(inner.skipped),
        errors: 0,
    };
    (own, inner)
}

fn own_cases(t: &Test, path: &[String], out: &mut Vec<Case>) {
    let (c, inner) = own_counts(t);
    let own = [
        (c.passed, CaseStatus::Pass),
        (c.failed, CaseStatus::Fail),
        (c.crashed, CaseStatus::Crash),
        (c.skipped, CaseStatus::Skip),
    ];
    for (n, status) in own {
        for _ in 0..n {
            let why = if inner.total() == 0 {
                "none of its subtests ran a test, so kunit_parser counts its own result"
            } else {
                "its own result line says `not ok` though every test in it passed \
                 (a suite init or exit that failed, a resource it leaked)"
            };
            let summary = if status == CaseStatus::Pass {
                String::new()
            } else {
                let log = summarise(t);
                if log.is_empty() {
                    why.to_string()
                } else {
                    format!("{why}\n{log}")
                }
            };
            out.push(Case {
                suite: path.join("."),
                name: t.name.clone(),
                status,
                location: None,
                summary,
            });
        }
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Success => "pass",
        Status::Failure => "fail",
        Status::Skipped => "skip",
        Status::Crashed => "crash",
        Status::NoTests => "no-tests",
        Status::FailureToParse => "no-ktap",
    }
}

/// Did anything in this test fail or crash? Its status as kunit_parser's `ok_status` reads
/// it (a test that ran nothing fails nothing), or a failure counted under it: a suite that
/// says `ok` keeps that status over a failing inner suite.
fn is_bad(t: &Test) -> bool {
    !matches!(
        t.status,
        Status::Success | Status::Skipped | Status::NoTests
    ) || t.counts.failed + t.counts.crashed > 0
}

/// kunit.py's names for what failed (`_summarize_failed_tests`): a suite whose every subtest
/// failed is named once (when it has more than one: otherwise its one test is named), otherwise
/// each failing test as `suite.test`; a suite whose own result failed over passing tests is
/// named too (kunit.py names nothing there).
pub fn failure_names(main: &Test) -> Vec<String> {
    fn walk(t: &Test, parent: &str, out: &mut Vec<String>) {
        let name = if t.name.is_empty() {
            "<unnamed>"
        } else {
            t.name.as_str()
        };
        let full = if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        };
        if t.subtests.is_empty() {
            out.push(full);
            return;
        }
        let bad: Vec<&Test> = t.subtests.iter().filter(|s| is_bad(s)).collect();
        if bad.len() > 1 && bad.len() == t.subtests.len() {
            out.push(full);
            return;
        }
        for s in bad {
            walk(s, &full, out);
        }
        let (own, _) = own_counts(t);
        if own.failed + own.crashed > 0 {
            out.push(full);
        }
    }
    let mut out = Vec::new();
    for s in main.subtests.iter().filter(|s| is_bad(s)) {
        walk(s, "", &mut out);
    }
    let (own, _) = own_counts(main);
    if own.failed + own.crashed > 0 {
        out.push("the run itself".to_string());
    }
    out
}

/// At most ten names, then how many more, as kunit.py caps its failure summary.
pub fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| crate::model::text::term_safe(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// Every parse error of a tree, as kunit_parser prints them (`Test: NAME: MESSAGE`).
fn all_errors(t: &Test, out: &mut Vec<String>) {
    out.extend(t.errors.iter().cloned());
    for s in &t.subtests {
        all_errors(s, out);
    }
}

fn suites(t: &Test, path: &mut Vec<String>, out: &mut Vec<SuiteCounts>) {
    for s in t.subtests.iter().filter(|s| !s.subtests.is_empty()) {
        path.push(s.name.clone());
        out.push(SuiteCounts {
            suite: path.join("."),
            status: status_name(s.status).to_string(),
            passed: s.counts.passed,
            failed: s.counts.failed,
            crashed: s.counts.crashed,
            skipped: s.counts.skipped,
            errors: s.counts.errors,
        });
        suites(s, path, out);
        path.pop();
    }
}

/// The KUnit record of a console's blocks: its cases, counts, suites and parse errors.
pub fn record(blocks: &[Test]) -> Kunit {
    let mut k = Kunit::from_cases(blocks.iter().flat_map(cases).collect());
    let mut errors = Vec::new();
    for b in blocks {
        suites(b, &mut Vec::new(), &mut k.suites);
        all_errors(b, &mut errors);
    }
    k.errors_total = errors.len();
    errors.truncate(MAX_KUNIT_ERRORS);
    k.errors = errors;
    k.blocks = blocks
        .iter()
        .filter(|b| b.status != Status::FailureToParse)
        .count();
    k
}

/// Where the KUnit stage's verdict differs from `kunit.py parse` on purpose, each with its
/// reason. The rule is that the verdict is kunit.py's; the differential test (tests/ktap.rs)
/// accepts a difference only when it is named here.
pub const DELIBERATE: &[(&str, &str)] = &[
    (
        "every-block",
        "every KTAP block of the console is read, as the suites of one run: a module's KUnit \
         suites print a block of their own after the boot-time one, which kunit.py never reads; \
         a block ends where the next one's unindented `KTAP version` line starts, so a block whose \
         plan line a kernel message pushed aside does not take the next block in as a subtest",
    ),
    (
        "no-console",
        "an empty console is a `skip` (\"no console\"): the boot stage has already failed for it",
    ),
    (
        "filter-matches-nothing",
        "under --kunit-filter, a console that ran no test is a `skip` naming the filter, not \
         kunit.py's \"0 tests run!\" failure: the user asked for a subset that is not there",
    ),
    (
        "no-tests-case",
        "a test that ran no test (NO_TESTS) is not a case: kunit.py's JSON lists it as FAIL, \
         though its counts and verdict do not count it",
    ),
    (
        "bounded",
        "a console is read up to 100 000 tests, 10 000 missing subtests per plan and 64 levels \
         of nesting, then one crashed test says it was cut: kunit_parser has no bound",
    ),
];

/// The KUnit stage's verdict on a console: kunit.py's (`parse`: success only when the run's
/// status is SUCCESS), over every KTAP block of the console read as the suites of one run.
/// Where it differs on purpose, [`DELIBERATE`] says why.
pub fn judge(console: &str, filter: Option<&str>) -> (Kunit, StageResult) {
    judge_blocks(&parse_all(console), console.is_empty(), filter)
}

/// [`judge`] on blocks already parsed (the differential test judges kunit.py's one block).
pub fn judge_blocks(
    blocks: &[Test],
    no_console: bool,
    filter: Option<&str>,
) -> (Kunit, StageResult) {
    let names: Vec<String> = blocks.iter().flat_map(failure_names).collect();
    let k = record(blocks);
    let r = verdict(&k, &names, no_console, filter);
    (k, r)
}

fn verdict(k: &Kunit, failures: &[String], no_console: bool, filter: Option<&str>) -> StageResult {
    let c = &k.counts;
    let filtered = filter
        .map(|g| format!(" matching kunit.filter_glob={g}"))
        .unwrap_or_default();
    let errors = match k.errors_total {
        0 => String::new(),
        n => format!(
            "; kunit_parser: {}{}",
            k.errors
                .first()
                .map(|e| crate::model::text::term_safe(e.lines().next().unwrap_or("")).into_owned())
                .unwrap_or_default(),
            if n > 1 {
                format!(" (and {} more parse errors)", n - 1)
            } else {
                String::new()
            }
        ),
    };
    let (status, summary) = if no_console {
        (StageStatus::Skip, "no console".to_string())
    } else if let Some(g) = filter.filter(|_| c.total == 0) {
        (
            StageStatus::Skip,
            format!("no KUnit test matches kunit.filter_glob={g}"),
        )
    } else if k.blocks == 0 {
        (
            StageStatus::Fail,
            "no KTAP output on the console (kunit_parser: could not find any KTAP output)"
                .to_string(),
        )
    } else if c.total == 0 {
        (StageStatus::Fail, format!("0 tests run{errors}"))
    } else {
        let counts = format!(
            "{} tests{filtered}: {} passed, {} failed, {} crashed, {} skipped",
            c.total, c.passed, c.failed, c.crashed, c.skipped
        );
        if c.failed + c.crashed > 0 {
            let shown = if failures.is_empty() {
                k.tests
                    .iter()
                    .filter(|t| t.status.is_bad())
                    .map(|t| t.describe())
                    .collect()
            } else {
                failures.to_vec()
            };
            (
                StageStatus::Fail,
                format!("{counts}; failures: {}{errors}", name_list(&shown)),
            )
        } else if c.passed == 0 {
            (
                StageStatus::Fail,
                format!("{counts}: every test was skipped, which kunit.py does not call a success{errors}"),
            )
        } else {
            (StageStatus::Pass, format!("{counts}{errors}"))
        }
    };
    let mut r = StageResult::new(Stage::Kunit, status, summary);
    if status == StageStatus::Fail {
        r.fault = Some(Fault::Code);
    }
    r.with_log(Stage::Kunit.log_name())
}

/// The lines of a failing test's log that say what happened (an oops, an assertion), Rust
/// symbols demangled.
fn summarise(t: &Test) -> String {
    if t.status == Status::Skipped {
        return t.skip_reason.clone();
    }
    const TELLING: [&str; 14] = [
        "Oops",
        "BUG:",
        "Unable to handle",
        "page fault",
        "general protection",
        "Call Trace",
        "RIP:",
        "pc :",
        "try faulted",
        "Expected",
        "ASSERT",
        "EXPECTATION",
        "panicked",
        "Kernel panic",
    ];
    let picked: Vec<&str> = t
        .log
        .iter()
        .map(|l| l.trim())
        .filter(|l| {
            TELLING.iter().any(|k| l.contains(k)) || l.contains("at rust/") || l.contains(".rs:")
        })
        .filter(|l| !l.contains(".location: "))
        .take(12)
        .collect();
    let mut s = picked.join("\n");
    if s.is_empty() {
        s = t
            .log
            .iter()
            .rev()
            .take(6)
            .rev()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join("\n");
    }
    let s = crate::model::text::clip(&s, crate::model::text::MAX_SUMMARY);
    let s = crate::stages::frames::demangle(&s);
    crate::model::text::clip(&s, crate::model::text::MAX_SUMMARY).into_owned()
}

/// Console line ranges from each KTAP block's first line to its last result line; a block
/// also ends at the first line holding `init_mark` (the init's marker: boot-time suites are
/// done by then).
pub fn kunit_spans(console: &str, init_mark: &str) -> Vec<(usize, usize)> {
    let lines = split_lines(console);
    let mut spans = Vec::new();
    let mut open: Option<usize> = None;
    let mut last_result = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let body = t.find("KTAP version").map(|p| &t[p..]);
        if body.is_some_and(|b| b.starts_with("KTAP version")) && open.is_none() {
            open = Some(i);
        }
        if open.is_some()
            && (t.contains("ok ")
                && (t.contains(" ok ") || t.starts_with("ok ") || t.contains("not ok ")))
        {
            last_result = i;
        }
        if let Some(s) = open {
            // A block ends at the init's first marker (boot-time suites are done by then) or at
            // the next block's start.
            if l.contains(init_mark) {
                spans.push((s, last_result.max(s) + 1));
                open = None;
            }
        }
    }
    if let Some(s) = open {
        spans.push((s, last_result.max(s) + 1));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(log: &str) -> Vec<(String, String, String)> {
        cases(&parse_first(log))
            .into_iter()
            .map(|c| (c.suite, c.name, c.status.name().to_string()))
            .collect()
    }

    /// The hand-written result matcher against kunit_parser's regex itself, over many lines
    /// built from the pieces that steer it (spaces, digits, `- `, `:- `, `#`, ` # `, Unicode
    /// spaces, newlines).
    #[test]
    fn a_result_line_is_matched_as_the_regex_does() {
        let re = Regex::new(r"^\s*(ok|not ok) ([0-9]+) ?(:?- )?([^#]*)( # .*)?$").unwrap();
        let pieces = [
            "ok ", "not ok ", "ok", " ", "  ", "1", "23", "-", ":", "- ", ":- ", "#", " # ", "# ",
            " #", "x", "name_1", "SKIP", "\t", "\u{a0}", "\n", "é",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut matched = 0;
        for i in 0..60_000 {
            let mut line = String::from(["", " ", "\t", "    "][i % 4]);
            line += ["ok ", "not ok "][i / 4 % 2];
            line += ["1", "23", "", "4"][i / 8 % 4];
            for _ in 0..(next() % 7) {
                line += pieces[(next() % pieces.len() as u64) as usize];
            }
            let want = re.captures(&line).map(|c| ResultLine {
                ok: &c[1] == "ok",
                num: c.get(2).unwrap().as_str(),
                name: c.get(4).map_or("", |m| m.as_str()),
            });
            matched += usize::from(want.is_some());
            assert_eq!(match_result(&line), want, "{line:?}");
        }
        assert!(matched > 20_000, "too few lines matched: {matched}");
        for line in [
            "ok 1 # SKIP",
            "not ok 12 - a # b",
            "ok 1 a#b",
            "ok 3:- x",
            "ok 1- x",
        ] {
            let want = re.captures(line).map(|c| c[4].to_string());
            assert_eq!(
                match_result(line).map(|m| m.name.to_string()),
                want,
                "{line:?}"
            );
        }
    }

    #[test]
    fn nested_failure() {
        let log = "KTAP version 1\n1..2\n    KTAP version 1\n    1..1\n        ok 1 test 1\nnot ok 1 subtest 1\n    KTAP version 1\n    1..1\n        not ok 1 subsubtest 1\nnot ok 2 subtest 2\n";
        let t = parse_first(log);
        assert_eq!(t.status, Status::Failure);
        assert_eq!(t.counts.total(), 3);
        assert_eq!(
            verdicts(log),
            vec![
                ("subtest 1".into(), "test 1".into(), "pass".into()),
                // Its own `not ok` over a passing case: kunit_parser counts it as failed.
                ("".into(), "subtest 1".into(), "fail".into()),
                ("subtest 2".into(), "subsubtest 1".into(), "fail".into())
            ]
        );
    }

    fn judged(console: &str) -> (Kunit, StageResult) {
        judge(console, None)
    }

    fn counts(k: &Kunit) -> [usize; 4] {
        let c = &k.counts;
        [c.passed, c.failed, c.crashed, c.skipped]
    }

    /// A suite's own `not ok` over cases that all passed is a failure in its own right
    /// (kunit.py: FAILURE, 1 passed and 1 failed), at every depth.
    #[test]
    fn a_suites_own_not_ok_over_passing_cases_fails_the_run() {
        let one = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s\n";
        let (k, r) = judged(one);
        assert_eq!(counts(&k), [1, 1, 0, 0]);
        assert_eq!(r.status, StageStatus::Fail);
        assert_eq!(
            r.summary,
            "2 tests: 1 passed, 1 failed, 0 crashed, 0 skipped; failures: s"
        );
        let own = k.tests.iter().find(|t| t.name == "s").unwrap();
        assert_eq!((own.suite.as_str(), own.status), ("", CaseStatus::Fail));
        assert!(
            own.summary.contains("own result line says `not ok`"),
            "{}",
            own.summary
        );
        assert_eq!(k.suites[0].suite, "s");
        assert_eq!((k.suites[0].passed, k.suites[0].failed), (1, 1));

        // Two and three deep: the inner suite's own result fails it, named by its path.
        let two = "KTAP version 1\n1..1\n    # Subtest: outer\n    1..1\n        # Subtest: inner\n        1..2\n        ok 1 a\n        ok 2 b\n    not ok 1 inner\nok 1 outer\n";
        let (k, r) = judged(two);
        assert_eq!(counts(&k), [2, 1, 0, 0]);
        assert_eq!(r.status, StageStatus::Fail);
        assert!(
            r.summary.ends_with("failures: outer.inner"),
            "{}",
            r.summary
        );
        let three = "KTAP version 1\n1..1\n  # Subtest: a\n  1..1\n    # Subtest: b\n    1..1\n      # Subtest: c\n      1..1\n      ok 1 x\n    not ok 1 c\n  ok 1 b\nok 1 a\n";
        let (k, r) = judged(three);
        assert_eq!(counts(&k), [1, 1, 0, 0]);
        assert!(r.summary.ends_with("failures: a.b.c"), "{}", r.summary);
        assert!(k
            .tests
            .iter()
            .any(|t| t.suite == "a.b" && t.name == "c" && t.status == CaseStatus::Fail));

        // A suite with failing cases and its own `not ok`: the cases are its failures, its
        // own result adds nothing (kunit_parser counts 1 passed, 1 failed).
        let both = "KTAP version 1\n1..1\n    # Subtest: s\n    1..2\n    ok 1 a\n    not ok 2 b\nnot ok 1 s\n";
        let (k, r) = judged(both);
        assert_eq!(counts(&k), [1, 1, 0, 0]);
        assert!(r.summary.ends_with("failures: s.b"), "{}", r.summary);
    }

    /// A test with no tests (`1..0`, or subtests absent with no plan) is NO_TESTS: it counts
    /// nothing and fails nothing, as in kunit.py; beside a crash, the crash still fails.
    #[test]
    fn a_suite_with_no_tests_neither_passes_nor_fails() {
        let empty = "KTAP version 1\n1..2\n    # Subtest: empty\n    1..0\nok 1 empty\n    # Subtest: s\n    1..1\n    ok 1 a\nok 2 s\n";
        let (k, r) = judged(empty);
        assert_eq!(counts(&k), [1, 0, 0, 0]);
        assert_eq!(r.status, StageStatus::Pass, "{}", r.summary);
        assert!(k.tests.iter().all(|t| t.name != "empty"));
        assert_eq!(k.errors, ["Test: empty: 0 tests run!"]);
        assert!(
            r.summary
                .contains("kunit_parser: Test: empty: 0 tests run!"),
            "{}",
            r.summary
        );

        let no_plan = "KTAP version 1\n1..2\n    # Subtest: bare\nok 1 bare\n    # Subtest: s\n    1..1\n    ok 1 a\nok 2 s\n";
        let (k, r) = judged(no_plan);
        assert_eq!((counts(&k), r.status), ([1, 0, 0, 0], StageStatus::Pass));

        let beside_crash = "KTAP version 1\n1..2\n    # Subtest: empty\n    1..0\nok 1 empty\n    # Subtest: s\n    1..2\n    ok 1 a\nOops: general protection fault\n";
        let (k, r) = judged(beside_crash);
        assert_eq!(counts(&k), [1, 0, 1, 0]);
        assert_eq!(r.status, StageStatus::Fail);
        assert!(
            r.summary.contains("failures: s.<unnamed>;"),
            "{}",
            r.summary
        );
    }

    /// What kunit.py does not call a success is not a pass: every test skipped, 0 tests run,
    /// no KTAP at all (each told apart); a filter that matched nothing is a skip.
    #[test]
    fn runs_without_a_passing_test_are_told_apart() {
        let skipped = "KTAP version 1\n1..1\n    # Subtest: s\n    1..2\n    ok 1 a # SKIP no hw\n    ok 2 b # SKIP no hw\nok 1 s\n";
        let (_, r) = judged(skipped);
        assert_eq!(r.status, StageStatus::Fail);
        assert!(
            r.summary.contains("every test was skipped"),
            "{}",
            r.summary
        );

        let (_, r) = judged("KTAP version 1\n1..0\n");
        assert_eq!(r.status, StageStatus::Fail);
        assert_eq!(
            r.summary,
            "0 tests run; kunit_parser: Test: main: 0 tests run!"
        );

        let (k, r) = judged("Linux version 7.2\nno tests here\n");
        assert_eq!((k.blocks, r.status), (0, StageStatus::Fail));
        assert!(
            r.summary.starts_with("no KTAP output on the console"),
            "{}",
            r.summary
        );

        let (_, r) = judge("KTAP version 1\n1..0\n", Some("nothing*"));
        assert_eq!(
            (r.status, r.summary.as_str()),
            (
                StageStatus::Skip,
                "no KUnit test matches kunit.filter_glob=nothing*"
            )
        );
        let (_, r) = judge("booted, no KTAP\n", Some("nothing*"));
        assert_eq!(r.status, StageStatus::Skip);
        let (_, r) = judge("", None);
        assert_eq!(
            (r.status, r.summary.as_str()),
            (StageStatus::Skip, "no console")
        );

        let filtered = "KTAP version 1\n1..1\n    # Subtest: rust_kernel_str\n    1..2\n    ok 1 a\n    not ok 2 b\nnot ok 1 rust_kernel_str\n";
        let (_, r) = judge(filtered, Some("rust_kernel_*"));
        assert_eq!(
            r.summary,
            "2 tests matching kunit.filter_glob=rust_kernel_*: 1 passed, 1 failed, 0 crashed, 0 skipped; failures: rust_kernel_str.b"
        );
    }

    /// kunit.py's failure summary: a suite whose every case failed is named once, otherwise
    /// `suite.case`; ten names, then how many more.
    #[test]
    fn the_failure_summary_names_as_kunit_py_does() {
        let mut log = String::from("KTAP version 1\n1..2\n    # Subtest: all\n    1..2\n    not ok 1 a\n    not ok 2 b\nnot ok 1 all\n    # Subtest: some\n    1..13\n");
        for i in 1..=13 {
            let ok = if i == 1 { "ok" } else { "not ok" };
            log += &format!("    {ok} {i} c{i}\n");
        }
        log += "not ok 2 some\n";
        let (k, r) = judged(&log);
        assert_eq!(counts(&k), [1, 14, 0, 0]);
        assert!(
            r.summary.ends_with(
                "failures: all, some.c2, some.c3, some.c4, some.c5, some.c6, some.c7, some.c8, some.c9, some.c10 and 3 more"
            ),
            "{}",
            r.summary
        );
    }

    /// The base's own doctest fault, as its console printed it: the case's summary names the
    /// faulting function demangled.
    #[test]
    fn a_failing_cases_summary_names_rust_functions_demangled() {
        let log = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: rust_doctests_kernel\n    1..1\n    # rust_doctest_kernel_task_rs_1.location: rust/kernel/task.rs:71\nBUG: unable to handle page fault for address: 000002a100000679\nRIP: 0010:_RNvMs1_NtCsl7L7n58I0Vr_6kernel4taskNtB5_4Task3pid+0x4/0xb\n    # rust_doctest_kernel_task_rs_1: try faulted\n    not ok 1 rust_doctest_kernel_task_rs_1\nnot ok 1 rust_doctests_kernel\n";
        let c = cases(&parse_first(log));
        assert_eq!(
            c[0].summary,
            "BUG: unable to handle page fault for address: 000002a100000679\nRIP: 0010:<kernel::task::Task>::pid+0x4/0xb\n# rust_doctest_kernel_task_rs_1: try faulted"
        );
    }

    #[test]
    fn prefix_skip_and_missing_result_is_a_crash() {
        let log = "[    0.1] boot\n[    0.2] KTAP version 1\n[    0.2] 1..1\n[    0.3]     # Subtest: s\n[    0.3]     1..3\n[    0.3]     ok 1 a # SKIP no hw\n[    0.4]     # b.location: rust/kernel/x.rs:7\n[    0.4]     not ok 2 b\n[    0.5] Oops: general protection fault\n";
        let c = cases(&parse_first(log));
        assert_eq!(c[0].status, CaseStatus::Skip);
        assert_eq!(c[0].summary, "no hw");
        assert_eq!(c[1].status, CaseStatus::Fail);
        assert_eq!(c[1].location.as_deref(), Some("rust/kernel/x.rs:7"));
        assert_eq!(c[2].status, CaseStatus::Crash);
    }

    #[test]
    fn garbage_and_truncation_do_not_panic() {
        for log in [
            "",
            "\u{0}\u{1}KTAP version 1\n1..",
            "KTAP version 1\n1..99999999999999999999999\nok",
            "KTAP version 1\n\r\r\n1..1\n  # Subtest: x\n  1..2\n  ok 1 y",
        ] {
            let _ = parse_all(log);
            let _ = cases(&parse_first(log));
        }
        assert_eq!(decode(b"a\xffb"), "a\\xffb");
        assert_eq!(split_lines("a\r\nb\rc\x0cd"), vec!["a", "b", "c", "d"]);
        // Python's other breaks, and the two-byte chars that look like one but are not.
        assert_eq!(
            split_lines("a\u{85}b\u{2028}c\u{2029}d\u{a0}e\u{c5}f"),
            vec!["a", "b", "c", "d\u{a0}e\u{c5}f"]
        );
    }

    #[test]
    fn a_stream_cut_inside_a_subtest_reports_what_is_missing_as_crashed() {
        // What `kunit.py parse` says of the same text: a, b pass; the rest of the suite and
        // the second suite crashed.
        let log = "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\n    ok 2 b\n    not o";
        let got: Vec<(String, String, String)> = cases(&parse_first(log))
            .into_iter()
            .map(|c| (c.suite, c.name, c.status.name().to_string()))
            .collect();
        let want: Vec<(String, String, String)> = [
            ("s", "a", "pass"),
            ("s", "b", "pass"),
            ("s", "", "crash"),
            ("", "", "crash"),
        ]
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn fuzz_regression_huge_plan_is_bounded() {
        // Found by `cargo fuzz run ktap`: a plan of 475 million tests ran out of memory.
        let log = format!("TAP version 14\n1..{}4750487808888888888888888\n    # Subtest: su 1..2\n    # Sub# Subtest: case\n    ok 2 - case\nok 1 - suite\n", "0".repeat(80));
        let t = std::time::Instant::now();
        let c = cases(&parse_first(&log));
        assert!(c.len() <= MAX_MISSING + 10, "{}", c.len());
        let log2 = "KTAP version 1\n1..475048780\nok 1 a\n";
        assert!(cases(&parse_first(log2)).len() <= MAX_MISSING + 1);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    /// Plans multiply across levels and blocks: a small console of nested `1..10000` plans,
    /// cut short, promised millions of missing (crashed) tests. The console's budget stops it
    /// fast, with one crashed test that says why.
    #[test]
    fn nested_plans_are_bounded_per_console() {
        let block = "KTAP version 1\n1..10000\n    KTAP version 1\n    # Subtest: a\n    1..10000\n        KTAP version 1\n        # Subtest: b\n        1..10000\n";
        let console = block.repeat(100);
        assert!(
            console.len() < 64 * 1024,
            "a small console: {}",
            console.len()
        );
        let started = std::time::Instant::now();
        let blocks = parse_all(&console);
        let all: Vec<Case> = blocks.iter().flat_map(cases).collect();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        assert!(all.len() <= MAX_TESTS, "{} cases", all.len());
        assert!(
            all.len() > MAX_TESTS / 2,
            "the budget, not the input, stopped it: {} cases",
            all.len()
        );
        let marker = all
            .iter()
            .filter(|c| c.name == "ktap-limit")
            .collect::<Vec<_>>();
        assert_eq!(marker.len(), 1, "one marker");
        assert_eq!(marker[0].status, CaseStatus::Crash);
        assert!(
            marker[0].summary.contains("more than 100000 KTAP tests"),
            "{}",
            marker[0].summary
        );
        assert!(all.iter().all(|c| c.status != CaseStatus::Pass));
        // Only empty blocks: the budget counts blocks too.
        let empties = parse_all_limited(&"KTAP version 1\n".repeat(5000), 1000);
        assert!(empties.len() <= 1000, "{}", empties.len());
        let limit: Vec<Case> = empties
            .iter()
            .flat_map(cases)
            .filter(|c| c.name == "ktap-limit")
            .collect();
        assert_eq!(limit.len(), 1);
        assert_eq!(limit[0].status, CaseStatus::Crash);
        // A console under the budget is parsed whole, with no marker.
        let ok = "KTAP version 1\n1..2\nok 1 a\nok 2 b\n".repeat(10);
        let c: Vec<Case> = parse_all_limited(&ok, 31).iter().flat_map(cases).collect();
        assert_eq!(c.len(), 20);
        assert!(c.iter().all(|c| c.status == CaseStatus::Pass));
    }

    #[test]
    fn a_console_of_many_blocks_gives_every_block() {
        // Each block used to copy the rest of the console (quadratic in the block count).
        let one = "[  1.0] KTAP version 1\n[  1.0] 1..1\n[  1.0]     KTAP version 1\n[  1.0]     # Subtest: m\n[  1.0]     1..2\n[  1.0]     ok 1 a\n[  1.0]     not ok 2 b\n[  1.0] not ok 1 m\nnoise\n";
        let blocks = parse_all(&one.repeat(2000));
        assert_eq!(blocks.len(), 2000);
        assert!(blocks
            .iter()
            .all(|b| cases(b).iter().map(|c| c.status).collect::<Vec<_>>()
                == [CaseStatus::Pass, CaseStatus::Fail]));
    }

    /// A boot-time block that lost its plan line (a console that cut or merged it): kunit_parser
    /// reads on into the module's block, as a nameless subtest. Read as one of every block,
    /// each block ends where the next begins.
    #[test]
    fn a_block_without_its_plan_ends_where_the_next_begins() {
        let log = "KTAP version 1\nrust_doctests_kernel: The value is: 42\n    KTAP version 1\n    # Subtest: a\n    1..1\n    ok 1 x\nok 1 a\n    KTAP version 1\n    # Subtest: b\n    1..1\n    not ok 1 y\nnot ok 2 b\nRFL-INIT: load m\nKTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: rfl_selftest\n    1..2\n    ok 1 seeded_pass\n    not ok 2 seeded_failure\nnot ok 1 rfl_selftest\nRFL-INIT: loaded m\n";
        // kunit.py's reading: the module's block nested under the boot-time one.
        let first = parse_first(log);
        let nested: Vec<_> = cases(&first).into_iter().map(|c| c.suite).collect();
        assert!(nested.contains(&".rfl_selftest".to_string()), "{nested:?}");
        // The harness's: two blocks, the module's suite named as it is.
        let blocks = parse_all(log);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        let names = |b: &Test| {
            cases(b)
                .into_iter()
                .map(|c| format!("{}.{}:{}", c.suite, c.name, c.status.name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&blocks[0]), ["a.x:pass", "b.y:fail"]);
        assert_eq!(
            names(&blocks[1]),
            [
                "rfl_selftest.seeded_pass:pass",
                "rfl_selftest.seeded_failure:fail"
            ]
        );
        // The same with timestamps, and with TAP version 14 headers.
        let stamped: String = log
            .lines()
            .map(|l| format!("[    1.000000] {l}\n"))
            .collect();
        assert_eq!(parse_all(&stamped).len(), 2);
        let tap = log.replace("KTAP version 1", "TAP version 14");
        assert_eq!(names(&parse_all(&tap)[1]), names(&blocks[1]));
    }

    #[test]
    fn several_blocks() {
        let log = "KTAP version 1\n1..1\nok 1 first\nrandom line\n[  1.0] KTAP version 1\n[  1.0] 1..1\n[  1.0]     KTAP version 1\n[  1.0]     # Subtest: m\n[  1.0]     1..1\n[  1.0]     ok 1 t\n[  1.0] ok 1 m\n";
        let blocks = parse_all(log);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        assert_eq!(cases(&blocks[1])[0].suite, "m");
    }
}
