//! The fetch and apply stages of a group of cells (one entry on one base): what each records,
//! and the slot's worktree left at the patched tree (or at the base, for a base cell).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model::matrix::Loaded;
use crate::model::outcome::{Patchset, Stage, StageResult, Status};
use crate::model::plan::Cell;
use crate::sources::apply;
use crate::sources::fetch::{self, FetchError, Fetched};
use crate::sys::store::Store;

/// The reason every stage of a cell whose base could not be had is skipped with.
pub const BASE_MISSING: &str = "the base could not be fetched";

/// The fetch stage of `cell` (the group's first) on `base`; with what it fetched when it
/// passed. A base cell fetches nothing of its own.
pub fn fetch(
    store: &Store,
    m: &Loaded,
    cell: &Cell,
    base: &Result<String, FetchError>,
) -> (StageResult, Option<Fetched>) {
    if cell.is_base() {
        let at = base.as_ref().map(String::as_str).unwrap_or("?");
        let summary = format!("base {} at {at}", cell.base);
        return (StageResult::new(Stage::Fetch, Status::Pass, summary), None);
    }
    let entry = m.entry(&cell.entry).expect("planned entries exist");
    let t = Instant::now();
    let r = match base {
        Err(e) => Err(FetchError::stage(e, Stage::Fetch)),
        Ok(_) => fetch::fetch_source(store, m, &cell.entry, entry.source.get_ref())
            .map_err(|e| e.stage(Stage::Fetch)),
    };
    let (mut s, fetched) = match r {
        Ok(f) => (
            StageResult::new(Stage::Fetch, Status::Pass, fetched_summary(&f)),
            Some(f),
        ),
        Err(mut s) => {
            if let Err(e) = base {
                s.summary = format!("base {}: {}", cell.base, e.message());
            }
            (s, None)
        }
    };
    s.duration_s = t.elapsed().as_secs_f64();
    (s, fetched)
}

fn fetched_summary(f: &Fetched) -> String {
    match f {
        Fetched::Commit(c) => format!("fetched {c}"),
        Fetched::Mbox(files) => format!("{} patch files", files.len()),
        Fetched::PathCheck(p) => format!("file link: {p}"),
        Fetched::Series {
            version,
            count,
            base_commit,
            left_out,
            ..
        } => format!(
            "series v{version}, {count} patches{}{}",
            base_commit
                .as_ref()
                .map(|b| format!(", base-commit {b}"))
                .unwrap_or_default(),
            if left_out.is_empty() {
                String::new()
            } else {
                format!("; left out, not the author's: {}", left_out.join(", "))
            }
        ),
    }
}

/// What the apply stage leaves for the cells: the patchset and the files it changes.
#[derive(Default)]
pub struct Applied {
    pub patchset: Option<Patchset>,
    pub changed: Vec<String>,
}

/// The apply stage: the worktree `src` put at the base, then the fetched patchset (none for
/// a base cell) applied on it. Its log goes to the first of `dirs` and is copied to the rest.
pub fn apply(
    store: &Store,
    src: &Path,
    base: &Result<String, FetchError>,
    fetched: Option<&Fetched>,
    dirs: &[PathBuf],
) -> (StageResult, Applied) {
    let Ok(base_commit) = base else {
        return (
            StageResult::skip(Stage::Apply, BASE_MISSING),
            Applied::default(),
        );
    };
    let Some(f) = fetched else {
        let r = match store.worktree_at(src, base_commit) {
            Ok(()) => StageResult::new(Stage::Apply, Status::Pass, "base cell: nothing to apply"),
            Err(e) => StageResult::error(Stage::Apply, format!("worktree: {e:#}")),
        };
        return (r, Applied::default());
    };
    let log = dirs[0].join(Stage::Apply.log_name());
    let (r, patchset) = apply::apply(store, src, base_commit, f, &log);
    let changed = patchset
        .as_ref()
        .map(|p| apply::changed_files(src, base_commit, &p.head))
        .unwrap_or_default();
    for other in &dirs[1..] {
        let _ = std::fs::copy(&log, other.join(Stage::Apply.log_name()));
    }
    (r, Applied { patchset, changed })
}
