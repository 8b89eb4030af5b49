//! `oci-conformance … | head`: a reader that closes stdout early must cost the rest of the
//! output only, never a panic, the exit status or the reports.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs the binary with `args`, reads one line of its stdout, closes the pipe, and returns the
/// exit status and stderr.
fn first_line_then_close(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oci-conformance"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    drop(out);
    let o = child.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn listings_stop_quietly() {
    for args in [&["list"][..], &["list", "--json"], &["serve", "--list-faults"], &["--list"]] {
        let (code, err) = first_line_then_close(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_run_still_writes_its_reports() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("r");
    let (code, err) = first_line_then_close(&["--seed", "3", "--report-dir", dir.to_str().unwrap(), "--bucket", "pull"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for f in ["results.json", "junit.xml", "report.html"] {
        assert!(dir.join(f).is_file(), "{f} missing; stderr: {err}");
    }
}
