//! A cursor over the fuzzer's bytes: fixed-size fields and length-prefixed parts.
//! Reading past the end gives zeros and empty parts, so every input is usable.

/// The fuzzer's bytes, consumed from the front.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// The next `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// The next byte, 0 at the end.
    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// The next little-endian u16, zero-padded at the end.
    pub fn u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let t = self.take(2);
        b[..t.len()].copy_from_slice(t);
        u16::from_le_bytes(b)
    }

    /// The next little-endian u32, zero-padded at the end.
    pub fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        let t = self.take(4);
        b[..t.len()].copy_from_slice(t);
        u32::from_le_bytes(b)
    }

    /// A part prefixed by its u16 length.
    pub fn part(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.take(n)
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// What is left.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// Appends a part as [`Input::part`] reads it (for the seed generator).
pub fn put_part(out: &mut Vec<u8>, part: &[u8]) {
    let n = u16::try_from(part.len()).expect("a part under 64 KiB");
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(part);
}

/// A reader that hands out at most `step` bytes per `read` (shared with the core
/// crate's tests).
#[path = "../../tests/common/trickle.rs"]
mod trickle;

pub use trickle::Trickle;
