//! The owner's portal and the public log page, attacked and used through the real services on
//! loopback: a host and two brokers serving their portals, driven over HTTP as a browser would
//! (cookies, forms, redirects), and as an outsider, a forger and the other owner would.

mod common;

use std::process::Command;

use sealroom_cli::demo::{DemoOptions, DemoPrivacy, Deployment, data, ml};
use sealroom_host::JobStatus;

/// A minimal browser: keeps its own cookie for one site, sends forms, follows nothing.
struct Browser {
    base: String,
    cookie: Option<String>,
    agent: ureq::Agent,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            cookie: None,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
        }
    }

    fn answer(mut response: ureq::http::Response<ureq::Body>) -> Page {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        Page {
            status: response.status().as_u16(),
            location,
            set_cookie,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, path: &str) -> Page {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        Self::answer(request.call().unwrap())
    }

    fn post(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        Self::answer(request.send_form(form.iter().copied()).unwrap())
    }

    /// Signs in with `secret`; keeps the session cookie.
    fn sign_in(&mut self, secret: &str) -> Page {
        let page = self.post("/portal/sign-in", &[("secret", secret)], None);
        if let Some(set) = &page.set_cookie {
            self.cookie = Some(set.split(';').next().unwrap().to_string());
        }
        page
    }
}

/// The CSRF token in a page's forms.
fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
    body[at..at + 64].to_string()
}

fn portal_secret(d: &Deployment, party: &str) -> String {
    let data = d.dir.join(format!("{party}-broker"));
    let out = common::sealroom_output([
        std::ffi::OsStr::new("portal"),
        "secret".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    String::from_utf8(out).unwrap().trim().to_string()
}

fn deployment() -> Deployment {
    Deployment::start(
        &DemoOptions {
            people: 800,
            portal: true,
            ..DemoOptions::new(common::executables())
        },
        DemoPrivacy::default(),
        data::generate(800, 9),
        &|_| {},
    )
    .expect("deployment starts")
}

fn unescape(html: &str) -> String {
    html.replace("&#43;", "+")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#61;", "=")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_portal_shows_nothing_and_does_nothing_without_its_owner() {
    let d = deployment();
    let ad_url = &d.broker_processes[0].url;
    let shop_url = &d.broker_processes[1].url;
    let agreement = d.agreement.id.to_string();
    let review = format!(
        "/portal/agreements/{agreement}/runtimes/sim/{}",
        d.measurement
    );

    // An outsider: no session, no data.
    let outsider = Browser::new(shop_url);
    for path in [
        "/portal/agreements",
        "/portal/budget",
        "/portal/log",
        review.as_str(),
    ] {
        let page = outsider.get(path);
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/portal/sign-in"));
        assert!(
            !page.body.contains(&agreement[..12]),
            "{path} leaks the agreement"
        );
    }
    let page = outsider.post(review.as_str(), &[("decision", "revoke")], None);
    assert_eq!(page.status, 403, "a decision without a session");

    // A wrong secret gives no session.
    let mut guesser = Browser::new(shop_url);
    let page = guesser.sign_in(&"0".repeat(64));
    assert_eq!(page.status, 401);
    assert!(page.set_cookie.is_none());
    assert!(page.body.contains("not this portal"));

    // The owner signs in.
    let secret = portal_secret(&d, "advertiser");
    let mut owner = Browser::new(shop_url);
    let page = owner.sign_in(&secret);
    assert_eq!(page.status, 303);
    let cookie = page.set_cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let list = owner.get("/portal/agreements");
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&agreement[..12]));
    assert!(
        list.body.contains("SIMULATOR"),
        "the simulator warning banner"
    );
    let page = owner.get(&review);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"decision\">approved"),
        "the demo approved the isolate"
    );
    let token = csrf(&page.body);

    // Forged posts change nothing: without the CSRF token, with a wrong one, from another site.
    for (form, origin) in [
        (vec![("decision", "revoke")], None),
        (vec![("decision", "revoke"), ("csrf", "0")], None),
        (
            vec![("decision", "revoke"), ("csrf", token.as_str())],
            Some("http://evil.example"),
        ),
    ] {
        let page = owner.post(&review, &form, origin);
        assert_eq!(page.status, 403, "{form:?} {origin:?}");
    }
    assert!(owner.get(&review).body.contains("id=\"decision\">approved"));
    let job = d.run_job().unwrap();
    assert_eq!(job.status, JobStatus::Finished, "nothing was revoked");

    // The advertiser's session is useless at the ad platform's portal, under either cookie name.
    let mut stolen = Browser::new(ad_url);
    stolen.cookie = owner.cookie.clone();
    assert_eq!(stolen.get("/portal/agreements").status, 303);
    let token_value = owner.cookie.as_ref().unwrap().split_once('=').unwrap().1;
    let mut secret_ad = Browser::new(ad_url);
    let ad_cookie_name = secret_ad
        .sign_in(&portal_secret(&d, "adplatform"))
        .set_cookie
        .unwrap()
        .split('=')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(
        Some(ad_cookie_name.as_str()),
        owner.cookie.as_ref().unwrap().split('=').next()
    );
    stolen.cookie = Some(format!("{ad_cookie_name}={token_value}"));
    assert_eq!(stolen.get("/portal/agreements").status, 303);

    // The owner revokes through the portal: the next run is refused and the refusal is listed.
    let page = owner.post(&review, &[("decision", "revoke"), ("csrf", &token)], None);
    assert_eq!(page.status, 303, "{}", page.body);
    let page = owner.get(page.location.as_deref().unwrap());
    assert!(
        page.body.contains("Revoked"),
        "{}\n{}",
        page.body,
        std::fs::read_to_string(d.dir.join("advertiser-broker/broker.log")).unwrap_or_default()
    );
    let refused = d.run_job().unwrap();
    assert_eq!(refused.status, JobStatus::Failed);
    let log = owner.get("/portal/log");
    assert!(log.body.contains("measurement-revoked"), "{}", log.body);
    assert!(
        log.body.contains("proof verified"),
        "the first run's release"
    );
    assert!(!log.body.contains("ALARM"));

    // Approving again lets runs through; the budget shows both releases.
    let page = owner.post(&review, &[("decision", "approve"), ("csrf", &token)], None);
    assert_eq!(page.status, 303);
    assert_eq!(d.run_job().unwrap().status, JobStatus::Finished);
    let budget = owner.get("/portal/budget");
    assert!(budget.body.contains("<svg"), "the chart");
    assert!(
        budget.body.contains("class=\"runs\">2<"),
        "two releases: {}",
        budget.body
    );
    let log = owner.get("/portal/log");
    assert_eq!(
        log.body.matches("proof verified").count(),
        2,
        "{}",
        log.body
    );

    // Signing out ends the session.
    let page = owner.post("/portal/sign-out", &[("csrf", &token)], None);
    assert_eq!(page.status, 303);
    assert_eq!(owner.get("/portal/agreements").status, 303);
}

#[test]
fn the_public_log_page_shows_the_cli_checkpoint_and_proofs_the_cli_verifies() {
    let d = deployment();
    let host = &d.host_process.url;
    let key = d.platform.log_key.clone();
    let sealroom = &common::executables().sealroom;
    assert_eq!(d.run_job().unwrap().status, JobStatus::Finished);

    let page = Browser::new(host).get("/log");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("key-release"), "{}", page.body);
    let cli = Command::new(sealroom)
        .args(["log", "checkpoint", "--host", host, "--log-key", &key])
        .output()
        .unwrap();
    assert!(cli.status.success());
    let note = String::from_utf8(cli.stdout).unwrap();
    let shown = unescape(&page.body);
    assert!(
        shown.contains(note.trim()),
        "the page's checkpoint is the CLI's:\n{note}"
    );

    // Every entry's proof file verifies with the CLI; a tampered one does not (exit 3).
    let dir = tempfile::tempdir().unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    let verify_entry = |path: &std::path::Path| {
        Command::new(sealroom)
            .args([
                "log",
                "verify",
                "--host",
                host,
                "--log-key",
                &key,
                "--entry",
            ])
            .arg(path)
            .output()
            .unwrap()
    };
    for index in [0, size / 2, size - 1] {
        let entry = Browser::new(host).get(&format!("/log/entries/{index}"));
        assert!(entry.body.contains("proof verified"), "{}", entry.body);
        let file = Browser::new(host).get(&format!("/log/entries/{index}/proof.json"));
        assert_eq!(file.status, 200);
        let path = dir.path().join(format!("entry-{index}.json"));
        std::fs::write(&path, &file.body).unwrap();
        let verify = verify_entry(&path);
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let mut logged: serde_json::Value = serde_json::from_str(&file.body).unwrap();
        if logged["inclusion_proof"].as_array().unwrap().is_empty() {
            continue;
        }
        let first = logged["inclusion_proof"][0].as_str().unwrap().to_string();
        let flipped = if first.starts_with('A') { "B" } else { "A" };
        logged["inclusion_proof"][0] = format!("{flipped}{}", &first[1..]).into();
        std::fs::write(&path, logged.to_string()).unwrap();
        let tampered = verify_entry(&path);
        assert_eq!(
            tampered.status.code(),
            Some(3),
            "a tampered proof is refused"
        );
    }

    // Consistency from the checkpoint this reader saved, against the root it saw, after the log
    // grew; a root the log never had is not consistent.
    let saved = d.log_key().unwrap().verify_checkpoint(&note).unwrap();
    assert_eq!(d.run_job().unwrap().status, JobStatus::Finished);
    let consistency = |root: &[u8; 32]| {
        Browser::new(host)
            .get(&format!(
                "/log/consistency?from={}&to={}&root={}",
                saved.size,
                saved.size + 3,
                hex::encode(root)
            ))
            .body
    };
    let page = consistency(&saved.root);
    assert!(
        page.contains("id=\"consistency-status\">consistent<"),
        "{page}"
    );
    let mut other = saved.root;
    other[0] ^= 1;
    let page = consistency(&other);
    assert!(page.contains(">NOT CONSISTENT<"), "{page}");
    let bad = Browser::new(host).get(&format!("/log/consistency?from=5&to={}", size + 10));
    assert_eq!(bad.status, 400);
    assert_eq!(Browser::new(host).get("/log/entries/999999").status, 404);
}

#[test]
fn a_forked_log_or_an_entry_that_fails_its_proof_raises_the_alarm() {
    let d = deployment();
    assert_eq!(d.run_job().unwrap().status, JobStatus::Finished);
    let mut owner = Browser::new(&d.broker_processes[1].url);
    assert_eq!(owner.sign_in(&portal_secret(&d, "advertiser")).status, 303);
    let page = owner.get("/portal/log");
    assert!(page.body.contains("proof verified") && !page.body.contains("ALARM"));
    let broker_db = d.dir.join("advertiser-broker/broker.sqlite");

    // The operator rewrites the log's stored tree: the proofs it serves no longer lead to the
    // root it signed.
    let log_db = rusqlite::Connection::open(d.dir.join("host/log.sqlite")).unwrap();
    let saved: Vec<(i64, Vec<u8>)> = {
        let mut stmt = log_db.prepare("SELECT id, hash FROM hashes").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    log_db
        .execute("UPDATE hashes SET hash = zeroblob(32)", [])
        .unwrap();
    let page = owner.get("/portal/log");
    assert!(page.body.contains("PROOF FAILED"), "{}", page.body);
    assert!(page.body.contains("ALARM"), "{}", page.body);
    for (id, hash) in &saved {
        log_db
            .execute(
                "UPDATE hashes SET hash = ?2 WHERE id = ?1",
                rusqlite::params![id, hash],
            )
            .unwrap();
    }
    assert!(!owner.get("/portal/log").body.contains("ALARM"));

    // The broker's own record of a release is damaged: shown as failing, not hidden.
    let db = rusqlite::Connection::open(&broker_db).unwrap();
    db.execute("UPDATE releases SET entry = X'7b7d'", [])
        .unwrap();
    let page = owner.get("/portal/log");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("PROOF FAILED"), "{}", page.body);
    assert!(page.body.contains("ALARM"), "{}", page.body);

    // The operator, who holds the log's key, showed this broker a larger tree than the one it
    // serves now: a split view. The portal finds that the log does not extend it.
    let log_key = sealroom_ledger::LogSigningKey::read(&d.dir.join("host/log.key")).unwrap();
    let size: u64 = owner
        .get("/portal/log")
        .body
        .split("checkpoint of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the page states the checkpoint's size");
    let other_view = log_key.sign_checkpoint(size + 5, &[9; 32]);
    db.execute(
        "UPDATE log_state SET checkpoint = ?1 WHERE id = 1",
        [&other_view],
    )
    .unwrap();
    let page = owner.get("/portal/log");
    assert!(page.body.contains("ALARM"), "{}", page.body);
    assert!(page.body.contains("LOG FORK"), "{}", page.body);
    assert!(
        !page.body.contains("proof verified"),
        "nothing is shown as proven against a forked log"
    );

    // A split view of the very size the log serves now, with another root.
    let same_size = log_key.sign_checkpoint(size, &[9; 32]);
    db.execute(
        "UPDATE log_state SET checkpoint = ?1 WHERE id = 1",
        [&same_size],
    )
    .unwrap();
    let page = owner.get("/portal/log");
    assert!(page.body.contains("LOG FORK"), "{}", page.body);
    let kept: String = db
        .query_row("SELECT checkpoint FROM log_state WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        kept, same_size,
        "a forked view is never replaced by the other one"
    );
}

/// The pooled-model deployment with portals, the ad platform signed in to its portal, and the
/// path of its binary review of the simulator isolate.
fn ml_review() -> (Deployment, Browser, String) {
    let (d, _) = ml::start(
        &DemoOptions {
            people: 300,
            portal: true,
            ..DemoOptions::new(common::executables())
        },
        &ml::Model::demo(),
        &ml::module_digest(),
        &|_| {},
    )
    .unwrap();
    let review = format!(
        "/portal/agreements/{}/runtimes/sim/{}",
        d.agreement.id, d.measurement
    );
    let mut owner = Browser::new(&d.broker_processes[0].url);
    assert_eq!(owner.sign_in(&portal_secret(&d, "adplatform")).status, 303);
    (d, owner, review)
}

#[test]
fn binary_review_shows_a_party_s_program_as_published_and_checks_it_against_the_host() {
    let digest = ml::module_digest();
    let (d, owner, review) = ml_review();

    // Named by the agreement, not yet published: the review says so.
    let page = owner.get(&review);
    assert_eq!(page.status, 200);
    let body = unescape(&page.body);
    assert!(
        body.contains("the isolate installed with this broker measures the same"),
        "the broker knows the build the host runs: it is installed beside it"
    );
    assert!(body.contains(&digest), "the module's digest is shown");
    assert!(
        body.contains("Per person: the platform calls it once per person in a fresh instance"),
        "the mode is shown: {body}"
    );
    assert!(
        body.contains("the host has no publication of this module"),
        "{body}"
    );

    // The advertiser publishes it with its source tree's digest.
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/logistic-regression");
    let documentation = "Pooled logistic regression: <b>per-person</b> clipped gradients.";
    let (publication, index) = sealroom_party::programs::publish_program(
        &d.host,
        &d.advertiser.identity,
        "logistic-regression",
        ml::MODULE.to_vec(),
        documentation.into(),
        Some(&source),
        &sealroom_core::clock::SystemClock,
    )
    .unwrap();
    let source_digest = sealroom_party::programs::source_tree_digest(&source).unwrap();
    assert_eq!(
        publication.publication.source.as_deref(),
        Some(source_digest.as_str())
    );
    let page = owner.get(&review);
    let body = unescape(&page.body);
    for shown in [
        "signed by advertiser, verified",
        "the publication names the agreement's module",
        "the documentation below is the one the provider signed",
        &format!(
            "the host serves the module's {} bytes, and they hash to the agreement's digest",
            ml::MODULE.len()
        ),
        &source_digest,
        &publication.publication.documentation,
        &format!("<td class=\"id\">{index} (as the host says)</td>"),
        documentation,
    ] {
        assert!(body.contains(shown), "the review shows {shown:?}:\n{body}");
    }
    assert!(
        !page.body.contains("<b>per-person</b>"),
        "the documentation is shown as text, never as markup"
    );
    assert!(!body.contains("class=\"status bad\""), "{body}");

    // A curious operator swaps the stored bytes: the review shows it before anyone approves.
    let stored = d
        .dir
        .join("host/blobs/programs")
        .join(format!("{digest}.wasm"));
    let mut other = ml::MODULE.to_vec();
    *other.last_mut().unwrap() ^= 1;
    std::fs::write(&stored, &other).unwrap();
    let body = unescape(&owner.get(&review).body);
    assert!(
        body.contains(&format!(
            "the module the host serves hashes to {}, not the agreement's digest",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&other))
        )),
        "{body}"
    );
    // Longer than the provider signed: not read past the signed size.
    other.push(0);
    std::fs::write(&stored, &other).unwrap();
    let body = unescape(&owner.get(&review).body);
    assert!(
        body.contains(&format!(
            "the host did not serve the module's {} bytes the provider signed",
            ml::MODULE.len()
        )),
        "{body}"
    );
}

#[test]
fn binary_review_vouches_for_nothing_a_non_party_published() {
    let (d, owner, review) = ml_review();
    // A party the host serves, but not a party to this agreement, publishes the module first
    // with documentation of its choosing.
    let stranger = sealroom_crypto::Identity::generate("stranger", None).unwrap();
    sealroom_cli::services::onboard(&d.dir.join("host"), &[stranger.card()]).unwrap();
    sealroom_party::programs::publish_program(
        &d.host,
        &stranger,
        "logistic-regression",
        ml::MODULE.to_vec(),
        "Trust me: reviewed by everyone.".into(),
        None,
        &sealroom_core::clock::SystemClock,
    )
    .unwrap();
    let body = unescape(&owner.get(&review).body);
    for shown in [
        "the provider is not a party to this agreement: its signature cannot be checked",
        "the documentation cannot be checked without the provider's signature: not shown",
        "As the host serves them: not verified",
    ] {
        assert!(body.contains(shown), "the review shows {shown:?}:\n{body}");
    }
    assert!(
        !body.contains("Trust me"),
        "unverified documentation is not shown"
    );
}
