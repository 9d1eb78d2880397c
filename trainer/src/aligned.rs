//! `f64` buffers that start on a cache line. The trainer's kernels load four
//! doubles at a time; from a `Vec<f64>` (16-byte aligned by the allocator)
//! half of those loads can straddle two cache lines, and the run's speed
//! then depended on where the allocator happened to put W1: 10.1 or 11.1 ms
//! for the same three epochs at hidden 1000, from one run to the next.

use std::ops::{Deref, DerefMut};

/// One cache line of doubles; the unit of allocation.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Line([f64; 8]);

/// A fixed-length run of `f64` starting on a 64-byte boundary; reads and
/// writes as a slice.
#[derive(Clone)]
pub struct AlignedF64 {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedF64 {
    /// `len` zeros.
    pub fn zeros(len: usize) -> AlignedF64 {
        AlignedF64 { lines: vec![Line([0.0; 8]); len.div_ceil(8)], len }
    }
}

impl From<&[f64]> for AlignedF64 {
    fn from(values: &[f64]) -> AlignedF64 {
        let mut a = AlignedF64::zeros(values.len());
        a.copy_from_slice(values);
        a
    }
}

impl Deref for AlignedF64 {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        // SAFETY: `Line` is `repr(C)` around `[f64; 8]` with no padding (64
        // bytes, align 64), so `lines` is `8 * lines.len() >= len`
        // contiguous, initialized doubles, borrowed for as long as `self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f64>(), self.len) }
    }
}

impl DerefMut for AlignedF64 {
    fn deref_mut(&mut self) -> &mut [f64] {
        // SAFETY: as in `deref`, borrowed mutably for as long as `self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f64>(), self.len) }
    }
}

impl AlignedF64 {
    /// The values.
    pub fn as_slice(&self) -> &[f64] {
        self
    }

    /// The values, to change.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        self
    }
}

impl<'a> IntoIterator for &'a AlignedF64 {
    type Item = &'a f64;
    type IntoIter = std::slice::Iter<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut AlignedF64 {
    type Item = &'a mut f64;
    type IntoIter = std::slice::IterMut<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl PartialEq for AlignedF64 {
    fn eq(&self, other: &AlignedF64) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for AlignedF64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_holds_exactly_its_values() {
        for len in [0, 1, 7, 8, 9, 500, 20_001] {
            let values: Vec<f64> = (0..len).map(|i| i as f64 - 0.5).collect();
            let mut a = AlignedF64::from(&values[..]);
            assert_eq!(a.as_ptr() as usize % 64, 0, "len {len}");
            assert_eq!(&a[..], &values[..]);
            if len > 0 {
                a[len - 1] = 42.0;
                assert_eq!(a[len - 1], 42.0);
                assert_ne!(a, AlignedF64::from(&values[..]));
            }
            assert_eq!(AlignedF64::zeros(len).iter().filter(|&&v| v == 0.0).count(), len);
        }
    }
}
