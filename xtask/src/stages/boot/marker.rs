//! The init's markers: each step `init.c` takes is one console line `RFL-INIT: <word> …`.
//! The prefix and the words are named here once, for every reader of the console.

/// The prefix of every marker line, as a literal (for `concat!`).
macro_rules! mark {
    () => {
        "RFL-INIT:"
    };
}

/// What a marker line holds before its word; a line holding it is the init's.
pub const MARK: &str = mark!();

/// The marker set: each variant with its word, and the line it starts on the console.
macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident = $word:literal,)*) => {
        /// What the init says it does: the word after [`MARK`] (`init.c`'s `say`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Marker {
            $($(#[$doc])* $name,)*
        }

        impl Marker {
            /// Every marker the init prints.
            pub const ALL: &'static [Marker] = &[$(Marker::$name),*];

            /// The word as `init.c` says it (`load-failed`).
            pub const fn word(self) -> &'static str {
                match self {
                    $(Marker::$name => $word,)*
                }
            }

            /// The marker's line up to its word, as the console shows it (`RFL-INIT: done`).
            pub const fn line(self) -> &'static str {
                match self {
                    $(Marker::$name => concat!(mark!(), " ", $word),)*
                }
            }
        }
    };
}

markers! {
    /// The init started.
    Start = "start",
    /// A Rust module built in (its name follows): its init ran as an initcall before.
    Builtin = "builtin",
    /// The init loads a module (its name follows).
    Load = "load",
    /// The module loaded (its name follows).
    Loaded = "loaded",
    /// A module could not be opened or loaded (its name and errno follow).
    LoadFailed = "load-failed",
    /// The module unloaded (its name follows).
    Unloaded = "unloaded",
    /// A module could not be unloaded (its name and errno follow).
    UnloadFailed = "unload-failed",
    /// The init finished its list and reboots.
    Done = "done",
    /// `rfl.hold` is on the command line: the init stays up instead of rebooting.
    Holding = "holding",
    /// The init's reboot call failed (its errno follows).
    RebootFailed = "reboot-failed",
}

impl Marker {
    /// What follows this marker's word and a space in a marker's text (as [`text`] gives
    /// it): `load m` gives `m` for [`Marker::Load`], and `loaded m` gives nothing.
    pub fn arg(self, text: &str) -> Option<&str> {
        text.strip_prefix(self.word())?.strip_prefix(' ')
    }
}

/// The text after an init marker, wherever the line has it (a console timestamp or caller
/// prefix may come first).
pub fn text(line: &str) -> Option<&str> {
    line.find(MARK).map(|i| line[i + MARK.len()..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `init.c` prints its markers with this prefix and says exactly the words of this set.
    #[test]
    fn the_init_says_exactly_these_markers() {
        let init = include_str!("init.c");
        assert!(init.contains(&format!("put(\"{MARK} \");")));
        let said: std::collections::BTreeSet<&str> = init
            .split("say(\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        let ours: std::collections::BTreeSet<&str> = Marker::ALL.iter().map(|m| m.word()).collect();
        assert_eq!(said, ours);
    }

    #[test]
    fn a_marker_s_text_line_and_argument() {
        assert_eq!(text("[    1.0] RFL-INIT: load m "), Some("load m"));
        assert_eq!(text("load m"), None);
        assert_eq!(Marker::Load.arg("load m"), Some("m"));
        assert_eq!(Marker::Load.arg("loaded m"), None);
        assert_eq!(Marker::Load.arg("load-failed m 2"), None);
        assert_eq!(Marker::Loaded.arg("loaded m"), Some("m"));
        assert_eq!(Marker::Done.line(), "RFL-INIT: done");
        assert_eq!(Marker::RebootFailed.line(), "RFL-INIT: reboot-failed");
    }
}
