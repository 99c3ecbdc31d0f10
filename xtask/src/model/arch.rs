//! The four architectures: an enum in code, every fact about each in `qemu/<arch>.toml`.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Written as its [`name`](Arch::name) (`x86_64`), and read back only from that: see the
/// `Deserialize` impl. The order of the variants is the order reports list arches in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    Arm64,
    Riscv64,
    Loongarch64,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Arm64, Arch::Riscv64, Arch::Loongarch64];

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// Accepts the harness's names and the common aliases (`aarch64`, `riscv`, `loongarch`).
    pub fn parse(s: &str) -> Option<Arch> {
        match s {
            "x86_64" | "x86" | "amd64" => Some(Arch::X86_64),
            "arm64" | "aarch64" => Some(Arch::Arm64),
            "riscv64" | "riscv" => Some(Arch::Riscv64),
            "loongarch64" | "loongarch" => Some(Arch::Loongarch64),
            _ => None,
        }
    }
}

/// An arch as a results file names it: exactly one of the names, no alias. Results files come
/// from other jobs, so anything else is refused, saying which arches there are.
impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Arch, D::Error> {
        let s = String::deserialize(d)?;
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
                serde::de::Error::custom(format!(
                    "unknown arch `{s}` (known: {})",
                    known.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One `qemu/<arch>.toml`: how to build for and boot an architecture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The kernel's `ARCH=` value.
    pub kernel_arch: String,
    /// clang `--target` for the nolibc init.
    pub clang_target: String,
    pub binary: String,
    /// The Debian package that provides `binary`.
    pub package: String,
    pub machine: String,
    #[serde(default)]
    pub cpu: String,
    pub memory: String,
    /// The kernel's console device, put on the command line as `console=`.
    pub console: String,
    /// The bootable image, relative to the build's output directory.
    pub image: String,
    /// Extra make targets needed to produce `image` beyond the default target.
    #[serde(default)]
    pub image_targets: Vec<String>,
    /// Firmware arguments (for example `-bios default` for OpenSBI).
    #[serde(default)]
    pub firmware: Vec<String>,
    /// A file the firmware needs, checked by `doctor`.
    #[serde(default)]
    pub firmware_file: String,
    #[serde(default)]
    pub append: String,
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Extra clang flags for the nolibc init.
    #[serde(default)]
    pub init_cflags: Vec<String>,
    /// Seconds from QEMU start to the init's last marker before the boot is called a hang.
    pub boot_timeout: u64,
}

impl Profile {
    /// A profile's text (`path` names it in errors): an error says where, `path:line:col`.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Profile> {
        toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| {
                let before = &text[..s.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.rsplit('\n').next().map_or(0, str::len) + 1,
                )
            });
            anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message().trim())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile that does not parse says where: the line and column of the bad value.
    #[test]
    fn a_bad_profile_is_named_with_its_line_and_column() {
        let text = "binary = \"qemu-system-x86_64\"\nmachine = \"q35\"\n  memory = [1\n";
        let e = Profile::parse(text, Path::new("qemu/x86_64.toml")).unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("qemu/x86_64.toml:3:"), "{e}");
        let col: usize = e.split(':').nth(2).unwrap().parse().unwrap();
        assert!((3..=14).contains(&col), "{e}");
        let e = Profile::parse("binary = 1\n", Path::new("p.toml")).unwrap_err();
        assert!(e.to_string().starts_with("p.toml:1:10: "), "{e}");
    }

    /// Results files hold an arch as its name, read back from that name only; an alias or an
    /// unknown name is refused with the names there are.
    #[test]
    fn an_arch_is_written_and_read_as_its_name_only() {
        for arch in Arch::ALL {
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(json, format!("\"{}\"", arch.name()));
            assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), arch);
        }
        for bad in [
            "\"aarch64\"",
            "\"X86_64\"",
            "\"sparc64\"",
            "0",
            "{\"x86_64\": null}",
        ] {
            assert!(serde_json::from_str::<Arch>(bad).is_err(), "{bad}");
        }
        let e = serde_json::from_str::<Arch>("\"sparc64\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown arch `sparc64` (known: x86_64, arm64, riscv64, loongarch64)"
        );
        let mut sorted = [Arch::Loongarch64, Arch::X86_64, Arch::Riscv64, Arch::Arm64];
        sorted.sort();
        assert_eq!(sorted, Arch::ALL);
    }
}
