use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use evict_model::FingerprintKey;

use crate::StoreError;

/// `$EVICT_HOME`: the folder holding the SQLite store and the fingerprint key.
#[derive(Debug, Clone)]
pub struct EvictHome {
    dir: PathBuf,
}

const KEY_FILE: &str = "fingerprint.key";

impl EvictHome {
    /// The folder named by `EVICT_HOME`, or `./.evict` when unset.
    pub fn from_env() -> Self {
        let dir = std::env::var_os("EVICT_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".evict"));
        EvictHome { dir }
    }

    /// A home at an explicit folder.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        EvictHome { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (mode 0700) if it does not exist.
    pub fn ensure(&self) -> Result<(), StoreError> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(|e| StoreError::Home {
            path: self.dir.clone(),
            reason: format!("cannot create EVICT_HOME: {e}"),
        })
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.dir.join("evict.db")
    }

    /// The installation's fingerprint key, created (mode 0600) on first use.
    ///
    /// Losing this file means new fingerprints no longer match stored ones; it is never
    /// printed and never stored in the database.
    pub fn fingerprint_key(&self) -> Result<FingerprintKey, StoreError> {
        self.ensure()?;
        let path = self.dir.join(KEY_FILE);
        let err = |reason: String| StoreError::Home {
            path: path.clone(),
            reason,
        };
        match fs::read(&path) {
            Ok(bytes) => {
                let bytes: [u8; FingerprintKey::LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
                    err(format!(
                        "fingerprint key must be {} bytes, found {}; restore it from backup (deleting it makes every stored fingerprint unmatchable)",
                        FingerprintKey::LEN,
                        b.len()
                    ))
                })?;
                Ok(FingerprintKey::from_bytes(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; FingerprintKey::LEN];
                getrandom::fill(&mut bytes)
                    .map_err(|e| err(format!("no randomness for a new key: {e}")))?;
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(&path)
                    .map_err(|e| err(format!("cannot create: {e}")))?;
                file.write_all(&bytes)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| err(format!("cannot write: {e}")))?;
                Ok(FingerprintKey::from_bytes(bytes))
            }
            Err(e) => Err(err(format!("cannot read: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let home = EvictHome::at(dir.path().join("home"));
        let first = home.fingerprint_key().unwrap();
        let second = home.fingerprint_key().unwrap();
        assert_eq!(first.as_bytes(), second.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(home.dir().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = fs::metadata(home.dir()).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_damaged_key_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let home = EvictHome::at(dir.path());
        fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        let err = home.fingerprint_key().unwrap_err().to_string();
        assert!(err.contains("must be 32 bytes, found 5"), "{err}");
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), b"short");
    }
}
