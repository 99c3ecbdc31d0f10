//! The initramfs of a built kernel: the Rust modules the build produced (loadable and built
//! in), the init (`init.c`, built with clang against the tree's nolibc) and its module list,
//! and the cpio archive written by the build's own `usr/gen_init_cpio`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::model::arch::Profile;
use crate::stages::frames;
use crate::sys::proc;

/// The init: load and unload every module in the list, a marker per step, then reboot.
const INIT_C: &str = include_str!("init.c");

/// A Rust module the build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The name the kernel knows it by (file stem, `-` as `_`).
    pub name: String,
    /// Path of the `.ko` in the output folder.
    pub ko: PathBuf,
}

/// Every module this build produced (Kbuild's `modules.order`, so stale `.ko` files of an
/// earlier build in the same folder are never loaded) whose objects include Rust: its `.mod`
/// file names an object with a `.rs` source, or a `.rs` of the module's name exists.
pub fn rust_modules(src: &Path, out: &Path) -> Vec<Module> {
    let mut found = Vec::new();
    let order = std::fs::read_to_string(out.join("modules.order")).unwrap_or_default();
    let listed: Vec<PathBuf> = order
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| out.join(l).with_extension("ko"))
        .collect();
    let candidates: Vec<PathBuf> = if listed.is_empty() {
        let mut all = Vec::new();
        walk(out, &mut |p| {
            if p.extension().is_some_and(|e| e == "ko") {
                all.push(p.to_path_buf());
            }
        });
        all
    } else {
        listed
    };
    for p in candidates.iter().filter(|p| p.is_file()) {
        if let (Ok(rel), Some(stem)) = (p.strip_prefix(out), p.file_stem()) {
            let mut objects: Vec<String> = std::fs::read_to_string(p.with_extension("mod"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            objects.push(rel.with_extension("o").to_string_lossy().into_owned());
            if objects
                .iter()
                .any(|o| src.join(Path::new(o).with_extension("rs")).is_file())
            {
                found.push(Module {
                    name: stem.to_string_lossy().replace('-', "_"),
                    ko: p.clone(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The Rust modules built into this kernel: the modules of Kbuild's `modules.builtin` whose
/// init is a symbol `__<name>_init` in `System.map`, the name the `module!` macro gives a
/// built-in module's initcall (a module of several objects, such as `rust_print`, included).
pub fn builtin_rust_modules(out: &Path) -> Vec<String> {
    use std::io::{BufRead, Read};
    let list = crate::sys::tree::read_tree_text(&out.join("modules.builtin"));
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| Path::new(l.trim()).file_stem())
        .map(|s| s.to_string_lossy().replace('-', "_"))
        .filter(|n| frames::is_module_name(n))
        .collect();
    if names.is_empty() {
        return names;
    }
    let mut inits = std::collections::BTreeSet::new();
    if let Ok(f) = std::fs::File::open(out.join("System.map")) {
        // A full kernel's System.map is tens of MiB; a bigger one is not a kernel's.
        for line in std::io::BufReader::new(f.take(256 << 20)).lines() {
            let Ok(line) = line else { break };
            if let Some(sym) = line.split_whitespace().nth(2) {
                if let Some(n) = sym.strip_prefix("__").and_then(|s| s.strip_suffix("_init")) {
                    inits.insert(n.to_string());
                }
            }
        }
    }
    let mut found: Vec<String> = names.into_iter().filter(|n| inits.contains(n)).collect();
    found.sort();
    found.dedup();
    found
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                // Skip the folders that can never hold modules, for speed.
                let n = e.file_name();
                if n != "include" && n != "usr" && n != "Documentation" && n != "scripts" {
                    walk(&p, f);
                }
            }
            Ok(t) if t.is_file() => f(&p),
            _ => {}
        }
    }
}

fn c_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => o.push(c),
            c => o.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
        }
    }
    o.push('"');
    o
}

/// Build the init and the initramfs into `work` (its log beside it, `work` + `.log`); returns
/// the initramfs path.
pub fn make_initramfs(
    src: &Path,
    out: &Path,
    profile: &Profile,
    clang: &str,
    modules: &[Module],
    builtin: &[String],
    work: &Path,
) -> Result<PathBuf, String> {
    // Beside the folder: `initramfs/` logs to `initramfs.log`.
    let log = &work.with_extension("log");
    std::fs::create_dir_all(work).map_err(|e| format!("create {}: {e}", work.display()))?;
    // A module's name comes from a file name the patched tree chose: it becomes a file name
    // in the initramfs and a word of its list, so only a kernel module name is taken.
    if let Some(m) = modules
        .iter()
        .find(|m| m.name.len() > 64 || !frames::is_module_name(&m.name))
    {
        return Err(format!(
            "the module {} ({}) has no kernel module name",
            crate::model::text::one_line(&format!("{:?}", m.name)),
            m.ko.display()
        ));
    }
    let mut header = String::from("struct rfl_module { const char *name; const char *path; };\nstatic const struct rfl_module modules[] = {\n");
    for m in modules {
        header.push_str(&format!(
            "\t{{ {}, {} }},\n",
            c_string(&m.name),
            c_string(&format!("/modules/{}.ko", m.name))
        ));
    }
    header.push_str("\t{ 0, 0 },\n};\nstatic const char *const builtin[] = {\n");
    for b in builtin {
        header.push_str(&format!("\t{},\n", c_string(b)));
    }
    header.push_str("\t0,\n};\n");
    let write = |name: &str, text: &str| {
        std::fs::write(work.join(name), text).map_err(|e| format!("write {name}: {e}"))
    };
    write("modules.h", &header)?;
    write("init.c", INIT_C)?;
    let mut cc = Command::new(clang);
    cc.arg(format!("--target={}", profile.clang_target))
        .args([
            "-Os",
            "-static",
            "-nostdlib",
            "-nostdinc",
            "-fno-builtin",
            "-fno-stack-protector",
            "-fuse-ld=lld",
            "-Wno-unused-command-line-argument",
        ])
        .arg("-isystem")
        .arg(src.join("tools/include/nolibc"))
        .arg("-isystem")
        .arg(out.join("usr/include"))
        .arg("-I")
        .arg(work)
        .args(["-include", "nolibc.h", "-o"])
        .arg(work.join("init"))
        .arg(work.join("init.c"));
    cc.args(&profile.init_cflags);
    match proc::run_logged(&mut cc, log, Some(Duration::from_secs(120))) {
        Ok(o) if o.success() => {}
        Ok(o) => {
            return Err(format!(
                "building the init with clang failed ({})",
                o.describe()
            ))
        }
        Err(e) => return Err(format!("could not run clang: {e:#}")),
    }
    let mut list = String::from("dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\nnod /dev/kmsg 0600 0 0 c 1 11\ndir /proc 0755 0 0\ndir /modules 0755 0 0\n");
    // gen_init_cpio splits its lines at white space and has no quoting: every location is
    // relative to `work` (its working folder), the modules copied in under their checked
    // names, so no folder name (an `--out` with a space) can break a line.
    list.push_str("file /init init 0755 0 0\n");
    let copies = work.join("modules");
    std::fs::create_dir_all(&copies).map_err(|e| format!("create {}: {e}", copies.display()))?;
    for m in modules {
        let to = copies.join(format!("{}.ko", m.name));
        std::fs::copy(&m.ko, &to)
            .map_err(|e| format!("copy {} to {}: {e}", m.ko.display(), to.display()))?;
        list.push_str(&format!(
            "file /modules/{0}.ko modules/{0}.ko 0644 0 0\n",
            m.name
        ));
    }
    write("initramfs.list", &list)?;
    let cpio = work.join("initramfs.cpio");
    let gen = out.join("usr/gen_init_cpio");
    if !gen.is_file() {
        return Err(format!(
            "{} was not built (is CONFIG_BLK_DEV_INITRD set?)",
            gen.display()
        ));
    }
    let mut g = Command::new(&gen);
    g.current_dir(work)
        .arg("-o")
        .arg(&cpio)
        .arg(work.join("initramfs.list"));
    match proc::run_logged(&mut g, log, Some(Duration::from_secs(60))) {
        Ok(o) if o.success() => Ok(cpio),
        Ok(_) => {
            // Older gen_init_cpio has no -o: it writes to stdout.
            let c = proc::run_captured(
                Command::new(&gen)
                    .current_dir(work)
                    .arg(work.join("initramfs.list")),
                Some(Duration::from_secs(60)),
            )
            .map_err(|e| e.to_string())?;
            if !c.outcome.success() {
                return Err(format!("gen_init_cpio failed: {}", c.stderr.trim()));
            }
            // run_captured decodes as text; read the raw bytes instead.
            let mut raw = Command::new("sh");
            raw.current_dir(work).arg("-c").arg(format!(
                "{} {} > {}",
                proc::shell_quote(&gen),
                proc::shell_quote(work.join("initramfs.list")),
                proc::shell_quote(&cpio)
            ));
            proc::output(&mut raw).map_err(|e| e.to_string())?;
            Ok(cpio)
        }
        Err(e) => Err(format!("could not run gen_init_cpio: {e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The init's command-line test, compiled for the host: `rfl.hold` is a whole word, so a
    /// KUnit filter that spells it (`kunit.filter_glob=rfl.hold`) does not make the init hold.
    #[test]
    fn rfl_hold_is_a_whole_word_of_the_command_line() {
        let Some(cc) = ["cc", "clang-19", "clang"]
            .into_iter()
            .find(|c| Command::new(c).arg("--version").output().is_ok())
        else {
            panic!("no C compiler on this machine (setup installs clang-19)");
        };
        let from = INIT_C.find("static int has_word").unwrap();
        let to = INIT_C.find("/* Does the kernel command line").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("console=ttyS0 rfl.hold", 1),
            ("rfl.hold console=ttyS0\n", 1),
            ("a\trfl.hold\n", 1),
            ("rfl.hold", 1),
            ("kunit.filter_glob=rfl.hold", 0),
            ("kunit.filter_glob=rfl.hold* quiet", 0),
            ("xrfl.hold", 0),
            ("rfl.holder", 0),
            ("rfl.hold=0", 0),
            ("", 0),
        ];
        let mut main = String::from("#include <string.h>\n");
        main.push_str(&INIT_C[from..to]);
        main.push_str("int main(void)\n{\n\tint bad = 0;\n");
        for (i, (line, want)) in cases.iter().enumerate() {
            main.push_str(&format!(
                "\tif (has_word({0}, strlen({0}), \"rfl.hold\") != {want}) bad |= 1 << {i};\n",
                c_string(line)
            ));
        }
        main.push_str("\treturn bad;\n}\n");
        std::fs::write(dir.path().join("t.c"), main).unwrap();
        let built = Command::new(cc)
            .current_dir(dir.path())
            .args(["-o", "t", "t.c"])
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let ran = Command::new(dir.path().join("t")).status().unwrap();
        let bad = ran.code().unwrap();
        let wrong: Vec<_> = cases
            .iter()
            .enumerate()
            .filter(|(i, _)| bad & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect();
        assert!(wrong.is_empty(), "judged wrongly: {wrong:?}");
    }

    /// gen_init_cpio splits its lines at white space: an output folder with a space in its
    /// path still gives a list every line of which is whole (a fake clang and gen_init_cpio
    /// that checks each `file` line's fields and opens its location, as the real one does).
    #[test]
    fn an_output_folder_with_a_space_still_makes_an_initramfs() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a folder");
        let (src, out, work) = (root.join("src"), root.join("out dir"), root.join("work x"));
        std::fs::create_dir_all(out.join("usr")).unwrap();
        std::fs::create_dir_all(out.join("samples/rust")).unwrap();
        let script = |p: &Path, text: &str| {
            std::fs::write(p, text).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let clang = root.join("clang");
        script(
            &clang,
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && { shift; echo init > \"$1\"; }; shift; done\n",
        );
        script(
            &out.join("usr/gen_init_cpio"),
            "#!/bin/sh\n[ \"$1\" = -o ] || exit 1\ncpio=\"$2\"\nwhile read -r kind name loc rest; do\n  [ \"$kind\" = file ] || continue\n  set -- $rest\n  [ $# -eq 3 ] || { echo \"bad line: $kind $name $loc $rest\" >&2; exit 1; }\n  [ -f \"$loc\" ] || { echo \"no $loc\" >&2; exit 1; }\ndone < \"$3\"\necho cpio > \"$cpio\"\n",
        );
        let ko = out.join("samples/rust/rust_minimal.ko");
        std::fs::write(&ko, "ko").unwrap();
        let profile = crate::sys::paths::qemu_profile(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
            crate::model::arch::Arch::X86_64,
        )
        .unwrap();
        let module = |name: &str| Module {
            name: name.into(),
            ko: ko.clone(),
        };
        let cpio = make_initramfs(
            &src,
            &out,
            &profile,
            clang.to_str().unwrap(),
            &[module("rust_minimal")],
            &[],
            &work,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(cpio).unwrap(), "cpio\n");
        let list = std::fs::read_to_string(work.join("initramfs.list")).unwrap();
        assert!(
            list.contains("file /modules/rust_minimal.ko modules/rust_minimal.ko 0644 0 0\n"),
            "{list}"
        );
        // A module name the tree chose that is no kernel module name is refused, not listed.
        for bad in ["a b", "x\nfile /etc/shadow", "../m", ""] {
            let e = make_initramfs(
                &src,
                &out,
                &profile,
                clang.to_str().unwrap(),
                &[module(bad)],
                &[],
                &work,
            )
            .unwrap_err();
            assert!(e.contains("has no kernel module name"), "{bad:?}: {e}");
        }
    }
}
