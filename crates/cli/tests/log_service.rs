//! The transparency log served by a real host process: crash safety under kill -9,
//! and loud reports of a rewritten log.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sealroom_core::attestation::Platform;
use sealroom_core::ids::Measurement;
use sealroom_crypto::Identity;
use sealroom_ledger::{LogClient, LogEntry, LogSigningKey, Statement};
use sealroom_ledger_store::LogStore;

/// A fresh entry signed with the log's own key (the host is an allowed writer).
fn entry(key: &LogSigningKey) -> Vec<u8> {
    let statement = Statement::RuntimePublished {
        platform: Platform::Sim,
        measurement: Measurement(sealroom_crypto::random::array()),
        programs: vec![],
    };
    LogEntry::sign(statement, key.public(), |l, b| key.sign(l, b))
        .unwrap()
        .to_bytes()
}

fn host_log_key(host: &common::LogHost) -> LogSigningKey {
    LogSigningKey::read(&host.dir.path().join("host/log.key")).unwrap()
}

#[test]
fn kill_9_during_a_burst_of_appends_loses_no_acknowledged_entry() {
    let mut host = common::start_log_host();
    let key = host_log_key(&host);
    let pinned = host.key();
    let client = LogClient::new(&host.process.url, Duration::from_secs(10));
    // (index, entry) of every append the log acknowledged.
    type Acked = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;
    let acked: Acked = Arc::default();

    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (client, acked) = (client.clone(), acked.clone());
            let key = LogSigningKey::read(&host.dir.path().join("host/log.key")).unwrap();
            std::thread::spawn(move || {
                loop {
                    let e = entry(&key);
                    match client.append(&e) {
                        Ok(answer) => acked.lock().unwrap().push((answer.index, e)),
                        Err(_) => return, // the host is gone
                    }
                }
            })
        })
        .collect();
    let wait_for_acks = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "fewer than {n} appends acknowledged within a minute"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for_acks(200);
    let before = client.checkpoint(&pinned).unwrap();
    wait_for_acks(400);
    host.process.stop(); // SIGKILL, mid-burst
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);

    let host = common::start_host_in(host.dir);
    let client = LogClient::new(&host.process.url, Duration::from_secs(10));
    let after = client.checkpoint(&pinned).unwrap();
    assert!(after.size > before.size);
    for (index, bytes) in &acked {
        assert!(*index < after.size);
        let stored = client.entries(*index, 1).unwrap();
        assert_eq!(&stored[0], bytes, "acknowledged entry {index} was lost");
    }
    client.check_extends(&before, &after).unwrap();
    LogStore::open(&host.dir.path().join("host/log.sqlite"))
        .unwrap()
        .check_integrity()
        .unwrap();
    // The log goes on appending after the crash.
    let answer = client.append(&entry(&key)).unwrap();
    assert_eq!(answer.index, after.size);
}

#[test]
fn a_rewritten_log_is_reported_loudly_by_audit_and_log_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sealroom"))
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let owner = Identity::generate("alice", None).unwrap();
    std::fs::write(
        d.join("alice.card.json"),
        serde_json::to_string(&owner.card()).unwrap(),
    )
    .unwrap();

    let mut first = common::start_log_host();
    let key = host_log_key(&first);
    let client = LogClient::new(&first.process.url, Duration::from_secs(10));
    for _ in 0..5 {
        client.append(&entry(&key)).unwrap();
    }
    let url = first.process.url.clone();
    let audit = |url: &str| {
        run(&[
            "audit",
            "--party",
            "alice.card.json",
            "--host",
            url,
            "--log-key",
            &first.log_key,
        ])
    };
    let out = audit(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "log",
        "checkpoint",
        "--host",
        &url,
        "--log-key",
        &first.log_key,
        "--out",
        "old.checkpoint",
    ]);
    assert!(out.status.success());
    first.process.stop();

    // The operator starts over with the same log key and a different history.
    let rewritten_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(rewritten_dir.path().join("host")).unwrap();
    std::fs::copy(
        first.dir.path().join("host/log.key"),
        rewritten_dir.path().join("host/log.key"),
    )
    .unwrap();
    let second = common::start_host_in(rewritten_dir);
    assert_eq!(second.log_key, first.log_key);
    let client = LogClient::new(&second.process.url, Duration::from_secs(10));
    for _ in 0..8 {
        client.append(&entry(&key)).unwrap();
    }

    let out = audit(&second.process.url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("LOG FORK"), "{stderr}");
    let out = run(&[
        "log",
        "verify",
        "--host",
        &second.process.url,
        "--log-key",
        &first.log_key,
        "old.checkpoint",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
