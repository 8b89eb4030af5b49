//! Requests under load, for the stress bucket: every request a worker sends in a round is a
//! `Call` (who, what, when, the answer). A round's calls give the interleaving around a
//! violation; a check's rounds give its figures (requests, statuses, latency percentiles by
//! kind of request). Knows nothing of what is conformant.

use crate::client::{Client, HttpError, Request, Response};
use crate::model::{EndpointStats, LoadStats};
use crate::trace::{Exchange, TraceSink};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The worker number of requests sent before or after the concurrent part of a round.
pub const SETUP: usize = usize::MAX;

/// One request of a round.
#[derive(Debug, Clone)]
pub struct Call {
    pub worker: usize,
    /// `METHOD /path?query` (redacted).
    pub request: String,
    pub endpoint: String,
    /// From the round's start.
    pub start: Duration,
    pub end: Duration,
    /// The status, or None when no answer came.
    pub status: Option<u16>,
    /// The error codes of a JSON error body, or the transport error.
    pub detail: String,
    pub exchange: Option<Exchange>,
}

impl Call {
    pub fn ending(&self) -> String {
        match self.status {
            Some(s) if self.detail.is_empty() => s.to_string(),
            Some(s) => format!("{s} {}", self.detail),
            None => format!("no response ({})", self.detail),
        }
    }
    pub fn is_write(&self) -> bool {
        !(self.request.starts_with("GET ") || self.request.starts_with("HEAD "))
    }
}

/// One round: a burst of concurrent requests whose calls are kept together.
pub struct Round {
    t0: Instant,
    client: Arc<Client>,
    secrets: Arc<Vec<String>>,
    calls: Mutex<Vec<Call>>,
    bytes: AtomicU64,
}

impl Round {
    pub fn new(client: Arc<Client>, secrets: Arc<Vec<String>>) -> Round {
        Round {
            t0: Instant::now(),
            client,
            secrets,
            calls: Mutex::default(),
            bytes: AtomicU64::new(0),
        }
    }

    /// Sends `req` for `worker`; returns the call's index with the answer.
    pub async fn send(&self, worker: usize, req: Request) -> (usize, Result<Response, HttpError>) {
        let sink = TraceSink::new(self.secrets.clone());
        self.bytes.fetch_add(req.body.len(), Ordering::Relaxed);
        let request = req.describe();
        let endpoint = endpoint(req.method.as_str(), &request);
        let start = self.t0.elapsed();
        let res = self.client.send(&req, &sink).await;
        let end = self.t0.elapsed();
        let (status, detail) = match &res {
            Ok(r) => (Some(r.status), codes(r)),
            Err(e) => (None, e.message.clone()),
        };
        let call = Call { worker, request, endpoint, start, end, status, detail, exchange: sink.take().pop() };
        let mut calls = self.calls.lock().unwrap();
        calls.push(call);
        (calls.len() - 1, res)
    }

    pub fn bytes_pushed(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    pub fn call(&self, i: usize) -> Option<Call> {
        self.calls.lock().unwrap().get(i).cloned()
    }
}

/// The error codes of a JSON error body, space separated.
fn codes(r: &Response) -> String {
    if r.status < 400 {
        return String::new();
    }
    let Ok(v) = r.json() else { return String::new() };
    let list = v.get("errors").and_then(|e| e.as_array()).cloned().unwrap_or_default();
    list.iter().filter_map(|e| e.get("code").and_then(|c| c.as_str())).collect::<Vec<_>>().join(" ")
}

/// The kind of request: `PUT manifest`, `PATCH upload`, `GET referrers`, …
pub fn endpoint(method: &str, request: &str) -> String {
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let what = if path.contains("/blobs/uploads/") {
        "upload"
    } else if path.contains("/blobs/") {
        "blob"
    } else if path.contains("/manifests/") {
        "manifest"
    } else if path.contains("/referrers/") {
        "referrers"
    } else if path.ends_with("/tags/list") {
        "tags"
    } else {
        "other"
    };
    format!("{method} {what}")
}

/// The calls around `at`: those running at the same time, and the last write that ended
/// before it started (what it should have seen), in start order, at most `max` lines.
pub fn interleaving(calls: &[Call], at: usize, max: usize) -> String {
    let Some(v) = calls.get(at) else { return String::new() };
    let mut picked: Vec<usize> = (0..calls.len()).filter(|&i| i == at || (calls[i].start <= v.end && calls[i].end >= v.start)).collect();
    if let Some(before) = (0..calls.len()).filter(|&i| calls[i].is_write() && calls[i].end < v.start).max_by_key(|&i| calls[i].end) {
        picked.push(before);
    }
    picked.sort_by_key(|&i| (calls[i].start, i));
    picked.dedup();
    // Keep the violating call and its nearest neighbours.
    if picked.len() > max {
        let pos = picked.iter().position(|&i| i == at).unwrap_or(0);
        let from = pos.saturating_sub(max / 2).min(picked.len() - max);
        picked = picked[from..from + max].to_vec();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    picked
        .iter()
        .map(|&i| {
            let c = &calls[i];
            let who = if c.worker == SETUP { "setup".to_string() } else { format!("w{}", c.worker) };
            let mark = if i == at { "  ◀ violation" } else { "" };
            format!("  {:>7.1}–{:.1} ms {who} {} → {}{mark}", ms(c.start), ms(c.end), short(&c.request), c.ending())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A request with long query values cut (upload state tokens run to hundreds of characters).
fn short(request: &str) -> String {
    let Some((path, query)) = request.split_once('?') else { return request.to_string() };
    let cut: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if v.chars().count() > 32 => format!("{k}={}…", v.chars().take(32).collect::<String>()),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", cut.join("&"))
}

/// Adds up a check's rounds into its figures.
#[derive(Default)]
pub struct Tally {
    rounds: u32,
    violating: u32,
    bytes: u64,
    statuses: BTreeMap<String, u64>,
    endpoints: Vec<(String, Vec<f64>, BTreeMap<String, u64>)>,
}

impl Tally {
    pub fn add(&mut self, round: &Round, violated: bool) {
        self.rounds += 1;
        self.violating += u32::from(violated);
        self.bytes += round.bytes_pushed();
        for c in round.calls.lock().unwrap().iter() {
            let status = c.status.map_or("no response".to_string(), |s| s.to_string());
            *self.statuses.entry(status.clone()).or_default() += 1;
            let i = match self.endpoints.iter().position(|e| e.0 == c.endpoint) {
                Some(i) => i,
                None => {
                    self.endpoints.push((c.endpoint.clone(), vec![], BTreeMap::new()));
                    self.endpoints.len() - 1
                }
            };
            let e = &mut self.endpoints[i];
            e.1.push((c.end - c.start).as_secs_f64() * 1000.0);
            *e.2.entry(status).or_default() += 1;
        }
    }
    pub fn rounds(&self) -> u32 {
        self.rounds
    }
    pub fn violating(&self) -> u32 {
        self.violating
    }
    pub fn stats(&self, wall: Duration, stopped: Option<String>) -> LoadStats {
        let requests: u64 = self.statuses.values().sum();
        let secs = wall.as_secs_f64();
        LoadStats {
            rounds: self.rounds,
            violating_rounds: self.violating,
            requests,
            duration_ms: wall.as_millis() as u64,
            requests_per_s: if secs > 0.0 { (requests as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
            bytes_pushed: self.bytes,
            statuses: self.statuses.clone(),
            endpoints: self
                .endpoints
                .iter()
                .map(|(name, lat, st)| {
                    let mut l = lat.clone();
                    l.sort_by(f64::total_cmp);
                    EndpointStats { endpoint: name.clone(), requests: l.len() as u64, statuses: st.clone(), p50_ms: percentile(&l, 50.0), p95_ms: percentile(&l, 95.0), p99_ms: percentile(&l, 99.0) }
                })
                .collect(),
            stopped,
        }
    }
}

/// Nearest-rank percentile of sorted values, rounded to 0.01 ms.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    (sorted[rank.clamp(1, sorted.len()) - 1] * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(worker: usize, req: &str, start: u64, end: u64, status: u16) -> Call {
        Call { worker, request: req.into(), endpoint: endpoint(req.split(' ').next().unwrap(), req), start: Duration::from_millis(start), end: Duration::from_millis(end), status: Some(status), detail: String::new(), exchange: None }
    }

    #[test]
    fn endpoints_by_path() {
        assert_eq!(endpoint("PUT", "PUT /v2/a/manifests/t"), "PUT manifest");
        assert_eq!(endpoint("PATCH", "PATCH /v2/a/blobs/uploads/x?_state=1"), "PATCH upload");
        assert_eq!(endpoint("GET", "GET /v2/a/blobs/sha256:00"), "GET blob");
        assert_eq!(endpoint("GET", "GET /v2/a/referrers/sha256:00?artifactType=x"), "GET referrers");
    }

    #[test]
    fn long_query_values_are_cut() {
        let long = "x".repeat(100);
        assert_eq!(short(&format!("PUT /v2/a/blobs/uploads/1?_state={long}&digest=sha256")), format!("PUT /v2/a/blobs/uploads/1?_state={}…&digest=sha256", "x".repeat(32)));
        assert_eq!(short("GET /v2/a/tags/list"), "GET /v2/a/tags/list");
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert_eq!(percentile(&[], 95.0), 0.0);
    }

    #[test]
    fn interleaving_shows_overlap_and_last_write() {
        let calls = vec![
            call(0, "PUT /v2/a/manifests/t", 0, 2, 201),
            call(1, "GET /v2/a/manifests/t", 1, 3, 200),
            call(0, "PUT /v2/a/manifests/t", 4, 9, 201),
            call(1, "GET /v2/a/manifests/t", 5, 6, 404),
            call(2, "GET /v2/a/manifests/t", 20, 21, 200),
        ];
        let s = interleaving(&calls, 3, 10);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3, "{s}");
        assert!(lines[0].contains("0.0–2.0") && lines[0].contains("PUT"), "{s}");
        assert!(lines[2].contains("404") && lines[2].contains("violation"), "{s}");
        assert!(!s.contains("20.0"), "{s}");
    }
}
