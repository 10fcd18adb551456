//! The client against a real listener on loopback that answers each connection with one canned
//! HTTP/1.1 response and records the request it got.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use super::*;
use sealroom_core::wire::PROBLEM_JSON;

/// Serves `response` once; returns the base URL and a receiver of the request line and body.
fn serve_once(status: &str, content_type: &str, body: &str) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (seen, requests) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        // The test may not be listening any more.
        let _ = seen.send(format!(
            "{} {}",
            request_line.trim_end(),
            String::from_utf8_lossy(&body)
        ));
        reader.get_mut().write_all(response.as_bytes()).unwrap();
    });
    (url, requests)
}

fn client() -> JsonClient {
    JsonClient::new(Duration::from_secs(5))
}

#[test]
fn a_json_answer_is_parsed_and_the_body_sent_as_json() {
    let (url, requests) = serve_once("200 OK", "application/json", r#"{"n": 7}"#);
    let answer: serde_json::Value = client()
        .post(&format!("{url}/v1/x"), &serde_json::json!({ "ask": 1 }))
        .unwrap();
    assert_eq!(answer["n"], 7);
    let request = requests.recv().unwrap();
    let (line, body) = request.split_once(" {").unwrap();
    assert_eq!(line, "POST /v1/x HTTP/1.1");
    let sent: serde_json::Value = serde_json::from_str(&format!("{{{body}")).unwrap();
    assert_eq!(sent, serde_json::json!({ "ask": 1 }));
}

#[test]
fn a_problem_document_is_a_typed_refusal() {
    let problem = r#"{"type":"urn:sealroom:refusal:budget-exhausted","title":"budget exhausted","status":403,"detail":"no ε left"}"#;
    let (url, _) = serve_once("403 Forbidden", PROBLEM_JSON, problem);
    match client().get::<serde_json::Value>(&url) {
        Err(HttpError::Refused(p)) => {
            assert_eq!(p.kind, "urn:sealroom:refusal:budget-exhausted");
            assert_eq!((p.status, p.detail.as_str()), (403, "no ε left"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_redirect_is_an_error_and_is_not_followed() {
    let (target, followed) = serve_once("200 OK", "application/json", "{}");
    let (url, _) = serve_once(
        &format!("302 Found\r\nlocation: {target}/elsewhere"),
        "text/plain",
        "",
    );
    match client().get::<serde_json::Value>(&url) {
        Err(HttpError::Status { status: 302, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(
        followed.recv_timeout(Duration::from_millis(300)).is_err(),
        "the redirect target was never asked"
    );
}

#[test]
fn other_failures_are_told_apart() {
    let page = "x".repeat(5_000);
    let (url, _) = serve_once("502 Bad Gateway", "text/html", &page);
    match client().get::<serde_json::Value>(&url) {
        Err(HttpError::Status {
            status: 502, body, ..
        }) => assert_eq!(body.len(), 300),
        other => panic!("{other:?}"),
    }
    let (url, _) = serve_once("200 OK", "application/json", "not json");
    assert!(matches!(
        client().get::<serde_json::Value>(&url),
        Err(HttpError::BadAnswer { .. })
    ));
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert!(matches!(
        client().get::<serde_json::Value>(&url),
        Err(HttpError::Unreachable { .. })
    ));
}
