//! Envelope uploads: the owner-signed header is checked before the rest of the body is read.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use sealroom_core::envelope::EnvelopeHeader;
use sealroom_core::ids::{AgreementId, Digest};
use sealroom_core::party::is_valid_name;
use sealroom_crypto::envelope::{PREAMBLE_LEN, header_len, parse_header};

use crate::api::{Host, Shared, parse_id};
use crate::blobs::{StoredBlob, UploadError};
use crate::refusal::HostRefusal;
use sealroom_service::SignedRequest;

fn check_names(owner: &str, dataset: &str) -> Result<(), HostRefusal> {
    if is_valid_name(owner) && is_valid_name(dataset) {
        Ok(())
    } else {
        Err(HostRefusal::BadName)
    }
}

fn refused(e: UploadError) -> HostRefusal {
    match e {
        UploadError::TooLarge { limit } => HostRefusal::UploadTooLarge(limit),
        UploadError::Interrupted(why) => HostRefusal::UploadInterrupted(why),
        UploadError::Io(_) => HostRefusal::internal(e),
    }
}

impl Host {
    /// An envelope header may be stored under (`agreement`, `owner`, `dataset`) only if it says
    /// so itself, the owner is onboarded and signed it, the stored agreement names that dataset
    /// with that owner and schema, and no newer version is stored.
    fn check_upload_header(
        &self,
        agreement: &AgreementId,
        owner: &str,
        dataset: &str,
        header: &EnvelopeHeader,
    ) -> Result<(), HostRefusal> {
        if header.owner != owner || header.dataset != dataset || &header.agreement != agreement {
            return Err(HostRefusal::NotTheDataset(format!(
                "the envelope holds {} for agreement {}, not {owner}/{dataset} for {}",
                header.qualified_name(),
                header.agreement.short(),
                agreement.short()
            )));
        }
        let card = self
            .store
            .party(owner)
            .map_err(HostRefusal::internal)?
            .ok_or_else(|| HostRefusal::PartyNotOnboarded(owner.into()))?;
        header
            .verify_owner(&card)
            .map_err(|_| HostRefusal::EnvelopeSignatureInvalid(owner.into()))?;
        let signed = self.stored_agreement(agreement)?;
        let terms = signed
            .agreement
            .dataset(owner, dataset)
            .filter(|_| signed.agreement.party(owner) == Some(&card))
            .ok_or_else(|| {
                HostRefusal::NotTheDataset(format!(
                    "agreement {} names no dataset {owner}/{dataset}",
                    agreement.short()
                ))
            })?;
        if let Some(stored) = self
            .store
            .dataset(agreement, owner, dataset)
            .map_err(HostRefusal::internal)?
            && header.sealed_at_ms < stored.sealed_at_ms
        {
            return Err(HostRefusal::EnvelopeSuperseded);
        }
        if terms.schema.digest().map_err(HostRefusal::internal)? != header.schema_digest {
            return Err(HostRefusal::NotTheDataset(
                "the envelope was sealed under another schema than the agreement declares".into(),
            ));
        }
        Ok(())
    }
}

/// Reads body frames until `head` holds the preamble and the whole header; returns the header.
/// `head` never holds more than the largest possible header and one frame.
async fn read_header(
    body: &mut Body,
    head: &mut Vec<u8>,
    limit: u64,
) -> Result<(EnvelopeHeader, Digest), HostRefusal> {
    let not_an_envelope =
        |e: sealroom_crypto::EnvelopeError| HostRefusal::NotAnEnvelope(e.to_string());
    let mut header_end = None;
    loop {
        if header_end.is_none() && head.len() >= PREAMBLE_LEN {
            let preamble: &[u8; PREAMBLE_LEN] = head[..PREAMBLE_LEN].try_into().expect("length");
            header_end =
                Some(PREAMBLE_LEN + header_len(preamble).map_err(not_an_envelope)? as usize);
        }
        if let Some(end) = header_end
            && head.len() >= end
        {
            return parse_header(&head[PREAMBLE_LEN..end]).map_err(not_an_envelope);
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(bytes) = frame.data_ref() {
                    head.extend_from_slice(bytes);
                    if head.len() as u64 > limit {
                        return Err(refused(UploadError::TooLarge { limit }));
                    }
                }
            }
            Some(Err(e)) => return Err(refused(UploadError::Interrupted(e.to_string()))),
            None => {
                return Err(not_an_envelope(sealroom_crypto::EnvelopeError::BadHeader(
                    "the upload ends inside the envelope header".into(),
                )));
            }
        }
    }
}

pub(crate) async fn upload(
    State(h): Shared,
    Path((agreement, owner, dataset)): Path<(String, String, String)>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Json<StoredBlob>, HostRefusal> {
    check_names(&owner, &dataset)?;
    let agreement: AgreementId = parse_id(&agreement)?;
    let limit = h.max_upload_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(refused(UploadError::TooLarge { limit }));
    }
    let mut head = Vec::new();
    let (header, header_digest) = read_header(&mut body, &mut head, limit).await?;
    let checker = h.clone();
    let checked = header.clone();
    tokio::task::spawn_blocking(move || {
        checker.check_upload_header(&agreement, &owner, &dataset, &checked)
    })
    .await
    .map_err(HostRefusal::internal)??;
    let mut upload = h
        .blobs
        .begin(&header, header_digest, limit)
        .map_err(HostRefusal::internal)?;
    upload.write(&head).map_err(refused)?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| refused(UploadError::Interrupted(e.to_string())))?;
        if let Some(bytes) = frame.data_ref() {
            upload.write(bytes).map_err(refused)?;
        }
    }
    let blobs = h.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || blobs.commit(upload))
        .await
        .map_err(HostRefusal::internal)?
        .map_err(refused)?;
    h.store
        .put_dataset(&stored, h.clock.now())
        .map_err(HostRefusal::internal)?;
    tracing::info!(
        owner = stored.owner,
        dataset = stored.dataset,
        size = stored.size,
        "dataset stored"
    );
    Ok(Json(stored))
}

pub(crate) async fn dataset(
    State(h): Shared,
    Path((agreement, owner, dataset)): Path<(String, String, String)>,
    request: SignedRequest,
) -> Result<Json<StoredBlob>, HostRefusal> {
    check_names(&owner, &dataset)?;
    let agreement: AgreementId = parse_id(&agreement)?;
    let signed = h.stored_agreement(&agreement)?;
    h.signing_party(&request, &signed)?;
    h.store
        .dataset(&agreement, &owner, &dataset)
        .map_err(HostRefusal::internal)?
        .map(Json)
        .ok_or_else(|| HostRefusal::DatasetMissing(format!("{owner}/{dataset}")))
}
