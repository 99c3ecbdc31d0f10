//! The result model: stages, statuses, diagnostics, a cell's result, the run's results. Pure
//! data. This module only gathers its parts; every type is used as `model::outcome::X`.
//!
//! A kernel failure (conflict, build error, panic, KUnit failure, lint) is a `Fail` value
//! here; `Error` is for the harness's and the machine's own faults. A stage whose input
//! failed is `Skip` with the reason.

mod cell;
mod finding;
mod kunit;
mod met;
mod results;
mod series;
mod stage;
mod time;

pub use cell::{CellKey, CellResult, Change, Health, Patchset, ToolchainRecord, Verdict};
pub use finding::{BootFinding, BootKind, Diagnostic, Level};
pub use kunit::{Case, CaseStatus, Kunit, KunitCounts, SuiteCounts, MAX_KUNIT_ERRORS, MAX_TESTS};
pub use met::{check_met, check_note, ExpectNote, Matched, Met, MetOutcome, NoteKind, MAX_MET};
pub use results::{
    BaseRecord, BaseStatus, EntryInfo, RunResults, SkippedEntry, OLDEST_SCHEMA, SCHEMA,
};
pub use series::{check_address, check_header, SeriesMail};
pub use stage::{Fault, Stage, StageResult, Status};
pub use time::{now_rfc3339, rfc3339};
