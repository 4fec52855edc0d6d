//! A reader that cuts its bytes into small pieces: the core crate's tests and the
//! fuzz targets (`fuzz/src/input.rs` includes this file by path) read shards with it.

/// A reader that hands out at most `step` bytes per `read`, as a network stream
/// may: a stream cut at arbitrary places must read as the whole.
pub struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl<'a> Trickle<'a> {
    /// Reads `data`, `step` (at least 1) bytes at a time.
    pub fn new(data: &'a [u8], step: usize) -> Trickle<'a> {
        Trickle {
            data,
            step: step.max(1),
        }
    }
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
