//! `sealroom evidence verify`: TEE evidence checked offline, for owners reviewing a platform.

use sealroom_core::bytes::hex;
use std::path::Path;

use base64::Engine as _;

use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::Measurement;

use crate::args::{EvidenceCommand, EvidenceVerifyArgs};
use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: EvidenceCommand, json: bool) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Verify(a) => verify(a, json),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The evidence in `a.file`: sealroom evidence JSON as is, or the platform's own bytes (a Nitro
/// document also as base64) with `--collateral` attached.
fn load(a: &EvidenceVerifyArgs) -> anyhow::Result<Evidence> {
    let bytes = read(&a.file)?;
    let mut evidence = if bytes.first() == Some(&b'{') {
        let evidence: Evidence = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not sealroom evidence JSON", a.file.display()))?;
        if let Some(platform) = a.platform
            && platform != evidence.platform
        {
            bail!(
                "{} is {} evidence, not {platform}",
                a.file.display(),
                evidence.platform
            );
        }
        evidence
    } else {
        let platform = a
            .platform
            .context("pass --platform snp|tdx|sgx|nitro for the platform's own evidence bytes")?;
        let bytes = match (platform, std::str::from_utf8(&bytes)) {
            (Platform::Nitro, Ok(text)) => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .with_context(|| format!("{} is neither CBOR nor base64", a.file.display()))?,
            _ => bytes,
        };
        Evidence::new(platform, bytes)
    };
    if let Some(path) = &a.collateral {
        evidence.endorsements = Some(read(path)?);
    }
    Ok(evidence)
}

fn verify(a: EvidenceVerifyArgs, json: bool) -> anyhow::Result<()> {
    let evidence = load(&a)?;
    let at = a.at.unwrap_or_else(|| SystemClock.now());
    let claims = EvidenceVerifier::new().verify(&evidence, at).map_err(|e| {
        CommandRefusal::Evidence(format!("{} evidence refused: {e}", evidence.platform))
    })?;
    let runtime = match &a.agreement {
        Some(path) => {
            let agreement = agreement_file::load(path)?;
            Some(agreement.agreement.check_claims(&claims).map_err(|e| {
                print_claims(&claims, at, None, json);
                CommandRefusal::Evidence(format!(
                    "not accepted by agreement {}: {e}",
                    agreement.id.short()
                ))
            })?)
        }
        None => None,
    };
    print_claims(&claims, at, runtime.as_ref(), json);
    if let Some(expected) = &a.report_data {
        let expected = expected.trim().to_ascii_lowercase();
        let binds = claims.platform != Platform::Nitro
            || claims
                .fields
                .get("user_data")
                .is_some_and(|u| u.len() == 128);
        if !binds || hex(&claims.report_data) != expected {
            return Err(CommandRefusal::Evidence(
                "the evidence does not bind the given report data".into(),
            )
            .into());
        }
    }
    if claims.debug {
        return Err(CommandRefusal::Evidence(
            "the evidence comes from a debug-mode TEE, whose memory the host can read: refused"
                .into(),
        )
        .into());
    }
    Ok(())
}

fn print_claims(claims: &Claims, at: Timestamp, runtime: Option<&Measurement>, json: bool) {
    if json {
        let value = serde_json::json!({
            "verified_at": at.to_string(),
            "claims": claims,
            "report_data_hex": hex(&claims.report_data),
            "runtime": runtime,
        });
        // Printing to stdout fails only when stdout is gone; nothing to report then.
        let _ = print_json(&value);
        return;
    }
    println!("platform     {}", claims.platform);
    println!("verified at  {at}");
    println!(
        "debug        {}",
        if claims.debug { "YES (refused)" } else { "no" }
    );
    println!("tcb status   {}", claims.tcb.status);
    if !claims.tcb.advisories.is_empty() {
        println!("advisories   {}", claims.tcb.advisories.join(", "));
    }
    for (component, version) in &claims.tcb.versions {
        println!("{:<12} {version}", format!("tcb {component}"));
    }
    println!("report data  {}", hex(&claims.report_data));
    for (name, value) in &claims.fields {
        println!("{name:<12} {value}");
    }
    if let Some(runtime) = runtime {
        println!("accepted as runtime {runtime} (approve this id)");
    }
}
