//! The answer a registry gives before it has read the request body. A registry may refuse a
//! large upload from its headers alone (Trow answers 400 "Manifest is bigger than limit of
//! 4MiB" to a 16 MiB manifest after a few KiB) and close the connection; the HTTP client then
//! fails writing the body ("broken pipe") and drops the answer. The verdict must show what the
//! registry said, so such an exchange is sent once more over plain HTTP/1.1 by this module,
//! which reads while it writes.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What came back: status, headers, body (up to `cap` bytes), and how much of ours was written.
pub struct Early {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub written: u64,
}

/// True for the client's error text of a body it could not finish writing.
pub fn is_body_write_error(chain: &str) -> bool {
    let l = chain.to_ascii_lowercase();
    l.contains("error writing a body") || l.contains("broken pipe") || l.contains("connection reset")
}

/// Sends `method url` with `headers` and `body` over a new plain-TCP connection, reading the
/// response while writing. Only for http:// URLs; None when nothing parsable came back.
pub async fn send(method: &str, url: &url::Url, headers: &[(String, String)], body: Bytes, limit: Duration, cap: usize) -> Option<Early> {
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let stream = tokio::time::timeout(limit, tokio::net::TcpStream::connect((host, port))).await.ok()?.ok()?;
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("{method} {}{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default(), url.authority());
    for (k, v) in headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("connection")) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let total = body.len() as u64;
    let writer = async move {
        let mut written = 0u64;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return written;
        }
        for piece in body.chunks(64 << 10) {
            if wr.write_all(piece).await.is_err() {
                break;
            }
            written += piece.len() as u64;
        }
        written
    };
    let reader = async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(done) = complete(&buf) {
                buf.truncate(done);
                break;
            }
            if buf.len() > cap + (64 << 10) {
                break;
            }
        }
        buf
    };
    let (written, raw) = tokio::time::timeout(limit, async { tokio::join!(writer, reader) }).await.ok()?;
    let mut e = parse(&raw, cap)?;
    e.written = written.min(total);
    Some(e)
}

/// Length of a complete response in `buf` (headers and Content-Length bytes of body).
fn complete(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]);
    // skip interim 1xx answers (100 Continue)
    if head.starts_with("HTTP/1.1 1") || head.starts_with("HTTP/1.0 1") {
        return complete(&buf[end..]).map(|n| n + end);
    }
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
    })?;
    (buf.len() >= end + len).then_some(end + len)
}

/// The final (non-1xx) response in `raw`.
fn parse(mut raw: &[u8], cap: usize) -> Option<Early> {
    loop {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        if (100..200).contains(&status) {
            raw = &raw[end..];
            continue;
        }
        let mut headers = HeaderMap::new();
        for l in lines.filter(|l| !l.is_empty()) {
            if let Some((k, v)) = l.split_once(':') {
                if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.trim().as_bytes()), HeaderValue::from_str(v.trim())) {
                    headers.append(k, v);
                }
            }
        }
        let body = &raw[end..];
        return Some(Early { status, headers, body: Bytes::copy_from_slice(&body[..body.len().min(cap)]), written: 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_100_continue_and_reads_the_final_answer() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\ncontent-type: application/json\r\n\r\n{\"a\"}";
        assert_eq!(complete(raw), Some(raw.len()));
        let e = parse(raw, 1024).unwrap();
        assert_eq!(e.status, 400);
        assert_eq!(&e.body[..], b"{\"a\"}");
        assert_eq!(e.headers["content-type"], "application/json");
    }

    #[tokio::test]
    async fn an_answer_before_the_body_is_read_is_kept() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b).await;
            let _ = s.write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 2\r\n\r\nno").await;
            // close without reading the rest of the 8 MiB body
        });
        let url = url::Url::parse(&format!("http://{addr}/v2/x/manifests/t")).unwrap();
        let body = Bytes::from(vec![b'x'; 8 << 20]);
        let e = send("PUT", &url, &[("content-length".into(), (8u64 << 20).to_string())], body, Duration::from_secs(5), 4096).await.unwrap();
        assert_eq!(e.status, 413);
        assert_eq!(&e.body[..], b"no");
        assert!(e.written < 8 << 20);
    }
}
