//! The collector: asks the leader for a batch's aggregate, polls until the collection job is
//! ready, opens both aggregate shares with its HPKE key and unshards them (DAP-18 §4.6).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prio::codec::ParameterizedDecode;
use serde::{Deserialize, Serialize};

use crate::hpke::{AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, HpkeError, HpkeKeypair};
use crate::messages::{
    AggregateShareAad, CollectionJobReq, CollectionJobResp, Extensions, HpkeConfig, Interval,
    MessageError, Query, Role, TaskConfiguration, TaskId, aggregate_share_info, encode,
};
use crate::transport::{DapClient, TransportError, resource_url};
use crate::vdaf::{AggregateValue, DapVdaf, Prio3Vdaf, VdafError};
use crate::with_prio3;

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The leader refused or could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A message could not be encoded or decoded.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// An aggregate share did not open with the collector's key.
    #[error("the {role} aggregate share did not open: {source}")]
    Open {
        /// Whose share.
        role: &'static str,
        /// Why.
        source: HpkeError,
    },
    /// The shares could not be combined.
    #[error("the aggregate shares could not be combined: {0}")]
    Unshard(String),
    /// The task's VDAF is not usable.
    #[error(transparent)]
    Vdaf(#[from] VdafError),
    /// The leader gave no collection job location.
    #[error("the leader created a collection job but gave no Location")]
    NoLocation,
    /// The job was not ready in time.
    #[error("the collection job was not ready after {0:?}")]
    Timeout(Duration),
}

/// The collector's HPKE key and bearer token, in the JSON form existing DAP collector tooling
/// reads and writes (`aead`, `id`, `kdf`, `kem`, `private_key`, `public_key`, `token`).
#[derive(Debug, Clone)]
pub struct CollectorCredential {
    /// The collector's HPKE key.
    pub keypair: HpkeKeypair,
    /// The bearer token the leader expects from the collector.
    pub token: String,
}

#[derive(Serialize, Deserialize)]
struct CredentialJson {
    aead: String,
    id: u8,
    kdf: String,
    kem: String,
    private_key: String,
    public_key: String,
    token: String,
}

/// Why a credential could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Not the expected JSON.
    #[error("not a collector credential: {0}")]
    Json(#[from] serde_json::Error),
    /// An algorithm other than X25519-HKDF-SHA256 with HKDF-SHA256 and AES-128-GCM or
    /// ChaCha20-Poly1305.
    #[error("unsupported {field} {value:?}")]
    Unsupported {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A key is not unpadded URL-safe base64.
    #[error("{0} is not unpadded URL-safe base64")]
    Base64(&'static str),
    /// The token is empty or has surrounding white space.
    #[error("the token must be non-empty, without surrounding white space")]
    Token,
    /// The private key does not match the public key.
    #[error("the key pair does not hold together: {0}")]
    Key(#[from] HpkeError),
}

impl CollectorCredential {
    /// A fresh credential: a new X25519 key with config id `id`, and a random 128-bit token.
    pub fn generate(id: u8) -> Self {
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).expect("the operating system's random number generator failed");
        Self {
            keypair: HpkeKeypair::generate(id),
            token: URL_SAFE_NO_PAD.encode(token),
        }
    }

    /// The credential as JSON.
    pub fn to_json(&self) -> String {
        let config = &self.keypair.config;
        let json = CredentialJson {
            aead: match config.aead_id {
                AEAD_CHACHA20_POLY1305 => "ChaCha20Poly1305",
                _ => "AesGcm128",
            }
            .into(),
            id: config.id,
            kdf: "Sha256".into(),
            kem: "X25519HkdfSha256".into(),
            private_key: URL_SAFE_NO_PAD.encode(self.keypair.private_key()),
            public_key: URL_SAFE_NO_PAD.encode(&config.public_key),
            token: self.token.clone(),
        };
        serde_json::to_string_pretty(&json).expect("a credential serializes")
    }

    /// Reads a credential's JSON.
    pub fn from_json(text: &str) -> Result<Self, CredentialError> {
        let json: CredentialJson = serde_json::from_str(text)?;
        let unsupported = |field: &'static str, value: &str| CredentialError::Unsupported {
            field,
            value: value.into(),
        };
        let aead_id = match json.aead.as_str() {
            "AesGcm128" => AEAD_AES_128_GCM,
            "ChaCha20Poly1305" => AEAD_CHACHA20_POLY1305,
            other => return Err(unsupported("aead", other)),
        };
        if json.kdf != "Sha256" {
            return Err(unsupported("kdf", &json.kdf));
        }
        if json.kem != "X25519HkdfSha256" {
            return Err(unsupported("kem", &json.kem));
        }
        if json.token.is_empty() || json.token.trim() != json.token {
            return Err(CredentialError::Token);
        }
        let b64 = |value: &str, field| {
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| CredentialError::Base64(field))
        };
        let config = HpkeConfig {
            id: json.id,
            kem_id: crate::hpke::KEM_X25519_HKDF_SHA256,
            kdf_id: crate::hpke::KDF_HKDF_SHA256,
            aead_id,
            public_key: b64(&json.public_key, "public_key")?,
        };
        Ok(Self {
            keypair: HpkeKeypair::new(config, b64(&json.private_key, "private_key")?)?,
            token: json.token,
        })
    }
}

/// A collected aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// How many reports it holds.
    pub report_count: u64,
    /// The smallest interval holding every report's time (in time-precision units).
    pub interval: Interval,
    /// The aggregate.
    pub value: AggregateValue,
}

/// A collection job the leader created.
#[derive(Debug, Clone)]
pub struct CollectionJob {
    /// The job's id (from its `Location`).
    pub id: String,
    /// The request that created it.
    pub request: CollectionJobReq,
}

/// A collector for one task.
#[derive(Debug, Clone)]
pub struct Collector {
    /// HTTP client.
    pub http: DapClient,
    /// The task id.
    pub task_id: TaskId,
    /// The task's configuration (bound into each aggregate share's AAD).
    pub configuration: TaskConfiguration,
    /// The collector's key and token.
    pub credential: CollectorCredential,
}

impl Collector {
    fn jobs_url(&self) -> String {
        resource_url(
            &self.configuration.leader_aggregator_endpoint,
            &format!("tasks/{}/collection_jobs", self.task_id),
        )
    }

    /// Asks the leader for the batch `query` selects (POST to the creation URL).
    pub fn start(&self, query: Query) -> Result<CollectionJob, CollectError> {
        let request = CollectionJobReq {
            query,
            agg_param: Vec::new(),
            extensions: Extensions::default(),
        };
        let body = encode(&request, "CollectionJobReq")?;
        let url = self.jobs_url();
        let answer =
            self.http
                .post::<CollectionJobReq>(&url, &body, Some(&self.credential.token))?;
        let id = answer.location_id().ok_or(CollectError::NoLocation)?;
        Ok(CollectionJob {
            id: id.to_string(),
            request,
        })
    }

    /// The job's result, or `None` while the leader is still working on it.
    pub fn poll(&self, job: &CollectionJob) -> Result<Option<Collection>, CollectError> {
        let url = format!("{}/{}", self.jobs_url(), job.id);
        let answer = self.http.get(&url, Some(&self.credential.token))?;
        match answer.message::<CollectionJobResp>(&url)? {
            None => Ok(None),
            Some(response) => self.open(&job.request, &response).map(Some),
        }
    }

    /// Starts a collection job for `query` and polls it until it is ready or `timeout` passes.
    pub fn collect(&self, query: Query, timeout: Duration) -> Result<Collection, CollectError> {
        let job = self.start(query)?;
        let started = Instant::now();
        let mut wait = Duration::from_millis(20);
        loop {
            if let Some(collection) = self.poll(&job)? {
                return Ok(collection);
            }
            if started.elapsed() > timeout {
                return Err(CollectError::Timeout(timeout));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    /// Opens both aggregate shares of `response` and unshards them.
    pub fn open(
        &self,
        request: &CollectionJobReq,
        response: &CollectionJobResp,
    ) -> Result<Collection, CollectError> {
        let aad = encode(
            &AggregateShareAad {
                task_id: self.task_id,
                task_configuration: self.configuration.clone(),
                collection_job_req: request.clone(),
            },
            "AggregateShareAad",
        )?;
        let key = &self.credential.keypair;
        let open = |role: Role, name: &'static str, sealed| {
            key.open(sealed, &aggregate_share_info(role), &aad)
                .map_err(|source| CollectError::Open { role: name, source })
        };
        let leader = open(
            Role::Leader,
            "leader's",
            &response.leader_encrypted_agg_share,
        )?;
        let helper = open(
            Role::Helper,
            "helper's",
            &response.helper_encrypted_agg_share,
        )?;
        let vdaf = Prio3Vdaf::new(&self.configuration.vdaf()?)?;
        let value = with_prio3!(&vdaf, v => unshard(v, &leader, &helper, response.report_count))?;
        Ok(Collection {
            report_count: response.report_count,
            interval: response.interval,
            value,
        })
    }
}

fn unshard<V: DapVdaf>(
    vdaf: &V,
    leader: &[u8],
    helper: &[u8],
    report_count: u64,
) -> Result<AggregateValue, CollectError> {
    let decode = |bytes: &[u8]| {
        V::AggregateShare::get_decoded_with_param(&(vdaf, &()), bytes)
            .map_err(|e| CollectError::Unshard(format!("an aggregate share: {e}")))
    };
    let count = usize::try_from(report_count)
        .map_err(|_| CollectError::Unshard("the report count is too large".into()))?;
    vdaf.unshard(&(), [decode(leader)?, decode(helper)?], count)
        .map(V::result_value)
        .map_err(|e| CollectError::Unshard(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_in_the_tooling_json_form_round_trips_and_its_key_must_match() {
        let credential = CollectorCredential::generate(66);
        let json = credential.to_json();
        for key in [
            "\"aead\": \"AesGcm128\"",
            "\"kdf\": \"Sha256\"",
            "\"kem\": \"X25519HkdfSha256\"",
            "\"id\": 66",
        ] {
            assert!(json.contains(key), "{json}");
        }
        let again = CollectorCredential::from_json(&json).unwrap();
        assert_eq!(again.keypair.config, credential.keypair.config);
        assert_eq!(again.token, credential.token);

        let other = CollectorCredential::generate(66);
        let mismatched = json.replace(
            &URL_SAFE_NO_PAD.encode(credential.keypair.private_key()),
            &URL_SAFE_NO_PAD.encode(other.keypair.private_key()),
        );
        assert!(matches!(
            CollectorCredential::from_json(&mismatched),
            Err(CredentialError::Key(_))
        ));
        let no_token = json.replace(&credential.token, "");
        assert!(matches!(
            CollectorCredential::from_json(&no_token),
            Err(CredentialError::Token)
        ));
        let sha384 = json.replace("\"Sha256\"", "\"Sha384\"");
        assert!(matches!(
            CollectorCredential::from_json(&sha384),
            Err(CredentialError::Unsupported { field: "kdf", .. })
        ));
    }
}
