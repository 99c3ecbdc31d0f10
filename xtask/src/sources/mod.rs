pub mod fetch;
pub mod lore;
pub mod remote;
