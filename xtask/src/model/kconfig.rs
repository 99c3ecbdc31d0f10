//! A `.config`'s text: its options and values, and the requested options a merge dropped.

use std::collections::BTreeMap;

/// `CONFIG_X=v` and `# CONFIG_X is not set` lines → name → value (`n` for not set).
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("# CONFIG_") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                m.insert(format!("CONFIG_{name}"), "n".to_string());
            }
        } else if l.starts_with("CONFIG_") {
            if let Some((k, v)) = l.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            }
        }
    }
    m
}

/// Requested options whose final value differs (a requested `n` is satisfied by absence).
pub fn dropped_options(
    requested: &BTreeMap<String, String>,
    final_cfg: &BTreeMap<String, String>,
    soft: &BTreeMap<String, String>,
) -> Vec<String> {
    requested
        .iter()
        .filter(|(k, _)| !soft.contains_key(*k))
        .filter(|(k, want)| {
            let have = final_cfg.get(*k).map(String::as_str).unwrap_or("n");
            have != want.as_str()
        })
        .map(|(k, want)| {
            format!(
                "{k}={want} (got {})",
                final_cfg.get(k).map(String::as_str).unwrap_or("unset")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parse_and_check() {
        let final_cfg = parse_config("CONFIG_RUST=y\n# CONFIG_BUG is not set\nCONFIG_X=m\n");
        let req =
            parse_config("CONFIG_RUST=y\nCONFIG_BUG=y\n# CONFIG_EFI_STUB is not set\nCONFIG_X=m\n");
        assert_eq!(
            dropped_options(&req, &final_cfg, &BTreeMap::new()),
            vec!["CONFIG_BUG=y (got n)".to_string()]
        );
    }
}
