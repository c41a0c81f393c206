//! Connection hygiene: caps on open connections, and the timeouts that close what a client
//! leaves hanging.
//!
//! - **Caps.** At most [`Limits::max_connections`] connections are open at once, and at most
//!   [`Limits::max_per_source`] from one address; a connection over a cap is refused at accept
//!   (a best-effort `503` and close), before anything is read, and counted.
//! - **Timeouts**, watched per connection by its own task ([`serve`]):
//!   - a request head must arrive within [`Limits::head_timeout`] of its first byte;
//!   - between requests, a connection may stay idle for [`Limits::idle_timeout`];
//!   - a request body must keep moving: no data for [`Limits::body_timeout`] fails it
//!     ([`TimedBody`]), so a slow but moving upload works and a stalled one ends;
//!   - a response must keep moving: a write blocked for [`Limits::send_timeout`] closes the
//!     connection (a client that stops reading).
//! - **Lingering close.** When hyper closes a connection whose request body it did not read (a
//!   request refused before its body), closing at once would make the kernel answer the unread
//!   bytes with a reset, which can destroy the response before the client reads it. So the
//!   write side is shut first and what the client still sends is read and dropped, for at most
//!   [`LINGER`] and [`LINGER_BYTES`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a closing connection reads and drops what its client still sends.
pub(crate) const LINGER: Duration = Duration::from_secs(2);
/// How much of it, at most.
pub(crate) const LINGER_BYTES: usize = 256 << 10;

/// The limits every connection is held to.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) head_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_per_source: usize,
}

/// Why a connection was closed or refused, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    HeadTimeout,
    IdleTimeout,
    BodyTimeout,
    SendTimeout,
    TooManyConnections,
    TooManyFromSource,
}

impl Reason {
    pub(crate) const ALL: [Reason; 6] = [
        Reason::HeadTimeout,
        Reason::IdleTimeout,
        Reason::BodyTimeout,
        Reason::SendTimeout,
        Reason::TooManyConnections,
        Reason::TooManyFromSource,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::HeadTimeout => "head_timeout",
            Reason::IdleTimeout => "idle_timeout",
            Reason::BodyTimeout => "body_timeout",
            Reason::SendTimeout => "send_timeout",
            Reason::TooManyConnections => "max_connections",
            Reason::TooManyFromSource => "max_connections_per_source",
        }
    }

    fn index(self) -> usize {
        Reason::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every reason is listed")
    }
}

/// Open connections, and what was refused or closed.
#[derive(Debug)]
pub(crate) struct Gate {
    limits: Limits,
    open: AtomicUsize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    counts: [AtomicU64; 6],
}

impl Gate {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Gate {
            limits,
            open: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
            counts: Default::default(),
        })
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// How many connections were refused or closed for `reason`.
    pub(crate) fn count(&self, reason: Reason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn note(&self, reason: Reason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A place for a connection from `peer`, or why there is none.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, Reason> {
        let mut sources = self.per_source.lock().expect("gate lock");
        if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
            drop(sources);
            self.note(Reason::TooManyConnections);
            return Err(Reason::TooManyConnections);
        }
        let from_peer = sources.entry(peer).or_insert(0);
        if *from_peer >= self.limits.max_per_source {
            drop(sources);
            self.note(Reason::TooManyFromSource);
            return Err(Reason::TooManyFromSource);
        }
        *from_peer += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            gate: self.clone(),
            peer,
        })
    }
}

/// A connection's place under the caps, given back when dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    gate: Arc<Gate>,
    peer: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut sources = self.gate.per_source.lock().expect("gate lock");
        if let Some(n) = sources.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                sources.remove(&self.peer);
            }
        }
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a connection's watchdog knows of it. Times are milliseconds since `start`, plus one
/// (zero: not set).
#[derive(Debug)]
pub(crate) struct Watch {
    start: Instant,
    /// Requests whose response is not fully sent.
    in_flight: AtomicUsize,
    /// When the connection last became idle (no request in flight).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived, while idle.
    head_started: AtomicU64,
    /// When a write started waiting for the client to read.
    write_blocked: AtomicU64,
    changed: Notify,
}

impl Watch {
    /// A new connection: its first request head is due within the head timeout.
    fn new() -> Arc<Self> {
        Arc::new(Watch {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(1),
            head_started: AtomicU64::new(1),
            write_blocked: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn at(&self, mark: u64) -> Instant {
        self.start + Duration::from_millis(mark - 1)
    }

    /// A request's head was read: its response is in flight until the guard drops.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Release);
        InFlight(self.clone())
    }

    fn read(&self, n: usize) {
        if n > 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started
                .compare_exchange(0, self.now(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // The head deadline is sooner than the idle one the watchdog may be sleeping on.
            self.changed.notify_one();
        }
    }

    fn write_pending(&self, pending: bool) {
        if pending {
            if self
                .write_blocked
                .compare_exchange(0, self.now(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.changed.notify_one();
            }
        } else {
            self.write_blocked.store(0, Ordering::Release);
        }
    }

    /// The next deadline, or the reason to close now.
    fn verdict(&self, limits: &Limits) -> Result<Option<Instant>, Reason> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut check = |mark: u64, limit: Duration, reason: Reason| -> Result<(), Reason> {
            if mark == 0 {
                return Ok(());
            }
            let deadline = self.at(mark) + limit;
            if deadline <= now {
                return Err(reason);
            }
            next = Some(next.map_or(deadline, |n| n.min(deadline)));
            Ok(())
        };
        check(
            self.write_blocked.load(Ordering::Acquire),
            limits.send_timeout,
            Reason::SendTimeout,
        )?;
        if self.in_flight.load(Ordering::Acquire) == 0 {
            match self.head_started.load(Ordering::Acquire) {
                0 => check(
                    self.idle_since.load(Ordering::Acquire),
                    limits.idle_timeout,
                    Reason::IdleTimeout,
                )?,
                started => check(started, limits.head_timeout, Reason::HeadTimeout)?,
            }
        }
        Ok(next)
    }
}

/// A request in flight on its connection; dropped when its response was sent (or abandoned).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let watch = &self.0;
        if watch.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            watch.idle_since.store(watch.now(), Ordering::Release);
            watch.changed.notify_one();
        }
    }
}

/// The socket as hyper sees it: reads and writes report to the watch, and a shut-down socket
/// lingers when dropped.
pub(crate) struct Watched<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    inner: Option<S>,
    watch: Arc<Watch>,
    shut_down: bool,
    admitted: Option<Admitted>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Watched<S> {
    fn io(&mut self) -> &mut S {
        self.inner
            .as_mut()
            .expect("the socket is there until dropped")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(self.io()).poll_read(cx, buf))?;
        self.watch.read(buf.filled().len() - before);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(self.io()).poll_write(cx, buf);
        self.watch.write_pending(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(self.io()).poll_write_vectored(cx, bufs);
        self.watch.write_pending(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(self.io()).poll_flush(cx);
        self.watch.write_pending(polled.is_pending());
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(self.io()).poll_shutdown(cx);
        if polled.is_ready() {
            self.shut_down = true;
        }
        polled
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Watched<S> {
    fn drop(&mut self) {
        // A connection hyper closed in order (its write side is shut): read and drop what the
        // client still sends, so the close is a FIN rather than a reset that could cost the
        // client the response. One killed by a timeout just closes.
        let (Some(mut io), true) = (self.inner.take(), self.shut_down) else {
            return;
        };
        let admitted = self.admitted.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let drain = async {
                    let mut buf = vec![0u8; 16 << 10];
                    let mut left = LINGER_BYTES;
                    while left > 0 {
                        match io.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => left = left.saturating_sub(n),
                        }
                    }
                };
                let _ = tokio::time::timeout(LINGER, drain).await;
                drop(admitted);
            });
        }
    }
}

/// Wraps an accepted socket for [`serve`].
pub(crate) fn watched<S>(io: S, admitted: Admitted) -> (Watched<S>, Arc<Watch>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Watch::new();
    (
        Watched {
            inner: Some(io),
            watch: watch.clone(),
            shut_down: false,
            admitted: Some(admitted),
        },
        watch,
    )
}

/// Runs `connection` until it ends or its watch says it has hung too long.
pub(crate) async fn serve<F, E>(connection: F, watch: Arc<Watch>, gate: Arc<Gate>) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    let mut connection = std::pin::pin!(connection);
    loop {
        let deadline = match watch.verdict(gate.limits()) {
            Ok(deadline) => deadline,
            Err(reason) => {
                gate.note(reason);
                tracing::debug!(reason = reason.as_str(), "closing a connection");
                return Ok(());
            }
        };
        let wake = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ended = connection.as_mut() => return ended,
            () = wake => {}
            () = watch.changed.notified() => {}
        }
    }
}

/// A request body that fails when no data arrives for its timeout: a slow upload that keeps
/// moving works; one that stalls ends, and its connection with it. The timer exists only once
/// the body has had to wait (most requests have no body, or one already buffered).
pub(crate) struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Data arrived since the timer was last set.
    moved: bool,
    gate: Arc<Gate>,
    /// Bytes read, for `/metrics`.
    bytes: Arc<AtomicU64>,
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration, gate: Arc<Gate>, bytes: Arc<AtomicU64>) -> Self {
        TimedBody {
            inner,
            timeout,
            sleep: None,
            moved: false,
            gate,
            bytes,
        }
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.moved = true;
                if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
                    && let Some(data) = data
                {
                    this.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.timeout;
                let sleep = match &mut this.sleep {
                    Some(sleep) => {
                        if this.moved {
                            sleep.as_mut().reset(deadline);
                        }
                        sleep
                    }
                    None => this
                        .sleep
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                this.moved = false;
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.gate.note(Reason::BodyTimeout);
                        Poll::Ready(Some(Err(format!(
                            "no request body data for {} s",
                            this.timeout.as_secs()
                        )
                        .into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until it is sent, counting its bytes.
pub(crate) struct Tracked<B> {
    inner: B,
    _in_flight: InFlight,
    bytes: Arc<AtomicU64>,
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B, in_flight: InFlight, bytes: Arc<AtomicU64>) -> Self {
        Tracked {
            inner,
            _in_flight: in_flight,
            bytes,
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B>
where
    B::Data: bytes::Buf,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &frame
            && let Some(data) = f.data_ref()
        {
            use bytes::Buf as _;
            self.bytes
                .fetch_add(data.remaining() as u64, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The descriptor limit, raised to its hard maximum first (as a server that holds many sockets
/// should), and the connection cap derived from it: half of what is left after a reserve for
/// files and the metadata store, since a connection may hold a file open too.
pub(crate) fn derived_max_connections() -> (u64, usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current.unwrap_or(1 << 20);
    if let Some(hard) = limit.maximum.or(Some(1 << 20)) {
        let wanted = hard.min(1 << 20);
        if wanted > soft
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(wanted),
                    maximum: limit.maximum,
                },
            )
            .is_ok()
        {
            soft = wanted;
        }
    }
    let usable = soft.saturating_sub(64) / 2;
    (soft, usize::try_from(usable).unwrap_or(usize::MAX).max(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(60),
            max_connections: 3,
            max_per_source: 2,
        }
    }

    #[test]
    fn caps_count_connections_until_they_close() {
        let gate = Gate::new(limits());
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Reason::TooManyFromSource);
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Reason::TooManyConnections);
        assert_eq!(gate.open(), 3);
        drop(first);
        assert_eq!(gate.open(), 2);
        let _again = gate.admit(a).unwrap();
        assert_eq!(gate.count(Reason::TooManyFromSource), 1);
        assert_eq!(gate.count(Reason::TooManyConnections), 1);
    }

    /// A body that yields a byte each time its clock says, and then nothing, forever.
    struct Drip {
        every: Duration,
        left: usize,
        next: Pin<Box<tokio::time::Sleep>>,
    }

    impl http_body::Body for Drip {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.left == 0 {
                return Poll::Pending;
            }
            ready!(self.next.as_mut().poll(cx));
            self.left -= 1;
            let every = self.every;
            self.next.as_mut().reset(Instant::now() + every);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_must_keep_moving() {
        use http_body_util::BodyExt as _;
        let gate = Gate::new(limits());
        let timeout = limits().body_timeout;
        // Ten bytes, each after most of the timeout: slow, but it moves, so it goes through
        // (ten timeouts in all); then it stalls and fails one timeout later.
        let drip = Drip {
            every: timeout * 3 / 4,
            left: 10,
            next: Box::pin(tokio::time::sleep(timeout * 3 / 4)),
        };
        let mut body = TimedBody::new(drip, timeout, gate.clone(), Arc::default());
        for _ in 0..10 {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap().as_ref(), b"x");
        }
        let started = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("no request body data"), "{err}");
        assert_eq!(Instant::now() - started, timeout);
        assert_eq!(gate.count(Reason::BodyTimeout), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_judged_by_what_it_is_doing() {
        let limits = limits();
        let second = Duration::from_secs(1);
        let watch = Watch::new();
        // New: its first head is due within the head timeout, bytes or not.
        let next = watch.verdict(&limits).unwrap().unwrap();
        assert_eq!(next - watch.start, limits.head_timeout);
        tokio::time::advance(limits.head_timeout + second).await;
        assert_eq!(watch.verdict(&limits), Err(Reason::HeadTimeout));
        let watch = Watch::new();
        // In flight: no idle or head deadline, until the response is sent.
        let request = watch.request();
        assert_eq!(watch.verdict(&limits), Ok(None));
        watch.read(100); // body bytes are not a head
        assert_eq!(watch.verdict(&limits), Ok(None));
        tokio::time::advance(limits.idle_timeout * 2).await;
        assert_eq!(watch.verdict(&limits), Ok(None));
        drop(request);
        // Idle between requests: the idle deadline.
        let idle = watch.verdict(&limits).unwrap().unwrap();
        assert_eq!(idle - Instant::now(), limits.idle_timeout);
        // The next head's first byte: the sooner head deadline.
        tokio::time::advance(second).await;
        watch.read(1);
        let head = watch.verdict(&limits).unwrap().unwrap();
        assert_eq!(head - Instant::now(), limits.head_timeout);
        tokio::time::advance(limits.head_timeout).await;
        assert_eq!(watch.verdict(&limits), Err(Reason::HeadTimeout));
        let request = watch.request();
        drop(request);
        // A write that cannot progress closes the connection once the send timeout passes,
        // even with a request in flight.
        let _request = watch.request();
        watch.write_pending(true);
        tokio::time::advance(limits.send_timeout + second).await;
        assert_eq!(watch.verdict(&limits), Err(Reason::SendTimeout));
        watch.write_pending(false);
        assert_eq!(watch.verdict(&limits), Ok(None));
    }
}
