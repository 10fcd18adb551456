//! Starting brokers and hosts as real processes on loopback, and stopping them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sealroom_http::JsonClient;

/// Ports handed out by [`free_port`]: below Linux's ephemeral range (32768–60999), where the
/// kernel picks ports for outgoing connections and for `bind(0)`, so those cannot take them.
const SERVICE_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A random loopback port that is free now (the listener is closed again, so another process
/// can still take it first, rarely). Only for setups that must name a port before the service
/// starts, like the README quickstart whose cards carry fixed broker URLs: [`Executables`]
/// starts services on port 0 and learns the address they report.
pub fn free_port() -> std::io::Result<u16> {
    for _ in 0..200 {
        let draw = u16::from_le_bytes(sealroom_crypto::random::array());
        let port = SERVICE_PORTS.start + draw % (SERVICE_PORTS.end - SERVICE_PORTS.start);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A service process, stopped when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    child: Child,
    /// Its base URL, as the service reported it.
    pub url: String,
}

/// What a service prints on standard output once it listens: `<what> listening on <url>`.
pub const LISTENING: &str = " listening on ";

impl ServiceProcess {
    /// Starts `program args…`, learns its address from the line it prints once it listens (so
    /// it can bind port 0: no port is picked and released before the service binds it), and
    /// waits until `GET {url}{probe}` answers, for at most `wait`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        probe: &str,
        log: &Path,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {} ({})", name, program.display()))?;
        let stdout = child.stdout.take().context("the service's output")?;
        let (tell, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { return };
                if let Some((_, url)) = line.split_once(LISTENING) {
                    let _ = tell.send(url.trim().to_string());
                }
            }
        });
        let mut service = Self {
            name: name.into(),
            child,
            url: String::new(),
        };
        service.url = match told.recv_timeout(wait) {
            Ok(url) => url,
            Err(_) => {
                service.stop();
                let said = std::fs::read_to_string(log).unwrap_or_default();
                bail!(
                    "{name} did not report its address within {wait:?}: {}",
                    said.trim()
                );
            }
        };
        service.wait_ready(probe, log, wait)?;
        Ok(service)
    }

    fn wait_ready(&mut self, probe: &str, log: &Path, wait: Duration) -> anyhow::Result<()> {
        let client = JsonClient::new(Duration::from_secs(2));
        let start = Instant::now();
        loop {
            // Any 2xx answer means it serves (a DAP aggregator's probe answers in binary).
            match client.get::<serde_json::Value>(&format!("{}{probe}", self.url)) {
                Ok(_) | Err(sealroom_http::HttpError::BadAnswer { .. }) => return Ok(()),
                Err(_) => {}
            }
            if let Some(status) = self.child.try_wait()? {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                bail!(
                    "{} exited ({status}) before it was ready: {}",
                    self.name,
                    said.trim()
                );
            }
            if start.elapsed() > wait {
                bail!(
                    "{} did not answer on {} within {wait:?}",
                    self.name,
                    self.url
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user and system) the process has used so far, from `/proc` (Linux).
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .context("reading the process's CPU time (Linux /proc)")?;
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(i)
                .context("a short /proc stat line")?
                .parse::<f64>()?)
        };
        // Clock ticks are 100 per second on Linux.
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    /// Stops the process.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a broker is told to trust: the simulator platform key, and the log with its key.
#[derive(Debug, Clone)]
pub struct Pins {
    /// The simulator platform key (base64).
    pub sim_key: String,
    /// The transparency log's URL.
    pub log_url: String,
    /// The log's verifier key.
    pub log_key: String,
}

/// Paths of the two executables a deployment runs.
#[derive(Debug, Clone)]
pub struct Executables {
    /// `sealroom`.
    pub sealroom: PathBuf,
    /// `sealroom-isolate`.
    pub isolate: PathBuf,
}

impl Executables {
    /// `sealroom` and the `sealroom-isolate` beside it.
    pub fn beside(sealroom: PathBuf) -> anyhow::Result<Self> {
        let isolate =
            sealroom.with_file_name(format!("sealroom-isolate{}", std::env::consts::EXE_SUFFIX));
        if !isolate.exists() {
            bail!(
                "{} is missing: build it beside sealroom (`cargo build --workspace`, or `--release`)",
                isolate.display()
            );
        }
        Ok(Self { sealroom, isolate })
    }

    /// Starts a key broker for the owner whose key file is `key`, on a port of the kernel's
    /// choosing, pinning the host's simulator platform key and logging to `log`, with further
    /// `extra` arguments.
    pub fn start_broker(
        &self,
        key: &Path,
        data: &Path,
        pins: &Pins,
        extra: &[&str],
    ) -> anyhow::Result<ServiceProcess> {
        let mut args = vec![
            "broker".into(),
            "--key".into(),
            key.display().to_string(),
            "--data".into(),
            data.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--accept-simulator-evidence".into(),
            pins.sim_key.clone(),
            "--log".into(),
            pins.log_url.clone(),
            "--log-key".into(),
            pins.log_key.clone(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        std::fs::create_dir_all(data)?;
        ServiceProcess::start(
            "broker",
            &self.sealroom,
            &args,
            "/v1/card",
            &data.join("broker.log"),
            Duration::from_secs(20),
        )
    }

    /// Starts a host on a port of the kernel's choosing.
    pub fn start_host(&self, data: &Path) -> anyhow::Result<ServiceProcess> {
        self.start_host_with(data, &[])
    }

    /// Starts a host with further `sealroom host` arguments (limits, for example).
    pub fn start_host_with(&self, data: &Path, extra: &[&str]) -> anyhow::Result<ServiceProcess> {
        let mut args: Vec<String> = vec![
            "host".into(),
            "--data".into(),
            data.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--isolate".into(),
            self.isolate.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        std::fs::create_dir_all(data)?;
        ServiceProcess::start(
            "host",
            &self.sealroom,
            &args,
            "/v1/platform",
            &data.join("host.log"),
            Duration::from_secs(20),
        )
    }
}

/// Onboards parties at the host whose data directory is `host_data`, as its operator does with
/// `sealroom host party add`: the host serves only these parties. Works while the host runs.
pub fn onboard(host_data: &Path, cards: &[sealroom_core::party::PartyCard]) -> anyhow::Result<()> {
    use sealroom_core::clock::Clock;
    std::fs::create_dir_all(host_data)?;
    let store = sealroom_host::HostStore::open(&host_data.join(sealroom_host::api::HOST_DATABASE))?;
    for card in cards {
        if let Some(Err(e)) = card.broker_base() {
            bail!("{}: {e}", card.name);
        }
        store.add_party(card, sealroom_core::clock::SystemClock.now())?;
    }
    Ok(())
}
