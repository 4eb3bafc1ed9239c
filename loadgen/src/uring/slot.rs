//! One worker's connection on the ring: its socket, request template, exchange state,
//! the request in flight and the operations the kernel still holds of it.

use super::ring::{Op, tag};
use crate::classify;
use crate::client::Outcome;
use crate::exec::Begun;
use crate::http1::exchange::Exchange;
use crate::http1::request::RequestTemplate;
use crate::http1::response::Response;
use crate::trace::TraceGen;
use io_uring::{opcode, squeue, types};
use satlab_record::ErrorKind;
use socket2::{Protocol, SockAddr, Socket, Type};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// A read's `ioprio` flag: arm the readiness wait first instead of trying the read at once
/// (`IORING_RECVSEND_POLL_FIRST`, Linux 5.19).
const RECVSEND_POLL_FIRST: u16 = 1;

/// Where a slot's request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No request: waiting to be started or parked.
    Idle,
    /// Connecting before the request is sent.
    Connecting,
    /// The request sent or being sent; reading the response.
    Exchanging,
}

/// One worker's state.
pub struct Slot {
    /// The worker's index in the run (its step membership and recorder shard).
    pub index: usize,
    /// Where its request is.
    pub phase: Phase,
    /// Operations submitted and not yet completed: while non-zero the kernel may still
    /// read the request or write the read buffer, so neither may move or be freed.
    pub ops: u8,
    /// When the current phase gives up.
    pub deadline: Instant,
    /// When its last request ended (an idle connection is checked before reuse).
    pub idle_since: Instant,
    /// In the ready list already.
    pub queued: bool,
    /// The request in flight.
    pub begun: Option<Begun>,
    /// The trace-id generator.
    pub trace: TraceGen,
    socket: Option<OwnedFd>,
    template: RequestTemplate,
    exchange: Exchange,
    error: Option<ErrorKind>,
    response: Option<Response>,
    timed_out: bool,
}

impl Slot {
    /// A slot with no connection.
    pub fn new(index: usize, template: RequestTemplate, trace: TraceGen, now: Instant) -> Self {
        Slot {
            index,
            phase: Phase::Idle,
            ops: 0,
            deadline: now,
            idle_since: now,
            queued: false,
            begun: None,
            trace,
            socket: None,
            template,
            exchange: Exchange::new(),
            error: None,
            response: None,
            timed_out: false,
        }
    }

    /// Its connection's descriptor, for an operation (only while connected).
    fn connected(&self) -> types::Fd {
        types::Fd(self.fd().expect("connected"))
    }

    /// Its socket's descriptor, when connected or connecting.
    pub fn fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Close the connection (only with no operation in flight).
    pub fn close(&mut self) {
        debug_assert_eq!(self.ops, 0);
        self.socket = None;
    }

    /// A kept-alive connection idle for a while is fit for the next request when nothing
    /// arrived on it meanwhile: an EOF, an error or unsolicited bytes (a `408` sent before
    /// a close) mean the server is done with it, as on the tokio path.
    pub fn drop_if_closed_by_peer(&mut self) {
        let Some(fd) = self.fd() else { return };
        let mut b = 0u8;
        // SAFETY: one byte into a local; MSG_PEEK leaves the socket as it was.
        let n = unsafe {
            libc::recv(
                fd,
                (&raw mut b).cast(),
                1,
                libc::MSG_DONTWAIT | libc::MSG_PEEK,
            )
        };
        let idle =
            n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
        if !idle {
            self.socket = None;
        }
    }

    /// Start the request in `begun`: the connect first when there is no connection
    /// (a socket that cannot be made ends it at once: `Err` with its kind), else the send
    /// and the first read. Returns the entries to submit, linked where they must be.
    pub fn start(
        &mut self,
        slot: usize,
        begun: Begun,
        addr: &SockAddr,
        deadline: Instant,
        out: &mut Vec<squeue::Entry>,
    ) -> Result<(), ErrorKind> {
        self.error = None;
        self.response = None;
        self.timed_out = false;
        self.deadline = deadline;
        self.begun = Some(begun);
        match self.fd() {
            Some(_) => self.exchange_entries(slot, out),
            None => {
                let sock = Socket::new(addr.domain(), Type::STREAM, Some(Protocol::TCP))
                    .map_err(|e| classify::connect_io(&e))?;
                let _ = sock.set_tcp_nodelay(true);
                let fd = types::Fd(sock.as_raw_fd());
                self.socket = Some(sock.into());
                self.phase = Phase::Connecting;
                self.ops = 1;
                out.push(
                    opcode::Connect::new(fd, addr.as_ptr().cast(), addr.len())
                        .build()
                        .user_data(tag(slot, Op::Connect)),
                );
            }
        }
        Ok(())
    }

    /// The send of the request (its `traceparent` rewritten) linked to the first read.
    fn exchange_entries(&mut self, slot: usize, out: &mut Vec<squeue::Entry>) {
        let fd = self.connected();
        let begun = self.begun.as_ref().expect("a request in flight");
        let request = self.template.with_trace(&begun.trace);
        out.push(
            opcode::Send::new(fd, request.as_ptr(), request.len() as u32)
                .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(tag(slot, Op::Send)),
        );
        self.exchange.begin(self.template.is_head());
        // The response cannot be there yet: wait for it before the first read, rather
        // than try one that fails and then wait.
        out.push(self.recv_entry(slot, RECVSEND_POLL_FIRST));
        self.phase = Phase::Exchanging;
        self.ops = 2;
    }

    fn recv_entry(&mut self, slot: usize, ioprio: u16) -> squeue::Entry {
        let fd = self.connected();
        let spare = self.exchange.spare();
        opcode::Recv::new(fd, spare.as_mut_ptr(), spare.len() as u32)
            .ioprio(ioprio)
            .build()
            .user_data(tag(slot, Op::Recv))
    }

    /// Its deadline passed: cancel whatever the kernel holds of it. The request ends as
    /// a timeout when the cancelled operations complete.
    pub fn cancel(&mut self, slot: usize, out: &mut Vec<squeue::Entry>) {
        let Some(fd) = self.fd() else { return };
        if self.timed_out || self.ops == 0 {
            return;
        }
        self.timed_out = true;
        self.ops += 1;
        out.push(
            opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
                .build()
                .user_data(tag(slot, Op::Cancel)),
        );
    }

    /// One of its operations completed with `res`; more entries to submit go to `out`.
    /// True when the request has ended (see [`Self::outcome`]).
    pub fn complete(
        &mut self,
        slot: usize,
        op: Op,
        res: i32,
        request_deadline: impl FnOnce() -> Instant,
        out: &mut Vec<squeue::Entry>,
    ) -> bool {
        self.ops = self.ops.saturating_sub(1);
        match op {
            Op::Cancel => {}
            Op::Connect if res < 0 => {
                self.fail(if self.timed_out {
                    ErrorKind::ConnectTimeout
                } else {
                    classify::connect_io(&std::io::Error::from_raw_os_error(-res))
                });
            }
            Op::Connect if self.timed_out => self.fail(ErrorKind::ConnectTimeout),
            Op::Connect => {
                // The request timeout runs from the end of the connect, as on the tokio path.
                self.deadline = request_deadline();
                self.exchange_entries(slot, out);
            }
            Op::Send if res < 0 => self.fail_errno(-res),
            Op::Send => {}
            Op::Recv if self.error.is_some() || self.response.is_some() => {}
            Op::Recv if res < 0 => self.fail_errno(-res),
            Op::Recv => match self.exchange.filled(res as usize) {
                Ok(Some(r)) => self.response = Some(r),
                Ok(None) if self.timed_out => self.fail(ErrorKind::RequestTimeout),
                Ok(None) => {
                    self.ops += 1;
                    out.push(self.recv_entry(slot, 0));
                }
                Err(e) => self.fail(classify::exchange_error(&e)),
            },
        }
        self.ops == 0 && self.phase != Phase::Idle
    }

    fn fail_errno(&mut self, errno: i32) {
        self.fail(if self.timed_out {
            ErrorKind::RequestTimeout
        } else {
            classify::request_errno(errno)
        });
    }

    fn fail(&mut self, kind: ErrorKind) {
        self.error.get_or_insert(kind);
    }

    /// The ended request's outcome; the connection is kept only when the response
    /// leaves it reusable. The slot is idle afterwards.
    pub fn outcome(&mut self, now: Instant) -> (Begun, Outcome) {
        let out = match (self.error, self.response) {
            (Some(kind), _) => Outcome::err(kind),
            (None, Some(r)) => Outcome {
                status: r.status,
                error: ErrorKind::None,
            },
            (None, None) => Outcome::err(ErrorKind::Other),
        };
        if self.error.is_some() || !self.response.is_some_and(|r| r.keep_alive) {
            self.socket = None;
        }
        self.phase = Phase::Idle;
        self.idle_since = now;
        (self.begun.take().expect("a request in flight"), out)
    }

    /// Fail a request that could not start (no socket could be made).
    pub fn fail_start(&mut self, kind: ErrorKind) {
        self.error = Some(kind);
        self.phase = Phase::Connecting;
    }
}
