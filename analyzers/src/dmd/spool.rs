//! `Spool`: what the first pass learns about each value (its last read and
//! read count), handed to the second pass in order of birth.
//!
//! Records are runs of values ([`ValueRecord`]): a range written at once
//! and read together retires as one record. The first pass learns a
//! value's last read only when its element is written again or the trace
//! ends, so records finish out of order. They are gathered in memory up to
//! [`RUN`] records, sorted by value number and spilled to an anonymous
//! temporary file when there are more; the second pass merges the sorted
//! spills. Memory stays bounded whatever the length of the trace; disk
//! takes 48 bytes per record.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Records sorted in memory before a run is spilled (48 MiB).
pub const RUN: usize = 1 << 20;

/// Values `id .. id + count` (each read at least once), value `j` born at
/// `birth + stride j` and last read at `last + stride j`, each read `reads` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRecord {
    /// Number of the first value, in order of birth (its first event).
    pub id: u64,
    /// Clock time of the first value's birth.
    pub birth: u64,
    /// Clock time of the first value's last read.
    pub last: u64,
    /// Reads of each value.
    pub reads: u64,
    /// Values in the record (at least 1).
    pub count: u64,
    /// How far births and last reads advance from one value to the next (0 or 1).
    pub stride: u64,
}

const RECORD: usize = 48;

impl ValueRecord {
    /// One value.
    pub fn one(id: u64, birth: u64, last: u64, reads: u64) -> ValueRecord {
        ValueRecord { id, birth, last, reads, count: 1, stride: 0 }
    }

    /// Adds `v` (one value) at the end if it continues the record.
    #[inline]
    pub fn extend(&mut self, v: &ValueRecord) -> bool {
        let stride = if self.count == 1 { v.birth.wrapping_sub(self.birth) } else { self.stride };
        let fits = v.id == self.id + self.count
            && v.reads == self.reads
            && stride <= 1
            && v.birth == self.birth + stride * self.count
            && v.last == self.last + stride * self.count;
        if fits {
            self.stride = stride;
            self.count += 1;
        }
        fits
    }

    /// Takes the first value off the record; false when it was the last.
    #[inline]
    pub fn advance(&mut self) -> bool {
        self.id += 1;
        self.birth += self.stride;
        self.last += self.stride;
        self.count -= 1;
        self.count > 0
    }

    fn encode(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        for (i, v) in [self.id, self.birth, self.last, self.reads, self.count, self.stride].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    fn decode(b: &[u8; RECORD]) -> ValueRecord {
        let w = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(a)
        };
        ValueRecord { id: w(0), birth: w(1), last: w(2), reads: w(3), count: w(4), stride: w(5) }
    }
}

/// Collects records in any order.
pub struct Spool {
    pending: Vec<ValueRecord>,
    runs: Vec<File>,
    run_len: usize,
}

impl Default for Spool {
    fn default() -> Self {
        Spool::with_run(RUN)
    }
}

impl Spool {
    /// A spool that spills every `run_len` records (tests use small runs).
    pub fn with_run(run_len: usize) -> Spool {
        Spool { pending: Vec::new(), runs: Vec::new(), run_len: run_len.max(1) }
    }

    /// Adds a record.
    #[inline]
    pub fn push(&mut self, r: ValueRecord) -> io::Result<()> {
        self.pending.push(r);
        if self.pending.len() >= self.run_len {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        self.pending.sort_unstable_by_key(|r| r.id);
        let mut file = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for r in &self.pending {
            file.write_all(&r.encode())?;
        }
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        self.pending.clear();
        Ok(())
    }

    /// The records in order of value number.
    pub fn into_sorted(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.pending.sort_unstable_by_key(|r| r.id);
            self.pending.reverse();
            return Ok(Sorted { memory: self.pending, runs: Vec::new(), heads: BinaryHeap::new() });
        }
        if !self.pending.is_empty() {
            self.spill()?;
        }
        let mut runs: Vec<BufReader<File>> =
            self.runs.into_iter().map(|f| BufReader::with_capacity(1 << 16, f)).collect();
        let mut heads = BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(r) = read_record(run)? {
                heads.push(Reverse(Head(r, i)));
            }
        }
        Ok(Sorted { memory: Vec::new(), runs, heads })
    }
}

fn read_record(run: &mut impl Read) -> io::Result<Option<ValueRecord>> {
    let mut b = [0u8; RECORD];
    match run.read_exact(&mut b) {
        Ok(()) => Ok(Some(ValueRecord::decode(&b))),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// A record at the head of a run, ordered by value number.
#[derive(PartialEq, Eq)]
struct Head(ValueRecord, usize);

impl Ord for Head {
    fn cmp(&self, o: &Head) -> std::cmp::Ordering {
        self.0.id.cmp(&o.0.id)
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The records of a [`Spool`], in order of value number.
pub struct Sorted {
    /// Without runs: every record, last first.
    memory: Vec<ValueRecord>,
    runs: Vec<BufReader<File>>,
    heads: BinaryHeap<Reverse<Head>>,
}

impl Sorted {
    /// The next record, without taking it.
    #[inline]
    pub fn peek(&self) -> Option<&ValueRecord> {
        match self.memory.last() {
            Some(r) => Some(r),
            None => self.heads.peek().map(|Reverse(Head(r, _))| r),
        }
    }

    /// Takes the next record.
    #[inline]
    pub fn next_record(&mut self) -> io::Result<Option<ValueRecord>> {
        if let Some(r) = self.memory.pop() {
            return Ok(Some(r));
        }
        let Some(Reverse(Head(r, i))) = self.heads.pop() else { return Ok(None) };
        if let Some(next) = read_record(&mut self.runs[i])? {
            self.heads.push(Reverse(Head(next, i)));
        }
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_from_memory_and_from_runs() {
        for run in [3, 1000] {
            let mut spool = Spool::with_run(run);
            let ids: Vec<u64> = (0..200u64).map(|i| (i * 37) % 200).collect();
            for &id in &ids {
                spool.push(ValueRecord::one(id, id * 2, id * 3, id + 1)).unwrap();
            }
            let mut sorted = spool.into_sorted().unwrap();
            for want in 0..200u64 {
                assert_eq!(sorted.peek().map(|r| r.id), Some(want));
                let r = sorted.next_record().unwrap().unwrap();
                assert_eq!(r, ValueRecord::one(want, want * 2, want * 3, want + 1));
            }
            assert!(sorted.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn records_extend_only_with_the_next_value_in_step() {
        let mut r = ValueRecord::one(10, 5, 9, 2);
        assert!(r.extend(&ValueRecord::one(11, 6, 10, 2)));
        assert!(r.extend(&ValueRecord::one(12, 7, 11, 2)));
        assert!(!r.extend(&ValueRecord::one(13, 8, 13, 2)), "last read out of step");
        assert!(!r.extend(&ValueRecord::one(13, 8, 12, 3)), "other read count");
        assert!(!r.extend(&ValueRecord::one(14, 8, 12, 2)), "a gap in value numbers");
        let mut same = ValueRecord::one(0, 4, 4, 1);
        assert!(same.extend(&ValueRecord::one(1, 4, 4, 1)), "stride 0: one step");
        assert!(!same.extend(&ValueRecord::one(2, 5, 5, 1)));
        assert_eq!((r.count, r.stride, same.count, same.stride), (3, 1, 2, 0));
        assert!(r.advance() && r.advance() && !r.advance());
    }
}
