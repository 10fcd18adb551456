//! What the hardware verifiers read from X.509 certificates: validity, the signed part, the
//! signature and the subject's key (the chains themselves differ by platform).

use x509_cert::Certificate;
use x509_cert::der::Encode;

/// A certificate's validity, as Unix seconds.
pub fn validity(certificate: &Certificate) -> (u64, u64) {
    let validity = &certificate.tbs_certificate.validity;
    (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    )
}

/// The DER bytes the issuer signed, the signature over them, and the subject's public key (the
/// bit string's contents: an EC point or an RSA public key), or `None` if one is malformed.
pub fn parts(certificate: &Certificate) -> Option<(Vec<u8>, &[u8], &[u8])> {
    let signed = certificate.tbs_certificate.to_der().ok()?;
    let signature = certificate.signature.as_bytes()?;
    let key = certificate
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()?;
    Some((signed, signature, key))
}

/// The DER of one PEM certificate, or `None` if it is not base64 between its armor lines.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
