pub mod apply;
pub mod debian;
pub mod fetch;
pub mod git;
pub mod in_base;
pub mod lore;
pub mod remote;
pub mod stage;
