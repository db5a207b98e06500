//! The accept loop, with the connection bounds `axum::serve` does not have: a cap on open
//! connections (in all and per address) answered with 503 rather than an accept error when
//! file descriptors run out, a timeout for request headers (which on HTTP/1 also runs while a
//! kept-alive connection waits for its next request), and an idle timeout for any
//! connection that sends and receives nothing. Connections are served by hyper (HTTP/1 and
//! HTTP/2, websocket upgrades included) as `axum::serve` serves them.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open connections in all (websockets included); 0: no cap.
    pub max: usize,
    /// Open connections from one address; 0: no cap.
    pub per_address: usize,
    /// Longest wait for a request's headers, counted from when the connection is ready for a
    /// request (so also the longest a kept-alive HTTP/1 connection may sit between requests).
    pub header_timeout: Duration,
    /// A connection that has sent and received nothing for this long is closed (after the
    /// request in flight, if any, is answered). Websockets are exempt: a subscriber may wait
    /// for hours for an event, and is bounded by the connection caps instead.
    pub idle_timeout: Duration,
}

/// Who holds connections now.
#[derive(Default)]
struct Open {
    total: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; its slot is given back when the last of it (the socket, or the
/// websocket it became) is dropped.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnLimits) -> Option<Slot> {
        let mut by = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        let total = self.total.load(Ordering::Relaxed);
        let mine = by.get(&ip).copied().unwrap_or(0);
        if (limits.max > 0 && total >= limits.max)
            || (limits.per_address > 0 && mine >= limits.per_address)
        {
            return None;
        }
        by.insert(ip, mine + 1);
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            open: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by = self
            .open
            .by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.ip);
            }
        }
        self.open.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes when it last moved a byte, and holds its connection's slot.
struct Watched {
    stream: TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
    _slot: Slot,
}

impl Watched {
    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let out = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        out
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let out = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(out, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        out
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The answer to a connection over the caps: written at once, without reading the request.
fn refused_response() -> Vec<u8> {
    let body = r#"{"errors":[{"message":"too many open connections; retry in a moment","extensions":{"code":"TOO_MANY_CONNECTIONS"}}]}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Refusals being written at once; beyond this, a connection over the caps is closed unanswered.
const MAX_REFUSING: usize = 256;

/// Whether an accept error means the process is out of something (descriptors, memory) and
/// will be again at once if retried: the loop then pauses instead of spinning.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

/// Serves `router` on `listener` until `shutdown` completes, then waits up to `grace` for the
/// connections in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let open = Arc::new(Open::default());
    let refusing = Arc::new(AtomicUsize::new(0));
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    // Each connection task holds a clone: the count of live ones, without a registry.
    let tasks = Arc::new(());
    tokio::pin!(shutdown);
    let mut last_exhaustion_log: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_exhaustion(&e) => {
                    if last_exhaustion_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::error!(error = %e, "cannot accept connections (out of resources); lower --max-connections");
                        last_exhaustion_log = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                // A connection reset before it was accepted, and the like: nothing to do.
                Err(_) => continue,
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = open.admit(peer.ip(), &limits) else {
            refuse(stream, &refusing);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let closing = closing.clone();
        let guard = tasks.clone();
        tokio::spawn(async move {
            let _alive = guard;
            serve_connection(stream, peer, slot, router, limits, closing).await;
        });
    }
    let _ = closing_tx.send(true);
    drop(listener);
    // Wait for the connections to finish their requests; the last clone of `tasks` goes
    // with the last of them.
    let done = Arc::downgrade(&tasks);
    drop(tasks);
    let _ = tokio::time::timeout(grace, async {
        while done.strong_count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    Ok(())
}

fn refuse(stream: TcpStream, refusing: &Arc<AtomicUsize>) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let refusing = refusing.clone();
    tokio::spawn(async move {
        let mut stream = stream;
        // Read what the client sent first (briefly): an HTTP client that gets its answer
        // before it has sent its request takes it for a broken server, not for a 503.
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(&refused_response()).await;
            let _ = stream.shutdown().await;
        })
        .await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    limits: ConnLimits,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let last = Arc::new(AtomicU64::new(0));
    let io = Watched {
        stream,
        last: last.clone(),
        epoch: Instant::now(),
        _slot: slot,
    };
    let epoch = io.epoch;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // What `into_make_service_with_connect_info` would give: the peer, for rate limits.
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req)
        });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut shutting = false;
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = closing.changed(), if !shutting => {
                if changed.is_err() || *closing.borrow() {
                    conn.as_mut().graceful_shutdown();
                    shutting = true;
                }
            }
            () = tokio::time::sleep(tick), if !shutting => {
                let idle_ms = epoch.elapsed().as_millis() as u64 - last.load(Ordering::Relaxed);
                if Duration::from_millis(idle_ms) >= limits.idle_timeout {
                    conn.as_mut().graceful_shutdown();
                    shutting = true;
                }
            }
        }
    }
}
