//! The bearer token, from a flag, the environment, or a file (`--token-file`), so that it need
//! not appear in the process list. A file's trailing newline is not part of the token.

use std::path::Path;

/// The token to use: `--token`, or the first line of `--token-file`; never both.
pub(crate) fn resolve(
    token: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, String> {
    let token = token.filter(|t| !t.is_empty());
    let Some(file) = file else {
        return Ok(token);
    };
    if token.is_some() {
        return Err("give the token with --token or --token-file, not both".into());
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the token file {}: {e}", file.display()))?;
    let token = text.trim_end_matches(['\n', '\r']);
    if token.is_empty() {
        return Err(format!("the token file {} is empty", file.display()));
    }
    if token.contains(['\n', '\r']) {
        return Err(format!(
            "the token file {} holds more than one line",
            file.display()
        ));
    }
    warn_if_readable_by_others(file);
    Ok(Some(token.to_owned()))
}

/// Readable by its group is not warned about: a Kubernetes Secret mounted for a non-root pod
/// is group-readable by the pod's own group (fsGroup), as system secrets are by theirs.
#[cfg(unix)]
fn warn_if_readable_by_others(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(file) {
        if meta.permissions().mode() & 0o007 != 0 {
            tracing::warn!(file = %file.display(), "the token file can be read by every user (chmod 600 it)");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_file: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_loses_its_trailing_newline_and_never_mixes_with_a_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\r\n").unwrap();
        assert_eq!(
            resolve(None, Some(&file)).unwrap().as_deref(),
            Some("s3cret")
        );
        assert!(resolve(Some("x".into()), Some(&file)).is_err());
        assert_eq!(resolve(Some(String::new()), None).unwrap(), None);
        std::fs::write(&file, "\n").unwrap();
        assert!(resolve(None, Some(&file)).unwrap_err().contains("empty"));
        std::fs::write(&file, "a\nb\n").unwrap();
        assert!(resolve(None, Some(&file)).is_err());
        assert!(resolve(None, Some(&dir.path().join("missing"))).is_err());
    }
}
