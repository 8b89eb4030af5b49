//! Renders a generated report.html in headless Chromium: the page's script runs without console
//! errors (a CSP violation would show up there too), its filters count what the page holds,
//! and screenshots can be taken at desktop and phone width.
//!
//! Skipped (with a message) when no Chromium is installed; CI installs Debian's `chromium`.
//! OCI_REPORT_SCREENSHOTS=<dir> keeps the screenshots (report-desktop.png, report-phone.png)
//! and the page they show.

mod report_fixture;

use oci_conformance::report::console::{ConsoleSettings, Term};
use report_fixture::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless Chromium on `url` with `extra` flags; returns (stdout, stderr).
fn headless(bin: &Path, profile: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd.args(extra).arg(url);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
        }
    }
    (to.join().unwrap(), te.join().unwrap())
}

/// Console messages Chromium logged for the page (uncaught errors, CSP refusals, …).
fn console_problems(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect()
}

fn attr_of<'a>(dom: &'a str, id: &str, attr: &str) -> Option<&'a str> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let tag_start = dom[..at].rfind('<')?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let k = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    let v = &tag[k..];
    Some(&v[..v.find('"')?])
}

#[test]
fn report_renders_in_chromium() {
    let Some(bin) = chromium() else {
        eprintln!("skipping report_renders_in_chromium: no chromium on PATH (apt-get install chromium, or set CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("report");
    let (res, _) = run(
        realistic_run(),
        &reports,
        ConsoleSettings {
            quiet: true,
            ..Default::default()
        },
        Term::default(),
    );
    let counts = res.unwrap().counts;
    let page = reports.join("report.html");
    let url = format!("file://{}", page.display());
    let profile = dir.path().join("profile");

    // 1. the DOM after the script ran: counts rendered by JS, no console errors
    let (dom, err) = headless(&bin, &profile, &url, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page script did not finish; stderr:\n{err}"
    );
    let problems = console_problems(&err);
    assert!(
        problems.is_empty(),
        "console errors:\n{}",
        problems.join("\n")
    );
    let total = counts.total.to_string();
    assert_eq!(
        attr_of(&dom, "shown", "data-visible"),
        Some(total.as_str()),
        "all checks visible at first"
    );
    assert_eq!(attr_of(&dom, "shown", "data-total"), Some(total.as_str()));
    assert!(dom.contains(&format!("Showing {total} of {total} checks")));
    for (o, n) in [
        ("failed", counts.failed),
        ("passed", counts.passed),
        ("warned", counts.warned),
    ] {
        assert!(
            dom.contains(&format!(
                "data-outcome=\"{o}\" aria-pressed=\"true\" data-count=\"{n}\""
            )),
            "chip count for {o} ({n})"
        );
    }

    // 2. a link that preselects a filter: only the failed checks stay visible
    let (dom, err) = headless(
        &bin,
        &profile,
        &format!("{url}#outcome=failed"),
        &["--dump-dom"],
    );
    assert!(console_problems(&err).is_empty(), "{err}");
    let failed = counts.failed.to_string();
    assert_eq!(
        attr_of(&dom, "shown", "data-visible"),
        Some(failed.as_str())
    );
    assert!(dom.contains(&format!("Showing {failed} of {total} checks")));

    // 3. screenshots, desktop and phone width
    let shots = std::env::var_os("OCI_REPORT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&shots).unwrap();
    if shots != dir.path() {
        std::fs::copy(&page, shots.join("report.html")).unwrap();
    }
    for (name, size) in [
        ("report-desktop.png", "1280,2000"),
        ("report-phone.png", "390,2400"),
    ] {
        let png = shots.join(name);
        let _ = std::fs::remove_file(&png);
        let (_, err) = headless(
            &bin,
            &profile,
            &url,
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={size}"),
            ],
        );
        let data = std::fs::read(&png)
            .unwrap_or_else(|e| panic!("no screenshot {}: {e}\n{err}", png.display()));
        assert!(
            data.starts_with(b"\x89PNG") && data.len() > 10_000,
            "{name} looks empty"
        );
    }
}
