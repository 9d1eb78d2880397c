//! Where a command's output goes, decided before any work is done: standard
//! output, a device or FIFO written in place (`-o /dev/null` discards, and
//! is never replaced by a regular file), or a file, which is created new
//! and replaces an existing one only when the caller was told to (`--force`,
//! as zstd does), and never when it is one of the command's own inputs.
//!
//! Also the temporary files a process has in flight ([`Partial`]): a
//! signal handler removes them all with [`remove_partials`] before exiting,
//! so Ctrl-C, SIGTERM and SIGHUP leave no hidden `.partial` file behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files in flight in this process.
static PARTIALS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary file registered for removal on a signal, for as long as the
/// guard lives (drop it once the file is renamed into place or removed).
#[derive(Debug)]
pub struct Partial(PathBuf);

impl Partial {
    /// Registers `path`.
    pub fn register(path: &Path) -> Partial {
        if let Ok(mut list) = PARTIALS.lock() {
            list.push(path.to_path_buf());
        }
        Partial(path.to_path_buf())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Ok(mut list) = PARTIALS.lock() {
            if let Some(i) = list.iter().position(|p| *p == self.0) {
                list.swap_remove(i);
            }
        }
    }
}

/// Removes every registered temporary file: for a Ctrl-C (or SIGTERM,
/// SIGHUP) handler that then exits, skipping the destructors that would.
pub fn remove_partials() {
    // A handler runs on its own thread (ctrlc); the lock is an ordinary one.
    let list = match PARTIALS.lock() {
        Ok(list) => list.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for p in list {
        let _ = std::fs::remove_file(p);
    }
}

use crate::error::{Error, ErrorKind, Result};

/// A checked output.
#[derive(Debug)]
pub enum Output {
    /// `-`: standard output.
    Stdout,
    /// A character device or FIFO, opened for writing; written in place.
    Device(File),
    /// A regular file to create (or to replace, when forced).
    File(PathBuf),
}

/// Checks `path` as the output of a command whose inputs are `inputs`:
/// refuses an existing regular file unless `force`, any path that is one of
/// the inputs (whatever `force` says), a directory, and a missing or
/// non-directory parent, each with a message that says what to do.
pub fn resolve(path: &Path, force: bool, inputs: &[&Path]) -> Result<Output> {
    if path.as_os_str() == "-" {
        return Ok(Output::Stdout);
    }
    let refuse = |kind: io::ErrorKind, msg: String| Err(Error::new(ErrorKind::Io(io::Error::new(kind, msg))));
    match std::fs::metadata(path) {
        Ok(meta) => {
            for input in inputs {
                if same_file(path, input) {
                    return refuse(
                        io::ErrorKind::InvalidInput,
                        "is also an input of this command; writing it would destroy what is being read: \
                         name another output"
                            .into(),
                    );
                }
            }
            if meta.is_dir() {
                return refuse(io::ErrorKind::InvalidInput, "is a directory; name a file".into());
            }
            if is_device_or_fifo(&meta) {
                let file = OpenOptions::new().write(true).open(path).map_err(|e| Error::new(ErrorKind::Io(e)))?;
                return Ok(Output::Device(file));
            }
            if !force {
                return refuse(
                    io::ErrorKind::AlreadyExists,
                    "already exists; pass --force to replace it, or name another output".into(),
                );
            }
            Ok(Output::File(path.to_path_buf()))
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(Error::new(ErrorKind::Io(e))),
        // Not found, or a path through a file ("file/t.trace"): the folder says which.
        Err(_) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => Ok(Output::File(path.to_path_buf())),
                Ok(_) => {
                    refuse(io::ErrorKind::InvalidInput, format!("cannot write into {}: not a directory", dir.display()))
                }
                Err(_) => refuse(
                    io::ErrorKind::NotFound,
                    format!("cannot write into {}: no such directory; create it or name another", dir.display()),
                ),
            }
        }
    }
}

/// Whether `a` and `b` name the same file (same device and inode on Unix;
/// the same canonical path elsewhere).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

fn is_device_or_fifo(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        t.is_char_device() || t.is_fifo() || t.is_block_device() || t.is_socket()
    }
    #[cfg(not(unix))]
    {
        !meta.is_file() && !meta.is_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_decided_before_work() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("t.trace");
        std::fs::write(&existing, b"precious").unwrap();
        let fresh = dir.path().join("new.trace");
        assert!(matches!(resolve(Path::new("-"), false, &[]).unwrap(), Output::Stdout));
        assert!(matches!(resolve(&fresh, false, &[]).unwrap(), Output::File(p) if p == fresh));
        let e = resolve(&existing, false, &[]).unwrap_err().to_string();
        assert!(e.contains("already exists; pass --force"), "{e}");
        assert!(matches!(resolve(&existing, true, &[]).unwrap(), Output::File(_)));
        // Its own input, even forced, even under another name.
        let alias = dir.path().join(".").join("t.trace");
        let e = resolve(&alias, true, &[&existing]).unwrap_err().to_string();
        assert!(e.contains("is also an input"), "{e}");
        let e = resolve(dir.path(), true, &[]).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = resolve(&dir.path().join("no/t.trace"), false, &[]).unwrap_err().to_string();
        assert!(e.contains("no such directory"), "{e}");
        let e = resolve(&existing.join("t.trace"), false, &[]).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
        #[cfg(unix)]
        assert!(matches!(resolve(Path::new("/dev/null"), false, &[]).unwrap(), Output::Device(_)));
    }
}
