//! Reading files named from outside (an environment value, a configuration, the
//! credential store): only regular files, opened without ever blocking (a FIFO or a
//! device named by mistake or by an attacker is an error at once, not a hang), and
//! never more than a cap read into memory.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::Path;

/// Opens `path` for reading without blocking, and only when it is a regular file:
/// `None` when it does not exist. With `follow_symlinks` false, a symbolic link is
/// refused too (the credential store's own files).
pub fn open_regular_file(path: &Path, follow_symlinks: bool) -> std::io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO with no writer returns at once (a regular file
        // reads the same with it); the type is checked before any read.
        let mut flags = libc::O_NONBLOCK;
        if !follow_symlinks {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    let _ = follow_symlinks;
    let file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(Some(file))
}

/// All of `file`, when it holds at most `cap` bytes; an error saying so otherwise
/// (at most `cap + 1` bytes are ever read).
pub fn read_capped(file: File, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(bytes)
}

/// [`open_regular_file`] then [`read_capped`], following symbolic links: `None` when
/// the file does not exist.
pub fn read_regular_file(path: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    open_regular_file(path, true)?
        .map(|file| read_capped(file, cap))
        .transpose()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_and_devices_are_refused_at_once_and_large_files_capped() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            let error = read_regular_file(&fifo, 1024).unwrap_err();
            assert!(error.to_string().contains("not a regular file"), "{error}");
        }
        let error = read_regular_file(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(
            read_regular_file(&dir.path().join("missing"), 1)
                .unwrap()
                .is_none()
        );
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let error = read_regular_file(&big, 1024).unwrap_err();
        assert!(
            error.to_string().contains("larger than 1024 bytes"),
            "{error}"
        );
        assert_eq!(read_regular_file(&big, 4096).unwrap().unwrap().len(), 2048);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert!(
            open_regular_file(&link, false).is_err(),
            "no symlink followed"
        );
        assert!(open_regular_file(&link, true).unwrap().is_some());
    }
}
