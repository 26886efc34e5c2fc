//! The HTTP server loop: poem's endpoint driven by hyper directly, with the
//! bounds poem's own `Server` does not set.
//!
//! - **Header read timeout** (`server.header_read_timeout_seconds`): a
//!   request's head must arrive whole within it, and an idle keep-alive
//!   connection waits at most that long for the next one (hyper's HTTP/1
//!   timer), so half-sent request lines cannot hold connections open.
//! - **Idle timeout** (`server.idle_timeout_seconds`): a connection that
//!   moves no byte either way for this long is closed, also in the middle
//!   of a body (a stalled upload, a reader that stopped reading).
//! - **Connection cap** (`server.max_connections`): at the cap the server
//!   stops accepting, and further connections wait in the kernel's backlog
//!   until one closes.
//! - **Connections per client** (`server.max_connections_per_client`, a
//!   client being an IPv4 address or an IPv6 /64): a client at its cap has
//!   further connections closed at once, so a few addresses holding
//!   trickling requests cannot take every slot. A slot frees when its
//!   connection (and so its request) ends.
//! - **Graceful shutdown**: when `shutdown` resolves the server stops
//!   accepting, lets requests in flight finish within `grace`, and closes
//!   what is left.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use poem::{
    Addr, Endpoint, EndpointExt,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinSet,
};

/// The bounds of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// How long a request head (or the next one, on a kept-alive
    /// connection) may take to arrive.
    pub header_read_timeout: Duration,
    /// How long a connection may move no byte before it is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one client (see
    /// [`crate::limits::client_key`]).
    pub max_connections_per_client: usize,
}

/// Open connections per client.
type PerClient = Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>;

/// One client's connection slot: freed when dropped.
struct ClientSlot {
    clients: PerClient,
    key: std::net::IpAddr,
}

impl ClientSlot {
    /// A slot for `key`, if it has fewer than `cap` open.
    fn take(clients: &PerClient, key: std::net::IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut open = clients.lock().unwrap();
        let n = open.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot { clients: clients.clone(), key })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.lock().unwrap();
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `ep` on `listener` until `shutdown` resolves, then waits up to
/// `grace` for requests in flight.
pub async fn serve<E>(
    listener: TcpListener,
    ep: E,
    bounds: Bounds,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let ep = Arc::new(ep.map_to_response());
    let permits = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let clients: PerClient = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        let key = crate::limits::client_key(remote.ip());
        let Some(slot) = ClientSlot::take(&clients, key, bounds.max_connections_per_client.max(1)) else {
            tracing::debug!(client = %key, "closing a connection: the client has too many open");
            drop(stream);
            continue;
        };
        let local = stream.local_addr().unwrap_or(remote);
        let ep = ep.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let _slot = slot;
            connection(stream, local, remote, ep, bounds, stop).await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(open = connections.len(), "closing connections still open after the grace period");
        connections.shutdown().await;
    }
    Ok(())
}

async fn connection<E>(
    stream: TcpStream,
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
    ep: Arc<E>,
    bounds: Bounds,
    mut stop: watch::Receiver<bool>,
) where
    E: Endpoint<Output = poem::Response> + 'static,
{
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = Watched { inner: stream, started, last: last.clone() };
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let ep = ep.clone();
        async move {
            let req: poem::Request =
                (req, LocalAddr(Addr::SocketAddr(local)), RemoteAddr(Addr::SocketAddr(remote)), Scheme::HTTP).into();
            let resp: hyper::Response<http_body_util::combinators::BoxBody<Bytes, std::io::Error>> =
                ep.get_response(req).await.into();
            Ok::<_, Infallible>(resp)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(bounds.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let check = (bounds.idle_timeout / 4).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.wait_for(|s| *s) => break,
            () = tokio::time::sleep(check) => {
                let idle = started.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                if idle >= bounds.idle_timeout {
                    tracing::debug!(%remote, "closing an idle connection");
                    return;
                }
            }
        }
    }
    // Shutting down: finish what is in flight, take nothing new.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// A socket that notes when it last moved a byte.
struct Watched {
    inner: TcpStream,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        self.last.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
