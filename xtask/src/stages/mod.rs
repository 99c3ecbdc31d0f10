pub mod boot;
pub mod build;
pub mod checks;
pub mod frames;
pub mod ktap;
pub mod toolchain;
