//! The ring: its setup, the encoding of a completion's owner, and the wait.

use io_uring::{IoUring, squeue};
use std::io;
use std::time::Duration;

/// What a completion finished, in the low bits of its user data; the slot is above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The TCP connect.
    Connect = 1,
    /// The request's send.
    Send = 2,
    /// A read of the response.
    Recv = 3,
    /// A cancel of the slot's operations (its request timed out, or the run ended).
    Cancel = 4,
}

const OP_BITS: u32 = 3;

/// The user data of `op` for slot `slot`.
pub fn tag(slot: usize, op: Op) -> u64 {
    ((slot as u64) << OP_BITS) | op as u64
}

/// The slot and op of a completion's user data.
pub fn untag(data: u64) -> (usize, Option<Op>) {
    let op = match data & ((1 << OP_BITS) - 1) {
        1 => Some(Op::Connect),
        2 => Some(Op::Send),
        3 => Some(Op::Recv),
        4 => Some(Op::Cancel),
        _ => None,
    };
    ((data >> OP_BITS) as usize, op)
}

/// A ring for `slots` connections, each with at most three operations in flight; its
/// completion work runs only when this thread enters the kernel. Fails where the kernel
/// (before 6.1) or a seccomp profile refuses it.
pub fn build(slots: usize) -> io::Result<IoUring> {
    let entries = (slots * 2 + 8).next_power_of_two().min(4096) as u32;
    let cq = (slots * 4 + 16)
        .next_power_of_two()
        .clamp(2 * entries as usize, 65536);
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(cq as u32)
        .build(entries)
}

/// Whether io_uring, with the setup [`build`] asks for, is usable here.
pub fn available() -> io::Result<()> {
    build(1).map(drop)
}

/// Queue `entries` together (a linked pair stays in one submission), submitting what is
/// queued first when they do not fit.
///
/// # Safety
/// Every buffer and address the entries point to stays valid until their completions.
pub unsafe fn push(ring: &mut IoUring, entries: &[squeue::Entry]) -> io::Result<()> {
    let free = {
        let sq = ring.submission();
        sq.capacity() - sq.len()
    };
    if free < entries.len() {
        ring.submit()?;
    }
    let mut sq = ring.submission();
    for e in entries {
        // SAFETY: the caller keeps what `e` points to alive; room was made above.
        unsafe { sq.push(e) }.map_err(|_| io::Error::other("submission queue full"))?;
    }
    Ok(())
}

/// Submit what is queued and wait up to `timeout` for at least one completion. A wait that
/// ends by its timeout, a signal or a full completion queue is not an error.
pub fn submit_and_wait(ring: &IoUring, timeout: Duration) -> io::Result<()> {
    let ts = io_uring::types::Timespec::from(timeout);
    let args = io_uring::types::SubmitArgs::new().timespec(&ts);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_gives_back_its_slot_and_op() {
        for op in [Op::Connect, Op::Send, Op::Recv, Op::Cancel] {
            for slot in [0, 1, 7, 65_535, usize::MAX >> OP_BITS] {
                assert_eq!(untag(tag(slot, op)), (slot, Some(op)));
            }
        }
        assert_eq!(untag(0).1, None);
    }
}
