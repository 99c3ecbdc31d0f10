pub mod disk;
pub mod http;
pub mod jobs;
pub mod paths;
pub mod proc;
pub mod signal;
pub mod smtp;
pub mod store;
#[cfg(test)]
pub mod testing;
pub mod tree;
