//! [`SendBatch`]: SRTP packets gathered in one buffer and sent with as few system calls, and as
//! few trips through the kernel's UDP stack, as the platform allows.
//!
//! Layout: packets are packed back to back in `buf`; `packets[i] = (offset, len, destination)`.
//! A caller asks for a [`slot`](SendBatch::slot) (the [`SLOT`] bytes at the end of `buf`),
//! writes one RTP or RTCP packet and its SRTP trailer there and [`commit`](SendBatch::commit)s
//! its length.
//!
//! On Linux, [`flush`](SendBatch::flush) cuts the packets into groups: consecutive packets to
//! the same destination where all but the last have the same length `L` — a video frame's FU-A
//! fragments to one viewer. A group of several goes out as one UDP GSO datagram
//! (`UDP_SEGMENT` = `L`, the kernel cuts it into the packets). Groups go out in order;
//! consecutive groups of the same `L` (the same frame to many viewers) share a `sendmmsg` call,
//! as do consecutive single packets (the control message is per call).
//! Elsewhere (or when the kernel refuses GSO) every packet is its own message.

use std::net::{SocketAddr, UdpSocket};

/// Messages per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Bytes reserved per packet: up to the MTU plus the largest SRTP trailer, rounded up.
pub const SLOT: usize = 1536;
/// Segments in one GSO datagram, at most (the kernel allows 64 to 128 by version).
const MAX_SEGMENTS: usize = 64;
/// Bytes in one GSO datagram, at most (an IP datagram's limit, with room for headers).
const MAX_GSO_BYTES: usize = 65_000;
/// Packets held before a flush is forced.
const MAX_PACKETS: usize = 4096;

/// Counters of what the batches sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct SendCounters {
    /// System calls made (`sendmmsg` or `send_to`).
    pub calls: u64,
    /// Packets the kernel took (a GSO datagram counts its segments).
    pub datagrams: u64,
    /// Packets refused (a full socket buffer, an unreachable address).
    pub failed: u64,
    /// GSO datagrams sent (each carrying several packets).
    pub gso_datagrams: u64,
}

/// Counters of every batch of one port, shared between its threads: each batch's
/// [`SendCounters`] are moved in with [`add`](Self::add).
#[derive(Debug, Default)]
pub struct SendTotals {
    calls: std::sync::atomic::AtomicU64,
    datagrams: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

impl SendTotals {
    /// Moves `batch`'s counters in (they restart from zero there).
    pub fn add(&self, batch: &mut SendBatch) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = std::mem::take(&mut batch.counters);
        self.calls.fetch_add(c.calls, Relaxed);
        self.datagrams.fetch_add(c.datagrams, Relaxed);
        self.failed.fetch_add(c.failed, Relaxed);
    }

    /// `(system calls, datagrams sent, datagrams refused)` so far.
    pub fn get(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.calls.load(Relaxed), self.datagrams.load(Relaxed), self.failed.load(Relaxed))
    }
}

/// A run of packets sent as one message: `buf[offset..offset + bytes]`, `segments` packets of
/// `segment` bytes (the last may be shorter).
#[derive(Debug, Clone, Copy)]
struct Group {
    offset: usize,
    bytes: usize,
    segments: usize,
    segment: usize,
    destination: SocketAddr,
}

/// See the [module docs](self).
pub struct SendBatch {
    socket: UdpSocket,
    buf: Vec<u8>,
    packets: Vec<(usize, usize, SocketAddr)>,
    reserved: Option<usize>,
    /// The kernel took GSO so far (cleared on its first refusal).
    gso: bool,
    #[cfg(target_os = "linux")]
    plain: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    #[cfg(target_os = "linux")]
    segmented: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    pub counters: SendCounters,
}

impl SendBatch {
    /// A batch sending on `socket` (a clone of the port's socket).
    pub fn new(socket: UdpSocket) -> Self {
        SendBatch {
            socket,
            buf: Vec::with_capacity(256 * 1024),
            packets: Vec::with_capacity(1024),
            reserved: None,
            // `SLUICE_WEBRTC_GSO=0` turns GSO off (a NIC or driver that mangles it).
            gso: cfg!(target_os = "linux") && std::env::var("SLUICE_WEBRTC_GSO").map_or(true, |v| v != "0"),
            #[cfg(target_os = "linux")]
            plain: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
            #[cfg(target_os = "linux")]
            segmented: nix::sys::socket::MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(u16))),
            counters: SendCounters::default(),
        }
    }

    /// A free slot of [`SLOT`] bytes (flushing first when the batch is full). Write a packet into
    /// it and call [`commit`](Self::commit), or leave it unused (the next call reuses it).
    pub fn slot(&mut self) -> &mut [u8] {
        if let Some(offset) = self.reserved.take() {
            self.buf.truncate(offset);
        }
        if self.packets.len() >= MAX_PACKETS {
            self.flush();
        }
        let offset = self.buf.len();
        self.buf.resize(offset + SLOT, 0);
        self.reserved = Some(offset);
        &mut self.buf[offset..offset + SLOT]
    }

    /// Takes the packet written into the current slot.
    pub fn commit(&mut self, len: usize, destination: SocketAddr) {
        let Some(offset) = self.reserved.take() else { return };
        let len = len.min(SLOT);
        self.buf.truncate(offset + len);
        self.packets.push((offset, len, destination));
    }

    /// Sends one control datagram (STUN answer, DTLS flight) at once, outside the batch.
    pub fn send_now(&self, data: &[u8], destination: SocketAddr) {
        let _ = self.socket.send_to(data, destination);
    }

    /// Sends everything gathered.
    pub fn flush(&mut self) {
        if let Some(offset) = self.reserved.take() {
            self.buf.truncate(offset);
        }
        if !self.packets.is_empty() {
            let groups = self.groups();
            self.send_groups(&groups);
        }
        self.packets.clear();
        self.buf.clear();
    }

    /// The packets cut into groups (see the module docs); one packet per group without GSO.
    fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::with_capacity(self.packets.len());
        for &(offset, len, destination) in &self.packets {
            if let Some(g) = groups.last_mut() {
                let joins = self.gso
                    && g.destination == destination
                    && g.offset + g.bytes == offset
                    && g.bytes == g.segments * g.segment // every packet so far is full-size
                    && len <= g.segment
                    && g.segments < MAX_SEGMENTS
                    && g.bytes + len <= MAX_GSO_BYTES;
                if joins {
                    g.bytes += len;
                    g.segments += 1;
                    continue;
                }
            }
            groups.push(Group { offset, bytes: len, segments: 1, segment: len, destination });
        }
        groups
    }

    #[cfg(target_os = "linux")]
    fn send_groups(&mut self, groups: &[Group]) {
        // In order; consecutive groups of the same kind (single packets, or GSO groups of one
        // segment size: the control message is per call) share a call.
        let key = |g: &Group| (g.segments > 1).then_some(g.segment as u16);
        let mut start = 0;
        while start < groups.len() {
            let k = key(&groups[start]);
            let end = start + groups[start..].iter().take_while(|g| key(g) == k).count();
            self.send_messages(&groups[start..end], k);
            start = end;
        }
    }

    /// `sendmmsg` of `groups` by [`BATCH`], with `UDP_SEGMENT` = `segment` when given. A message
    /// the kernel refuses is dropped (counted) and the rest go on; a refused GSO message turns
    /// GSO off and is sent again packet by packet.
    #[cfg(target_os = "linux")]
    fn send_messages(&mut self, groups: &[Group], segment: Option<u16>) {
        use nix::errno::Errno;
        use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        let mut sent = 0;
        while sent < groups.len() {
            let chunk = &groups[sent..groups.len().min(sent + BATCH)];
            let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|g| [IoSlice::new(&self.buf[g.offset..g.offset + g.bytes])]).collect();
            let addresses: Vec<Option<SockaddrStorage>> = chunk.iter().map(|g| Some(SockaddrStorage::from(g.destination))).collect();
            self.counters.calls += 1;
            let result = match segment {
                Some(size) => {
                    let cmsgs = [ControlMessage::UdpGsoSegments(&size)];
                    sendmmsg(self.socket.as_raw_fd(), &mut self.segmented, &slices, &addresses, cmsgs, MsgFlags::empty()).map(|r| r.count())
                }
                None => sendmmsg(self.socket.as_raw_fd(), &mut self.plain, &slices, &addresses, [], MsgFlags::empty()).map(|r| r.count()),
            };
            match result {
                Ok(done) if done > 0 => {
                    for g in &chunk[..done] {
                        self.counters.datagrams += g.segments as u64;
                        if g.segments > 1 {
                            self.counters.gso_datagrams += 1;
                        }
                    }
                    sent += done;
                }
                Err(Errno::EIO | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP) if segment.is_some() => {
                    // No GSO here (old kernel, a device without checksum offload): packet by packet from now on.
                    self.gso = false;
                    let rest: Vec<Group> = groups[sent..].iter().flat_map(|g| self.split(g)).collect();
                    return self.send_messages(&rest, None);
                }
                _ => {
                    // The first message failed (EAGAIN on a full buffer, EHOSTUNREACH...): drop it, go on.
                    self.counters.failed += chunk[0].segments as u64;
                    sent += 1;
                }
            }
        }
    }

    /// A group back into its packets.
    #[cfg(target_os = "linux")]
    fn split(&self, g: &Group) -> Vec<Group> {
        (0..g.segments)
            .map(|i| {
                let offset = g.offset + i * g.segment;
                let bytes = g.segment.min(g.offset + g.bytes - offset);
                Group { offset, bytes, segments: 1, segment: bytes, destination: g.destination }
            })
            .collect()
    }

    #[cfg(not(target_os = "linux"))]
    fn send_groups(&mut self, groups: &[Group]) {
        for g in groups {
            self.counters.calls += 1;
            match self.socket.send_to(&self.buf[g.offset..g.offset + g.bytes], g.destination) {
                Ok(_) => self.counters.datagrams += 1,
                Err(_) => self.counters.failed += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets sent through a batch arrive as they were written, GSO groups cut back into them.
    #[test]
    fn packets_arrive_as_written() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let to = rx.local_addr().unwrap();
        let mut batch = SendBatch::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let lens = [1200usize, 1200, 1200, 700, 90, 1200, 1200, 30];
        for (i, &len) in lens.iter().enumerate() {
            let slot = batch.slot();
            slot[..len].fill(i as u8);
            batch.commit(len, to);
        }
        let _unused = batch.slot(); // reserved and never committed: not sent
        batch.flush();
        let mut buf = [0u8; 2048];
        for (i, &len) in lens.iter().enumerate() {
            let (n, _) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(n, len, "packet {i}");
            assert!(buf[..n].iter().all(|b| *b == i as u8));
        }
        assert_eq!(batch.counters.datagrams, lens.len() as u64);
        assert_eq!(batch.counters.failed, 0);
        if cfg!(target_os = "linux") {
            // [1200 ×3, 700] and [1200 ×2, 30] as GSO datagrams, 90 alone.
            assert_eq!(batch.counters.gso_datagrams, 2);
        }
    }
}
