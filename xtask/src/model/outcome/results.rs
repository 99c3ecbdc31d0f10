//! The whole run as `results.json` holds it: the schema version, `RunResults` with its bases,
//! entries and cells, and the checks a results file from elsewhere must pass to be read.

use serde::{Deserialize, Serialize};

use super::cell::CellResult;
use super::kunit::{MAX_KUNIT_ERRORS, MAX_TESTS};
use super::met::{check_met, check_note, ExpectNote, MAX_MET};

/// Version of the results JSON schema (documented in ARCHITECTURE.md).
pub const SCHEMA: u32 = 2;

/// The oldest schema this harness still reads: 2 only adds fields (boot findings, a `source`
/// fault), so a schema 1 file reads as one without them.
pub const OLDEST_SCHEMA: u32 = 1;

/// The whole run as written to `<out>/results.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema: u32,
    pub harness_version: String,
    pub started: String,
    #[serde(default)]
    pub interrupted: bool,
    /// How each base resolved (or why it did not).
    #[serde(default)]
    pub bases: Vec<BaseRecord>,
    /// Entries that cannot run, with why.
    #[serde(default)]
    pub skipped_entries: Vec<SkippedEntry>,
    /// What the matrix says of each planned entry (for reports made from results alone).
    #[serde(default)]
    pub entries: Vec<EntryInfo>,
    pub cells: Vec<CellResult>,
    /// What the run says of `expectations.toml` apart from any cell: expired expectations
    /// (errors) and, in a full run, those that matched nothing (warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<ExpectNote>,
}

/// How a base resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseStatus {
    Resolved,
    /// Its remote did not answer.
    Unreachable,
    /// Its remote answered, but the fetch failed.
    FetchFailed,
}

impl BaseStatus {
    pub fn name(self) -> &'static str {
        match self {
            BaseStatus::Resolved => "resolved",
            BaseStatus::Unreachable => "unreachable",
            BaseStatus::FetchFailed => "fetch-failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseRecord {
    pub name: String,
    pub status: BaseStatus,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub reason: String,
    /// The git remote the commit was fetched from; none for an offline import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryInfo {
    pub id: String,
    #[serde(default)]
    pub area: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub authors: Vec<String>,
    pub source_kind: String,
    pub source: String,
    #[serde(default)]
    pub lore: Option<String>,
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub registry_base: String,
    #[serde(default)]
    pub skip_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub id: String,
    pub reason: String,
}

/// The most KUnit tests one cell may list (what one console's parse records at most).
const MAX_CELL_TESTS: usize = MAX_TESTS;

impl RunResults {
    /// Check what the types alone cannot, for results that come from elsewhere (in CI, from
    /// jobs that built untrusted patches): a schema this harness reads, entry ids and base,
    /// toolchain and config names of the matrix's safe alphabet (`check_id`, `check_name`), at
    /// least one stage and none twice, sane durations and KUnit counts, cell
    /// folders inside the run folder. (Statuses and arches are enums: serde refuses an unknown
    /// one.) The error names the cell (`cell 3 (evil.x86_64)`).
    pub fn validate(&self) -> Result<(), String> {
        use crate::model::matrix::{check_id, check_name};
        use crate::model::text::{clip, one_line, term_safe};
        // A refused name as the error quotes it: on one line, and not all of a long one.
        let shown = |s: &str| clip(&one_line(s), 256).into_owned();
        let readable = OLDEST_SCHEMA..=SCHEMA;
        if !readable.contains(&self.schema) {
            return Err(format!(
                "schema {} is not a schema this harness reads ({OLDEST_SCHEMA} to {SCHEMA})",
                self.schema
            ));
        }
        for b in &self.bases {
            if let Err(why) = check_name(&b.name) {
                return Err(format!("the base name `{}` {why}", shown(&b.name)));
            }
        }
        for e in &self.entries {
            if let Err(why) = check_id(&e.id) {
                return Err(format!("the entry id `{}` {why}", shown(&e.id)));
            }
            if let Some(Err(why)) = e.base.as_deref().map(check_name) {
                return Err(format!(
                    "entry {}: the base name `{}` {why}",
                    shown(&e.id),
                    shown(e.base.as_deref().unwrap_or_default())
                ));
            }
        }
        for e in &self.skipped_entries {
            if let Err(why) = check_id(&e.id) {
                return Err(format!("the skipped entry id `{}` {why}", shown(&e.id)));
            }
        }
        if self.expectations.len() > MAX_MET {
            return Err(format!("{} expectation notes", self.expectations.len()));
        }
        for n in &self.expectations {
            check_note(n)?;
        }
        for (i, c) in self.cells.iter().enumerate() {
            let at = format!("cell {i} ({}.{})", term_safe(&c.entry), c.arch);
            let bad = |what: String| Err(format!("{at}: {what}"));
            if !readable.contains(&c.schema) {
                return bad(format!(
                    "schema {} is not {OLDEST_SCHEMA} to {SCHEMA}",
                    c.schema
                ));
            }
            if !c.is_base() {
                if let Err(why) = check_id(&c.entry) {
                    return bad(format!("the entry id {why}"));
                }
            }
            for (what, name) in [
                ("base", &c.base),
                ("toolchain", &c.toolchain.name),
                ("config", &c.config),
            ] {
                if let Err(why) = check_name(name) {
                    return bad(format!("the {what} name `{}` {why}", shown(name)));
                }
            }
            if let Some(g) = &c.kunit_filter {
                if let Err(why) = crate::model::matrix::check_kunit_filter(g) {
                    return bad(format!("its KUnit filter {why}"));
                }
            }
            if let Some(Err(why)) = c.series.as_ref().map(|s| s.validate()) {
                return bad(clip(&one_line(&why), 512).into_owned());
            }
            if c.stages.is_empty() {
                return bad("no stages".into());
            }
            for (j, s) in c.stages.iter().enumerate() {
                if c.stages[..j].iter().any(|x| x.stage == s.stage) {
                    return bad(format!("stage {} twice", s.stage.name()));
                }
                for (what, t) in [("duration", s.duration_s), ("queued", s.queued_s)] {
                    if !(t.is_finite() && t >= 0.0) {
                        return bad(format!(
                            "stage {}: {what} {t} is not a time",
                            s.stage.name()
                        ));
                    }
                }
                if s.log
                    .as_ref()
                    .is_some_and(|l| l.is_empty() || l.len() > 4096)
                {
                    return bad(format!(
                        "stage {}: a log name of {} bytes",
                        s.stage.name(),
                        s.log.as_ref().map_or(0, |l| l.len())
                    ));
                }
            }
            if !(c.duration_s.is_finite() && c.duration_s >= 0.0) {
                return bad(format!("duration {} is not a time", c.duration_s));
            }
            let dir = std::path::Path::new(&c.dir);
            if dir.is_absolute()
                || dir.components().any(|x| {
                    !matches!(
                        x,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                })
            {
                return bad(format!(
                    "the cell folder `{}` is not inside the run folder",
                    term_safe(&c.dir)
                ));
            }
            if c.expectations.len() > MAX_MET {
                return bad(format!("{} expectations met", c.expectations.len()));
            }
            if let Some(Err(why)) = c.expectations.iter().map(check_met).find(Result::is_err) {
                return bad(why);
            }
            let k = &c.kunit;
            if k.tests.len() > MAX_CELL_TESTS {
                return bad(format!(
                    "{} KUnit tests, more than {MAX_CELL_TESTS}",
                    k.tests.len()
                ));
            }
            if k.suites.len() > MAX_CELL_TESTS || k.errors.len() > MAX_KUNIT_ERRORS {
                return bad(format!(
                    "{} KUnit suites and {} parse errors, more than {MAX_CELL_TESTS} and \
                     {MAX_KUNIT_ERRORS}",
                    k.suites.len(),
                    k.errors.len()
                ));
            }
            let n = k
                .counts
                .passed
                .checked_add(k.counts.failed)
                .and_then(|x| x.checked_add(k.counts.crashed))
                .and_then(|x| x.checked_add(k.counts.skipped));
            if k.counts.total != k.tests.len() || n != Some(k.counts.total) {
                return bad(format!(
                    "KUnit counts (total {}) do not match its {} tests",
                    k.counts.total,
                    k.tests.len()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn results(edit: impl FnOnce(&mut Value)) -> RunResults {
        let mut v = json!({"schema": 2, "harness_version": "x", "started": "",
            "bases": [{"name": "b", "status": "resolved"}],
            "entries": [{"id": "e", "source_kind": "mbox", "source": "s", "base": "b"}],
            "skipped_entries": [{"id": "later", "reason": "r"}],
            "cells": [{"schema": 2, "entry": "e", "base": "b", "arch": "x86_64",
                "toolchain": {"name": "debian", "versions": {}}, "config": "release",
                "stages": [{"stage": "fetch", "status": "pass", "duration_s": 1.0, "summary": ""}],
                "dir": "cells/e", "started": "", "duration_s": 1.0}]});
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    /// Base, toolchain and config names, and every entry id, follow the matrix's name rule: a
    /// hostile shard's `../x`, `-rf` or a line break is refused, named, on one line.
    #[test]
    fn names_from_a_results_file_follow_the_matrixs_rule() {
        assert_eq!(results(|_| {}).validate(), Ok(()));
        type Edit = fn(&mut Value);
        let cases: [(Edit, &str); 8] = [
            (
                |v| v["cells"][0]["base"] = "../x".into(),
                "cell 0 (e.x86_64): the base name `../x` may not start with `.` or `-`",
            ),
            (
                |v| v["cells"][0]["toolchain"]["name"] = "a b".into(),
                "cell 0 (e.x86_64): the toolchain name `a b` may hold only ASCII letters, digits, `-`, `_` and `.`",
            ),
            (
                |v| v["cells"][0]["config"] = "x\n::error::y".into(),
                "cell 0 (e.x86_64): the config name `x\\n::error::y` may hold only ASCII letters, digits, `-`, `_` and `.`",
            ),
            (
                |v| v["cells"][0]["toolchain"]["name"] = "".into(),
                "cell 0 (e.x86_64): the toolchain name `` is empty",
            ),
            (
                |v| v["bases"][0]["name"] = "-rf".into(),
                "the base name `-rf` may not start with `.` or `-`",
            ),
            (
                |v| v["entries"][0]["id"] = "e/../../x".into(),
                "the entry id `e/../../x` may hold only ASCII letters, digits, `-`, `_` and `.`",
            ),
            (
                |v| v["entries"][0]["base"] = "b;x".into(),
                "entry e: the base name `b;x` may hold only ASCII letters, digits, `-`, `_` and `.`",
            ),
            (
                |v| v["skipped_entries"][0]["id"] = "base".into(),
                "the skipped entry id `base` is reserved for base cells",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(results(edit).validate(), Err(want.to_string()));
        }
        let long = results(|v| v["cells"][0]["config"] = "é".repeat(1000).into());
        let e = long.validate().unwrap_err();
        assert!(e.len() < 600, "{e}");
    }
}
