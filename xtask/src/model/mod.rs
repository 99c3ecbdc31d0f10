pub mod arch;
pub mod baseline;
pub mod health;
pub mod matrix;
pub mod outcome;
pub mod plan;
pub mod text;
pub mod version;
