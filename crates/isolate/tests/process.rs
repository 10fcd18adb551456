//! The `sealroom-isolate` executable as the host runs it: JSON in, JSON out, meaningful exit codes.

use std::io::Write;
use std::process::{Command, Stdio};

use sealroom_core::wire::JobOutcome;

fn run(stdin: &[u8], env: &[(&str, &str)]) -> (Option<i32>, JobOutcome) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealroom-isolate"))
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).expect("the isolate always answers in JSON"),
    )
}

#[test]
fn an_unreadable_job_is_refused_with_exit_code_2() {
    let (code, outcome) = run(b"{not json", &[]);
    assert_eq!(code, Some(2));
    let JobOutcome::Failed { error } = outcome else {
        panic!("expected failure")
    };
    assert_eq!(error.code, "bad-job-spec");
}
