//! The owner's portal in a real browser: headless Chromium (Debian's package) driven by
//! `tests/browser/portal.mjs` (Playwright over the DevTools protocol) against a host and two
//! brokers on loopback. The owner signs in, opens the agreement, approves the isolate in its
//! binary review, sees a run started from the CLI appear in the processing log with its proof
//! verified, revokes, sees the next run refused and listed, and sees the budget chart move.
//!
//! Needs Node.js, Chromium and the script's one package: `scripts/install-test-tools.sh`.
//! Screenshots of every page go to `$CARGO_TARGET_TMPDIR/portal-screenshots`, or to
//! `$SEALROOM_SCREENSHOTS` (the README's are made with `SEALROOM_SCREENSHOTS=docs/screenshots`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sealroom_cli::demo::{DemoOptions, DemoPrivacy, Deployment, data};
use sealroom_core::statement::Decision;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[test]
fn an_owner_approves_watches_a_release_revokes_and_sees_the_refusal_in_a_browser() {
    let script = browser_dir().join("portal.mjs");
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "the browser test's package is missing: run scripts/install-test-tools.sh"
    );
    let chromium =
        std::env::var("SEALROOM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/install-test-tools.sh"
    );

    let d = Deployment::start(
        &DemoOptions {
            people: 800,
            portal: true,
            ..DemoOptions::new(common::executables())
        },
        DemoPrivacy::default(),
        data::generate(800, 11),
        &|_| {},
    )
    .expect("deployment starts");
    // The owner starts from a revoked isolate, so that the browser's Approve is what lets runs in.
    d.decide(&d.advertiser, Decision::Revoke).unwrap();

    let sealroom = common::executables().sealroom;
    let secret = Command::new(&sealroom)
        .args(["portal", "secret", "--data"])
        .arg(d.dir.join("advertiser-broker"))
        .output()
        .unwrap();
    assert!(secret.status.success());
    let screenshots = std::env::var_os("SEALROOM_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots"));
    let config = serde_json::json!({
        "portal": d.broker_processes[1].url,
        "host": d.host_process.url,
        "secret": String::from_utf8(secret.stdout).unwrap().trim(),
        "agreementName": d.agreement.agreement.name,
        "agreementId": d.agreement.id.to_string(),
        "run": [
            sealroom.display().to_string(),
            "run", "--host", d.host_process.url,
            "--agreement", d.dir.join("agreement.signed.json").display().to_string(),
            "--key", d.advertiser.key_file.display().to_string(),
        ],
        "screenshots": screenshots.display().to_string(),
        "chromium": chromium,
    });
    let config_file = d.dir.join("browser.json");
    std::fs::write(&config_file, config.to_string()).unwrap();

    let out = Command::new("node")
        .arg(&script)
        .arg(&config_file)
        .output()
        .expect("node runs (scripts/install-test-tools.sh installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser walk failed:\n{said}");
    for step in [
        "the release is listed with \"proof verified\"",
        "a run after the revocation is refused",
        "the chart moved",
    ] {
        assert!(
            said.contains(&format!("ok: {step}")),
            "{step} was not seen:\n{said}"
        );
    }
    for page in [
        "sign-in",
        "agreements",
        "agreement",
        "review",
        "budget",
        "processing-log",
        "processing-log-refused",
        "public-log",
        "public-log-entry",
    ] {
        let png = screenshots.join(format!("{page}.png"));
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "no screenshot {}",
            png.display()
        );
    }
}
