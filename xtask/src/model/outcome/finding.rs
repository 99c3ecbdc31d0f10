//! What a stage read out of its log or console: a tool's `Diagnostic` with its `Level`, and a
//! boot's `BootFinding` with its `BootKind`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub col: Option<u32>,
    pub level: Level,
    pub message: String,
    /// The line of the stage's log it was read from (from 1), where the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_line: Option<u32>,
}

/// How bad a diagnostic is, as the tool said it (`fatal error` is an error), written as the
/// tools write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    /// A tool's word for it: `error` and `fatal error` are errors, `note` a note, anything
    /// else a warning.
    pub fn of(word: &str) -> Level {
        match word {
            "error" | "fatal error" | "ERROR" => Level::Error,
            "note" => Level::Note,
            _ => Level::Warning,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Diagnostic {
    /// The same finding, wherever in the log it was read.
    pub fn same_as(&self, o: &Diagnostic) -> bool {
        (&self.file, self.line, self.col, &self.level, &self.message)
            == (&o.file, o.line, o.col, &o.level, &o.message)
    }
    pub fn render(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: {}: {}", self.level, self.message),
            (Some(f), None) => format!("{f}: {}: {}", self.level, self.message),
            _ => format!("{}: {}", self.level, self.message),
        }
    }
}

/// What a boot ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootKind {
    /// Nothing to report (a verdict's kind, never a finding's).
    Clean,
    Panic,
    Oops,
    Warning,
    InitFailure,
    ModuleFailure,
    Hang,
    ConsoleFlood,
    QemuError,
}

impl BootKind {
    pub fn name(self) -> &'static str {
        match self {
            BootKind::Clean => "clean",
            BootKind::Panic => "panic",
            BootKind::Oops => "oops",
            BootKind::Warning => "warning",
            BootKind::InitFailure => "init-failure",
            BootKind::ModuleFailure => "module-failure",
            BootKind::Hang => "hang",
            BootKind::ConsoleFlood => "console-flood",
            BootKind::QemuError => "qemu-error",
        }
    }
}

/// One problem a boot console shows, by what it is rather than how it was printed: the same
/// WARNING on two boots has the same finding whatever its addresses, timestamps and PIDs, so
/// an entry's boot is compared with its base's finding by finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BootFinding {
    pub kind: BootKind,
    /// The report's source location (`file:line`), else its first line with every number
    /// taken out; for a hang, a module that failed or a flood, what the verdict says of it.
    pub identity: String,
    /// The module the report names, or the one being loaded or unloaded when it came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub module: Option<String>,
}

impl BootFinding {
    pub fn render(&self) -> String {
        format!("{}: {}", self.kind.name(), self.what())
    }
    /// The identity, and the module when there is one: `identity [module]`.
    pub fn what(&self) -> String {
        let module = self
            .module
            .as_ref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        format!("{}{module}", self.identity)
    }
}
