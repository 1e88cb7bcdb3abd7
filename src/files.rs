//! Writing files safely: all or nothing (a temporary file renamed into place), private
//! (mode 0600) or not. Used for plans, snapshots, the config file and run records, so it is
//! also where a secret that came back inside outside text is redacted (`redact.rs`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to `path` atomically, creating missing parent folders. A private file
/// gets mode 0600; any other gets 0644 (before the umask). Any secret the process holds
/// is replaced by `[redacted]` first (a server may echo one inside a name or a message).
pub fn write_atomically(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    let redacted = std::str::from_utf8(contents)
        .ok()
        .filter(|text| crate::redact::holds_secret(text))
        .map(crate::redact::redact);
    let contents = redacted.as_ref().map_or(contents, String::as_bytes);
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("failed to create the folder `{}`", parent.display()))?;
    // tempfile creates the file with mode 0600.
    let mut temp = tempfile::NamedTempFile::new_in(&parent)
        .with_context(|| format!("failed to write into `{}`", parent.display()))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt;
        let _ = temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = private;
    temp.persist(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_registered_secret_never_reaches_a_file() {
        crate::redact::register("00filesSECRET_token_value_42");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plan.json");
        let contents = "{\"group\": \"named 00filesSECRET_token_value_42 by a hostile server\"}";
        super::write_atomically(&path, contents.as_bytes(), true).expect("written");
        let written = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(
            written,
            "{\"group\": \"named [redacted] by a hostile server\"}"
        );
        // Anything else is written as given.
        super::write_atomically(&path, b"plain", false).expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read back"), "plain");
    }
}
