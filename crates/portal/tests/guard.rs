//! The portal's guard, in process: who may connect, and what every page carries.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use sealroom_broker::{Broker, BrokerConfig};
use sealroom_core::clock::SystemClock;
use sealroom_crypto::Identity;
use sealroom_ledger::LogSigningKey;
use sealroom_portal::{PortalConfig, owner};
use tower::ServiceExt;

fn portal(dir: &std::path::Path, config: PortalConfig) -> axum::Router {
    let key_file = dir.join("owner.key");
    Identity::generate("owner", None)
        .unwrap()
        .write_key_file(&key_file)
        .unwrap();
    let broker = Broker::open(
        &BrokerConfig {
            key_file,
            data_dir: dir.join("broker"),
            accept_simulator_evidence: None,
            challenge_ttl_seconds: 60,
            // Nothing here reaches the log.
            log_url: "http://127.0.0.1:9".into(),
            log_key: LogSigningKey::generate("test/log").unwrap().verifier_key(),
            evidence_time: None,
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    let (router, secret) = owner::router(broker, &dir.join("broker"), config).unwrap();
    assert!(secret.is_some(), "a new portal shows its secret once");
    router
}

async fn sign_in_page(router: &axum::Router, peer: Option<SocketAddr>) -> (StatusCode, String) {
    sign_in_page_at(router, peer, "127.0.0.1:7101").await
}

async fn sign_in_page_at(
    router: &axum::Router,
    peer: Option<SocketAddr>,
    host: &str,
) -> (StatusCode, String) {
    let mut request = Request::get("/portal/sign-in")
        .header("host", host)
        .body(Body::empty())
        .unwrap();
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let csp = response
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, csp)
}

#[tokio::test]
async fn only_loopback_is_served_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let router = portal(dir.path(), PortalConfig::default());
    let (status, csp) = sign_in_page(&router, Some(([127, 0, 0, 1], 5000).into())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let (status, csp) = sign_in_page(&router, Some(([10, 0, 0, 7], 5000).into())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!csp.is_empty(), "refusals carry the headers too");
    assert_eq!(
        sign_in_page(&router, None).await.0,
        StatusCode::FORBIDDEN,
        "an unknown peer is not loopback"
    );
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
    assert_eq!(sign_in_page(&router, Some(mapped)).await.0, StatusCode::OK);
    // A loopback connection naming another site (DNS rebinding) is refused; loopback names pass.
    let local = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
    for (host, status) in [
        ("evil.example:7101", StatusCode::FORBIDDEN),
        ("evil.example", StatusCode::FORBIDDEN),
        ("localhost:7101", StatusCode::OK),
        ("127.0.0.2:7101", StatusCode::OK),
        ("[::1]:7101", StatusCode::OK),
    ] {
        assert_eq!(
            sign_in_page_at(&router, local, host).await.0,
            status,
            "{host}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let open = portal(
        dir.path(),
        PortalConfig {
            allow_remote: true,
            secure_cookies: true,
            installed_isolate: None,
        },
    );
    assert_eq!(
        sign_in_page(&open, Some(([10, 0, 0, 7], 5000).into()))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused_before_the_secret_is_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    let router = portal(dir.path(), PortalConfig::default());
    let secret = sealroom_portal::PortalSecret::read(&dir.path().join("broker")).unwrap();
    let post = |origin: &str| {
        let mut request = Request::post("/portal/sign-in")
            .header("host", "127.0.0.1:7101")
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("secret={}", secret.reveal())))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5000))));
        router.clone().oneshot(request)
    };
    let forged = post("http://evil.example").await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get("set-cookie").is_none());
    let opaque = post("null").await.unwrap();
    assert_eq!(opaque.status(), StatusCode::FORBIDDEN);
    let own = post("http://127.0.0.1:7101").await.unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    let cookie = own.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(!cookie.ends_with("; Secure") && cookie.contains("HttpOnly"));
}
