//! [`bind_port`]: the UDP port of a native media host (the WebRTC viewers' port, the forward
//! port), bound the same way for each.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Error, Result, Status};

/// How long a receive thread blocks before it looks at its stop flag (and its timers) again.
pub const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// Binds `bind_address:port` (port 0 or none: any free one) with [`READ_TIMEOUT`] on reads.
/// Returns the socket and the port bound. Throws `{domain}_INVALID_ARGUMENT` (not an IP
/// address, a port over 65 535) or `{domain}_BIND_FAILED` (`domain`: `WEBRTC`, `RTP`).
pub fn bind_port(bind_address: &str, port: Option<u32>, domain: &str) -> Result<(UdpSocket, u32)> {
    let invalid = |m: String| Error::new(Status::InvalidArg, format!("{domain}_INVALID_ARGUMENT: {m}"));
    let failed = |e: std::io::Error| Error::new(Status::GenericFailure, format!("{domain}_BIND_FAILED: {e}"));
    let port = u16::try_from(port.unwrap_or(0)).map_err(|_| invalid("port is not 0-65535".into()))?;
    let ip: IpAddr = bind_address.parse().map_err(|_| invalid(format!("bindAddress {bind_address:?} is not an IP address")))?;
    let socket = UdpSocket::bind(SocketAddr::new(ip, port)).map_err(failed)?;
    socket.set_read_timeout(Some(READ_TIMEOUT)).map_err(failed)?;
    enable_receive_timestamps(&socket);
    let port = socket.local_addr().map(|a| u32::from(a.port())).unwrap_or(0);
    Ok((socket, port))
}

/// Another handle on `socket` (a thread's own), or `{domain}_BIND_FAILED`.
pub fn clone_socket(socket: &UdpSocket, domain: &str) -> Result<UdpSocket> {
    socket.try_clone().map_err(|e| Error::new(Status::GenericFailure, format!("{domain}_BIND_FAILED: {e}")))
}

/// Asks the kernel to stamp each datagram's arrival (`SO_TIMESTAMPNS`, Linux), for
/// [`recv_stamped`]; where it cannot, `recv_stamped` takes the read's time.
pub fn enable_receive_timestamps(socket: &UdpSocket) {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true);
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// A kernel receive timestamp older than this is not believed (a clock step): the read's time
/// is used instead.
const MAX_STAMP_AGE: Duration = Duration::from_secs(1);

/// Reads one datagram into `buf`: its length, its source and when it arrived. On Linux that is
/// the kernel's receive timestamp (`SO_TIMESTAMPNS`, asked for by [`bind_port`]; wall clock,
/// mapped onto `Instant` by its age), so the time the reading thread waited for a core or a lock
/// is not counted in an arrival (transport-wide CC feedback reports arrivals to the µs); else,
/// and when the stamp is missing or not believable, the time the read returned. (Right after
/// the first socket on a box asks for stamps, the kernel stamps a datagram when it is read,
/// until its deferred switch-on has run.) Errors: as
/// `UdpSocket::recv_from` (the read timeout included); a datagram longer than `buf` is cut.
pub fn recv_stamped(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrLike, SockaddrStorage};
        use nix::sys::time::TimeSpec;
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        use std::time::{SystemTime, UNIX_EPOCH};
        let mut control = nix::cmsg_space!(TimeSpec);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::empty()).map_err(io::Error::from)?;
        let read_at = Instant::now();
        let source = msg.address.as_ref().and_then(|a| match a.family() {
            Some(nix::sys::socket::AddressFamily::Inet) => a.as_sockaddr_in().map(|s| SocketAddr::from(*s)),
            Some(nix::sys::socket::AddressFamily::Inet6) => a.as_sockaddr_in6().map(|s| SocketAddr::from(*s)),
            _ => None,
        });
        let source = source.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a datagram without an IP source"))?;
        let stamp = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|m| match m {
                ControlMessageOwned::ScmTimestampns(ts) => Some(Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().clamp(0, 999_999_999) as u32)),
                _ => None,
            })
        });
        let age = stamp.and_then(|at| SystemTime::now().duration_since(UNIX_EPOCH).ok()?.checked_sub(at)).filter(|age| *age <= MAX_STAMP_AGE);
        let arrived = age.and_then(|a| read_at.checked_sub(a)).unwrap_or(read_at);
        Ok((msg.bytes, source, arrived))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (n, source) = socket.recv_from(buf)?;
        Ok((n, source, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_is_stamped_when_it_arrived_not_when_it_was_read() {
        // (bind_port's errors are N-API's, which a test binary cannot link)
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bound");
        socket.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        enable_receive_timestamps(&socket);
        // the first socket on the box to ask for stamps turns them on in a deferred kernel work
        // item: a datagram before that is stamped when it is read (the kernel's fallback), so
        // one of a few tries must show the stamp
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        let mut buf = [0u8; 64];
        let mut waits = Vec::new();
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(50));
            let sent_at = Instant::now();
            sender.send_to(b"hello", socket.local_addr().unwrap()).expect("sent");
            std::thread::sleep(Duration::from_millis(50));
            let (n, source, arrived) = recv_stamped(&socket, &mut buf).expect("read");
            assert_eq!((&buf[..n], source), (&b"hello"[..], sender.local_addr().unwrap()));
            waits.push(arrived.saturating_duration_since(sent_at));
            if waits.last().is_some_and(|w| *w < Duration::from_millis(25)) {
                break;
            }
        }
        if cfg!(target_os = "linux") {
            assert!(waits.iter().any(|w| *w < Duration::from_millis(25)), "the kernel's stamp, not the read 50 ms later: {waits:?}");
        }
        // nothing more: the read timeout
        assert!(recv_stamped(&socket, &mut buf).is_err());
    }
}
