//! The `sealroom` binary as a user runs it, including the README quickstart, command by command.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use sealroom_cli::services::{ServiceProcess, free_port};

fn sealroom<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealroom"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sealroom runs")
}

fn ok<S: AsRef<OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> String {
    let out = sealroom(dir, args);
    assert!(
        out.status.success(),
        "sealroom {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json<S: AsRef<OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> serde_json::Value {
    let mut all: Vec<&OsStr> = vec![OsStr::new("--json")];
    all.extend(args.iter().map(AsRef::as_ref));
    serde_json::from_str(&ok(dir, &all)).expect("--json prints JSON")
}

#[test]
fn help_teaches_and_exit_codes_distinguish_refusals_from_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(dir.path(), &["--help"]);
    assert!(help.contains("Exit codes") && help.contains("demo") && help.contains("seal"));

    std::fs::write(
        dir.path().join("bad.toml"),
        "format = \"sealroom-agreement/v1\"\nname = \"x\"\n",
    )
    .unwrap();
    let out = sealroom(dir.path(), &["agreement", "check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing field"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sealroom(dir.path(), &["agreement", "check", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        sealroom(dir.path(), &["no-such-command"]).status.code(),
        Some(2)
    );
}

#[test]
fn party_files_are_private_never_overwritten_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let made = json(
        dir.path(),
        &[
            "party",
            "new",
            "alice",
            "--broker-url",
            "http://127.0.0.1:1",
        ],
    );
    let key = dir.path().join("alice.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = sealroom(dir.path(), &["party", "new", "alice"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let shown = json(dir.path(), &["party", "show", "alice.card.json"]);
    assert_eq!(shown["fingerprint"], made["fingerprint"]);
    let secret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let from_key = ok(dir.path(), &["party", "show", "alice.key"]);
    for field in ["signing_seed", "hpke_secret"] {
        assert!(
            !from_key.contains(secret[field].as_str().unwrap()),
            "{field} printed"
        );
    }
}

/// The README quickstart, one command at a time.
#[test]
fn quickstart_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart");
    for f in ["exposures.csv", "purchases.csv", "agreement.toml.template"] {
        std::fs::copy(examples.join(f), d.join(f)).unwrap();
    }
    let (host_port, ad_port, shop_port) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let host_url = format!("http://127.0.0.1:{host_port}");
    ok(
        d,
        &[
            "party",
            "new",
            "adplatform",
            "--broker-url",
            &format!("http://127.0.0.1:{ad_port}"),
        ],
    );
    ok(
        d,
        &[
            "party",
            "new",
            "advertiser",
            "--broker-url",
            &format!("http://127.0.0.1:{shop_port}"),
        ],
    );

    let exe = Path::new(env!("CARGO_BIN_EXE_sealroom"));
    let service = |name: &str, args: Vec<String>, url: String, probe: &str| {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.replace("{dir}", &d.display().to_string()))
            .collect();
        let service = ServiceProcess::start(
            name,
            exe,
            &args,
            probe,
            &d.join(format!("{name}.log")),
            std::time::Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(service.url, url, "{name} reports the address it was told");
        service
    };
    for card in ["adplatform.card.json", "advertiser.card.json"] {
        ok(d, &["host", "party", "add", "--data", "host-data", card]);
    }
    let served = json(d, &["host", "party", "list", "--data", "host-data"]);
    assert_eq!(served.as_array().unwrap().len(), 2);
    let _host = service(
        "host",
        vec![
            "host".into(),
            "--data".into(),
            "{dir}/host-data".into(),
            "--listen".into(),
            format!("127.0.0.1:{host_port}"),
        ],
        host_url.clone(),
        "/v1/platform",
    );
    let platform = json(d, &["platform", "--host", &host_url]);
    let log_key = platform["log_key"].as_str().unwrap().to_string();
    let sim = platform["simulator_platform_key"]
        .as_str()
        .unwrap()
        .to_string();
    let measurement = json(d, &["measure"])["measurement"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        platform["isolate_measurement"].as_str().unwrap(),
        measurement
    );
    let broker = |name: &str, port: u16| {
        service(
            &format!("{name}-broker"),
            vec![
                "broker".into(),
                "--key".into(),
                format!("{{dir}}/{name}.key"),
                "--data".into(),
                format!("{{dir}}/{name}-broker"),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--accept-simulator-evidence".into(),
                sim.clone(),
                "--log".into(),
                host_url.clone(),
                "--log-key".into(),
                log_key.clone(),
            ],
            format!("http://127.0.0.1:{port}"),
            "/v1/card",
        )
    };
    let _brokers = [
        broker("adplatform", ad_port),
        broker("advertiser", shop_port),
    ];

    let mut toml = std::fs::read_to_string(d.join("agreement.toml.template")).unwrap();
    for name in ["adplatform", "advertiser"] {
        let block = ok(
            d,
            &["party", "show", &format!("{name}.card.json"), "--toml"],
        );
        toml = toml.replace(&format!("# PASTE {name}\n"), &block);
    }
    std::fs::write(
        d.join("agreement.toml"),
        toml.replace("MEASUREMENT", &measurement),
    )
    .unwrap();

    let checked = json(d, &["agreement", "check", "agreement.toml"]);
    assert_eq!(
        checked["missing_signatures"],
        serde_json::json!(["adplatform", "advertiser"])
    );
    assert_eq!(checked["noise"][0]["mechanism"], "discrete-laplace");
    assert_eq!(checked["noise"][0]["parameter"], "1/1");

    // Noise that cannot be sized is caught when the agreement is written, not when a run would start.
    let text = std::fs::read_to_string(d.join("agreement.toml")).unwrap();
    let wide = text
        .replace("epsilon_per_run = 1.0", "epsilon_per_run = 0.000001")
        .replace(
            "max_groups_per_person = 1",
            "max_groups_per_person = 1000000\nnoise = \"discrete-gaussian\"",
        );
    std::fs::write(d.join("wide.toml"), wide).unwrap();
    let refused = sealroom(d, &["agreement", "check", "wide.toml"]);
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("noise cannot be sized") && said.contains("too large to sample exactly"),
        "{said}"
    );
    ok(
        d,
        &[
            "agreement",
            "sign",
            "agreement.toml",
            "--key",
            "adplatform.key",
        ],
    );
    let signed = json(
        d,
        &[
            "agreement",
            "sign",
            "agreement.signed.json",
            "--key",
            "advertiser.key",
        ],
    );
    assert_eq!(signed["missing_signatures"], serde_json::json!([]));
    ok(
        d,
        &["publish", "--host", &host_url, "agreement.signed.json"],
    );

    for (owner, dataset) in [("adplatform", "exposures"), ("advertiser", "purchases")] {
        let sealed = json(
            d,
            &[
                "seal",
                "--key",
                &format!("{owner}.key"),
                "--agreement",
                "agreement.signed.json",
                "--dataset",
                dataset,
                "--input",
                &format!("{dataset}.csv"),
                "--out",
                &format!("{dataset}.envelope"),
            ],
        );
        assert!(sealed["seal"]["rows"].as_u64().unwrap() >= 200);
        assert_eq!(sealed["registered"]["registration"], "registered");
        ok(
            d,
            &[
                "upload",
                "--host",
                &host_url,
                &format!("{dataset}.envelope"),
            ],
        );
        ok(
            d,
            &[
                "approve",
                "--key",
                &format!("{owner}.key"),
                "--agreement",
                "agreement.signed.json",
                "--measurement",
                &measurement,
            ],
        );
    }
    let job = json(
        d,
        &[
            "run",
            "--host",
            &host_url,
            "--agreement",
            "agreement.signed.json",
            "--key",
            "advertiser.key",
        ],
    );
    assert_eq!(job["status"], "finished");
    let job_id = job["job_id"].as_str().unwrap();

    let open_as = |key: &'static str| -> Vec<String> {
        [
            "open",
            "--key",
            key,
            "--agreement",
            "agreement.signed.json",
            "--host",
            &host_url,
            "--job",
            job_id,
            "--accept-simulator-evidence",
            &sim,
            "--log-key",
            &log_key,
        ]
        .map(String::from)
        .to_vec()
    };
    let opened = json(d, &open_as("advertiser.key"));
    assert_eq!(opened["tables"][0]["rows"].as_array().unwrap().len(), 3);
    let text = ok(d, &open_as("advertiser.key"));
    assert!(text.contains("SIMULATOR") && text.contains("spring-tv"));

    let not_reader = sealroom(d, &open_as("adplatform.key"));
    assert_eq!(not_reader.status.code(), Some(1));

    let budgets = json(d, &["budget", "--key", "adplatform.key"]);
    assert_eq!(budgets[0]["spent_micros"], 1_000_000);

    ok(
        d,
        &[
            "revoke",
            "--key",
            "advertiser.key",
            "--agreement",
            "agreement.signed.json",
            "--measurement",
            &measurement,
        ],
    );
    let refused = sealroom(
        d,
        &[
            "run",
            "--host",
            &host_url,
            "--agreement",
            "agreement.signed.json",
            "--key",
            "adplatform.key",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("revoked by advertiser"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // The owners audit the log: one release each, the approvals, and the revocation.
    let audit = |card: &str| {
        json(
            d,
            &[
                "audit",
                "--party",
                card,
                "--host",
                &host_url,
                "--log-key",
                &log_key,
            ],
        )
    };
    let ad = audit("adplatform.card.json");
    assert_eq!(ad["releases"].as_array().unwrap().len(), 1, "{ad}");
    assert_eq!(ad["releases"][0]["release"]["dataset"], "exposures");
    assert_eq!(ad["previous_size"], serde_json::Value::Null);
    let shop = audit("advertiser.card.json");
    let kinds: Vec<&str> = shop["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"approval")
            && kinds.contains(&"revocation")
            && kinds.contains(&"job-finished"),
        "{kinds:?}"
    );
    let again = audit("adplatform.card.json");
    assert_eq!(again["previous_size"], ad["size"]);
    assert!(d.join("adplatform.audit.json").exists());

    ok(
        d,
        &[
            "log",
            "checkpoint",
            "--host",
            &host_url,
            "--log-key",
            &log_key,
            "--out",
            "saved.checkpoint",
        ],
    );
    let verified = json(
        d,
        &[
            "log",
            "verify",
            "--host",
            &host_url,
            "--log-key",
            &log_key,
            "saved.checkpoint",
        ],
    );
    assert_eq!(verified["consistent"], true);
}
