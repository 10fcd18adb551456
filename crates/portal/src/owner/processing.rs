//! The processing log: every release of this owner's data, each proven to be in the
//! transparency log, and every refusal.
//!
//! Before a page is shown the portal reads the page's releases, then fetches the log's latest checkpoint, verifies its
//! signature with the pinned key and that it extends the last checkpoint this broker saw (a
//! consistency proof), and remembers it. Then every release on the page is checked against it
//! with an inclusion proof of the exact entry bytes the broker appended. A checkpoint that does
//! not extend the last one (a fork or a rewrite), or an entry whose proof fails, raises an
//! alarm; an unreachable log only a warning.

use sealroom_broker::Broker;
use sealroom_broker::records::ReleaseRecord;
use sealroom_http::HttpError;
use sealroom_ledger::{LogClientError, VerifiedCheckpoint, leaf_hash, verify_inclusion};

use crate::page::{PageError, epsilon, short, time};

/// Releases and refusals per page.
pub const PAGE_SIZE: u64 = 25;

/// What the log's checkpoint check found.
pub enum LogHealth {
    /// The checkpoint verified and extends the last one seen.
    Verified(VerifiedCheckpoint),
    /// The log did not answer; nothing could be proven.
    Unreachable(String),
    /// The log misbehaved: a bad signature, a fork or a rewrite.
    Alarm(String),
}

/// A release, as the page lists it.
pub struct ReleaseRow {
    /// When.
    pub at: String,
    /// The agreement's page.
    pub agreement_href: String,
    /// Its short id.
    pub agreement: String,
    /// The dataset.
    pub dataset: String,
    /// The job, short.
    pub job: String,
    /// Who started the run.
    pub requested_by: String,
    /// Platform and short runtime id.
    pub runtime: String,
    /// ε spent.
    pub epsilon: String,
    /// The entry's index in the log.
    pub index: u64,
    /// `proof verified`, or why not.
    pub proof: String,
    /// `ok`, `warn` or `bad`.
    pub class: &'static str,
}

/// A refusal, as the page lists it.
pub struct RefusalRow {
    /// When.
    pub at: String,
    /// Agreement (short) and dataset, if known.
    pub subject: String,
    /// The refusal code.
    pub code: String,
    /// What the requester was told.
    pub detail: String,
}

/// Fetches and checks the log's checkpoint against the last one this broker saw. Call it after
/// reading the releases to show: each of them was proven in a checkpoint no larger than the kept
/// one, which is read here before the log is asked.
pub fn check_log(broker: &Broker) -> LogHealth {
    let (log, key) = broker.log();
    let kept_note = match broker.store().last_checkpoint() {
        Ok(kept) => kept,
        Err(e) => return LogHealth::Unreachable(format!("the broker's store: {e}")),
    };
    let kept = match kept_note
        .as_deref()
        .map(|n| key.verify_checkpoint(n))
        .transpose()
    {
        Ok(kept) => kept,
        Err(e) => {
            return LogHealth::Alarm(format!(
                "the checkpoint this broker kept no longer verifies: {e}"
            ));
        }
    };
    let current = match log.checkpoint(key) {
        Ok(c) => c,
        Err(e) => return classify(e),
    };
    if let Some(last) = &kept
        && let Err(e) = log.check_extends(last, &current)
    {
        return classify(e);
    }
    if let Err(e) = broker
        .store()
        .advance_checkpoint(kept_note.as_deref(), &current)
    {
        return LogHealth::Unreachable(format!("the broker's store: {e}"));
    }
    LogHealth::Verified(current)
}

/// Only a log that cannot be reached at all is a warning; one that answers, but not with what
/// it must (an error status, an unreadable answer, a bad signature, a fork), is an alarm: a log
/// hiding a rewrite would rather fail than prove.
fn classify(e: LogClientError) -> LogHealth {
    match e {
        LogClientError::Http(HttpError::Unreachable { .. }) => {
            LogHealth::Unreachable(e.to_string())
        }
        e => LogHealth::Alarm(e.to_string()),
    }
}

/// One release with its proof checked against `health`'s checkpoint.
pub fn release_row(broker: &Broker, health: &LogHealth, r: ReleaseRecord) -> ReleaseRow {
    let k = match &r.release {
        Ok(k) => k,
        Err(why) => {
            return ReleaseRow {
                at: time(r.at),
                agreement_href: "/portal/agreements".into(),
                agreement: String::new(),
                dataset: String::new(),
                job: String::new(),
                requested_by: String::new(),
                runtime: String::new(),
                epsilon: epsilon(r.epsilon_micros),
                index: r.index,
                proof: format!(
                    "PROOF FAILED: the broker's record of this release is damaged: {why}"
                ),
                class: "bad",
            };
        }
    };
    let (proof, class) = match health {
        LogHealth::Verified(checkpoint) => match prove(broker, checkpoint, &r) {
            Ok(()) => ("proof verified".to_string(), "ok"),
            Err(Proof::Failed(why)) => (format!("PROOF FAILED: {why}"), "bad"),
            Err(Proof::Unreachable(why)) => (format!("not checked: {why}"), "warn"),
        },
        LogHealth::Unreachable(_) => ("not checked: the log did not answer".into(), "warn"),
        LogHealth::Alarm(_) => ("not checked: the log's checkpoint is bad".into(), "bad"),
    };
    ReleaseRow {
        at: time(r.at),
        agreement_href: format!("/portal/agreements/{}", k.agreement),
        agreement: short(&k.agreement),
        dataset: k.dataset.clone(),
        job: short(&k.job),
        requested_by: k.requested_by.clone(),
        runtime: format!("{} {}", k.platform, short(&k.measurement)),
        epsilon: epsilon(r.epsilon_micros),
        index: r.index,
        proof,
        class,
    }
}

enum Proof {
    Failed(String),
    Unreachable(String),
}

fn prove(broker: &Broker, checkpoint: &VerifiedCheckpoint, r: &ReleaseRecord) -> Result<(), Proof> {
    if r.index >= checkpoint.size {
        return Err(Proof::Failed(format!(
            "entry {} is beyond the log's {} entries: the log dropped it",
            r.index, checkpoint.size
        )));
    }
    let (log, _) = broker.log();
    let proof = log
        .inclusion_proof(r.index, checkpoint.size)
        .map_err(|e| match e {
            LogClientError::Http(HttpError::Unreachable { .. }) => {
                Proof::Unreachable(e.to_string())
            }
            e => Proof::Failed(e.to_string()),
        })?;
    verify_inclusion(
        &leaf_hash(&r.entry).0,
        r.index,
        checkpoint.size,
        &checkpoint.root,
        &proof,
    )
    .map_err(|e| {
        Proof::Failed(format!(
            "entry {} is not in the log as this broker appended it: {e}",
            r.index
        ))
    })
}

/// Page `page` (clamped to the last) of the releases, newest first; with the number of pages
/// and the page shown.
pub fn releases(broker: &Broker, page: u64) -> Result<(Vec<ReleaseRecord>, u64, u64), PageError> {
    let store = broker.store();
    let pages = store.release_count()?.div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages - 1);
    Ok((
        store.releases_newest_first(page * PAGE_SIZE, PAGE_SIZE)?,
        pages,
        page,
    ))
}

/// Page `page` (clamped to the last) of the refusals, newest first; with the number of pages
/// and the page shown.
pub fn refusals(broker: &Broker, page: u64) -> Result<(Vec<RefusalRow>, u64, u64), PageError> {
    let store = broker.store();
    let pages = store.refusal_count()?.div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages - 1);
    let rows = store
        .refusals_newest_first(page * PAGE_SIZE, PAGE_SIZE)?
        .into_iter()
        .map(|r| RefusalRow {
            at: time(r.at),
            subject: match (&r.agreement, &r.dataset) {
                (Some(a), Some(d)) => format!("{} {d}", a.chars().take(12).collect::<String>()),
                (Some(a), None) => a.chars().take(12).collect(),
                _ => String::new(),
            },
            code: r.code,
            detail: r.detail,
        })
        .collect();
    Ok((rows, pages, page))
}
