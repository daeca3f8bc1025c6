//! Where the credential file lives by default.

use std::path::PathBuf;

use super::StoreError;

/// The file name inside the configuration directory.
pub const FILE_NAME: &str = "oauth.json";

/// The default credential file: `$CODEASSIST_HOME/oauth.json`, else
/// `$XDG_CONFIG_HOME/codeassist/oauth.json`, else `~/.config/codeassist/oauth.json`.
pub fn default_path() -> Result<PathBuf, StoreError> {
    let var = |name| std::env::var_os(name).map(PathBuf::from);
    resolve_default_path(var("CODEASSIST_HOME"), var("XDG_CONFIG_HOME"), var("HOME"))
}

/// [`default_path`] from explicit values; empty values count as unset.
pub fn resolve_default_path(
    codeassist_home: Option<PathBuf>,
    xdg_config_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, StoreError> {
    let set = |value: Option<PathBuf>| value.filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = set(codeassist_home) {
        return Ok(dir.join(FILE_NAME));
    }
    if let Some(dir) = set(xdg_config_home) {
        return Ok(dir.join("codeassist").join(FILE_NAME));
    }
    set(home)
        .map(|home| home.join(".config").join("codeassist").join(FILE_NAME))
        .ok_or(StoreError::NoLocation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            resolve_default_path(p("/ca"), p("/xdg"), p("/home/u")).unwrap(),
            PathBuf::from("/ca/oauth.json")
        );
        assert_eq!(
            resolve_default_path(p(""), p("/xdg"), p("/home/u")).unwrap(),
            PathBuf::from("/xdg/codeassist/oauth.json")
        );
        assert_eq!(
            resolve_default_path(None, None, p("/home/u")).unwrap(),
            PathBuf::from("/home/u/.config/codeassist/oauth.json")
        );
        assert!(matches!(
            resolve_default_path(None, p(""), None),
            Err(StoreError::NoLocation)
        ));
    }
}
