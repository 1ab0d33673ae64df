//! The load generator: `concurrency` HTTP/1.1 keep-alive connections, each sending one
//! request at a time, until `max_requests` were sent or `duration` passed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Error;
use crate::fixture::Signed;

/// How much load.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub(crate) addr: SocketAddr,
    pub(crate) concurrency: usize,
    pub(crate) max_requests: u64,
    pub(crate) duration: Duration,
}

/// What came back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) completed: u64,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    /// Latencies in microseconds, sorted.
    latencies: Vec<u32>,
}

impl Outcome {
    pub(crate) fn per_second(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> u32 {
        if self.latencies.is_empty() {
            return 0;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "completed": self.completed,
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "req_per_s": self.per_second().round(),
            "p50_us": self.percentile(0.50),
            "p99_us": self.percentile(0.99),
            "max_us": self.latencies.last().copied().unwrap_or(0),
        })
    }
}

/// A measuring subcommand: checks `seconds` (at most 50, so that every request signed
/// before the clock starts stays within the 60 s `created` window), runs `measure` on a
/// current-thread runtime, prints its JSON document and returns it.
pub(crate) fn print_measured(
    seconds: u64,
    measure: impl Future<Output = Result<Value, Error>>,
) -> Result<Value, Error> {
    if seconds == 0 || seconds > 50 {
        return Err("--seconds must be within 1..=50".into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(measure)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(out)
}

/// Sends `signed` to `addr` on a fresh connection; the status and the whole body.
pub(crate) async fn send_one(
    addr: SocketAddr,
    signed: &Signed,
) -> Result<(http::StatusCode, Bytes), Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = http::HeaderValue::from_str(&addr.to_string())?;
    let resp = sender.send_request(signed.request(host)).await?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// Sends `requests` (cycled) to `spec.addr` and measures. Every response other than `200`
/// counts as an error; a connection that fails ends its worker (also an error).
pub(crate) async fn run(spec: Spec, requests: Arc<Vec<Signed>>) -> Result<Outcome, Error> {
    if requests.is_empty() || spec.concurrency == 0 {
        return Err("nothing to send".into());
    }
    let host = http::HeaderValue::from_str(&spec.addr.to_string())?;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut workers = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency {
        let (next, requests, host) = (Arc::clone(&next), Arc::clone(&requests), host.clone());
        workers.push(tokio::spawn(async move {
            worker(spec, deadline, &next, &requests, host).await
        }));
    }
    let mut all = Outcome::default();
    for w in workers {
        let o = w.await?;
        all.completed += o.completed;
        all.errors += o.errors;
        all.latencies.extend(o.latencies);
    }
    all.elapsed = start.elapsed();
    all.latencies.sort_unstable();
    Ok(all)
}

async fn worker(
    spec: Spec,
    deadline: Instant,
    next: &AtomicU64,
    requests: &[Signed],
    host: http::HeaderValue,
) -> Outcome {
    let mut out = Outcome::default();
    let Ok(stream) = TcpStream::connect(spec.addr).await else {
        out.errors += 1;
        return out;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        out.errors += 1;
        return out;
    };
    tokio::spawn(conn);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= spec.max_requests || Instant::now() >= deadline {
            return out;
        }
        let signed = &requests[(i % requests.len() as u64) as usize];
        let req = signed.request(host.clone());
        let t0 = Instant::now();
        let ok = match sender.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                resp.into_body().collect().await.is_ok() && status == http::StatusCode::OK
            }
            Err(_) => {
                out.errors += 1;
                return out;
            }
        };
        out.latencies
            .push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        if ok {
            out.completed += 1;
        } else {
            out.errors += 1;
        }
    }
}
