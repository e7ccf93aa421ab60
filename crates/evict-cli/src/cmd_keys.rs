//! `evict keys init` and `evict report verify`: the report-signing key and signed reports.

use anyhow::Context as _;
use evict_incident::signing::{
    self, VerifyError, detached_signature_path, installation_public_key, load_public_key,
    trailer_key_fingerprint, verify_report,
};

use crate::args::{Format, KeysCommand, ReportCommand};
use crate::{Context, Outcome, output};

pub fn keys(ctx: &Context, cmd: KeysCommand) -> anyhow::Result<Outcome> {
    match cmd {
        KeysCommand::Init => {
            let home = &ctx.home;
            home.ensure()?;
            let info = signing::init_keys(home.dir())?;
            match ctx.format {
                Format::Json => output::json(&serde_json::json!({
                    "public_key": info.public_key_path,
                    "secret_key": info.secret_key_path,
                    "fingerprint": info.fingerprint,
                }))?,
                _ => {
                    output::line(&format!("report-signing key {}", info.fingerprint));
                    output::line(&format!(
                        "  public key (hand it to auditors): {}",
                        info.public_key_path.display()
                    ));
                    output::line(&format!(
                        "  secret key (0600, back it up, never share it): {}",
                        info.secret_key_path.display()
                    ));
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

pub fn report(ctx: &Context, cmd: ReportCommand) -> anyhow::Result<Outcome> {
    let ReportCommand::Verify { file, key } = cmd;
    let trusted = match &key {
        Some(path) => load_public_key(path)?,
        None => installation_public_key(ctx.home.dir())?,
    };
    let bytes = std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
    let sig_path = detached_signature_path(&file);
    let detached = match std::fs::read(&sig_path) {
        Ok(sig) => Some(sig),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow::anyhow!("{}: cannot read: {e}", sig_path.display()));
        }
    };
    let result = verify_report(&bytes, detached.as_deref(), &trusted);
    let signer = trailer_key_fingerprint(detached.as_deref().unwrap_or(&bytes)).ok();
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "file": file,
            "verified": result.is_ok(),
            "trusted_key": trusted.fingerprint(),
            "signed_with": signer,
            "signed_bytes": result.as_ref().ok().map(|v| v.signed_bytes),
            "problem": result.as_ref().err().map(VerifyError::to_string),
        }))?,
        _ => match &result {
            Ok(v) => output::line(&format!(
                "{}: signature OK, key {} ({} bytes signed)",
                file.display(),
                v.key_fingerprint,
                v.signed_bytes
            )),
            Err(e) => output::line(&format!("{}: NOT VERIFIED: {e}", file.display())),
        },
    }
    Ok(if result.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}
