//! [`SendBatch`]: SRTP packets gathered in one buffer and sent with as few system calls as the
//! platform allows: `sendmmsg` (Linux) with up to [`BATCH`] datagrams per call, else one
//! `send_to` per datagram.
//!
//! Layout: slot `i` is `buf[i * SLOT .. i * SLOT + lens[i]]`, bound for `destinations[i]`.
//! A slot holds one RTP or RTCP packet plus its SRTP trailer, written in place.

use std::net::{SocketAddr, UdpSocket};

/// Datagrams per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Bytes per slot: a packet up to the MTU plus the largest SRTP trailer, rounded up.
pub const SLOT: usize = 1536;

/// Counters of what the batches sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct SendCounters {
    /// System calls made (`sendmmsg` or `send_to`).
    pub calls: u64,
    /// Datagrams the kernel took.
    pub datagrams: u64,
    /// Datagrams refused (a full socket buffer, an unreachable address).
    pub failed: u64,
}

/// See the [module docs](self).
pub struct SendBatch {
    socket: UdpSocket,
    buf: Vec<u8>,
    lens: Vec<usize>,
    destinations: Vec<SocketAddr>,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    pub counters: SendCounters,
}

impl SendBatch {
    /// A batch sending on `socket` (a clone of the port's socket).
    pub fn new(socket: UdpSocket) -> Self {
        SendBatch {
            socket,
            buf: vec![0; BATCH * SLOT],
            lens: Vec::with_capacity(BATCH),
            destinations: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
            counters: SendCounters::default(),
        }
    }

    /// The next free slot (flushing first when the batch is full). Write a packet into it and
    /// call [`commit`](Self::commit) with its length and destination, or leave it unused.
    pub fn slot(&mut self) -> &mut [u8] {
        if self.lens.len() == BATCH {
            self.flush();
        }
        let i = self.lens.len();
        &mut self.buf[i * SLOT..(i + 1) * SLOT]
    }

    /// Sends one control datagram (STUN answer, DTLS flight) at once, outside the batch.
    pub fn send_now(&self, data: &[u8], destination: SocketAddr) {
        let _ = self.socket.send_to(data, destination);
    }

    /// Takes the packet written into the current slot.
    pub fn commit(&mut self, len: usize, destination: SocketAddr) {
        self.lens.push(len.min(SLOT));
        self.destinations.push(destination);
    }

    /// Sends everything gathered.
    pub fn flush(&mut self) {
        let n = self.lens.len();
        if n == 0 {
            return;
        }
        self.send_all(n);
        self.lens.clear();
        self.destinations.clear();
    }

    #[cfg(target_os = "linux")]
    fn send_all(&mut self, n: usize) {
        use nix::sys::socket::{sendmmsg, MsgFlags, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        let mut sent = 0;
        while sent < n {
            let slices: Vec<[IoSlice<'_>; 1]> = (sent..n).map(|i| [IoSlice::new(&self.buf[i * SLOT..i * SLOT + self.lens[i]])]).collect();
            let addresses: Vec<Option<SockaddrStorage>> = self.destinations[sent..n].iter().map(|a| Some(SockaddrStorage::from(*a))).collect();
            self.counters.calls += 1;
            match sendmmsg(self.socket.as_raw_fd(), &mut self.headers, &slices, &addresses, [], MsgFlags::empty()) {
                Ok(results) => {
                    let done = results.count();
                    if done == 0 {
                        // Nothing went: drop the first datagram so the rest can go.
                        self.counters.failed += 1;
                        sent += 1;
                    }
                    self.counters.datagrams += done as u64;
                    sent += done;
                }
                Err(_) => {
                    // The first datagram failed (EAGAIN on a full buffer, EHOSTUNREACH...):
                    // drop it and go on with the rest.
                    self.counters.failed += 1;
                    sent += 1;
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn send_all(&mut self, n: usize) {
        for i in 0..n {
            self.counters.calls += 1;
            match self.socket.send_to(&self.buf[i * SLOT..i * SLOT + self.lens[i]], self.destinations[i]) {
                Ok(_) => self.counters.datagrams += 1,
                Err(_) => self.counters.failed += 1,
            }
        }
    }
}
