//! When a request arrived: the moment its first bytes reached this machine's network stack, not
//! the moment a handler got round to it.
//!
//! The simulator is the benchmark's measuring instrument for pacing ("at most N requests in any
//! one second"). Stamped in the handler, an arrival includes the time the server's thread took
//! to wake up, which on a busy or virtualised machine is sometimes 10–20 ms: enough to make a
//! client that kept to its pace look as if it sent one request too many in some second. On Linux
//! each connection asks the kernel to stamp received data (`SO_TIMESTAMPNS`), and the stamp of
//! the first bytes read after the previous answer was written is the request's arrival.
//! Elsewhere (or if the kernel gives no stamp) the arrival is the moment those bytes were read.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The arrival of the request a connection is on; shared by the connection and its handlers.
#[derive(Clone, Default)]
pub(crate) struct ArrivalClock {
    inner: Arc<ClockState>,
}

#[derive(Default)]
struct ClockState {
    /// Set when an answer was written: the next bytes read begin a new request.
    between_requests: AtomicBool,
    arrived: Mutex<Option<Instant>>,
}

impl ArrivalClock {
    fn new() -> ArrivalClock {
        let clock = ArrivalClock::default();
        clock.inner.between_requests.store(true, Ordering::Relaxed);
        clock
    }

    /// Bytes were read, stamped `at`: the arrival, if they begin a request.
    fn read(&self, at: Instant) {
        if self.inner.between_requests.swap(false, Ordering::Relaxed) {
            *self.inner.arrived.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
        }
    }

    fn wrote(&self) {
        self.inner.between_requests.store(true, Ordering::Relaxed);
    }

    /// When the current request arrived; now, if nothing was stamped.
    pub(crate) fn arrived(&self) -> Instant {
        let arrived = *self.inner.arrived.lock().unwrap_or_else(|e| e.into_inner());
        arrived.map_or_else(Instant::now, |a| a.min(Instant::now()))
    }
}

impl Connected<IncomingStream<'_, StampingListener>> for ArrivalClock {
    fn connect_info(stream: IncomingStream<'_, StampingListener>) -> ArrivalClock {
        stream.io().clock.clone()
    }
}

/// A TCP listener whose connections stamp their requests' arrival.
pub(crate) struct StampingListener {
    inner: TcpListener,
}

impl StampingListener {
    /// Asks for stamps on the listening socket too: accepted connections inherit it, and the
    /// kernel turns stamping on a little after it is first asked (the first connection's first
    /// bytes would otherwise go unstamped).
    pub(crate) fn new(inner: TcpListener) -> StampingListener {
        kernel::enable(&inner);
        StampingListener { inner }
    }
}

impl Listener for StampingListener {
    type Io = StampedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (StampedStream, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (StampedStream::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that notes when each request's first bytes arrived.
pub(crate) struct StampedStream {
    inner: TcpStream,
    clock: ArrivalClock,
    /// The kernel stamps received data (Linux).
    kernel_stamps: bool,
}

impl StampedStream {
    fn new(inner: TcpStream) -> StampedStream {
        let kernel_stamps = kernel::enable(&inner);
        StampedStream {
            inner,
            clock: ArrivalClock::new(),
            kernel_stamps,
        }
    }
}

impl AsyncRead for StampedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.kernel_stamps {
            loop {
                std::task::ready!(this.inner.poll_read_ready(cx))?;
                let read = this.inner.try_io(tokio::io::Interest::READABLE, || {
                    kernel::read(&this.inner, buf)
                });
                match read {
                    Ok((n, stamp)) => {
                        if n > 0 {
                            this.clock.read(stamp.unwrap_or_else(Instant::now));
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.read(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for StampedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.clock.wrote();
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.clock.wrote();
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The kernel's receive stamps (Linux): `SO_TIMESTAMPNS` on the socket, read back with
/// `recvmsg` as an `SCM_TIMESTAMPNS` control message (wall-clock time of the newest data read).
#[cfg(target_os = "linux")]
mod kernel {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use tokio::io::ReadBuf;
    use tokio::net::TcpStream;

    /// Asks the kernel to stamp data received on `socket`; false if it refuses.
    pub(super) fn enable(socket: &impl AsRawFd) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor, and a pointer to a c_int of the length given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }

    /// One `recvmsg` into the unfilled part of `buf`: the bytes read and their stamp.
    pub(super) fn read(
        stream: &TcpStream,
        buf: &mut ReadBuf<'_>,
    ) -> io::Result<(usize, Option<Instant>)> {
        // SAFETY: the bytes handed to recvmsg are only written, never read, before the kernel
        // has filled them; `assume_init` below covers exactly the count it reports.
        let unfilled = unsafe { buf.unfilled_mut() };
        let mut iov = libc::iovec {
            iov_base: unfilled.as_mut_ptr().cast(),
            iov_len: unfilled.len(),
        };
        // Room for one timespec control message, 8-byte aligned.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is a plain C struct; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: msg points at the iovec and control buffer above, both alive for the call.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: the kernel wrote n bytes at the start of the unfilled part.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Ok((n, stamp(&msg)))
    }

    /// The `SCM_TIMESTAMPNS` message of `msg`, as an Instant.
    fn stamp(msg: &libc::msghdr) -> Option<Instant> {
        // SAFETY: walking the control messages the kernel wrote, with the libc macros.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                    return to_instant(ts);
                }
                cmsg = libc::CMSG_NXTHDR(msg, cmsg);
            }
        }
        None
    }

    /// A wall-clock stamp as an Instant, through the distance from now on both clocks.
    fn to_instant(ts: libc::timespec) -> Option<Instant> {
        let stamped = UNIX_EPOCH
            + Duration::new(
                u64::try_from(ts.tv_sec).ok()?,
                u32::try_from(ts.tv_nsec).ok()?,
            );
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        let ago = now_wall.duration_since(stamped).unwrap_or_default();
        // A stamp far from now (a wall clock stepped meanwhile) is not believed.
        (ago < Duration::from_secs(10)).then(|| now.checked_sub(ago).unwrap_or(now))
    }
}

/// Without kernel stamps, the moment of reading is the arrival.
#[cfg(not(target_os = "linux"))]
mod kernel {
    use std::io;
    use std::time::Instant;

    use tokio::io::ReadBuf;
    use tokio::net::TcpStream;

    pub(super) fn enable<T>(_socket: &T) -> bool {
        false
    }

    pub(super) fn read(
        _stream: &TcpStream,
        _buf: &mut ReadBuf<'_>,
    ) -> io::Result<(usize, Option<Instant>)> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A handler's view of when its request arrived (see the module's text); now, when the server
/// was not started with stamping connections.
pub(crate) struct Arrived(pub(crate) Instant);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Arrived {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Arrived, Self::Rejection> {
        let clock = parts
            .extensions
            .get::<axum::extract::ConnectInfo<ArrivalClock>>();
        Ok(Arrived(clock.map_or_else(Instant::now, |c| c.0.arrived())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_the_first_read_after_an_answer_begins_a_request() {
        let clock = ArrivalClock::new();
        let t0 = Instant::now();
        clock.read(t0);
        clock.read(t0 + Duration::from_millis(5));
        assert_eq!(clock.arrived(), t0);
        clock.wrote();
        let t1 = Instant::now();
        clock.read(t1);
        assert_eq!(clock.arrived(), t1);
    }

    /// Bytes that reached the socket 80 ms before the server read them arrived when they
    /// reached it (Linux, with the kernel's stamps), or when read (elsewhere).
    #[tokio::test]
    async fn a_request_arrives_when_its_bytes_reach_the_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = StampingListener::new(listener);
        let mut client = TcpStream::connect(addr).await.unwrap();
        // The kernel turns stamping on shortly after a socket first asks for it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (mut server, _) = listener.accept().await;
        let sent = Instant::now();
        client.write_all(b"POST / HTTP/1.1\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"POST / HTTP/1.1\r\n\r\n");
        let arrived = server.clock.arrived();
        if cfg!(target_os = "linux") {
            assert!(server.kernel_stamps, "the kernel refused to stamp");
            assert!(
                arrived < sent + Duration::from_millis(40),
                "stamped {:?} after sending",
                arrived - sent
            );
        } else {
            assert!(arrived >= sent + Duration::from_millis(80));
        }
        // An answer, then the next request: a new arrival.
        server.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let _ = server.read(&mut buf).await.unwrap();
        assert!(server.clock.arrived() > arrived);
    }
}
