//! Report signing: the installation's ed25519 key and the signature line that lets an auditor
//! check a report was produced by this installation and not changed since.
//!
//! The key lives in the directory the caller passes (`$EVICT_HOME`): `report-signing.key` holds
//! the 32-byte secret seed (mode 0600 on unix) and `report-signing.pub` the public key, one line
//! `ed25519 <base64 of the 32 key bytes> evict-report-signing`, which is what auditors receive.
//! A key is named by its fingerprint, `SHA256:` followed by the unpadded base64 of the SHA-256 of
//! the 32 public key bytes (the OpenSSH notation, but over the raw key, so it differs from what
//! `ssh-keygen` would print for the same key).
//!
//! This module must never print, log or otherwise reveal the seed (its types show only the
//! fingerprint when debug-printed), and never overwrite an existing key: every report signed
//! with a key verifies only with that key's public half, so replacing it silently would make
//! them all unverifiable.
//!
//! # The signature line
//!
//! An HTML or Markdown report carries its signature as its last line, so a single file goes to
//! the auditor; an HTML comment keeps both formats rendering as before:
//!
//! ```text
//! <!-- evict-signature v1 ed25519 key=SHA256:<43 chars> sig=<base64 of the 64-byte signature> -->
//! ```
//!
//! The fields are separated by single spaces and the base64 is the standard alphabet with
//! padding. The line is followed by one `\n`, which is optional when verifying; nothing else may
//! follow it. Formats that cannot take an extra line (JSON) get a detached signature instead: the
//! same line, alone, in `FILE.sig` next to the untouched `FILE`.
//!
//! # Verifying without evict
//!
//! 1. Take the file's bytes. If they end with `\n`, drop that one byte.
//! 2. The signature line is what follows the last remaining `\n` (the whole file if there is
//!    none). It must have exactly the form above.
//! 3. The signed content `B` is everything before the signature line, including the `\n` that
//!    ends the line before it. For a detached signature `B` is the whole report file and the
//!    signature line is the content of `FILE.sig`.
//! 4. The signed message is the 16 bytes `evict-report-v1` followed by one NUL byte, then `B`.
//!    The prefix keeps a report signature from ever being accepted as a signature over anything
//!    else.
//! 5. Check that `key=` equals the fingerprint of the public key you trust, then verify `sig=`
//!    over the message with plain Ed25519 (RFC 8032, not Ed25519ph). Evict itself verifies
//!    strictly (it also rejects small-order keys and non-canonical signatures), so anything it
//!    accepts, any RFC 8032 implementation accepts.
//!
//! With Python and the `cryptography` package:
//!
//! ```python
//! import base64, hashlib
//! from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
//!
//! alg, key_b64, comment = open("report-signing.pub").read().split()
//! pub = base64.b64decode(key_b64)
//! data = open("report.html", "rb").read()
//! if data.endswith(b"\n"):
//!     data = data[:-1]
//! cut = data.rfind(b"\n") + 1
//! signed, line = data[:cut], data[cut:].decode("ascii")
//! assert line.startswith("<!-- evict-signature ") and line.endswith(" -->")
//! version, algorithm, key, sig = line[len("<!-- evict-signature "):-len(" -->")].split(" ")
//! assert (version, algorithm) == ("v1", "ed25519")
//! fingerprint = base64.b64encode(hashlib.sha256(pub).digest()).decode().rstrip("=")
//! assert key == "key=SHA256:" + fingerprint, "signed with another key"
//! Ed25519PublicKey.from_public_bytes(pub).verify(
//!     base64.b64decode(sig[len("sig="):]), b"evict-report-v1\0" + signed)  # raises if changed
//! print("OK")
//! ```
//!
//! With a shell and OpenSSL 3 (for a file ending in `\n`, as evict writes it):
//!
//! ```sh
//! f=report.html
//! # The public key as PEM: the fixed DER header for an Ed25519 key, then its 32 bytes.
//! { printf '\060\052\060\005\006\003\053\145\160\003\041\000'
//!   cut -d' ' -f2 report-signing.pub | base64 -d; } | openssl pkey -pubin -inform DER -out pub.pem
//! # Compare with key= on the signature line:
//! echo "SHA256:$(cut -d' ' -f2 report-signing.pub | base64 -d | openssl dgst -sha256 -binary | base64 | tr -d =)"
//! line=$(tail -n 1 "$f")
//! { printf 'evict-report-v1\0'; head -c $(( $(wc -c < "$f") - ${#line} - 1 )) "$f"; } > msg.bin
//! printf '%s' "$line" | sed 's/.* sig=\([^ ]*\) -->$/\1/' | base64 -d > sig.bin
//! openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg.bin -sigfile sig.bin
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// File name of the secret seed inside the key directory.
pub const SECRET_KEY_FILE: &str = "report-signing.key";
/// File name of the public key inside the key directory; this is the file auditors receive.
pub const PUBLIC_KEY_FILE: &str = "report-signing.pub";
/// Prepended to the signed bytes before signing (domain separation, see the module docs).
pub const SIGNED_MESSAGE_PREFIX: &[u8] = b"evict-report-v1\0";

const SEED_LEN: usize = 32;
const PUBLIC_KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
const TRAILER_START: &str = "<!-- evict-signature ";
const TRAILER_END: &str = " -->";
const TRAILER_VERSION: &str = "v1";
const ALGORITHM: &str = "ed25519";
const PUBLIC_KEY_COMMENT: &str = "evict-report-signing";
const FINGERPRINT_PREFIX: &str = "SHA256:";

/// Where [`init_keys`] put the new key, and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The public key file, the one to hand to auditors.
    pub public_key_path: PathBuf,
    /// The secret seed; it never leaves this machine.
    pub secret_key_path: PathBuf,
    /// `SHA256:<base64>`, as shown in every signature line made with this key.
    pub fingerprint: String,
}

/// The installation's secret signing key, loaded by [`load_signing_key`].
///
/// The seed is wiped from memory when this is dropped, and debug output shows only the
/// fingerprint.
pub struct ReportSigner {
    key: SigningKey,
    fingerprint: String,
}

impl ReportSigner {
    fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let fingerprint = fingerprint_of(key.verifying_key().as_bytes());
        ReportSigner { key, fingerprint }
    }

    /// The fingerprint of this key, as written into signature lines.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public half, which verifies what this key signs.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    fn signature_line(&self, signed: &[u8]) -> String {
        let signature = self.key.sign(&signed_message(signed));
        format!(
            "{TRAILER_START}{TRAILER_VERSION} {ALGORITHM} key={} sig={}{TRAILER_END}",
            self.fingerprint,
            STANDARD.encode(signature.to_bytes())
        )
    }
}

impl fmt::Debug for ReportSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportSigner")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// A public key that report signatures are checked against.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// `SHA256:<base64>`, the name signature lines use for this key.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.key.as_bytes())
    }

    /// The 32 raw key bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        self.key.as_bytes()
    }

    /// The content of a `.pub` file for this key, ending in a newline.
    pub fn to_pub_file(&self) -> String {
        format!(
            "{ALGORITHM} {} {PUBLIC_KEY_COMMENT}\n",
            STANDARD.encode(self.key.as_bytes())
        )
    }

    fn parse_pub_file(text: &str) -> Result<PublicKey, String> {
        let line = text.trim();
        if line.is_empty() {
            return Err("the file is empty".to_owned());
        }
        if line.contains('\n') {
            return Err("it has more than one line".to_owned());
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [algorithm, key, comment] = fields.as_slice() else {
            return Err(format!(
                "it has {} space-separated fields, not 3",
                fields.len()
            ));
        };
        if *algorithm == "ssh-ed25519" {
            return Err(
                "it is an OpenSSH key, not an evict report-signing key (those start with `ed25519 `)"
                    .to_owned(),
            );
        }
        if *algorithm != ALGORITHM {
            return Err(format!(
                "the key type is {}, not `{ALGORITHM}`",
                excerpt(algorithm)
            ));
        }
        if *comment != PUBLIC_KEY_COMMENT {
            return Err(format!(
                "the last field is {}, not `{PUBLIC_KEY_COMMENT}`",
                excerpt(comment)
            ));
        }
        let bytes = STANDARD
            .decode(key)
            .map_err(|e| format!("the key is not valid base64 ({e})"))?;
        let bytes: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "the key is {} bytes; an ed25519 public key is {PUBLIC_KEY_LEN}",
                bytes.len()
            )
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "the key bytes are not a valid ed25519 public key".to_owned())?;
        if key.is_weak() {
            return Err(
                "the key is a weak (small-order) ed25519 key, which would accept forged signatures"
                    .to_owned(),
            );
        }
        Ok(PublicKey { key })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey")
            .field(&self.fingerprint())
            .finish()
    }
}

/// How [`sign_report`] attaches the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStyle {
    /// Appends the signature line, an HTML comment, as the report's last line.
    Html,
    /// Same line as [`SignatureStyle::Html`]: Markdown renders an HTML comment invisibly.
    Markdown,
    /// Leaves the report untouched and returns only the signature line, for `FILE.sig`
    /// (see [`detached_signature_path`]). For formats such as JSON that cannot take an extra line.
    Detached,
}

/// The result of a successful [`verify_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The fingerprint of the key that made the signature (the trusted key).
    pub key_fingerprint: String,
    /// How many bytes of the report the signature covers (the report without its signature line).
    pub signed_bytes: usize,
}

/// Creating or loading the report-signing key failed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// `evict keys init` found a key already in place.
    #[error(
        "a report-signing key already exists at {}; evict never overwrites it, so keep using it. \
         To replace it, deliberately move {} and its .pub away first: reports signed with the old \
         key then verify only with the old public key, so keep that .pub",
        path.display(), path.display()
    )]
    KeyExists {
        /// The existing secret key file.
        path: PathBuf,
    },
    /// A public key file is present without its secret key.
    #[error(
        "{} exists without its secret key; it is probably the public half of a key that was moved \
         away, and auditors need it to verify reports signed with that key. Move it somewhere \
         safe, then run `evict keys init` again",
        path.display()
    )]
    OrphanPublicKey {
        /// The public key file in the way.
        path: PathBuf,
    },
    /// No secret key file.
    #[error("no report-signing key at {}: run `evict keys init` first", path.display())]
    KeyMissing {
        /// Where the key was looked for.
        path: PathBuf,
    },
    /// The secret key file exists but could not be read.
    #[error(
        "cannot read the report-signing key {}: {source}; it must be a file readable by the user running evict",
        path.display()
    )]
    KeyUnreadable {
        /// The secret key file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The secret key file is not a 32-byte seed.
    #[error(
        "the report-signing key {} must be exactly {SEED_LEN} bytes, but is {found}: it is damaged \
         or not an evict key. Restore it from backup, or move it away and run `evict keys init` \
         (reports signed with the old key then verify only with its old public key)",
        path.display()
    )]
    KeyWrongLength {
        /// The secret key file.
        path: PathBuf,
        /// Its length in bytes.
        found: u64,
    },
    /// The secret key file is accessible to other users.
    #[error(
        "the report-signing key {} is accessible to other users (mode {mode:03o}); run `chmod 600 {}`. \
         If someone else may have copied it, replace it: move it and its .pub away and run `evict keys init`",
        path.display(), path.display()
    )]
    KeyTooOpen {
        /// The secret key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secret key and the public key file next to it do not belong together.
    #[error(
        "the report-signing key {} (fingerprint {secret_fingerprint}) does not match {} \
         (fingerprint {public_fingerprint}); reports signed now would not verify with that .pub. \
         Put back the files that belong together",
        secret_path.display(), public_path.display()
    )]
    KeyPairMismatch {
        /// The secret key file.
        secret_path: PathBuf,
        /// The public key file.
        public_path: PathBuf,
        /// Fingerprint of the secret key's public half.
        secret_fingerprint: String,
        /// Fingerprint of the key in the public key file.
        public_fingerprint: String,
    },
    /// No public key file.
    #[error(
        "no public key at {}: for this installation's key run `evict keys init`; for another \
         installation's, use the report-signing.pub its operator gave you",
        path.display()
    )]
    PublicKeyMissing {
        /// Where the key was looked for.
        path: PathBuf,
    },
    /// The public key file could not be read.
    #[error("cannot read the public key {}: {source}", path.display())]
    PublicKeyUnreadable {
        /// The public key file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The public key file is not in the `.pub` format.
    #[error(
        "{} is not an evict report-signing public key: {reason}; expected one line \
         `{ALGORITHM} <base64 of 32 bytes> {PUBLIC_KEY_COMMENT}`",
        path.display()
    )]
    PublicKeyFormat {
        /// The public key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The operating system provided no randomness for a new key.
    #[error("the operating system provided no randomness for a new key: {reason}")]
    NoRandomness {
        /// The error from the OS.
        reason: String,
    },
    /// Creating the key files failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A report failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// There is no signature line.
    #[error(
        "no evict signature line found: the file was not signed by evict, or its signature line was removed"
    )]
    NotSigned,
    /// Bytes follow the signature line.
    #[error(
        "{bytes} byte(s) follow the signature line: content was added after signing, which the \
         signature does not cover, so the file is rejected"
    )]
    ContentAfterSignature {
        /// How many bytes follow the line (after its one optional newline).
        bytes: usize,
    },
    /// The signature line does not have the documented form.
    #[error("the signature line is malformed: {reason}")]
    MalformedSignature {
        /// What is wrong with it.
        reason: String,
    },
    /// The signature line names a key other than the trusted one.
    #[error(
        "the report says it was signed with key {signed_with}, but the trusted key is {trusted}: \
         verify it with the report-signing.pub of the installation that signed it; if it should \
         come from the {trusted} installation, it is not authentic"
    )]
    DifferentKey {
        /// The fingerprint on the signature line (not itself authenticated).
        signed_with: String,
        /// The fingerprint of the trusted key.
        trusted: String,
    },
    /// The signature is not valid for the content.
    #[error(
        "the signature does not match: the report was changed after signing \
         ({signed_bytes} bytes checked against key {fingerprint})"
    )]
    SignatureMismatch {
        /// The key checked against.
        fingerprint: String,
        /// How many bytes were checked.
        signed_bytes: usize,
    },
}

/// Creates the installation's report-signing key in `dir` (created, mode 0700, if missing).
///
/// Never replaces an existing key: returns [`SigningError::KeyExists`] instead, and
/// [`SigningError::OrphanPublicKey`] when only a `.pub` is present.
pub fn init_keys(dir: &Path) -> Result<KeyInfo, SigningError> {
    let secret_key_path = dir.join(SECRET_KEY_FILE);
    let public_key_path = dir.join(PUBLIC_KEY_FILE);
    create_private_dir(dir)?;
    // Checked up front only for the clearer message; `create_new` below is the real guard.
    if path_exists(&secret_key_path) {
        return Err(SigningError::KeyExists {
            path: secret_key_path,
        });
    }
    if path_exists(&public_key_path) {
        return Err(SigningError::OrphanPublicKey {
            path: public_key_path,
        });
    }

    let mut seed = [0u8; SEED_LEN];
    getrandom::fill(&mut seed).map_err(|e| SigningError::NoRandomness {
        reason: e.to_string(),
    })?;
    let signer = ReportSigner::from_seed(&seed);
    let written = write_new_file(&secret_key_path, &seed, 0o600);
    wipe(&mut seed);
    written.map_err(|e| match e {
        NewFileError::AlreadyExists => SigningError::KeyExists {
            path: secret_key_path.clone(),
        },
        NewFileError::Failed { action, source } => SigningError::Io {
            action,
            path: secret_key_path.clone(),
            source,
        },
    })?;

    let public = signer.public_key();
    if let Err(e) = write_new_file(&public_key_path, public.to_pub_file().as_bytes(), 0o644) {
        // Nothing can have been signed with the key created a moment ago, so removing it is
        // safe, and it lets `evict keys init` be run again once the cause is fixed.
        let _ = fs::remove_file(&secret_key_path);
        return Err(match e {
            NewFileError::AlreadyExists => SigningError::OrphanPublicKey {
                path: public_key_path,
            },
            NewFileError::Failed { action, source } => SigningError::Io {
                action,
                path: public_key_path,
                source,
            },
        });
    }
    sync_dir(dir);

    Ok(KeyInfo {
        public_key_path,
        secret_key_path,
        fingerprint: signer.fingerprint,
    })
}

/// Loads the installation's secret key from `dir`.
///
/// Refuses a key file other users can access (unix), and a key that does not match the `.pub`
/// next to it, since reports signed with it would not verify with the `.pub` auditors hold.
pub fn load_signing_key(dir: &Path) -> Result<ReportSigner, SigningError> {
    let path = dir.join(SECRET_KEY_FILE);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SigningError::KeyMissing { path });
        }
        Err(source) => return Err(SigningError::KeyUnreadable { path, source }),
    };
    // The metadata of the opened file, so the checks apply to what is actually read.
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        Err(source) => return Err(SigningError::KeyUnreadable { path, source }),
    };
    if !metadata.is_file() {
        return Err(SigningError::KeyUnreadable {
            path,
            source: io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file"),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SigningError::KeyTooOpen { path, mode });
        }
    }
    if metadata.len() != SEED_LEN as u64 {
        return Err(SigningError::KeyWrongLength {
            path,
            found: metadata.len(),
        });
    }
    let mut seed = [0u8; SEED_LEN];
    let read = file.read_exact(&mut seed);
    let signer = ReportSigner::from_seed(&seed);
    wipe(&mut seed);
    if let Err(source) = read {
        return Err(SigningError::KeyUnreadable { path, source });
    }

    // A missing or unreadable .pub is reported when someone verifies with it; only a readable
    // one holding a different key is a reason not to sign.
    let public_path = dir.join(PUBLIC_KEY_FILE);
    if let Ok(public) = load_public_key(&public_path)
        && public != signer.public_key()
    {
        return Err(SigningError::KeyPairMismatch {
            secret_path: path,
            public_path,
            secret_fingerprint: signer.fingerprint,
            public_fingerprint: public.fingerprint(),
        });
    }
    Ok(signer)
}

/// Reads a `.pub` file (`ed25519 <base64 of 32 bytes> evict-report-signing`).
pub fn load_public_key(path: &Path) -> Result<PublicKey, SigningError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SigningError::PublicKeyMissing {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(SigningError::PublicKeyUnreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    let format_error = |reason: String| SigningError::PublicKeyFormat {
        path: path.to_owned(),
        reason,
    };
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format_error("it is not text".to_owned()))?;
    PublicKey::parse_pub_file(text).map_err(format_error)
}

/// The public key of the installation whose key directory is `dir`.
pub fn installation_public_key(dir: &Path) -> Result<PublicKey, SigningError> {
    load_public_key(&dir.join(PUBLIC_KEY_FILE))
}

/// Where a detached signature for `report` goes: the same path with `.sig` appended.
pub fn detached_signature_path(report: &Path) -> PathBuf {
    let mut path = report.as_os_str().to_owned();
    path.push(".sig");
    PathBuf::from(path)
}

/// Signs `body`. For [`SignatureStyle::Html`] and [`SignatureStyle::Markdown`] returns the whole
/// file to write: `body`, a `\n` if `body` is non-empty and does not end with one (that newline
/// is signed too), then the signature line and `\n`. For [`SignatureStyle::Detached`] returns
/// only the signature line and `\n`, for `FILE.sig`; `body` is then signed exactly as given.
pub fn sign_report(signer: &ReportSigner, body: &[u8], style: SignatureStyle) -> Vec<u8> {
    match style {
        SignatureStyle::Html | SignatureStyle::Markdown => {
            let mut file = Vec::with_capacity(body.len() + 200);
            file.extend_from_slice(body);
            if !body.is_empty() && !body.ends_with(b"\n") {
                file.push(b'\n');
            }
            let line = signer.signature_line(&file);
            file.extend_from_slice(line.as_bytes());
            file.push(b'\n');
            file
        }
        SignatureStyle::Detached => {
            let mut file = signer.signature_line(body).into_bytes();
            file.push(b'\n');
            file
        }
    }
}

/// Checks that `file_bytes` was signed by `trusted` and not changed since.
///
/// `detached` is the content of `FILE.sig` for a detached signature, in which case all of
/// `file_bytes` is the signed content; without it the signature line must be the file's last
/// line. Never panics, whatever the input.
pub fn verify_report(
    file_bytes: &[u8],
    detached: Option<&[u8]>,
    trusted: &PublicKey,
) -> Result<Verified, VerifyError> {
    let (signed, line) = match detached {
        None => {
            let (line_start, line) = locate_signature_line(file_bytes)?;
            (&file_bytes[..line_start], line)
        }
        Some(signature_file) => {
            let (line_start, line) = locate_signature_line(signature_file)?;
            if line_start > 0 {
                return Err(malformed(format!(
                    "the .sig file must hold only the signature line, but {line_start} byte(s) precede it"
                )));
            }
            (file_bytes, line)
        }
    };
    let parsed = parse_signature_line(line)?;
    let trusted_fingerprint = trusted.fingerprint();
    if parsed.fingerprint != trusted_fingerprint {
        return Err(VerifyError::DifferentKey {
            signed_with: parsed.fingerprint,
            trusted: trusted_fingerprint,
        });
    }
    trusted
        .key
        .verify_strict(&signed_message(signed), &parsed.signature)
        .map_err(|_| VerifyError::SignatureMismatch {
            fingerprint: trusted_fingerprint.clone(),
            signed_bytes: signed.len(),
        })?;
    Ok(Verified {
        key_fingerprint: trusted_fingerprint,
        signed_bytes: signed.len(),
    })
}

/// The key fingerprint a signed file's signature line names (pass the `.sig` content for a
/// detached signature), so a caller can say which key to verify with. It is a claim, not
/// verified: only [`verify_report`] establishes who signed.
pub fn trailer_key_fingerprint(file_bytes: &[u8]) -> Result<String, VerifyError> {
    let (_, line) = locate_signature_line(file_bytes)?;
    Ok(parse_signature_line(line)?.fingerprint)
}

struct SignatureLine {
    fingerprint: String,
    signature: Signature,
}

/// Finds the signature line: the last line, after at most one final `\n`. Returns where it
/// starts, which is where the signed content ends, and the line without its newline.
fn locate_signature_line(file: &[u8]) -> Result<(usize, &[u8]), VerifyError> {
    let content = file.strip_suffix(b"\n").unwrap_or(file);
    let line_start = content
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = &content[line_start..];
    if line.starts_with(TRAILER_START.as_bytes()) {
        return Ok((line_start, line));
    }
    // Not the last line: tell "content was appended" apart from "never signed", so that a
    // signature line followed by anything is reported for what it is.
    match rfind(file, TRAILER_START.as_bytes()) {
        Some(marker) if marker >= line_start => Err(malformed(
            "other text precedes it on its line (was the newline before it edited?)".to_owned(),
        )),
        Some(marker) => {
            let line_end = file[marker..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(file.len(), |newline| marker + newline);
            let is_start_of_line = marker == 0 || file[marker - 1] == b'\n';
            if is_start_of_line && parse_signature_line(&file[marker..line_end]).is_ok() {
                let after = (line_end + 1).min(file.len());
                Err(VerifyError::ContentAfterSignature {
                    bytes: file.len() - after,
                })
            } else {
                Err(VerifyError::NotSigned)
            }
        }
        None => Err(VerifyError::NotSigned),
    }
}

fn parse_signature_line(line: &[u8]) -> Result<SignatureLine, VerifyError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| malformed("it is not valid UTF-8 text".to_owned()))?;
    if text.ends_with('\r') {
        return Err(malformed(
            "it ends with a carriage return: the file's line endings were converted (by an \
             editor, mail client or git), which also changes the signed content"
                .to_owned(),
        ));
    }
    let inner = text
        .strip_prefix(TRAILER_START)
        .ok_or_else(|| malformed(format!("it does not start with `{TRAILER_START}`")))?
        .strip_suffix(TRAILER_END)
        .ok_or_else(|| malformed(format!("it does not end with `{TRAILER_END}`")))?;
    let fields: Vec<&str> = inner.split(' ').collect();
    let [version, algorithm, key, sig] = fields.as_slice() else {
        return Err(malformed(format!(
            "it has {} space-separated fields, not 4 ({TRAILER_VERSION} {ALGORITHM} key=… sig=…)",
            fields.len()
        )));
    };
    if *version != TRAILER_VERSION {
        return Err(malformed(format!(
            "its format version is {}; this evict reads `{TRAILER_VERSION}` (a newer evict may read it)",
            excerpt(version)
        )));
    }
    if *algorithm != ALGORITHM {
        return Err(malformed(format!(
            "its algorithm is {}, not `{ALGORITHM}`",
            excerpt(algorithm)
        )));
    }
    let fingerprint = key
        .strip_prefix("key=")
        .ok_or_else(|| malformed("its third field does not start with `key=`".to_owned()))?;
    let well_formed_fingerprint = fingerprint
        .strip_prefix(FINGERPRINT_PREFIX)
        .and_then(|digest| STANDARD_NO_PAD.decode(digest).ok())
        .is_some_and(|digest| digest.len() == Sha256::output_size());
    if !well_formed_fingerprint {
        return Err(malformed(format!(
            "key= is {}, not `{FINGERPRINT_PREFIX}` and the unpadded base64 of 32 bytes",
            excerpt(fingerprint)
        )));
    }
    let signature = sig
        .strip_prefix("sig=")
        .ok_or_else(|| malformed("its fourth field does not start with `sig=`".to_owned()))?;
    let signature = STANDARD
        .decode(signature)
        .map_err(|e| malformed(format!("sig= is not valid base64 ({e})")))?;
    let signature: [u8; SIGNATURE_LEN] = signature.try_into().map_err(|bytes: Vec<u8>| {
        malformed(format!(
            "sig= holds {} bytes; an ed25519 signature is {SIGNATURE_LEN}",
            bytes.len()
        ))
    })?;
    Ok(SignatureLine {
        fingerprint: fingerprint.to_owned(),
        signature: Signature::from_bytes(&signature),
    })
}

fn malformed(reason: String) -> VerifyError {
    VerifyError::MalformedSignature { reason }
}

fn signed_message(signed: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNED_MESSAGE_PREFIX.len() + signed.len());
    message.extend_from_slice(SIGNED_MESSAGE_PREFIX);
    message.extend_from_slice(signed);
    message
}

fn fingerprint_of(public_key: &[u8; PUBLIC_KEY_LEN]) -> String {
    format!(
        "{FINGERPRINT_PREFIX}{}",
        STANDARD_NO_PAD.encode(Sha256::digest(public_key))
    )
}

/// Quotes at most a short prefix of untrusted text for an error message.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut shown: String = text.chars().take(MAX_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// Best effort: without the `zeroize` crate the compiler may still elide this, but `black_box`
/// makes that unlikely, and the long-lived copy inside `SigningKey` is zeroized on drop.
fn wipe(seed: &mut [u8; SEED_LEN]) {
    seed.fill(0);
    std::hint::black_box(seed);
}

fn path_exists(path: &Path) -> bool {
    // symlink_metadata so a dangling symlink counts as present rather than as room for a key.
    fs::symlink_metadata(path).is_ok()
}

fn create_private_dir(dir: &Path) -> Result<(), SigningError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| SigningError::Io {
        action: "create the key directory",
        path: dir.to_owned(),
        source,
    })
}

enum NewFileError {
    AlreadyExists,
    Failed {
        action: &'static str,
        source: io::Error,
    },
}

/// Creates `path`, failing if anything is already there, and writes and syncs `contents`.
/// A file this call created but could not complete is removed again.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), NewFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(NewFileError::AlreadyExists);
        }
        Err(source) => {
            return Err(NewFileError::Failed {
                action: "create",
                source,
            });
        }
    };
    let written = file
        .write_all(contents)
        .map_err(|source| ("write", source))
        .and_then(|()| file.sync_all().map_err(|source| ("sync", source)));
    if let Err((action, source)) = written {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(NewFileError::Failed { action, source });
    }
    Ok(())
}

/// Makes the new directory entries durable. Best effort: some filesystems refuse to sync a
/// directory, and failing `keys init` after both files were written would leave a key that a
/// retry then refuses to replace.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift64*), standing in for a property-test crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }

        fn bytes_up_to(&mut self, max_len: usize) -> Vec<u8> {
            let len = self.below(max_len);
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    fn keys() -> (tempfile::TempDir, ReportSigner, PublicKey) {
        let dir = tempfile::tempdir().unwrap();
        init_keys(dir.path()).unwrap();
        let signer = load_signing_key(dir.path()).unwrap();
        let public = installation_public_key(dir.path()).unwrap();
        (dir, signer, public)
    }

    /// A small HTML report of exactly `len` bytes.
    fn html_report(len: usize) -> Vec<u8> {
        let head = b"<!doctype html>\n<html><body>\n<h1>Incident INC-7</h1>\n<p>Access revoked: ";
        let tail = b"</p>\n</body></html>\n";
        let mut report = head.to_vec();
        while report.len() + tail.len() < len {
            report.push(b'k');
        }
        report.extend_from_slice(tail);
        report
    }

    #[test]
    fn init_creates_a_private_secret_and_a_one_line_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let info = init_keys(&home).unwrap();
        assert_eq!(info.secret_key_path, home.join(SECRET_KEY_FILE));
        assert_eq!(info.public_key_path, home.join(PUBLIC_KEY_FILE));
        assert_eq!(fs::read(&info.secret_key_path).unwrap().len(), SEED_LEN);

        let pub_file = fs::read_to_string(&info.public_key_path).unwrap();
        let fields: Vec<&str> = pub_file.trim_end().split(' ').collect();
        assert_eq!(fields.len(), 3, "{pub_file}");
        assert_eq!(fields[0], "ed25519");
        assert_eq!(STANDARD.decode(fields[1]).unwrap().len(), 32);
        assert_eq!(fields[2], "evict-report-signing");
        assert!(pub_file.ends_with('\n') && pub_file.lines().count() == 1);

        let public = load_public_key(&info.public_key_path).unwrap();
        assert_eq!(public.fingerprint(), info.fingerprint);
        assert!(info.fingerprint.starts_with("SHA256:"));
        assert_eq!(info.fingerprint.len(), "SHA256:".len() + 43);
        let signer = load_signing_key(&home).unwrap();
        assert_eq!(signer.fingerprint(), info.fingerprint);
        assert_eq!(signer.public_key(), public);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&info.secret_key_path), 0o600);
            assert_eq!(mode(&home), 0o700);
        }
    }

    #[test]
    fn debug_output_shows_the_fingerprint_never_the_seed() {
        let (dir, signer, public) = keys();
        let seed = fs::read(dir.path().join(SECRET_KEY_FILE)).unwrap();
        let shown = format!("{signer:?} {signer:#?} {public:?}");
        assert!(shown.contains(signer.fingerprint()), "{shown}");
        for encoding in [
            hex::encode(&seed),
            STANDARD.encode(&seed),
            STANDARD_NO_PAD.encode(&seed),
            format!("{seed:?}"),
            format!("{:?}", &seed[..4]),
        ] {
            assert!(!shown.contains(&encoding), "{shown}");
        }
    }

    #[test]
    fn a_second_init_refuses_and_leaves_the_key_unchanged() {
        let (dir, _, _) = keys();
        let secret = fs::read(dir.path().join(SECRET_KEY_FILE)).unwrap();
        let public = fs::read(dir.path().join(PUBLIC_KEY_FILE)).unwrap();

        let err = init_keys(dir.path()).unwrap_err();
        assert!(matches!(err, SigningError::KeyExists { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().join(SECRET_KEY_FILE).display().to_string()),
            "{message}"
        );
        assert!(message.contains("never overwrites"), "{message}");
        assert!(message.contains("move"), "{message}");
        assert!(message.contains("old public key"), "{message}");

        assert_eq!(fs::read(dir.path().join(SECRET_KEY_FILE)).unwrap(), secret);
        assert_eq!(fs::read(dir.path().join(PUBLIC_KEY_FILE)).unwrap(), public);
    }

    #[test]
    fn init_refuses_to_replace_a_public_key_left_without_its_secret() {
        let (dir, _, _) = keys();
        let public = fs::read(dir.path().join(PUBLIC_KEY_FILE)).unwrap();
        fs::remove_file(dir.path().join(SECRET_KEY_FILE)).unwrap();

        let err = init_keys(dir.path()).unwrap_err();
        assert!(matches!(err, SigningError::OrphanPublicKey { .. }), "{err}");
        assert!(err.to_string().contains(PUBLIC_KEY_FILE), "{err}");
        assert_eq!(fs::read(dir.path().join(PUBLIC_KEY_FILE)).unwrap(), public);
        assert!(!dir.path().join(SECRET_KEY_FILE).exists());
    }

    #[test]
    fn a_missing_or_damaged_secret_key_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_signing_key(dir.path()).unwrap_err();
        assert!(matches!(err, SigningError::KeyMissing { .. }), "{err}");
        assert!(
            err.to_string().contains("run `evict keys init` first"),
            "{err}"
        );

        let path = dir.path().join(SECRET_KEY_FILE);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).unwrap().write_all(b"short").unwrap();
        let err = load_signing_key(dir.path()).unwrap_err().to_string();
        assert!(err.contains("must be exactly 32 bytes, but is 5"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_other_users_can_access_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, _, _) = keys();
        let path = dir.path().join(SECRET_KEY_FILE);
        for mode in [0o644, 0o640, 0o604, 0o620, 0o666] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_signing_key(dir.path()).unwrap_err();
            assert!(
                matches!(err, SigningError::KeyTooOpen { mode: m, .. } if m == mode),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        load_signing_key(dir.path()).unwrap();
    }

    #[test]
    fn a_secret_key_that_does_not_match_its_pub_file_is_refused() {
        let (dir, _, _) = keys();
        let (other, _, _) = keys();
        fs::copy(
            other.path().join(PUBLIC_KEY_FILE),
            dir.path().join(PUBLIC_KEY_FILE),
        )
        .unwrap();
        let err = load_signing_key(dir.path()).unwrap_err();
        assert!(matches!(err, SigningError::KeyPairMismatch { .. }), "{err}");
    }

    #[test]
    fn signed_reports_verify_in_every_style() {
        let (_dir, signer, public) = keys();
        let html = html_report(300);
        let signed = sign_report(&signer, &html, SignatureStyle::Html);
        assert!(signed.starts_with(&html));
        let verified = verify_report(&signed, None, &public).unwrap();
        assert_eq!(verified.key_fingerprint, signer.fingerprint());
        assert_eq!(verified.signed_bytes, html.len());
        let last_line = std::str::from_utf8(&signed[html.len()..]).unwrap();
        assert!(last_line.starts_with("<!-- evict-signature v1 ed25519 key=SHA256:"));
        assert!(last_line.ends_with(" -->\n") && last_line.lines().count() == 1);

        // Without a final newline the one added before the signature line is signed too.
        let markdown = b"# Incident INC-7\n\nAll access revoked.";
        let signed = sign_report(&signer, markdown, SignatureStyle::Markdown);
        assert_eq!(signed[markdown.len()], b'\n');
        let verified = verify_report(&signed, None, &public).unwrap();
        assert_eq!(verified.signed_bytes, markdown.len() + 1);
        let unterminated = signed.strip_suffix(b"\n").unwrap();
        verify_report(unterminated, None, &public).unwrap();

        let json = br#"{"incident":"INC-7","closed":true}"#;
        let signature = sign_report(&signer, json, SignatureStyle::Detached);
        assert!(signature.starts_with(b"<!-- evict-signature v1 "));
        let verified = verify_report(json, Some(&signature), &public).unwrap();
        assert_eq!(verified.signed_bytes, json.len());
        let edited = br#"{"incident":"INC-7","closed":false}"#;
        assert!(matches!(
            verify_report(edited, Some(&signature), &public),
            Err(VerifyError::SignatureMismatch { .. })
        ));

        let empty = sign_report(&signer, b"", SignatureStyle::Html);
        assert_eq!(
            verify_report(&empty, None, &public).unwrap().signed_bytes,
            0
        );
    }

    #[test]
    fn flipping_any_single_bit_of_a_signed_report_fails_verification() {
        let (_dir, signer, public) = keys();
        let signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        verify_report(&signed, None, &public).unwrap();
        for position in 0..signed.len() {
            for bit in 0..8 {
                let mut edited = signed.clone();
                edited[position] ^= 1 << bit;
                assert!(
                    verify_report(&edited, None, &public).is_err(),
                    "flipping bit {bit} of byte {position} still verifies"
                );
            }
        }
    }

    #[test]
    fn deleting_or_inserting_any_byte_fails_verification() {
        let (_dir, signer, public) = keys();
        let signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        for position in 0..signed.len() {
            let mut deleted = signed.clone();
            deleted.remove(position);
            // The newline after the signature line is optional by design and outside what is
            // signed; every other byte counts.
            let is_final_newline = position == signed.len() - 1;
            assert_eq!(
                verify_report(&deleted, None, &public).is_ok(),
                is_final_newline,
                "deleting byte {position}"
            );
        }
        for position in 0..=signed.len() {
            for inserted_byte in [b'x', b' ', b'\n'] {
                let mut inserted = signed.clone();
                inserted.insert(position, inserted_byte);
                assert!(
                    verify_report(&inserted, None, &public).is_err(),
                    "inserting {inserted_byte:?} at {position} still verifies"
                );
            }
        }
    }

    #[test]
    fn a_report_without_its_signature_line_is_not_signed() {
        let (_dir, signer, public) = keys();
        let html = html_report(300);
        let signed = sign_report(&signer, &html, SignatureStyle::Html);
        assert_eq!(
            verify_report(&html, None, &public),
            Err(VerifyError::NotSigned)
        );
        let message = VerifyError::NotSigned.to_string();
        assert!(message.contains("not signed by evict"), "{message}");
        assert!(message.contains("signature line was removed"), "{message}");
        assert_eq!(trailer_key_fingerprint(&html), Err(VerifyError::NotSigned));
        assert_eq!(
            trailer_key_fingerprint(&signed).unwrap(),
            signer.fingerprint()
        );
    }

    #[test]
    fn content_after_the_signature_line_fails_verification() {
        let (_dir, signer, public) = keys();
        let signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        for appended in [
            &b"<p>also revoked: nothing</p>\n"[..],
            b"x",
            b"\n",
            b" ",
            b"\n\n",
        ] {
            let mut edited = signed.clone();
            edited.extend_from_slice(appended);
            assert_eq!(
                verify_report(&edited, None, &public),
                Err(VerifyError::ContentAfterSignature {
                    bytes: appended.len()
                }),
                "appending {appended:?}"
            );
        }
        // The same, with the optional newline after the signature line left out.
        let mut edited = signed.strip_suffix(b"\n").unwrap().to_vec();
        edited.extend_from_slice(b" and more");
        assert!(verify_report(&edited, None, &public).is_err());
    }

    #[test]
    fn another_installations_key_is_named_along_with_the_trusted_one() {
        let (_dir, signer, _) = keys();
        let (_other_dir, _, other_public) = keys();
        let signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        let err = verify_report(&signed, None, &other_public).unwrap_err();
        assert_eq!(
            err,
            VerifyError::DifferentKey {
                signed_with: signer.fingerprint().to_owned(),
                trusted: other_public.fingerprint(),
            }
        );
        let message = err.to_string();
        assert!(message.contains(signer.fingerprint()), "{message}");
        assert!(message.contains(&other_public.fingerprint()), "{message}");
    }

    #[test]
    fn a_changed_body_is_reported_as_changed_after_signing() {
        let (_dir, signer, public) = keys();
        let mut signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        signed[80] = b'K';
        let err = verify_report(&signed, None, &public).unwrap_err();
        assert!(
            matches!(err, VerifyError::SignatureMismatch { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("changed after signing"), "{err}");
    }

    #[test]
    fn a_detached_signature_file_must_hold_only_the_signature_line() {
        let (_dir, signer, public) = keys();
        let json = br#"{"incident":"INC-7"}"#;
        let signature = sign_report(&signer, json, SignatureStyle::Detached);
        let mut preceded = b"note\n".to_vec();
        preceded.extend_from_slice(&signature);
        assert!(matches!(
            verify_report(json, Some(&preceded), &public),
            Err(VerifyError::MalformedSignature { .. })
        ));
        let mut followed = signature.clone();
        followed.extend_from_slice(b"note\n");
        assert!(matches!(
            verify_report(json, Some(&followed), &public),
            Err(VerifyError::ContentAfterSignature { .. })
        ));
        assert_eq!(
            verify_report(json, Some(b""), &public),
            Err(VerifyError::NotSigned)
        );
        assert_eq!(
            detached_signature_path(Path::new("out/report.json")),
            PathBuf::from("out/report.json.sig")
        );
    }

    #[test]
    fn malformed_signature_lines_say_what_is_wrong() {
        let (_dir, signer, public) = keys();
        let body = b"report\n";
        let signed = String::from_utf8(sign_report(&signer, body, SignatureStyle::Html)).unwrap();
        let cases = [
            ("v1 ed25519", "v2 ed25519", "format version is \"v2\""),
            ("v1 ed25519", "v1 rsa", "algorithm is \"rsa\""),
            (" key=", " kee=", "does not start with `key=`"),
            (" sig=", " sgi=", "does not start with `sig=`"),
            (" -->", " ->", "does not end with"),
            (" sig=", "  sig=", "5 space-separated fields"),
            ("key=SHA256:", "key=SHA1:", "key= is \"SHA1:"),
        ];
        for (from, to, expected) in cases {
            let edited = signed.replacen(from, to, 1);
            let err = verify_report(edited.as_bytes(), None, &public).unwrap_err();
            assert!(
                matches!(err, VerifyError::MalformedSignature { .. })
                    && err.to_string().contains(expected),
                "{from} -> {to}: {err}"
            );
        }
        let crlf = signed.replace('\n', "\r\n");
        let err = verify_report(crlf.as_bytes(), None, &public).unwrap_err();
        assert!(err.to_string().contains("carriage return"), "{err}");
        let short_sig = signed.replace("== -->", " -->");
        let err = verify_report(short_sig.as_bytes(), None, &public).unwrap_err();
        assert!(
            err.to_string().contains("sig= is not valid base64"),
            "{err}"
        );
    }

    #[test]
    fn garbage_and_mangled_reports_are_errors_not_panics() {
        let (_dir, signer, public) = keys();
        let signed = sign_report(&signer, &html_report(300), SignatureStyle::Html);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

        for length in 0..signed.len() {
            let truncated = &signed[..length];
            let is_only_missing_final_newline = length == signed.len() - 1;
            assert_eq!(
                verify_report(truncated, None, &public).is_ok(),
                is_only_missing_final_newline,
                "truncated to {length}"
            );
            let _ = trailer_key_fingerprint(truncated);
        }
        let line_start = signed.len()
            - signed
                .iter()
                .rev()
                .skip(1)
                .position(|&b| b == b'\n')
                .unwrap()
            - 1;
        for _ in 0..400 {
            let garbage = rng.bytes_up_to(400);
            assert!(verify_report(&garbage, None, &public).is_err());
            assert!(verify_report(&garbage, Some(&garbage), &public).is_err());
            let _ = trailer_key_fingerprint(&garbage);

            // A few random bytes overwritten, mostly inside the signature line.
            let mut mangled = signed.clone();
            for _ in 0..1 + rng.below(4) {
                let position = if rng.below(4) == 0 {
                    rng.below(mangled.len())
                } else {
                    line_start + rng.below(mangled.len() - line_start)
                };
                let replacement = match rng.below(3) {
                    0 => rng.next() as u8,
                    1 => b" =+/-<>\n\r"[rng.below(9)],
                    _ => b"AZaz09"[rng.below(6)],
                };
                mangled[position] = replacement;
            }
            if mangled != signed {
                assert!(
                    verify_report(&mangled, None, &public).is_err(),
                    "{}",
                    String::from_utf8_lossy(&mangled)
                );
            }
            let _ = trailer_key_fingerprint(&mangled);

            // A garbage signature line in otherwise valid form.
            let mut fake = html_report(100);
            fake.extend_from_slice(TRAILER_START.as_bytes());
            fake.extend_from_slice(&rng.bytes_up_to(150));
            assert!(verify_report(&fake, None, &public).is_err());
        }
    }

    #[test]
    fn damaged_public_key_files_are_errors_naming_the_file() {
        let (dir, _, public) = keys();
        let path = dir.path().join(PUBLIC_KEY_FILE);
        let good = public.to_pub_file();
        assert_eq!(fs::read_to_string(&path).unwrap(), good);

        for length in 0..good.len() {
            let truncated = &good[..length];
            let result = PublicKey::parse_pub_file(truncated);
            assert_eq!(
                result.is_ok(),
                length == good.len() - 1,
                "truncated to {length}: {result:?}"
            );
        }
        assert_eq!(PublicKey::parse_pub_file(&good).unwrap(), public);
        assert_eq!(
            PublicKey::parse_pub_file(&good.replace('\n', "\r\n")).unwrap(),
            public
        );

        let key_b64 = good.split(' ').nth(1).unwrap();
        let cases = [
            (String::new(), "the file is empty"),
            (format!("ssh-ed25519 {key_b64} me@host"), "OpenSSH key"),
            (
                format!("rsa {key_b64} evict-report-signing"),
                "key type is \"rsa\"",
            ),
            (format!("ed25519 {key_b64} someone-else"), "last field"),
            (format!("ed25519 {key_b64}"), "2 space-separated fields"),
            (format!("{good}{good}"), "more than one line"),
            (
                "ed25519 !!!! evict-report-signing".to_owned(),
                "not valid base64",
            ),
            (
                format!(
                    "ed25519 {} evict-report-signing",
                    STANDARD.encode([7u8; 31])
                ),
                "is 31 bytes",
            ),
            (
                // The identity point: a valid encoding of a small-order key.
                format!(
                    "ed25519 {} evict-report-signing",
                    STANDARD.encode({
                        let mut identity = [0u8; 32];
                        identity[0] = 1;
                        identity
                    })
                ),
                "weak",
            ),
        ];
        for (content, expected) in cases {
            fs::write(&path, &content).unwrap();
            let err = load_public_key(&path).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, SigningError::PublicKeyFormat { .. }),
                "{content:?}: {message}"
            );
            assert!(message.contains(expected), "{content:?}: {message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }

        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(
            load_public_key(&path)
                .unwrap_err()
                .to_string()
                .contains("not text")
        );
        let missing = load_public_key(&dir.path().join("nope.pub")).unwrap_err();
        assert!(
            matches!(missing, SigningError::PublicKeyMissing { .. }),
            "{missing}"
        );

        let mut rng = Rng(42);
        for _ in 0..400 {
            let garbage = rng.bytes_up_to(120);
            if let Ok(text) = std::str::from_utf8(&garbage) {
                assert!(PublicKey::parse_pub_file(text).is_err());
            }
            let mut mangled = good.clone().into_bytes();
            let position = rng.below(mangled.len());
            mangled[position] = b"ed25519 AZaz09+/=\n\t"[rng.below(19)];
            if let Ok(text) = std::str::from_utf8(&mangled)
                && let Ok(key) = PublicKey::parse_pub_file(text)
            {
                // Only a change that alters nothing meaningful (whitespace at the end, or a
                // valid other key) may parse.
                let _ = key.fingerprint();
            }
            fs::write(&path, &garbage).unwrap();
            assert!(load_public_key(&path).is_err());
        }
    }

    /// The module docs' recipe, step by step, without the parsing code above: if this fails,
    /// the recipe given to auditors is wrong.
    #[test]
    fn the_documented_recipe_verifies_a_signed_report() {
        let (_dir, signer, public) = keys();
        let file = sign_report(&signer, &html_report(300), SignatureStyle::Html);

        let data = file.strip_suffix(b"\n").unwrap_or(&file);
        let cut = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (signed, line) = (&data[..cut], std::str::from_utf8(&data[cut..]).unwrap());
        let inner = line
            .strip_prefix("<!-- evict-signature ")
            .unwrap()
            .strip_suffix(" -->")
            .unwrap();
        let fields: Vec<&str> = inner.split(' ').collect();
        assert_eq!(&fields[..2], ["v1", "ed25519"]);
        let expected_key = format!(
            "key=SHA256:{}",
            STANDARD
                .encode(Sha256::digest(public.as_bytes()))
                .trim_end_matches('=')
        );
        assert_eq!(fields[2], expected_key);
        let signature: [u8; 64] = STANDARD
            .decode(fields[3].strip_prefix("sig=").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let mut message = b"evict-report-v1\0".to_vec();
        message.extend_from_slice(signed);
        ed25519_dalek::Verifier::verify(
            &VerifyingKey::from_bytes(public.as_bytes()).unwrap(),
            &message,
            &Signature::from_bytes(&signature),
        )
        .unwrap();
    }
}
