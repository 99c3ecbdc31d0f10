pub mod disk;
pub mod jobs;
pub mod paths;
pub mod proc;
pub mod signal;
pub mod store;
pub mod tree;
