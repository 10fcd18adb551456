//! Published Wasm programs: a provider's signed publication, checked and stored with its module
//! and documentation, logged as *program published*; agreements name the module by digest.
//!
//! | method and path | does |
//! |---|---|
//! | `POST /v1/programs` | publish: `{publication, module (base64), documentation}`, a request signed by the provider, a party the host serves |
//! | `GET /v1/programs/{digest}` | the publication, documentation and log index (anyone) |
//! | `GET /v1/programs/{digest}/module` | the module's bytes (anyone) |

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use sealroom_core::party::PartyCard;
use sealroom_core::program::{SignedPublication, is_sha256_hex, sha256_hex};
use sealroom_ledger::Statement;
use sealroom_service::SignedRequest;
use serde::{Deserialize, Serialize};

use crate::api::{Host, Shared};
use crate::refusal::HostRefusal;

pub use sealroom_core::program::MAX_MODULE_BYTES;

/// The longest program name.
pub const MAX_NAME_CHARS: usize = 64;

/// The body of `POST /v1/programs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishProgram {
    /// The provider-signed publication.
    pub publication: SignedPublication,
    /// The module's bytes.
    #[serde(with = "sealroom_core::bytes::b64")]
    pub module: Vec<u8>,
    /// Its documentation (Markdown).
    pub documentation: String,
}

/// A published program, as the host answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedProgram {
    /// The provider-signed publication.
    pub publication: SignedPublication,
    /// Its documentation.
    pub documentation: String,
    /// Index of its *program published* entry in the log.
    pub log_index: u64,
}

/// Largest publication body: the largest module in base64, its documentation and more.
pub const MAX_PUBLISH_BODY: usize = (MAX_MODULE_BYTES / 3 * 4) as usize + (8 << 20);

/// The served party that signed `request`: checked before the host reads the body, so that
/// nobody else makes it read a publication's megabytes.
fn sender(h: &Host, request: &SignedRequest) -> Result<PartyCard, HostRefusal> {
    let key = request
        .signer(h.clock().now())
        .map_err(HostRefusal::Unauthenticated)?;
    h.store()
        .parties()
        .map_err(HostRefusal::internal)?
        .into_iter()
        .find(|card| card.signing_key == key)
        .ok_or(HostRefusal::PublisherNotServed)
}

/// Checks a publication against its bytes and the signature of its provider, `sender`.
fn check(sender: &PartyCard, body: &PublishProgram) -> Result<(), HostRefusal> {
    let p = &body.publication.publication;
    let bad = |why: String| Err(HostRefusal::BadPublication(why));
    if p.name.is_empty() || p.name.chars().count() > MAX_NAME_CHARS {
        return bad(format!("the name must be 1 to {MAX_NAME_CHARS} characters"));
    }
    if !body.module.starts_with(b"\0asm\x01\0\0\0") {
        return bad("the module is not a WebAssembly module (version 1)".into());
    }
    if body.module.len() as u64 > MAX_MODULE_BYTES {
        return bad(format!("the module is over {MAX_MODULE_BYTES} bytes"));
    }
    let module = sha256_hex(&body.module);
    if module != p.module || body.module.len() as u64 != p.size {
        return bad(format!(
            "the publication names module {} of {} bytes; the module sent is {module} of {} bytes",
            p.module,
            p.size,
            body.module.len()
        ));
    }
    if sha256_hex(body.documentation.as_bytes()) != p.documentation {
        return bad("the documentation sent is not the one the publication names".into());
    }
    if p.source.as_deref().is_some_and(|s| !is_sha256_hex(s)) {
        return bad("the source digest is not 64 lowercase hex digits".into());
    }
    if sender.fingerprint().ok() != Some(p.provider) {
        return bad(format!(
            "the request is signed by {}, the publication names provider {}: a provider publishes its own programs",
            sender.name, p.provider
        ));
    }
    body.publication.verify(sender).map_err(|_| {
        HostRefusal::BadPublication(format!(
            "the publication is not signed by {}'s key",
            sender.name
        ))
    })
}

pub(crate) async fn publish(
    State(h): Shared,
    request: SignedRequest,
    body: axum::body::Body,
) -> Result<Json<PublishAnswer>, HostRefusal> {
    let sender = sender(&h, &request)?;
    if request
        .content_length()
        .is_some_and(|len| len > MAX_PUBLISH_BODY as u64)
    {
        return Err(HostRefusal::UploadTooLarge(MAX_PUBLISH_BODY as u64));
    }
    let body = axum::body::to_bytes(body, MAX_PUBLISH_BODY)
        .await
        .map_err(|_| {
            HostRefusal::BadPublication(format!(
                "the body cannot be read, or is over {MAX_PUBLISH_BODY} bytes"
            ))
        })?;
    let body: PublishProgram =
        serde_json::from_slice(&body).map_err(|e| HostRefusal::BadPublication(e.to_string()))?;
    check(&sender, &body)?;
    let digest = body.publication.publication.module.clone();
    let _one_at_a_time = h.publishing.lock().await;
    if let Some(stored) = h.store().program(&digest).map_err(HostRefusal::internal)? {
        if stored.publication != body.publication || stored.documentation != body.documentation {
            return Err(HostRefusal::ProgramPublishedOtherwise {
                module: digest,
                log_index: stored.log_index,
            });
        }
        return Ok(Json(PublishAnswer {
            module: digest,
            log_index: stored.log_index,
            new: false,
        }));
    }
    let path = h
        .blobs()
        .put_program(&digest, &body.module)
        .map_err(HostRefusal::internal)?;
    let logged = h
        .log_statement_async(Statement::ProgramPublished {
            publication: body.publication.clone(),
        })
        .await?;
    let stored = PublishedProgram {
        publication: body.publication,
        documentation: body.documentation,
        log_index: logged.index,
    };
    h.store()
        .put_program(&stored, &path, h.clock().now())
        .map_err(HostRefusal::internal)?;
    tracing::info!(module = %digest, index = logged.index, "program published");
    Ok(Json(PublishAnswer {
        module: digest,
        log_index: logged.index,
        new: true,
    }))
}

/// The host's answer to a publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishAnswer {
    /// The module's SHA-256.
    pub module: String,
    /// Index of its *program published* log entry.
    pub log_index: u64,
    /// False when this very publication was stored before.
    pub new: bool,
}

fn stored(h: &Host, digest: &str) -> Result<(PublishedProgram, std::path::PathBuf), HostRefusal> {
    if !is_sha256_hex(digest) {
        return Err(HostRefusal::BadId(format!(
            "{digest:?} is not a module digest (64 lowercase hex digits)"
        )));
    }
    h.store()
        .program_with_path(digest)
        .map_err(HostRefusal::internal)?
        .ok_or_else(|| HostRefusal::ProgramNotPublished(digest.into()))
}

pub(crate) async fn program(
    State(h): Shared,
    Path(digest): Path<String>,
) -> Result<Json<PublishedProgram>, HostRefusal> {
    Ok(Json(stored(&h, &digest)?.0))
}

pub(crate) async fn module(
    State(h): Shared,
    Path(digest): Path<String>,
) -> Result<impl IntoResponse, HostRefusal> {
    let (_, path) = stored(&h, &digest)?;
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(HostRefusal::internal)?
        .map_err(HostRefusal::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes))
}

impl Host {
    /// Where the isolate finds the module `digest`, if published.
    pub(crate) fn module_for_job(
        self: &Arc<Self>,
        digest: &str,
    ) -> Result<sealroom_core::wire::JobModule, HostRefusal> {
        let (_, path) = stored(self, digest)?;
        Ok(sealroom_core::wire::JobModule {
            path: path.to_string_lossy().into(),
        })
    }
}
