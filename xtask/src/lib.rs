//! The patch-health harness for Rust-for-Linux as a library: the pipeline's modules, used by
//! the `cargo xtask` binary and by the fuzz targets.

pub mod arch;
pub mod bench;
pub mod boot;
pub mod build;
pub mod checks;
pub mod fetch;
pub mod health;
pub mod import;
pub mod jobs;
pub mod ktap;
pub mod lore;
pub mod matrix;
pub mod outcome;
pub mod paths;
pub mod plan;
pub mod proc;
pub mod progress;
pub mod registry;
pub mod report;
pub mod repro;
pub mod run;
pub mod setup;
pub mod store;
pub mod toolchain;
