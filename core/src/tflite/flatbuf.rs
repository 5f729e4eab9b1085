//! A minimal, bounds-checked FlatBuffers reader: tables, vectors of scalars,
//! vectors of tables, strings. Every offset read from the buffer is checked
//! against its length; nothing is trusted.

#![deny(clippy::indexing_slicing)]

use super::TfliteError;

/// A table inside a buffer.
#[derive(Clone, Copy)]
pub(crate) struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vlen: usize,
}

/// `N` bytes at `at`, or an error naming why they are not there.
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], TfliteError> {
    let end = at
        .checked_add(N)
        .ok_or(TfliteError::Malformed("offset overflow"))?;
    let s = b
        .get(at..end)
        .ok_or(TfliteError::Malformed("read past the end"))?;
    Ok(crate::quant::file::le(s))
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, TfliteError> {
    bytes_at(b, at).map(u16::from_le_bytes)
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Result<u32, TfliteError> {
    bytes_at(b, at).map(u32::from_le_bytes)
}

fn follow(b: &[u8], at: usize) -> Result<usize, TfliteError> {
    let off = u32_at(b, at)? as usize;
    let target = at
        .checked_add(off)
        .ok_or(TfliteError::Malformed("offset overflow"))?;
    if target >= b.len() {
        return Err(TfliteError::Malformed("offset out of range"));
    }
    Ok(target)
}

impl<'a> Table<'a> {
    /// The root table of a buffer.
    pub(crate) fn root(buf: &'a [u8]) -> Result<Self, TfliteError> {
        let pos = follow(buf, 0)?;
        Self::at(buf, pos)
    }

    fn at(buf: &'a [u8], pos: usize) -> Result<Self, TfliteError> {
        let soff = u32_at(buf, pos)? as i32;
        let vtable = (pos as i64)
            .checked_sub(i64::from(soff))
            .filter(|&v| v >= 0)
            .ok_or(TfliteError::Malformed("vtable offset"))? as usize;
        let vlen = u16_at(buf, vtable)? as usize;
        if vlen < 4 || !vlen.is_multiple_of(2) || vtable + vlen > buf.len() {
            return Err(TfliteError::Malformed("vtable size"));
        }
        Ok(Table {
            buf,
            pos,
            vtable,
            vlen,
        })
    }

    /// Absolute position of field `id`, if present.
    fn field(&self, id: usize) -> Result<Option<usize>, TfliteError> {
        let slot = 4 + 2 * id;
        if slot + 2 > self.vlen {
            return Ok(None);
        }
        let off = u16_at(self.buf, self.vtable + slot)? as usize;
        if off == 0 {
            return Ok(None);
        }
        Ok(Some(self.pos + off))
    }

    pub(crate) fn u8_or(&self, id: usize, default: u8) -> Result<u8, TfliteError> {
        match self.field(id)? {
            Some(p) => self
                .buf
                .get(p)
                .copied()
                .ok_or(TfliteError::Malformed("read past the end")),
            None => Ok(default),
        }
    }

    pub(crate) fn i32_or(&self, id: usize, default: i32) -> Result<i32, TfliteError> {
        match self.field(id)? {
            Some(p) => Ok(u32_at(self.buf, p)? as i32),
            None => Ok(default),
        }
    }

    pub(crate) fn f32_or(&self, id: usize, default: f32) -> Result<f32, TfliteError> {
        match self.field(id)? {
            Some(p) => Ok(f32::from_bits(u32_at(self.buf, p)?)),
            None => Ok(default),
        }
    }

    /// Sub-table at field `id`.
    pub(crate) fn table(&self, id: usize) -> Result<Option<Table<'a>>, TfliteError> {
        match self.field(id)? {
            Some(p) => Ok(Some(Table::at(self.buf, follow(self.buf, p)?)?)),
            None => Ok(None),
        }
    }

    /// Vector at field `id`: (start of elements, count), bounds-checked for
    /// `elem` bytes per element.
    fn vector(&self, id: usize, elem: usize) -> Result<Option<(usize, usize)>, TfliteError> {
        let Some(p) = self.field(id)? else {
            return Ok(None);
        };
        let v = follow(self.buf, p)?;
        let n = u32_at(self.buf, v)? as usize;
        let start = v + 4;
        let bytes = n
            .checked_mul(elem)
            .ok_or(TfliteError::Malformed("vector size"))?;
        if start.checked_add(bytes).is_none_or(|e| e > self.buf.len()) {
            return Err(TfliteError::Malformed("vector past the end"));
        }
        Ok(Some((start, n)))
    }

    /// Bytes of a `[ubyte]` field.
    pub(crate) fn bytes(&self, id: usize) -> Result<&'a [u8], TfliteError> {
        match self.vector(id, 1)? {
            Some((s, n)) => self
                .buf
                .get(s..s + n)
                .ok_or(TfliteError::Malformed("vector past the end")),
            None => Ok(&[]),
        }
    }

    /// A `[int]` field.
    pub(crate) fn i32s(&self, id: usize) -> Result<alloc::vec::Vec<i32>, TfliteError> {
        match self.vector(id, 4)? {
            Some((s, n)) => (0..n)
                .map(|i| u32_at(self.buf, s + 4 * i).map(|v| v as i32))
                .collect(),
            None => Ok(alloc::vec::Vec::new()),
        }
    }

    /// A `[float]` field.
    pub(crate) fn f32s(&self, id: usize) -> Result<alloc::vec::Vec<f32>, TfliteError> {
        match self.vector(id, 4)? {
            Some((s, n)) => (0..n)
                .map(|i| u32_at(self.buf, s + 4 * i).map(f32::from_bits))
                .collect(),
            None => Ok(alloc::vec::Vec::new()),
        }
    }

    /// A `[long]` field.
    pub(crate) fn i64s(&self, id: usize) -> Result<alloc::vec::Vec<i64>, TfliteError> {
        match self.vector(id, 8)? {
            Some((s, n)) => (0..n)
                .map(|i| {
                    let lo = u32_at(self.buf, s + 8 * i)? as u64;
                    let hi = u32_at(self.buf, s + 8 * i + 4)? as u64;
                    Ok((lo | (hi << 32)) as i64)
                })
                .collect(),
            None => Ok(alloc::vec::Vec::new()),
        }
    }

    /// A vector of tables at field `id`.
    pub(crate) fn tables(&self, id: usize) -> Result<alloc::vec::Vec<Table<'a>>, TfliteError> {
        match self.vector(id, 4)? {
            Some((s, n)) => (0..n)
                .map(|i| Table::at(self.buf, follow(self.buf, s + 4 * i)?))
                .collect(),
            None => Ok(alloc::vec::Vec::new()),
        }
    }
}
