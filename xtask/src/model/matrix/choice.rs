//! The words that select instead of naming: `toolchain = "auto" | "all" | NAME` in
//! matrix.toml and `--config all | NAME` on the command line, as types parsed where the text
//! is read. Each word is spelled here once; its type's `Display` writes it back.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// `toolchain = "auto"`, and the toolchain name of a cell whose toolchain the run chooses.
pub const AUTO_TOOLCHAIN: &str = "auto";

/// Every one: `toolchain = "all"`, `--config all`, `--arch all`.
pub const ALL: &str = "all";

/// Which toolchains a cell runs with (`toolchain =`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolchainChoice {
    /// Per base, the newest declared toolchain that meets the base's minimums (the default).
    #[default]
    Auto,
    /// Each declared toolchain is a dimension.
    All,
    /// One declared toolchain.
    Named(String),
}

impl ToolchainChoice {
    pub fn as_str(&self) -> &str {
        match self {
            ToolchainChoice::Auto => AUTO_TOOLCHAIN,
            ToolchainChoice::All => ALL,
            ToolchainChoice::Named(n) => n,
        }
    }
}

impl From<&str> for ToolchainChoice {
    fn from(s: &str) -> Self {
        match s {
            AUTO_TOOLCHAIN => ToolchainChoice::Auto,
            ALL => ToolchainChoice::All,
            name => ToolchainChoice::Named(name.to_string()),
        }
    }
}

impl FromStr for ToolchainChoice {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(s.into())
    }
}

impl fmt::Display for ToolchainChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TOML string, as `FromStr` reads it.
impl<'de> Deserialize<'de> for ToolchainChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| s.as_str().into())
    }
}

/// Which config variants run (`--config`): every declared one, or one by name. No flag: the
/// variants marked default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChoice {
    All,
    Named(String),
}

impl ConfigChoice {
    pub fn as_str(&self) -> &str {
        match self {
            ConfigChoice::All => ALL,
            ConfigChoice::Named(n) => n,
        }
    }
    /// Whether a variant called `name` is selected.
    pub fn selects(&self, name: &str) -> bool {
        match self {
            ConfigChoice::All => true,
            ConfigChoice::Named(n) => n == name,
        }
    }
}

impl From<&str> for ConfigChoice {
    fn from(s: &str) -> Self {
        match s {
            ALL => ConfigChoice::All,
            name => ConfigChoice::Named(name.to_string()),
        }
    }
}

impl FromStr for ConfigChoice {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(s.into())
    }
}

impl fmt::Display for ConfigChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words read back as they were written, and a name is never a word.
    #[test]
    fn choices_read_and_write_the_same_words() {
        for w in ["auto", "all", "debian", "Auto", ""] {
            assert_eq!(ToolchainChoice::from(w).to_string(), w);
            assert_eq!(ConfigChoice::from(w).to_string(), w);
        }
        assert_eq!(ToolchainChoice::from("auto"), ToolchainChoice::Auto);
        assert_eq!(ToolchainChoice::from("all"), ToolchainChoice::All);
        assert_eq!(
            ToolchainChoice::from("all-x"),
            ToolchainChoice::Named("all-x".into())
        );
        assert_eq!(ConfigChoice::from("all"), ConfigChoice::All);
        assert_eq!(
            ConfigChoice::from("auto"),
            ConfigChoice::Named("auto".into())
        );
        assert!(ConfigChoice::All.selects("debug"));
        assert!(ConfigChoice::from("debug").selects("debug"));
        assert!(!ConfigChoice::from("debug").selects("release"));
    }
}
