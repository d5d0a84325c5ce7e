//! Paths built in a stack buffer (no allocation): `DIR/NAME`.

use vigild_engine::fixed::SliceWriter;

/// A path built in a stack buffer.
pub struct PathBuf {
    buf: [u8; 512],
    len: usize,
}

impl PathBuf {
    /// `dir/name`; `None` if it is longer than the buffer.
    pub fn join(dir: &[u8], name: core::fmt::Arguments<'_>) -> Option<PathBuf> {
        let mut p = PathBuf {
            buf: [0; 512],
            len: 0,
        };
        let mut w = SliceWriter::new(&mut p.buf);
        w.push(dir).ok()?;
        core::fmt::Write::write_fmt(&mut w, format_args!("/{name}")).ok()?;
        p.len = w.len();
        Some(p)
    }

    /// The path, without a NUL.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
