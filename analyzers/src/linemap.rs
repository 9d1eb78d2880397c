//! `LineMap`: line number -> `u32`, the lookup every line-cache request
//! makes, so it decides the simulators' speed.
//!
//! Line numbers come from [`crate::linecache::LineLayout`], which packs
//! buffers from address 0 upward: they are dense and small. Below
//! [`FLAT_LINES`] they index one flat table, grown to the highest line
//! stored (one bounds check, one load: 4 bytes per line of the layout, at
//! most 16 MiB); below [`DIRECT_LINES`], a table of pages of [`PAGE`]
//! entries, each allocated the first time one of its lines is stored; above
//! (buffers declared absurdly large), a hash map. So memory follows the
//! lines stored, never the address range.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const PAGE_BITS: u32 = 12;
/// Lines per page (16 KiB of `u32`).
pub const PAGE: usize = 1 << PAGE_BITS;
/// Lines below this are looked up directly (the first 64 GiB of the layout
/// at 64-byte lines); the page directory is at most 2 MiB.
pub const DIRECT_LINES: u64 = 1 << 30;
/// Lines below this live in the flat table (256 MiB of layout at 64-byte lines).
pub const FLAT_LINES: u64 = 1 << 22;
const ABSENT: u32 = u32::MAX;

/// A multiply-rotate hash (the Fx hash of rustc) for the far lines: line
/// numbers are not attacker-chosen keys worth SipHash's cost.
#[derive(Default, Clone, Copy)]
pub struct LineHasher(u64);

impl Hasher for LineHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map keyed by line numbers with [`LineHasher`].
pub type LineHashMap<V> = HashMap<u64, V, BuildHasherDefault<LineHasher>>;

/// A map from line numbers to `u32` values other than `u32::MAX`.
#[derive(Default)]
pub struct LineMap {
    flat: Vec<u32>,
    pages: Vec<Option<Box<[u32]>>>,
    far: LineHashMap<u32>,
    len: usize,
}

impl LineMap {
    /// An empty map.
    pub fn new() -> LineMap {
        LineMap::default()
    }

    /// The value of `line`, if stored.
    #[inline(always)]
    pub fn get(&self, line: u64) -> Option<u32> {
        if let Some(&v) = self.flat.get(line as usize) {
            return (v != ABSENT).then_some(v);
        }
        if line < FLAT_LINES {
            None
        } else if line < DIRECT_LINES {
            let v = self.pages.get((line >> PAGE_BITS) as usize)?.as_ref()?[line as usize & (PAGE - 1)];
            (v != ABSENT).then_some(v)
        } else {
            self.far.get(&line).copied()
        }
    }

    /// Stores `value` (which must not be `u32::MAX`) for `line`.
    #[inline(always)]
    pub fn insert(&mut self, line: u64, value: u32) {
        debug_assert!(value != ABSENT);
        if line < FLAT_LINES {
            let i = line as usize;
            if i >= self.flat.len() {
                self.grow_flat(i);
            }
            let slot = &mut self.flat[i];
            self.len += (*slot == ABSENT) as usize;
            *slot = value;
        } else if line < DIRECT_LINES {
            let p = (line >> PAGE_BITS) as usize;
            if p >= self.pages.len() {
                self.pages.resize_with(p + 1, || None);
            }
            let page = self.pages[p].get_or_insert_with(|| vec![ABSENT; PAGE].into_boxed_slice());
            let slot = &mut page[line as usize & (PAGE - 1)];
            self.len += (*slot == ABSENT) as usize;
            *slot = value;
        } else if self.far.insert(line, value).is_none() {
            self.len += 1;
        }
    }

    /// Moves `value` from `from`, which holds it, to `to`, which holds
    /// nothing (a cache's victim and the line that takes its place): for
    /// near lines two stores, the length as it was.
    #[inline(always)]
    pub fn relocate(&mut self, from: u64, to: u64, value: u32) {
        let near = self.flat.len() as u64;
        if from < near && to < near {
            debug_assert!(self.flat[to as usize] == ABSENT && self.flat[from as usize] == value);
            self.flat[from as usize] = ABSENT;
            self.flat[to as usize] = value;
        } else {
            self.remove(from);
            self.insert(to, value);
        }
    }

    /// [`LineMap::relocate`] of the lines `from..from + n` to `to..to + n`,
    /// values `value..value + n` in order: two fills of the flat table
    /// when both ranges are in it.
    #[inline]
    pub fn relocate_range(&mut self, from: u64, to: u64, n: usize, value: u32) {
        let near = self.flat.len() as u64;
        if from.saturating_add(n as u64) <= near && to.saturating_add(n as u64) <= near {
            let (from, to) = (from as usize, to as usize);
            self.flat[from..from + n].fill(ABSENT);
            for (slot, v) in self.flat[to..to + n].iter_mut().zip(value..) {
                *slot = v;
            }
        } else {
            for (i, v) in (0..n as u64).zip(value..) {
                self.relocate(from + i, to + i, v);
            }
        }
    }

    /// Removes `line`, returning its value.
    #[inline(always)]
    pub fn remove(&mut self, line: u64) -> Option<u32> {
        let old = if line < FLAT_LINES {
            let v = std::mem::replace(self.flat.get_mut(line as usize)?, ABSENT);
            (v != ABSENT).then_some(v)
        } else if line < DIRECT_LINES {
            let page = self.pages.get_mut((line >> PAGE_BITS) as usize)?.as_mut()?;
            let v = std::mem::replace(&mut page[line as usize & (PAGE - 1)], ABSENT);
            (v != ABSENT).then_some(v)
        } else {
            self.far.remove(&line)
        };
        self.len -= old.is_some() as usize;
        old
    }

    /// How many lines from `first` on, up to `last`, are absent: counted
    /// in the flat table only (0 for a line above it), a scan of
    /// consecutive slots that tests a run of requests at once.
    #[inline(always)]
    pub fn absent_from(&self, first: u64, last: u64) -> u64 {
        match self.flat.get(first as usize) {
            // A line stored: the common case of a hit, told at once.
            Some(&v) if v == ABSENT => self.absent_in_flat(first as usize, last.min(usize::MAX as u64) as usize),
            _ => 0,
        }
    }

    /// [`LineMap::absent_from`] for a line of the flat table: sixteen slots
    /// at a time, without a branch per slot.
    fn absent_in_flat(&self, first: usize, last: usize) -> u64 {
        let slots = &self.flat[first..=last.min(self.flat.len() - 1)];
        let mut chunks = slots.chunks_exact(16);
        let mut k = 0;
        for c in chunks.by_ref() {
            let stored = c.iter().enumerate().fold(0u32, |m, (i, &v)| m | (u32::from(v != ABSENT) << i));
            if stored != 0 {
                return (k + stored.trailing_zeros() as usize) as u64;
            }
            k += 16;
        }
        (k + chunks.remainder().iter().take_while(|&&v| v == ABSENT).count()) as u64
    }

    #[cold]
    fn grow_flat(&mut self, i: usize) {
        let want = (i + 1).max(self.flat.len() * 2).max(1024).min(FLAT_LINES as usize);
        self.flat.resize(want, ABSENT);
    }

    /// Every stored `(line, value)`, near lines in ascending order first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let flat = self.flat.iter().enumerate().filter(|(_, &v)| v != ABSENT).map(|(i, &v)| (i as u64, v));
        let near = self.pages.iter().enumerate().filter_map(|(p, page)| page.as_ref().map(|pg| (p, pg))).flat_map(
            |(p, pg)| {
                pg.iter()
                    .enumerate()
                    .filter(|(_, &v)| v != ABSENT)
                    .map(move |(i, &v)| (((p as u64) << PAGE_BITS) | i as u64, v))
            },
        );
        flat.chain(near).chain(self.far.iter().map(|(&l, &v)| (l, v)))
    }

    /// Lines stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no line is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A set of line numbers: a bitset below [`FLAT_LINES`] (grown to the
/// highest line stored, at most 512 KiB), a hash set above. Keeps no count,
/// so inserting and removing touch one word and nothing else: the dirty
/// lines of a cache, updated on most requests.
#[derive(Default)]
pub struct LineSet {
    bits: Vec<u64>,
    far: std::collections::HashSet<u64, BuildHasherDefault<LineHasher>>,
}

impl LineSet {
    /// Adds `line`.
    #[inline(always)]
    pub fn insert(&mut self, line: u64) {
        if line >= FLAT_LINES {
            self.far.insert(line);
            return;
        }
        let w = (line / 64) as usize;
        if w >= self.bits.len() {
            self.grow(w);
        }
        self.bits[w] |= 1 << (line % 64);
    }

    /// Removes `line`; whether it was there.
    #[inline(always)]
    pub fn remove(&mut self, line: u64) -> bool {
        match self.bits.get_mut((line / 64) as usize) {
            Some(word) => {
                let bit = 1u64 << (line % 64);
                let was = *word & bit != 0;
                *word &= !bit;
                was
            }
            None => line >= FLAT_LINES && self.far.remove(&line),
        }
    }

    /// Removes the lines of `mask` in word `w` of the bitset (lines
    /// `64 * w..64 * w + 64`, below [`FLAT_LINES`]); which of them were
    /// there. One read and one write for up to 64 lines.
    #[inline(always)]
    pub fn remove_word(&mut self, w: usize, mask: u64) -> u64 {
        debug_assert!(((w as u64) + 1) * 64 <= FLAT_LINES);
        match self.bits.get_mut(w) {
            Some(word) => {
                let was = *word & mask;
                *word &= !mask;
                was
            }
            None => 0,
        }
    }

    /// Adds lines `first..first + n`, a word at a time below [`FLAT_LINES`].
    #[inline]
    pub fn insert_range(&mut self, first: u64, n: u64) {
        if n == 0 {
            return;
        }
        let last = first + (n - 1);
        if last >= FLAT_LINES {
            (first..=last).for_each(|l| self.insert(l));
            return;
        }
        let w1 = (last / 64) as usize;
        if w1 >= self.bits.len() {
            self.grow(w1);
        }
        for (w, mask) in words_of(first, n) {
            self.bits[w as usize] |= mask;
        }
    }

    #[cold]
    fn grow(&mut self, w: usize) {
        self.bits.resize((w + 1).next_power_of_two().max(64), 0);
    }
}

/// Bits `from..to` of a word (`from < 64`, `from <= to <= 64`).
#[inline(always)]
pub(crate) fn bits(from: usize, to: usize) -> u64 {
    let below_to = if to >= 64 { !0 } else { (1u64 << to) - 1 };
    below_to & !((1u64 << from) - 1)
}

/// Lines `first..first + n` (`n > 0`) as words of a bitset: `(w, mask)`,
/// the lines `64 * w + b` for the bits `b` of `mask`.
pub(crate) fn words_of(first: u64, n: u64) -> impl Iterator<Item = (u64, u64)> {
    let last = first + (n - 1);
    let (w0, w1) = (first / 64, last / 64);
    (w0..=w1).map(move |w| {
        let from = if w == w0 { first % 64 } else { 0 };
        let to = if w == w1 { last % 64 + 1 } else { 64 };
        (w, bits(from as usize, to as usize))
    })
}

/// A map from line numbers to `u64`: a [`LineMap`] to a slot of a vector,
/// so a lookup costs what [`LineMap`]'s does (no hashing for the dense
/// line numbers of a layout), and memory follows the lines stored.
#[derive(Default)]
pub struct LineValues {
    slots: LineMap,
    values: Vec<u64>,
    free: Vec<u32>,
}

impl LineValues {
    /// The value of `line`, if stored.
    #[inline(always)]
    pub fn get(&self, line: u64) -> Option<u64> {
        self.slots.get(line).map(|i| self.values[i as usize])
    }

    /// The value of `line`, to change, if stored.
    #[inline(always)]
    pub fn get_mut(&mut self, line: u64) -> Option<&mut u64> {
        self.slots.get(line).map(|i| &mut self.values[i as usize])
    }

    /// Stores `value` for `line`; returns the value it replaces.
    #[inline(always)]
    pub fn insert(&mut self, line: u64, value: u64) -> Option<u64> {
        if let Some(v) = self.get_mut(line) {
            return Some(std::mem::replace(v, value));
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.values[i as usize] = value;
                i
            }
            None => {
                // u32::MAX lines would need over 100 GB: memory runs out first.
                self.values.push(value);
                (self.values.len() - 1) as u32
            }
        };
        self.slots.insert(line, i);
        None
    }

    /// Removes `line`, returning its value.
    #[inline(always)]
    pub fn remove(&mut self, line: u64) -> Option<u64> {
        let i = self.slots.remove(line)?;
        self.free.push(i);
        Some(self.values[i as usize])
    }

    /// Lines stored.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no line is stored.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every stored `(line, value)`, in [`LineMap::iter`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots.iter().map(|(line, i)| (line, self.values[i as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 200,000 pseudo-random `(line, value, x)`: mostly dense lines, some
    /// beyond the direct range, a few at the extremes.
    fn ops() -> impl Iterator<Item = (u64, u32, u64)> {
        let mut x = 0x1234_5678_9abc_def1u64;
        (0..200_000u32).map(move |k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let line = match x % 10 {
                0 => DIRECT_LINES + (x >> 40),
                3 => FLAT_LINES + (x >> 44),
                4 => FLAT_LINES - 1 - (x >> 60),
                1 => u64::MAX - (x >> 60),
                2 => DIRECT_LINES - 1 - (x >> 58),
                _ => (x >> 20) % 50_000,
            };
            (line, k % 1000, x)
        })
    }

    #[test]
    fn line_sets_behave_like_a_hash_set() {
        let mut m = LineSet::default();
        let mut model = std::collections::HashSet::new();
        for (line, _, x) in ops() {
            if x.is_multiple_of(3) {
                assert_eq!(m.remove(line), model.remove(&line), "{line}");
            } else {
                m.insert(line);
                model.insert(line);
            }
        }
        for line in model.clone() {
            assert!(m.remove(line));
        }
        assert!(ops().all(|(line, _, _)| !m.remove(line)));
    }

    #[test]
    fn line_values_behave_like_a_hash_map() {
        let mut m = LineValues::default();
        let mut model: HashMap<u64, u64> = HashMap::new();
        for (line, v, x) in ops() {
            let v = (v as u64) << 40 | x >> 40;
            if x.is_multiple_of(3) {
                assert_eq!(m.remove(line), model.remove(&line));
            } else {
                assert_eq!(m.insert(line, v), model.insert(line, v));
            }
            assert_eq!(m.get(line), model.get(&line).copied());
            assert_eq!(m.len(), model.len());
        }
        let mut all: Vec<(u64, u64)> = m.iter().collect();
        let mut want: Vec<(u64, u64)> = model.into_iter().collect();
        all.sort_unstable();
        want.sort_unstable();
        assert_eq!(all, want);
    }

    #[test]
    fn behaves_like_a_hash_map_near_and_far() {
        let mut m = LineMap::new();
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut last = None;
        for (line, v, x) in ops() {
            if x.is_multiple_of(3) {
                assert_eq!(m.remove(line), model.remove(&line));
            } else if x % 3 == 1 && !model.contains_key(&line) && last.is_some_and(|l| model.contains_key(&l)) {
                // A victim's value moves to a line that missed.
                let from = last.unwrap_or_default();
                let value = model.remove(&from).unwrap_or_default();
                m.relocate(from, line, value);
                model.insert(line, value);
                assert_eq!(m.get(from), None);
            } else {
                m.insert(line, v);
                model.insert(line, v);
            }
            assert_eq!(m.get(line), model.get(&line).copied());
            assert_eq!(m.len(), model.len());
            last = Some(line);
        }
        for (&l, &v) in &model {
            assert_eq!(m.get(l), Some(v));
        }
        let mut all: Vec<(u64, u32)> = m.iter().collect();
        let mut want: Vec<(u64, u32)> = model.into_iter().collect();
        all.sort_unstable();
        want.sort_unstable();
        assert_eq!(all, want);
    }
}
