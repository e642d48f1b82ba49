//! Test support shared by wsmachine's tests, benchmarks and fuzzers.
//!
//! - [`frame`] / [`append_frame`]: the reference frame encoder (RFC 6455
//!   §5.2, §5.3), written byte by byte and independent of the crate it
//!   checks, so a test of the decoder does not share the encoder's bugs.
//! - [`noise`]: incompressible bytes, the same for the same seed.
//! - [`Counting`]: a global allocator that counts, for the tests that
//!   prove "no allocation per message" and measure memory per connection.
//!
//! Not published; `wsmachine` does not depend on it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// A frame: first byte as given (FIN, RSV, opcode), the shortest length
/// form, and the payload masked with `key` if one is given (a client's
/// frame).
pub fn frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    append_frame(&mut out, b0, payload, key);
    out
}

/// [`frame`], appended to `out`.
pub fn append_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8], key: Option<[u8; 4]>) {
    out.push(b0);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Heap bytes live now, on all threads.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// A global allocator that forwards to the system allocator and counts:
/// the allocations (and reallocations) the current thread makes inside
/// [`allocations`], and the heap bytes live at any moment ([`live_bytes`]).
/// A test binary installs it with
/// `#[global_allocator] static A: wsmachine_testkit::Counting = wsmachine_testkit::Counting;`.
pub struct Counting;

fn note() {
    // `try_with`: the thread-locals may be gone while a thread exits.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// bookkeeping touches only an atomic and const-initialised thread-locals,
// which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The allocations (and reallocations) `f` makes on this thread, with
/// [`Counting`] installed as the global allocator (0 without it).
pub fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// Heap bytes live now, on all threads, with [`Counting`] installed.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// `len` bytes that do not compress (xorshift32 from `seed`): the same
/// seed gives the same bytes.
pub fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7's examples, byte for byte.
    #[test]
    fn rfc6455_5_7_examples() {
        assert_eq!(frame(0x81, b"Hello", None), b"\x81\x05\x48\x65\x6c\x6c\x6f");
        assert_eq!(
            frame(0x81, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d])),
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
        );
        assert_eq!(&frame(0x82, &[0; 256], None)[..4], b"\x82\x7e\x01\x00");
        assert_eq!(&frame(0x82, &[0; 65536], None)[..10], b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00");
    }
}
