pub mod bench;
pub mod import;
pub mod registry;
pub mod repro;
pub mod setup;
