//! A client of an owner's broker, for its owner: decisions, envelope registrations, and the
//! owner-only records (signed with the owner's key). Errors are [`HttpError`]s:
//! [`HttpError::Refused`] carries the broker's refusal.

use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::envelope::SignedRegistration;
use sealroom_core::ids::Digest;
use sealroom_core::party::PartyCard;
use sealroom_core::statement::SignedDecision;
use sealroom_core::wire::BudgetStatus;
use sealroom_crypto::Identity;
use sealroom_http::{HttpError, JsonClient};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use sealroom_ledger::LoggedRelease;

use crate::store::{RefusalRecord, Registration};

/// What a broker says of a registered envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Registered {
    /// Newly registered, or already current.
    pub registration: Registration,
    /// The header's digest.
    pub header_digest: Digest,
}

/// A client of one owner's broker.
#[derive(Debug, Clone)]
pub struct BrokerClient {
    base: String,
    http: JsonClient,
}

impl BrokerClient {
    /// A client of the broker at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::default(),
        }
    }

    /// The broker of the party `card` names, if it names one.
    pub fn of(card: &PartyCard) -> Option<Self> {
        card.broker_url.as_deref().map(Self::new)
    }

    fn signed_get<T: DeserializeOwned>(
        &self,
        path: &str,
        owner: &Identity,
    ) -> Result<T, HttpError> {
        let authorization = owner.sign_request("GET", path, SystemClock.now());
        self.http
            .get_authorized(&format!("{}{path}", self.base), &authorization)
    }

    /// The owner's card.
    pub fn card(&self) -> Result<PartyCard, HttpError> {
        self.http.get(&format!("{}/v1/card", self.base))
    }

    /// Sends a signed approval or revocation; answers whether it was stored (not when a newer
    /// decision stands).
    pub fn decide(&self, decision: &SignedDecision) -> Result<bool, HttpError> {
        let answer: serde_json::Value = self
            .http
            .post(&format!("{}/v1/decisions", self.base), decision)?;
        Ok(answer
            .get("stored")
            .and_then(|v| v.as_bool())
            .unwrap_or(false))
    }

    /// Registers an owner-signed envelope as its dataset's current envelope.
    pub fn register(&self, registration: &SignedRegistration) -> Result<Registered, HttpError> {
        self.http
            .post(&format!("{}/v1/envelopes", self.base), registration)
    }

    /// Budgets kept (the owner only).
    pub fn budgets(&self, owner: &Identity) -> Result<Vec<BudgetStatus>, HttpError> {
        self.signed_get("/v1/budgets", owner)
    }

    /// Releases granted (the owner only).
    pub fn releases(&self, owner: &Identity) -> Result<Vec<LoggedRelease>, HttpError> {
        self.signed_get("/v1/releases", owner)
    }

    /// Refusals given (the owner only).
    pub fn refusals(&self, owner: &Identity) -> Result<Vec<RefusalRecord>, HttpError> {
        self.signed_get("/v1/refusals", owner)
    }
}
