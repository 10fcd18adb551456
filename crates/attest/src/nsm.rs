//! Evidence from the AWS Nitro Secure Module: an `Attestation` request carrying the report data
//! as `user_data`, sent through `/dev/nsm` ([`sealroom_nsm`]), answered with a COSE_Sign1
//! attestation document. Requests and responses are CBOR, as the NSM's API (serde's externally
//! tagged enums) writes them: `{"Attestation": {"user_data": h'…', "nonce": null,
//! "public_key": null}}` and `{"Attestation": {"document": h'…'}}` or `{"Error": "…"}`.

use std::collections::BTreeMap;
use std::path::Path;

use ciborium::Value;
use sealroom_core::agreement::Agreement;
use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::ids::Measurement;
use sealroom_nsm::NsmDevice;

use crate::Attester;
use crate::registers::own_registers;
use crate::verify::AttestError;

/// The CBOR of an attestation request binding `user_data`.
pub fn attestation_request(user_data: &[u8]) -> Vec<u8> {
    let request = Value::Map(vec![(
        Value::Text("Attestation".into()),
        Value::Map(vec![
            (
                Value::Text("user_data".into()),
                Value::Bytes(user_data.to_vec()),
            ),
            (Value::Text("nonce".into()), Value::Null),
            (Value::Text("public_key".into()), Value::Null),
        ]),
    )]);
    let mut out = Vec::new();
    ciborium::into_writer(&request, &mut out).expect("a CBOR map writes to memory");
    out
}

/// The attestation document in an NSM response, or the NSM's error.
pub fn attestation_document(response: &[u8]) -> Result<Vec<u8>, AttestError> {
    let failed = |reason: String| AttestError::Producing { reason };
    let value: Value = ciborium::from_reader(response)
        .map_err(|_| failed("the NSM's response is not CBOR".into()))?;
    let map = value
        .as_map()
        .ok_or_else(|| failed("the NSM's response is not a map".into()))?;
    let get = |map: &[(Value, Value)], key: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v.clone())
    };
    if let Some(error) = get(map, "Error") {
        return Err(failed(format!(
            "the NSM refused the request: {}",
            error.as_text().unwrap_or("(unnamed error)")
        )));
    }
    get(map, "Attestation")
        .as_ref()
        .and_then(Value::as_map)
        .and_then(|inner| get(inner, "document"))
        .and_then(|d| d.as_bytes().cloned())
        .ok_or_else(|| failed("the NSM's response carries no attestation document".into()))
}

/// Produces evidence through the NSM.
#[derive(Debug)]
pub struct NsmAttester {
    device: NsmDevice,
    registers: BTreeMap<String, String>,
}

impl NsmAttester {
    /// Opens the device at `path` and learns the enclave's PCRs from a first document.
    pub fn new(path: &Path) -> Result<Self, AttestError> {
        let device = NsmDevice::open(path).map_err(|e| AttestError::Producing {
            reason: format!("cannot open {}: {e}", path.display()),
        })?;
        let document = Self::document(&device, &[0; 64])?;
        let registers = own_registers(Platform::Nitro, &document)?;
        Ok(Self { device, registers })
    }

    fn document(device: &NsmDevice, user_data: &[u8]) -> Result<Vec<u8>, AttestError> {
        let response =
            device
                .call(&attestation_request(user_data))
                .map_err(|e| AttestError::Producing {
                    reason: format!("the NSM call failed: {e}"),
                })?;
        attestation_document(&response)
    }
}

impl Attester for NsmAttester {
    fn platform(&self) -> Platform {
        Platform::Nitro
    }

    fn runtime_id(&self, agreement: &Agreement) -> Measurement {
        crate::hardware_runtime(Platform::Nitro, &self.registers, agreement)
    }

    fn attest(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError> {
        Ok(Evidence::new(
            Platform::Nitro,
            Self::document(&self.device, &report_data)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_vectors::evidence::nitro;

    #[test]
    fn the_request_is_the_nsm_apis_cbor() {
        let request = attestation_request(&[0xAB; 64]);
        let mut expected = vec![0xA1, 0x6B];
        expected.extend_from_slice(b"Attestation");
        expected.extend_from_slice(&[0xA3, 0x69]);
        expected.extend_from_slice(b"user_data");
        expected.extend_from_slice(&[0x58, 0x40]);
        expected.extend_from_slice(&[0xAB; 64]);
        expected.push(0x65);
        expected.extend_from_slice(b"nonce");
        expected.push(0xF6);
        expected.push(0x6A);
        expected.extend_from_slice(b"public_key");
        expected.push(0xF6);
        assert_eq!(request, expected);
    }

    #[test]
    fn responses_give_the_document_or_the_nsms_error() {
        let document = nitro("beta/valid-attestation-doc-bytes").bytes;
        let response = Value::Map(vec![(
            Value::Text("Attestation".into()),
            Value::Map(vec![(
                Value::Text("document".into()),
                Value::Bytes(document.clone()),
            )]),
        )]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&response, &mut bytes).unwrap();
        assert_eq!(attestation_document(&bytes).unwrap(), document);
        let registers = own_registers(Platform::Nitro, &document).unwrap();
        assert!(registers["pcr0"].starts_with("f4d48b81a460c991"));
        assert_eq!(registers.len(), 4);

        let mut error = Vec::new();
        ciborium::into_writer(
            &Value::Map(vec![(
                Value::Text("Error".into()),
                Value::Text("InvalidArgument".into()),
            )]),
            &mut error,
        )
        .unwrap();
        assert!(matches!(
            attestation_document(&error),
            Err(AttestError::Producing { reason }) if reason.contains("InvalidArgument")
        ));
        assert!(attestation_document(b"\xff").is_err());
    }
}
