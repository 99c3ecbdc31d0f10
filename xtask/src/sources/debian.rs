//! Offline bases: a tagged release from Debian's `linux-source-X.Y` package, downloaded with
//! apt in private folders from the machine's own Debian source, unpacked with dpkg-deb and
//! tar, and imported into the object store as one reproducible commit under the base's ref.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::model::matrix::{Loaded, Offline};
use crate::model::text::last_lines;
use crate::sys::paths::Cache;
use crate::sys::proc;
use crate::sys::store::base_ref;
use crate::sys::store::{self, Store};

/// The URI and keyring of the machine's own Debian source (never a hard-coded mirror).
pub fn debian_source() -> Option<(String, String)> {
    let mut texts = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.to_string_lossy().contains("rfl-harness") {
                continue;
            }
            if let Ok(t) = std::fs::read_to_string(&f) {
                texts.push(t);
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    for t in &texts {
        // deb822 stanzas
        for stanza in t.split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.trim().to_string())
            };
            if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) {
                if !suites.split_whitespace().any(|s| s.contains("security")) {
                    let uri = uris
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let key = field("Signed-By:")
                        .unwrap_or_else(|| "/usr/share/keyrings/debian-archive-keyring.gpg".into());
                    return Some((uri, key));
                }
            }
        }
        // one-line form
        for l in t.lines() {
            let l = l.trim();
            if l.starts_with("deb ") && !l.contains("security") {
                let parts: Vec<&str> = l.split_whitespace().collect();
                let uri = parts.iter().find(|p| p.contains("://"))?.to_string();
                return Some((uri, "/usr/share/keyrings/debian-archive-keyring.gpg".into()));
            }
        }
    }
    None
}

/// Import every `offline` base of the matrix into the object store (idempotent: a base whose
/// package version is already imported is left as it is).
pub fn provision_offline_bases(cache: &Cache, matrix: &Loaded) -> anyhow::Result<()> {
    // A run on the same cache may be fetching into the store: wait for it (and make it wait).
    let _lock = crate::sys::paths::lock_cache(cache)?;
    provision_locked(cache, matrix)
}

/// [`provision_offline_bases`] for a caller that holds the cache lock.
/// Each base on a thread of its own: git writes objects atomically and each import has its
/// own index and scratch folder, so they share the store safely.
pub fn provision_locked(cache: &Cache, matrix: &Loaded) -> anyhow::Result<()> {
    let store = Store::open(cache)?;
    let offline: Vec<(&String, &Offline)> = matrix
        .matrix
        .bases
        .iter()
        .filter_map(|(name, b)| Some((name, b.offline.as_ref()?)))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = offline
            .iter()
            .map(|&(name, o)| {
                let store = &store;
                (name, s.spawn(move || provision(cache, store, name, o)))
            })
            .collect();
        let mut first_err = None;
        for (name, h) in handles {
            match h.join() {
                Ok(Ok(sha)) => println!("base {name}: {sha}"),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e.context(format!("provision base {name}")));
                }
                Err(_) => {
                    first_err.get_or_insert(anyhow::anyhow!(
                        "provision base {name}: its thread panicked"
                    ));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    })
}

fn apt_private_opts(dir: &Path) -> Vec<String> {
    vec![
        "-o".into(),
        format!(
            "Dir::Etc::SourceList={}",
            dir.join("sources.list").display()
        ),
        "-o".into(),
        "Dir::Etc::SourceParts=/dev/null".into(),
        "-o".into(),
        format!("Dir::State::Lists={}", dir.join("lists").display()),
        "-o".into(),
        format!("Dir::Cache::archives={}", dir.join("archives").display()),
        "-o".into(),
        "APT::Sandbox::User=root".into(),
    ]
}

fn provision(cache: &Cache, store: &Store, name: &str, o: &Offline) -> anyhow::Result<String> {
    let dl = cache.downloads().join(&o.suite);
    std::fs::create_dir_all(dl.join("lists/partial"))?;
    std::fs::create_dir_all(dl.join("archives/partial"))?;
    let (uri, key) = debian_source()
        .context("no Debian source in /etc/apt to download the kernel source from")?;
    // Security suites live at the `-security` archive next to the main one.
    let suite_uri = if o.suite.contains("security") {
        uri.trim_end_matches('/')
            .trim_end_matches("/debian")
            .to_string()
            + "/debian-security"
    } else {
        uri.clone()
    };
    std::fs::write(
        dl.join("sources.list"),
        format!("deb [signed-by={key}] {suite_uri} {} main\n", o.suite),
    )?;
    let opts = apt_private_opts(&dl);
    let run_apt = |prog: &str, args: &[&str]| -> anyhow::Result<proc::Captured> {
        let mut c = Command::new(prog);
        c.args(&opts).args(args).current_dir(&dl);
        proc::run_captured(&mut c, Some(Duration::from_secs(900)))
    };
    let up = run_apt("apt-get", &["update", "-q"])?;
    if !up.outcome.success() {
        bail!(
            "apt-get update for suite {} failed: {}",
            o.suite,
            last_lines(&up.stderr, 5)
        );
    }
    let show = run_apt(
        "apt-cache",
        &["show", "--no-all-versions", &o.debian_package],
    )?;
    let version = show
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(str::trim)
        .map(str::to_string);
    let Some(version) = version else {
        let search = run_apt(
            "apt-cache",
            &["search", "--names-only", "^linux-source-[0-9]"],
        )?;
        let offered: Vec<&str> = search
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        bail!(
            "Debian suite {} no longer offers {}; it offers: {}. Change `offline` of base {name} in matrix.toml",
            o.suite,
            o.debian_package,
            if offered.is_empty() { "no linux-source package".to_string() } else { offered.join(", ") }
        );
    };
    let message = format!("Import {} {} from Debian {}\n\nThe Debian source package's tree, Debian patches applied.\n", o.debian_package, version, o.suite);
    let r = base_ref(name);
    if let Some(sha) = store.rev(&r) {
        let have = store
            .git(&["log", "-1", "--format=%B", &sha])
            .unwrap_or_default();
        if have.trim() == message.trim() {
            eprintln!(
                "setup: base {name} already provisioned ({} {version})",
                o.debian_package
            );
            return Ok(sha);
        }
    }
    eprintln!("setup: downloading {} {version}", o.debian_package);
    let deb_glob = format!("{}_", o.debian_package);
    let find_deb = || {
        std::fs::read_dir(&dl).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                let f = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                f.starts_with(&deb_glob)
                    && f.contains(&version.replace(':', "%3a"))
                    && f.ends_with(".deb")
            })
        })
    };
    if find_deb().is_none() {
        let d = run_apt(
            "apt-get",
            &["download", "-q", &format!("{}={version}", o.debian_package)],
        )?;
        if !d.outcome.success() {
            bail!(
                "apt-get download {} failed: {}",
                o.debian_package,
                last_lines(&d.stderr, 5)
            );
        }
    }
    let deb = find_deb().context("downloaded .deb not found")?;
    let scratch = cache.root.join("tmp").join(format!("import-{name}"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    proc::output(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(scratch.join("deb")),
    )?;
    let tarball = find_tarball(&scratch.join("deb/usr/src"))
        .context("no linux-source tarball inside the package")?;
    let unpacked = scratch.join("src");
    std::fs::create_dir_all(&unpacked)?;
    eprintln!("setup: unpacking {}", tarball.display());
    proc::output(
        Command::new("tar")
            .arg("-xf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpacked),
    )?;
    let top = std::fs::read_dir(&unpacked)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file())
        .context("unpacked tarball has no top folder with a Makefile")?;
    let kver = store::kernel_version(&std::fs::read_to_string(top.join("Makefile"))?)
        .context("no version in the Makefile")?;
    eprintln!("setup: importing {kver} into {}", store.git_dir.display());
    let sha = store.import_tree(&top, &message, &scratch)?;
    store.set_ref(&format!("refs/tags/v{kver}"), &sha)?;
    store.set_ref(&r, &sha)?;
    std::fs::remove_dir_all(&scratch).ok();
    Ok(sha)
}

fn find_tarball(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let f = p.to_string_lossy();
            f.ends_with(".tar.xz") || f.ends_with(".tar.bz2") || f.ends_with(".tar.gz")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Setup's store writes wait for the cache lock a run holds, and start once it is let go.
    #[test]
    fn provisioning_waits_for_the_cache_lock() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            root: dir.path().join("cache"),
            slots_at: None,
            ccache_at: None,
            results_at: None,
        };
        let text = "arches = [\"x86_64\"]\n[bases.b]\nkind = \"branch\"\nurl = \"https://example.org/l.git\"\nref = \"master\"\n";
        let m = crate::model::matrix::parse(Path::new("m.toml"), text).unwrap();
        let held = crate::sys::paths::lock_cache(&cache).unwrap();
        let (c2, m2) = (cache.clone(), m.clone());
        let setup = std::thread::spawn(move || provision_offline_bases(&c2, &m2));
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !setup.is_finished(),
            "provisioning did not wait for the lock"
        );
        assert!(
            !cache.store().exists(),
            "the store was written under another's lock"
        );
        drop(held);
        setup.join().unwrap().unwrap();
        assert!(cache.store().join("HEAD").is_file());
    }
}
