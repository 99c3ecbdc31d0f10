pub mod boot;
pub mod build;
pub mod checks;
pub mod ktap;
pub mod toolchain;
