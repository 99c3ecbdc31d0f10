//! The patch-health harness for Rust-for-Linux as a library: the pipeline's modules, used by
//! the `cargo xtask` binary and by the fuzz targets.
//!
//! Layers, each using only the ones below it (ARCHITECTURE.md has the map):
//! `commands` → `run` → `report`, `stages`, `sources` → `sys` → `model`.

pub mod commands;
pub mod model;
pub mod report;
pub mod run;
pub mod sources;
pub mod stages;
pub mod sys;
