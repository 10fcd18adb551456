//! Agreement files: TOML as authored, or signed JSON as exchanged.

use std::path::Path;

use sealroom_core::agreement::{PartySignature, SignedAgreement};
use sealroom_core::labels;
use sealroom_crypto::Identity;
use sealroom_programs::BuiltinCatalog;

use crate::error::PartyError;

/// Reads an agreement from a `.toml` (validated, unsigned) or a signed `.json` file; either way
/// every structural rule and the program's parameters are checked.
pub fn load(path: &Path) -> Result<SignedAgreement, PartyError> {
    let text = std::fs::read_to_string(path).map_err(PartyError::io(path))?;
    if text.trim_start().starts_with('{') {
        let signed: SignedAgreement =
            serde_json::from_str(&text).map_err(|e| PartyError::AgreementFile {
                path: path.into(),
                reason: e.to_string(),
            })?;
        signed
            .agreement
            .check_program(&BuiltinCatalog)
            .map_err(|source| PartyError::Agreement {
                path: path.into(),
                source,
            })?;
        let actual = signed.agreement.id();
        if actual != signed.id {
            return Err(PartyError::AgreementAltered {
                path: path.into(),
                stated: signed.id,
                actual,
            });
        }
        Ok(signed)
    } else {
        let agreement = crate::authoring::compile(&text, &BuiltinCatalog).map_err(|source| {
            PartyError::Agreement {
                path: path.into(),
                source,
            }
        })?;
        Ok(SignedAgreement::unsigned(agreement))
    }
}

/// Adds `identity`'s signature; the identity must be one of the parties, with the same signing key.
pub fn sign(signed: &mut SignedAgreement, identity: &Identity) -> Result<(), PartyError> {
    let card = identity.card();
    let party = signed
        .agreement
        .parties
        .iter()
        .find(|p| p.name == card.name)
        .ok_or_else(|| PartyError::NotAParty(card.name.clone()))?;
    if party.signing_key != card.signing_key {
        return Err(PartyError::KeysDiffer(card.name));
    }
    let signature = PartySignature {
        party: card.name.clone(),
        fingerprint: party.fingerprint()?,
        signature: identity.sign(labels::AGREEMENT_SIGNATURE, signed.id.as_bytes()),
    };
    signed.add_signature(signature).map_err(PartyError::Signing)
}

/// Writes a signed agreement as pretty JSON, atomically.
pub fn save(signed: &SignedAgreement, path: &Path) -> Result<(), PartyError> {
    let text = serde_json::to_string_pretty(signed).map_err(sealroom_core::CanonicalError::from)?;
    write_atomically(path, text.as_bytes())
}

/// Writes a file by renaming a complete temporary file into place, so no reader sees it half-written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PartyError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(PartyError::io(dir))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(PartyError::io(path))?;
    temp.as_file().sync_all().map_err(PartyError::io(path))?;
    temp.persist(path).map_err(|e| PartyError::Io {
        path: path.into(),
        source: e.error,
    })?;
    Ok(())
}
