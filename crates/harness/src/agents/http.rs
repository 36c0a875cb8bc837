//! A minimal HTTP/1.1 client over `std::net`: one request per connection, JSON in and out.
//! Enough for an agent's API and its `/metrics`, with no runtime and no dependency.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The largest response body read (an agent's answers are far smaller).
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub enum HttpError {
    /// The connection could not be made: the request was certainly not applied.
    Connect(std::io::Error),
    /// Sending or receiving failed after connecting (or timed out): the request may or may
    /// not have been applied.
    Io(std::io::Error),
    /// The answer is not HTTP as expected: it may or may not have been applied.
    Malformed(String),
}

impl HttpError {
    /// Whether the request certainly had no effect.
    pub fn definitely_not_applied(&self) -> bool {
        matches!(self, HttpError::Connect(_))
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "connect: {e}"),
            HttpError::Io(e) => write!(f, "io: {e}"),
            HttpError::Malformed(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An answer: status code and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
}

/// Sends `method path` with an optional JSON body to `addr`, waiting at most `timeout` for
/// each step.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Answer, HttpError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(HttpError::Connect)?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(HttpError::Io)?;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(HttpError::Io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut raw)
        .map_err(HttpError::Io)?;
    parse(&raw)
}

/// Parses a whole `Connection: close` response.
fn parse(raw: &[u8]) -> Result<Answer, HttpError> {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| HttpError::Malformed("no end of headers".into()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Malformed(format!("bad status line {:?}", first_line(head))))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_owned()
    };
    Ok(Answer { status, body })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Joins the chunks of a chunked body.
fn dechunk(mut rest: &str) -> Result<String, HttpError> {
    let mut out = String::new();
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or_else(|| HttpError::Malformed("truncated chunk size".into()))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| HttpError::Malformed(format!("bad chunk size {size:?}")))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after
            .get(..size)
            .ok_or_else(|| HttpError::Malformed("truncated chunk".into()))?;
        out.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"value\":1}";
        let a = parse(plain).ok();
        assert_eq!(a.as_ref().map(|a| a.status), Some(200));
        assert_eq!(a.map(|a| a.body), Some("{\"value\":1}".to_owned()));
        let chunked = b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n\
                        4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let a = parse(chunked).ok();
        assert_eq!(a.as_ref().map(|a| a.status), Some(503));
        assert_eq!(a.map(|a| a.body), Some("{\"a\":1}".to_owned()));
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").is_err());
    }
}
