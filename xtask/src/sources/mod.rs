pub mod fetch;
pub mod in_base;
pub mod lore;
pub mod remote;
pub mod stage;
