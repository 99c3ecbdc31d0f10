pub mod boot;
pub mod build;
pub mod checks;
pub mod config;
pub mod frames;
pub mod ktap;
pub mod rustdoc;
pub mod toolchain;
