//! [`bind_port`]: the UDP port of a native media host (the WebRTC viewers' port, the forward
//! port), bound the same way for each.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

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
    let port = socket.local_addr().map(|a| u32::from(a.port())).unwrap_or(0);
    Ok((socket, port))
}

/// Another handle on `socket` (a thread's own), or `{domain}_BIND_FAILED`.
pub fn clone_socket(socket: &UdpSocket, domain: &str) -> Result<UdpSocket> {
    socket.try_clone().map_err(|e| Error::new(Status::GenericFailure, format!("{domain}_BIND_FAILED: {e}")))
}
