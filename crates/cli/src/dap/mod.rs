//! Split aggregation from the command line: VDAF and measurement syntax, a leader and a helper
//! started as real processes with a task in both stores, the load generator, the benchmark and
//! the collector's output files.

pub mod bench;
pub mod demo;
pub mod output;
pub mod simulate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sealroom_dap::client::ClientTask;
use sealroom_dap::collector::Collector;
use sealroom_dap::messages::VdafConfig;
use sealroom_dap::transport::DapClient;
use sealroom_dap::vdaf::Measurement;
use sealroom_dap_aggregator::Store;
use sealroom_dap_aggregator::noise::{NoiseKind, TaskNoise};
use sealroom_dap_aggregator::provision::{NewTask, TaskSpec, new_task};

use crate::services::{ServiceProcess, free_port};

/// The chunk length Prio3's proof uses for a vector of `length` field elements when none is
/// given: about its square root, which balances proof size against verification work.
fn default_chunk(length: u64) -> u32 {
    ((length as f64).sqrt().round() as u32).max(1)
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} must be a whole number, not {text:?}"))
}

/// Parses a VDAF as the CLI writes it: `count`, `sum:MAX`, `sumvec:LENGTH:MAX[:CHUNK]`,
/// `histogram:LENGTH[:CHUNK]`, `multihot:LENGTH:MAX_WEIGHT[:CHUNK]`.
pub fn parse_vdaf(text: &str) -> Result<VdafConfig, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let usage = "count, sum:MAX, sumvec:LENGTH:MAX[:CHUNK], histogram:LENGTH[:CHUNK] or multihot:LENGTH:MAX_WEIGHT[:CHUNK]";
    let chunk = |i: usize, length: u64| match parts.get(i) {
        Some(c) => number::<u32>(c, "the chunk length"),
        None => Ok(default_chunk(length)),
    };
    Ok(match (parts[0], parts.len()) {
        ("count", 1) => VdafConfig::Prio3Count,
        ("sum", 2) => VdafConfig::Prio3Sum {
            max_measurement: number(parts[1], "the maximum")?,
        },
        ("sumvec", 3 | 4) => {
            let length: u32 = number(parts[1], "the length")?;
            let max: u64 = number(parts[2], "the maximum")?;
            let bits = 64 - max.leading_zeros() as u64;
            VdafConfig::Prio3SumVec {
                length,
                max_measurement: max,
                chunk_length: chunk(3, u64::from(length) * bits.max(1))?,
            }
        }
        ("histogram", 2 | 3) => {
            let length: u32 = number(parts[1], "the length")?;
            VdafConfig::Prio3Histogram {
                length,
                chunk_length: chunk(2, length.into())?,
            }
        }
        ("multihot", 3 | 4) => {
            let length: u32 = number(parts[1], "the length")?;
            VdafConfig::Prio3MultihotCountVec {
                length,
                max_weight: number(parts[2], "the maximum weight")?,
                chunk_length: chunk(3, length.into())?,
            }
        }
        _ => return Err(format!("{text:?} is not a VDAF: use {usage}")),
    })
}

/// The CLI's name for a VDAF (what [`parse_vdaf`] reads).
pub fn vdaf_label(vdaf: &VdafConfig) -> String {
    match *vdaf {
        VdafConfig::Prio3Count => "count".into(),
        VdafConfig::Prio3Sum { max_measurement } => format!("sum:{max_measurement}"),
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            chunk_length,
        } => format!("sumvec:{length}:{max_measurement}:{chunk_length}"),
        VdafConfig::Prio3Histogram {
            length,
            chunk_length,
        } => format!("histogram:{length}:{chunk_length}"),
        VdafConfig::Prio3MultihotCountVec {
            length,
            chunk_length,
            max_weight,
        } => format!("multihot:{length}:{max_weight}:{chunk_length}"),
    }
}

/// Parses differential-privacy terms: `laplace:EPSILON` or `gaussian:EPSILON:DELTA`. ε is kept
/// as a fraction in thousandths.
pub fn parse_noise(text: &str) -> Result<TaskNoise, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let epsilon = |t: &str| -> Result<(u64, u64), String> {
        let e: f64 = t
            .parse()
            .map_err(|_| format!("ε must be a number, not {t:?}"))?;
        let thousandths = (e * 1000.0).round();
        if !(1.0..=1e12).contains(&thousandths) {
            return Err(format!("ε = {t} is outside 0.001 to 10^9"));
        }
        Ok((thousandths as u64, 1000))
    };
    let (mechanism, epsilon, delta) = match parts.as_slice() {
        ["laplace", e] => (NoiseKind::Laplace, epsilon(e)?, 0.0),
        ["gaussian", e, d] => {
            let delta: f64 = d
                .parse()
                .map_err(|_| format!("δ must be a number, not {d:?}"))?;
            if !(delta > 0.0 && delta < 1.0) {
                return Err(format!("δ = {d} is not between 0 and 1"));
            }
            (NoiseKind::Gaussian, epsilon(e)?, delta)
        }
        _ => {
            return Err(format!(
                "{text:?} is not laplace:EPSILON or gaussian:EPSILON:DELTA"
            ));
        }
    };
    Ok(TaskNoise {
        mechanism,
        epsilon,
        delta,
    })
}

/// Parses one measurement for `vdaf`: `0`/`1` (count), an integer (sum), comma-separated
/// integers (sumvec), a bucket index (histogram), comma-separated indices of the set entries
/// (multihot; empty for none).
pub fn parse_measurement(vdaf: &VdafConfig, text: &str) -> Result<Measurement, String> {
    let text = text.trim();
    let list = |what: &str| -> Result<Vec<u64>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        text.split(',').map(|v| number(v.trim(), what)).collect()
    };
    Ok(match *vdaf {
        VdafConfig::Prio3Count => match text {
            "1" | "true" | "yes" => Measurement::Count(true),
            "0" | "false" | "no" => Measurement::Count(false),
            _ => return Err(format!("a count measurement is 0 or 1, not {text:?}")),
        },
        VdafConfig::Prio3Sum { .. } => Measurement::Sum(number(text, "a sum measurement")?),
        VdafConfig::Prio3SumVec { .. } => {
            Measurement::SumVec(list("each entry")?.into_iter().map(u128::from).collect())
        }
        VdafConfig::Prio3Histogram { .. } => {
            Measurement::Histogram(number(text, "a histogram measurement (the bucket)")?)
        }
        VdafConfig::Prio3MultihotCountVec { length, .. } => {
            let mut set = vec![false; length as usize];
            for index in list("each index")? {
                let slot = set
                    .get_mut(index as usize)
                    .ok_or_else(|| format!("index {index} is past the length {length}"))?;
                *slot = true;
            }
            Measurement::MultihotCountVec(set)
        }
    })
}

/// A leader and a helper running as `sealroom dap leader|helper` processes on fixed loopback
/// ports (the task names their URLs), with one task in both stores.
pub struct SplitDeployment {
    sealroom: PathBuf,
    dir: PathBuf,
    ports: [u16; 2],
    /// The leader process.
    pub leader: ServiceProcess,
    /// The helper process.
    pub helper: ServiceProcess,
    /// The task, with the collector's credential.
    pub task: NewTask,
}

/// Which aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The leader.
    Leader,
    /// The helper.
    Helper,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Leader => "leader",
            Side::Helper => "helper",
        }
    }
}

impl SplitDeployment {
    /// Starts both aggregators with stores in `dir` and adds a task made by `spec` from their
    /// URLs.
    pub fn start(
        sealroom: &Path,
        dir: &Path,
        spec: impl FnOnce(String, String) -> TaskSpec,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ports = [free_port()?, free_port()?];
        let leader = start_side(sealroom, dir, Side::Leader, ports[0])?;
        let helper = start_side(sealroom, dir, Side::Helper, ports[1])?;
        let spec = spec(format!("{}/", leader.url), format!("{}/", helper.url));
        let task = new_task(&spec, None)?;
        Store::open(&dir.join("leader.db"))?
            .add_task(&task.leader)
            .context("adding the task to the leader's store")?;
        Store::open(&dir.join("helper.db"))?
            .add_task(&task.helper)
            .context("adding the task to the helper's store")?;
        Ok(Self {
            sealroom: sealroom.to_path_buf(),
            dir: dir.to_path_buf(),
            ports,
            leader,
            helper,
            task,
        })
    }

    /// Kills an aggregator (SIGKILL: no chance to finish anything) and starts it again on the
    /// same store and port.
    pub fn kill_and_restart(&mut self, side: Side) -> anyhow::Result<()> {
        let (process, port) = match side {
            Side::Leader => (&mut self.leader, self.ports[0]),
            Side::Helper => (&mut self.helper, self.ports[1]),
        };
        process.stop();
        *process = start_side(&self.sealroom, &self.dir, side, port)?;
        Ok(())
    }

    /// The leader's store file.
    pub fn store(&self, side: Side) -> PathBuf {
        self.dir.join(format!("{}.db", side.name()))
    }

    /// The task as a client sees it (HPKE configurations fetched from both aggregators).
    pub fn client(&self, http: &DapClient) -> anyhow::Result<ClientTask> {
        Ok(ClientTask::fetch(
            http,
            self.task.task_id,
            self.task.configuration.clone(),
        )?)
    }

    /// The task's collector.
    pub fn collector(&self, http: &DapClient) -> Collector {
        Collector {
            http: http.clone(),
            task_id: self.task.task_id,
            configuration: self.task.configuration.clone(),
            credential: self.task.collector.clone(),
        }
    }
}

fn start_side(
    sealroom: &Path,
    dir: &Path,
    side: Side,
    port: u16,
) -> anyhow::Result<ServiceProcess> {
    let args: Vec<String> = vec![
        "dap".into(),
        side.name().into(),
        "--db".into(),
        dir.join(format!("{}.db", side.name()))
            .display()
            .to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    ServiceProcess::start(
        side.name(),
        sealroom,
        &args,
        "/hpke_config",
        &dir.join(format!("{}.log", side.name())),
        Duration::from_secs(20),
    )
}

/// Reads a file the user named, with its name in the error.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Refuses to overwrite a file.
pub fn create_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.exists() {
        bail!("{} exists; not overwriting it", path.display());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdafs_and_measurements_parse_as_documented() {
        assert_eq!(parse_vdaf("count"), Ok(VdafConfig::Prio3Count));
        assert_eq!(
            parse_vdaf("histogram:100"),
            Ok(VdafConfig::Prio3Histogram {
                length: 100,
                chunk_length: 10
            })
        );
        assert_eq!(
            parse_vdaf("multihot:8:2:3"),
            Ok(VdafConfig::Prio3MultihotCountVec {
                length: 8,
                max_weight: 2,
                chunk_length: 3
            })
        );
        for bad in ["", "count:1", "sum", "histogram:x", "poplar"] {
            assert!(parse_vdaf(bad).is_err(), "{bad}");
        }
        let vdaf = parse_vdaf("sumvec:3:7").unwrap();
        assert_eq!(parse_vdaf(&vdaf_label(&vdaf)), Ok(vdaf));
        assert_eq!(
            parse_measurement(&vdaf, "1, 2,3"),
            Ok(Measurement::SumVec(vec![1, 2, 3]))
        );
        let multihot = parse_vdaf("multihot:4:2").unwrap();
        assert_eq!(
            parse_measurement(&multihot, "0,3"),
            Ok(Measurement::MultihotCountVec(vec![
                true, false, false, true
            ]))
        );
        assert!(parse_measurement(&multihot, "4").is_err());
        assert!(parse_measurement(&VdafConfig::Prio3Count, "2").is_err());
    }

    #[test]
    fn noise_terms_parse_as_documented() {
        let laplace = parse_noise("laplace:0.5").unwrap();
        assert_eq!(
            (laplace.mechanism, laplace.epsilon),
            (NoiseKind::Laplace, (500, 1000))
        );
        let gaussian = parse_noise("gaussian:1:1e-9").unwrap();
        assert_eq!(gaussian.mechanism, NoiseKind::Gaussian);
        assert_eq!(gaussian.delta, 1e-9);
        for bad in [
            "laplace",
            "laplace:0",
            "gaussian:1",
            "gaussian:1:2",
            "uniform:1",
        ] {
            assert!(parse_noise(bad).is_err(), "{bad}");
        }
    }
}
