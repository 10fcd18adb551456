//! The VDAF work of both aggregators, generic over the task's Prio3 variant: validating and
//! opening input shares (DAP-18 §4.5.2.3–4), the ping-pong verification steps (§4.5.2), and
//! batch buckets, where output shares are committed (§4.5.3).

use std::collections::BTreeMap;

use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::{PingPongMessage, PingPongState};
use prio::vdaf::Aggregatable;
use rusqlite::{Connection, OptionalExtension, params};
use sealroom_dap::hpke::{HpkeKeypair, seal};
use sealroom_dap::messages::{
    AggregateShareAad, CollectionJobReq, HpkeCiphertext, InputShareAad, PlaintextInputShare,
    ReportError, ReportId, ReportMetadata, Role, TaskId, aggregate_share_info, decode_all, encode,
    input_share_info, vdaf_context,
};
use sealroom_dap::problem::DapProblem;
use sealroom_dap::vdaf::DapVdaf;
use sealroom_privacy::NoiseRng;
use sha2::{Digest, Sha256};

use crate::error::DapError;
use crate::store::sql_time;
use crate::task::{AggregatorTask, CLOCK_SKEW};

/// `f` over `items` on every core, in order: the per-report cryptography of a job is
/// independent from report to report.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a verification thread panicked"))
            .collect()
    })
}

/// Checks a report's time against the clock (`now`, seconds), the task's interval and the
/// task's report expiry age.
pub fn check_report_time(task: &AggregatorTask, time: u64, now: u64) -> Result<(), ReportError> {
    let precision = task.configuration.time_precision;
    let seconds = time.saturating_mul(precision);
    if seconds > now.saturating_add(CLOCK_SKEW) {
        return Err(ReportError::ReportTooEarly);
    }
    if let Ok(Some(interval)) = task.configuration.task_interval() {
        if time < interval.start.0 {
            return Err(ReportError::TaskNotStarted);
        }
        if time >= interval.start.0.saturating_add(interval.duration.0) {
            return Err(ReportError::TaskExpired);
        }
    }
    // The report's whole time unit must be older than the expiry age to be dropped.
    if seconds.saturating_add(precision) < now.saturating_sub(task.report_expiry_age) {
        return Err(ReportError::ReportDropped);
    }
    Ok(())
}

/// Validates a report share and opens this aggregator's input share (§4.5.2.3, §4.5.2.4).
#[allow(clippy::too_many_arguments)]
pub fn open_input_share<V: DapVdaf>(
    vdaf: &V,
    task: &AggregatorTask,
    keys: &[HpkeKeypair],
    metadata: &ReportMetadata,
    public_share: &[u8],
    encrypted: &HpkeCiphertext,
    now: u64,
) -> Result<(V::PublicShare, V::InputShare), ReportError> {
    check_report_time(task, metadata.time.0, now)?;
    // No report extension type is defined, so any is unrecognized.
    if metadata.public_extensions.check_order().is_err() || !metadata.public_extensions.0.is_empty()
    {
        return Err(ReportError::InvalidMessage);
    }
    // §4.5.2.3: an unrecognized config id, like a failed decryption, is hpke_decrypt_error.
    let key = keys
        .iter()
        .find(|k| k.config.id == encrypted.config_id)
        .ok_or(ReportError::HpkeDecryptError)?;
    let aad = encode(
        &InputShareAad {
            task_id: task.task_id,
            task_configuration: task.configuration.clone(),
            report_metadata: metadata.clone(),
            public_share: public_share.to_vec(),
        },
        "InputShareAad",
    )
    .map_err(|_| ReportError::InvalidMessage)?;
    let plaintext = key
        .open(encrypted, &input_share_info(task.role), &aad)
        .map_err(|_| ReportError::HpkeDecryptError)?;
    let plaintext: PlaintextInputShare =
        decode_all(&plaintext, "PlaintextInputShare").map_err(|_| ReportError::InvalidMessage)?;
    if !plaintext.private_extensions.0.is_empty() {
        return Err(ReportError::InvalidMessage);
    }
    let aggregator_id = if task.role == Role::Leader { 0 } else { 1 };
    let public = V::PublicShare::get_decoded_with_param(vdaf, public_share)
        .map_err(|_| ReportError::InvalidMessage)?;
    let input = V::InputShare::get_decoded_with_param(&(vdaf, aggregator_id), &plaintext.payload)
        .map_err(|_| ReportError::InvalidMessage)?;
    Ok((public, input))
}

/// The leader's first step for one report: its verifier state and its message to the helper.
pub fn leader_start<V: DapVdaf>(
    vdaf: &V,
    task: &AggregatorTask,
    nonce: &ReportId,
    public: &V::PublicShare,
    input: &V::InputShare,
) -> Result<(Vec<u8>, Vec<u8>), ReportError> {
    let ctx = vdaf_context(&task.task_id);
    let started = vdaf
        .leader_initialized(&task.vdaf_verify_key, &ctx, &(), &nonce.0, public, input)
        .map_err(|_| ReportError::VdafVerifyError)?;
    let state = started
        .verifier_state
        .get_encoded()
        .map_err(|_| ReportError::VdafVerifyError)?;
    let message = started
        .message
        .get_encoded()
        .map_err(|_| ReportError::VdafVerifyError)?;
    Ok((state, message))
}

/// The helper's step for one report (Prio3 finishes here): its output share and its message
/// back to the leader.
pub fn helper_step<V: DapVdaf>(
    vdaf: &V,
    task: &AggregatorTask,
    nonce: &ReportId,
    public: &V::PublicShare,
    input: &V::InputShare,
    leader_message: &[u8],
) -> Result<(V::OutputShare, Vec<u8>), ReportError> {
    let ctx = vdaf_context(&task.task_id);
    let inbound =
        PingPongMessage::get_decoded(leader_message).map_err(|_| ReportError::InvalidMessage)?;
    let state = vdaf
        .helper_initialized(
            &task.vdaf_verify_key,
            &ctx,
            &(),
            &nonce.0,
            public,
            input,
            &inbound,
        )
        .and_then(|continuation| continuation.evaluate(&ctx, vdaf))
        .map_err(|_| ReportError::VdafVerifyError)?;
    match state {
        PingPongState::FinishedWithOutbound {
            output_share,
            message,
        } => Ok((
            output_share,
            message
                .get_encoded()
                .map_err(|_| ReportError::VdafVerifyError)?,
        )),
        // Prio3 verifies in one round trip; anything else is not a Prio3 exchange.
        _ => Err(ReportError::VdafVerifyError),
    }
}

/// The leader's last step for one report: its output share from its stored verifier state and
/// the helper's message.
pub fn leader_finish<V: DapVdaf>(
    vdaf: &V,
    task: &AggregatorTask,
    state: &[u8],
    helper_message: &[u8],
) -> Result<V::OutputShare, ReportError> {
    let ctx = vdaf_context(&task.task_id);
    let state = V::VerifyState::get_decoded_with_param(&(vdaf, 0), state)
        .map_err(|_| ReportError::VdafVerifyError)?;
    let inbound =
        PingPongMessage::get_decoded(helper_message).map_err(|_| ReportError::InvalidMessage)?;
    match vdaf
        .leader_continued(&ctx, &(), state, &inbound)
        .and_then(|continuation| continuation.evaluate(&ctx, vdaf))
    {
        Ok(PingPongState::Finished { output_share }) => Ok(output_share),
        _ => Err(ReportError::VdafVerifyError),
    }
}

/// SHA-256 of a report id, XORed into a bucket's checksum (§4.5.3).
pub fn report_checksum(report_id: &ReportId) -> [u8; 32] {
    Sha256::digest(report_id.0).into()
}

fn xor_into(checksum: &mut [u8; 32], other: &[u8; 32]) {
    for (a, b) in checksum.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// What a batch holds: an aggregate share, the report count, the checksum, and the span of
/// report times (in precision units).
#[derive(Debug, Clone)]
pub struct BatchTotal<V: DapVdaf> {
    /// The aggregate share.
    pub share: V::AggregateShare,
    /// Reports committed.
    pub count: u64,
    /// XOR of SHA-256 of their ids.
    pub checksum: [u8; 32],
    /// Earliest and latest report time, if any report.
    pub times: Option<(u64, u64)>,
}

impl<V: DapVdaf> BatchTotal<V> {
    /// An empty total.
    pub fn new(vdaf: &V) -> Self {
        Self {
            share: vdaf.aggregate_init(&()),
            count: 0,
            checksum: [0; 32],
            times: None,
        }
    }

    /// Adds one verified report.
    pub fn add(
        &mut self,
        report_id: &ReportId,
        time: u64,
        output: &V::OutputShare,
    ) -> Result<(), DapError> {
        self.share
            .accumulate(output)
            .map_err(|e| DapError::internal(format!("accumulating an output share: {e}")))?;
        self.count += 1;
        xor_into(&mut self.checksum, &report_checksum(report_id));
        self.widen(time, time);
        Ok(())
    }

    fn widen(&mut self, min: u64, max: u64) {
        self.times = Some(match self.times {
            None => (min, max),
            Some((a, b)) => (a.min(min), b.max(max)),
        });
    }

    /// Refuses a batch below the task's minimum size (`invalidBatchSize`).
    pub fn check_min_size(&self, task: &AggregatorTask) -> Result<(), DapError> {
        if self.count >= task.configuration.min_batch_size {
            return Ok(());
        }
        Err(DapError::dap(
            DapProblem::InvalidBatchSize,
            Some(task.task_id),
            // Not how many it holds: a collector must learn nothing of a batch too small to
            // release.
            format!(
                "the batch holds fewer reports than the task's minimum of {}",
                task.configuration.min_batch_size
            ),
        ))
    }

    /// This total's aggregate share sealed by `role` to the collector, bound to the task and
    /// the collection job's request (§4.6.5).
    pub fn seal_share(
        &self,
        task: &AggregatorTask,
        request: &CollectionJobReq,
        role: Role,
    ) -> Result<HpkeCiphertext, DapError> {
        let mut share = self
            .share
            .get_encoded()
            .map_err(|e| DapError::internal(format!("encoding the aggregate share: {e}")))?;
        if let Some(noise) = &task.noise {
            let vdaf = task.configuration.vdaf().map_err(DapError::internal)?;
            noise
                .add_to_share(&vdaf, &mut share, &mut NoiseRng::from_os())
                .map_err(DapError::internal)?;
        }
        let aad = encode(
            &AggregateShareAad {
                task_id: task.task_id,
                task_configuration: task.configuration.clone(),
                collection_job_req: request.clone(),
            },
            "AggregateShareAad",
        )
        .map_err(DapError::internal)?;
        seal(
            &task.collector_hpke_config,
            &aggregate_share_info(role),
            &aad,
            &share,
        )
        .map_err(DapError::internal)
    }

    /// Adds another total.
    pub fn merge(&mut self, other: &Self) -> Result<(), DapError> {
        self.share
            .merge(&other.share)
            .map_err(|e| DapError::internal(format!("merging aggregate shares: {e}")))?;
        self.count += other.count;
        xor_into(&mut self.checksum, &other.checksum);
        if let Some((min, max)) = other.times {
            self.widen(min, max);
        }
        Ok(())
    }
}

/// Output shares of one job, grouped by batch bucket, before they are committed.
pub struct BucketDeltas<V: DapVdaf> {
    buckets: BTreeMap<Vec<u8>, (Option<u64>, BatchTotal<V>)>,
}

impl<V: DapVdaf> Default for BucketDeltas<V> {
    fn default() -> Self {
        Self {
            buckets: BTreeMap::new(),
        }
    }
}

impl<V: DapVdaf> BucketDeltas<V> {
    /// Adds a verified report to `bucket` (`bucket_time` is its time unit for time_interval).
    pub fn add(
        &mut self,
        vdaf: &V,
        bucket: &[u8],
        bucket_time: Option<u64>,
        report_id: &ReportId,
        time: u64,
        output: &V::OutputShare,
    ) -> Result<(), DapError> {
        self.buckets
            .entry(bucket.to_vec())
            .or_insert_with(|| (bucket_time, BatchTotal::new(vdaf)))
            .1
            .add(report_id, time, output)
    }

    /// Commits every bucket's delta into the store (inside the caller's transaction).
    pub fn commit(self, conn: &Connection, vdaf: &V, task_id: &TaskId) -> Result<(), DapError> {
        for (bucket, (bucket_time, delta)) in self.buckets {
            let mut total =
                read_bucket(conn, vdaf, task_id, &bucket)?.unwrap_or_else(|| BatchTotal::new(vdaf));
            total.merge(&delta)?;
            write_bucket(conn, task_id, &bucket, bucket_time, &total)?;
        }
        Ok(())
    }
}

fn decode_total<V: DapVdaf>(
    vdaf: &V,
    share: Option<Vec<u8>>,
    count: i64,
    checksum: Vec<u8>,
    times: (Option<i64>, Option<i64>),
) -> Result<BatchTotal<V>, DapError> {
    let share = match share {
        Some(bytes) => V::AggregateShare::get_decoded_with_param(&(vdaf, &()), &bytes)
            .map_err(|e| DapError::internal(format!("a stored aggregate share: {e}")))?,
        None => vdaf.aggregate_init(&()),
    };
    Ok(BatchTotal {
        share,
        count: u64::try_from(count).map_err(DapError::internal)?,
        checksum: checksum
            .try_into()
            .map_err(|_| DapError::internal("a stored checksum is not 32 bytes"))?,
        times: match times {
            (Some(min), Some(max)) => Some((min as u64, max as u64)),
            _ => None,
        },
    })
}

/// A bucket's stored total, if the bucket exists.
pub fn read_bucket<V: DapVdaf>(
    conn: &Connection,
    vdaf: &V,
    task_id: &TaskId,
    bucket: &[u8],
) -> Result<Option<BatchTotal<V>>, DapError> {
    let row = conn
        .query_row(
            "SELECT agg_share, report_count, checksum, min_time, max_time FROM buckets
             WHERE task_id = ?1 AND bucket = ?2",
            params![task_id.0, bucket],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    row.map(|(share, count, checksum, min, max)| {
        decode_total(vdaf, share, count, checksum, (min, max))
    })
    .transpose()
}

/// Stores a bucket's total (creating the bucket if needed).
pub fn write_bucket<V: DapVdaf>(
    conn: &Connection,
    task_id: &TaskId,
    bucket: &[u8],
    bucket_time: Option<u64>,
    total: &BatchTotal<V>,
) -> Result<(), DapError> {
    let share = total
        .share
        .get_encoded()
        .map_err(|e| DapError::internal(format!("encoding an aggregate share: {e}")))?;
    let bucket_time = bucket_time.map(sql_time).transpose()?;
    let (min, max) = match total.times {
        Some((min, max)) => (Some(sql_time(min)?), Some(sql_time(max)?)),
        None => (None, None),
    };
    conn.execute(
        "INSERT INTO buckets (task_id, bucket, bucket_time, agg_share, report_count, checksum,
                              min_time, max_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (task_id, bucket) DO UPDATE SET agg_share = ?4, report_count = ?5,
             checksum = ?6, min_time = ?7, max_time = ?8",
        params![
            task_id.0,
            bucket,
            bucket_time,
            share,
            sql_time(total.count)?,
            total.checksum.to_vec(),
            min,
            max
        ],
    )?;
    Ok(())
}

/// The total of the time-interval batch `[start, end)` (time units), from its buckets.
pub fn read_interval<V: DapVdaf>(
    conn: &Connection,
    vdaf: &V,
    task_id: &TaskId,
    start: i64,
    end: i64,
) -> Result<BatchTotal<V>, DapError> {
    let mut total = BatchTotal::new(vdaf);
    let mut statement = conn.prepare(
        "SELECT agg_share, report_count, checksum, min_time, max_time FROM buckets
         WHERE task_id = ?1 AND bucket_time >= ?2 AND bucket_time < ?3",
    )?;
    let rows = statement.query_map(params![task_id.0, start, end], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    for row in rows {
        let (share, count, checksum, min, max) = row?;
        total.merge(&decode_total(vdaf, share, count, checksum, (min, max))?)?;
    }
    Ok(total)
}

/// Records that the helper commits `report_id`; `false` if it already had (a replay).
pub fn newly_aggregated(
    conn: &Connection,
    task_id: &TaskId,
    report_id: &ReportId,
) -> rusqlite::Result<bool> {
    let added = conn
        .prepare_cached("INSERT OR IGNORE INTO aggregated (task_id, report_id) VALUES (?1, ?2)")?
        .execute(params![task_id.0, report_id.0])?;
    Ok(added == 1)
}
