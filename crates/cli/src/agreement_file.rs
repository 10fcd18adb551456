//! Agreement files: TOML as authored, or signed JSON as exchanged.

use std::path::Path;

use anyhow::{Context, bail};
use sealroom_core::agreement::{PartySignature, SignedAgreement};
use sealroom_core::labels;
use sealroom_crypto::Identity;
use sealroom_programs::BuiltinCatalog;

/// Reads an agreement from a `.toml` (validated, unsigned) or a signed `.json` file.
pub fn load(path: &Path) -> anyhow::Result<SignedAgreement> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        let signed: SignedAgreement = serde_json::from_str(&text)
            .map_err(|e| crate::Refused(format!("{}: {e}", path.display())))?;
        signed
            .agreement
            .check_program(&BuiltinCatalog)
            .map_err(|e| crate::Refused(format!("{}: {e}", path.display())))?;
        let actual = signed.agreement.id();
        if actual != signed.id {
            return Err(crate::Refused(format!(
                "{}: states agreement id {} but its contents hash to {actual}: it was altered",
                path.display(),
                signed.id
            ))
            .into());
        }
        Ok(signed)
    } else {
        let agreement = crate::agreement_toml::compile(&text, &BuiltinCatalog)
            .map_err(|e| crate::Refused(format!("{}: {e}", path.display())))?;
        Ok(SignedAgreement::unsigned(agreement))
    }
}

/// Adds `identity`'s signature; the identity must be one of the parties, with the same signing key.
pub fn sign(signed: &mut SignedAgreement, identity: &Identity) -> anyhow::Result<()> {
    let card = identity.card();
    let Some(party) = signed
        .agreement
        .parties
        .iter()
        .find(|p| p.name == card.name)
    else {
        bail!(crate::Refused(format!(
            "{} is not a party to this agreement",
            card.name
        )));
    };
    if party.signing_key != card.signing_key {
        bail!(crate::Refused(format!(
            "the agreement lists a different signing key for {}: was it written with another card?",
            card.name
        )));
    }
    let signature = PartySignature {
        party: card.name.clone(),
        fingerprint: party.fingerprint()?,
        signature: identity.sign(labels::AGREEMENT_SIGNATURE, signed.id.as_bytes()),
    };
    signed.add_signature(signature)?;
    Ok(())
}

/// Writes a signed agreement as pretty JSON, atomically.
pub fn save(signed: &SignedAgreement, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, serde_json::to_string_pretty(signed)?.as_bytes())
}

/// Writes a file by renaming a complete temporary file into place, so no reader sees it half-written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
