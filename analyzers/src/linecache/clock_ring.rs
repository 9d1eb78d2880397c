//! CLOCK and FIFO of a cache that never loses a line but by eviction: the
//! hand going round an array ([`RingClock`]), the form `cache` replays.
//!
//! The same cache as libCacheSim's queue form (newest at the head, the
//! tail examined, a referenced tail moved to the head with its bit cleared,
//! the victim replaced by the new line at the head). Moving the tail to the
//! head is only the hand stepping forward, and the victim's place takes the
//! new line, so a full cache never reorders its lines: they sit in an array
//! in the order the hand meets them, with the reference bits beside them in
//! a bitset by position.
//!
//! The hand decides a word of 64 positions at a time. When it enters a
//! word, the lines ahead of it there that are referenced will be passed
//! (their bits cleared now), and the others, `pending`, are the next
//! victims, lowest first, unless a hit takes one out of `pending` first
//! (it would be referenced when the hand came, so passed). A miss is then
//! one `trailing_zeros` on `pending`, with no branch on whether a line is
//! referenced: walking a linked list, that branch mispredicted at every
//! referenced line and made CLOCK the slowest of the four simple policies.
//!
//! A training trace's requests come in long runs of consecutive lines, and
//! in a full cache a run of lines that are absent is all misses, whose
//! victims are the next ones the hand takes: consecutive positions (a
//! pending run of bits, for CLOCK), which hold consecutive lines when these
//! came in together. Such a stretch is taken at once
//! ([`Ring::misses_before_end`]): one scan finds the absent lines, and the
//! victims, the new lines and their map entries move as ranges, told to
//! the tally as a range ([`Seen::misses_evicting`]), whose dirty bits go a
//! word at a time; its victims are read before its positions take the new
//! lines, so none of them is one of its own. Stretches stop at the end of
//! the array, where one request wraps the hand; a hit, or a line too far
//! for the flat table, is one request too.
//!
//! Until the cache is full, the hand stays at 0 and a new line goes after
//! the others (just before the hand: examined last); the array grows by
//! doubling up to the capacity, so memory follows the lines stored, not the
//! capacity asked for.
//!
//! Taking a line out of the middle would move every line between it and
//! the hand, so this form has no `remove`: the first back-invalidation
//! (`energy`'s) turns the cache into the linked form of `clock.rs`
//! ([`RingClock::into_list`]), where it costs nothing.

use super::clock::ListClock;
use super::policy::{in_stretches, Access, Run, Seen, Stretches};
use crate::linemap::{bits, LineMap};

/// No word being swept.
const NO_WORD: usize = usize::MAX;

/// CLOCK when `SECOND_CHANCE`, FIFO when not.
pub(crate) struct RingClock<const SECOND_CHANCE: bool> {
    ring: Ring<SECOND_CHANCE>,
    hand: Hand,
}

/// The lines and their bits; the hand is kept apart, so that a request
/// can borrow both.
struct Ring<const SECOND_CHANCE: bool> {
    cap: usize,
    len: usize,
    /// The lines, in the order the hand meets them from position 0 (a full
    /// cache's from wherever the hand is, wrapping at the end); the
    /// positions after the first `len` are free.
    lines: Vec<u64>,
    /// Line -> position.
    map: LineMap,
    /// Reference bits by position (CLOCK only); in the word being swept,
    /// the positions ahead of the hand read clear (see [`Hand::pending`]).
    referenced: Vec<u64>,
}

/// Where the hand is.
#[derive(Clone, Copy)]
struct Hand {
    /// The position of the next line examined. While a word is swept it
    /// may be one past the end (the wrap is taken when the next word is).
    at: usize,
    /// The word the hand is sweeping (full cache only), or `NO_WORD`.
    word: usize,
    /// Its positions ahead of the hand that will be victims, in order; the
    /// others ahead of the hand were referenced (or hit since) and are passed.
    pending: u64,
}

impl Hand {
    /// At position 0, sweeping nothing.
    const START: Hand = Hand { at: 0, word: NO_WORD, pending: 0 };
}

/// How many of `lines` are `lines[0]`, `lines[0] + 1`, ... from the first:
/// eight at a time, without a branch per line.
#[inline(always)]
fn count_consecutive(lines: &[u64]) -> usize {
    let Some(&first) = lines.first() else { return 0 };
    let whole = lines
        .chunks_exact(8)
        .zip((first..).step_by(8))
        .take_while(|(c, at)| c.iter().zip(*at..).fold(true, |all, (&v, want)| all & (v == want)));
    let k = 8 * whole.count();
    k + lines[k..].iter().zip(first + k as u64..).take_while(|&(&v, want)| v == want).count()
}

impl<const SECOND_CHANCE: bool> Ring<SECOND_CHANCE> {
    /// The ring's `k`-th position from the hand at `hand` (`k < lines.len()`).
    #[inline(always)]
    fn at(&self, hand: usize, k: usize) -> usize {
        let p = hand + k;
        if p >= self.lines.len() {
            p - self.lines.len()
        } else {
            p
        }
    }

    /// A full cache's victim.
    #[inline(always)]
    fn victim(&mut self, hand: &mut Hand) -> usize {
        if !SECOND_CHANCE {
            return if hand.at == self.lines.len() { 0 } else { hand.at };
        }
        if hand.pending == 0 {
            self.next_word(hand, true);
        }
        self.take_pending(hand)
    }

    /// The next victims of a full cache up to the end of the array, as a
    /// position and how many consecutive positions from it are victims;
    /// `None` if the hand reaches the end first (what it passed on the way,
    /// passed). The hand is not moved past them: [`Ring::take`] does.
    #[inline(always)]
    fn victims_before_end(&mut self, hand: &mut Hand) -> Option<(usize, usize)> {
        if !SECOND_CHANCE {
            return (hand.at < self.lines.len()).then(|| (hand.at, self.lines.len() - hand.at));
        }
        if hand.pending == 0 && !self.next_word(hand, false) {
            return None;
        }
        let b = hand.pending.trailing_zeros();
        Some((64 * hand.word + b as usize, (!(hand.pending >> b)).trailing_zeros() as usize))
    }

    /// Moves the hand past `n` victims from `p` (as [`Ring::victims_before_end`] gave).
    #[inline(always)]
    fn take(&mut self, hand: &mut Hand, p: usize, n: usize) {
        if SECOND_CHANCE {
            let b = p % 64;
            hand.pending &= !bits(b, b + n);
        }
        hand.at = p + n;
    }

    /// The lowest pending position, taken.
    #[inline(always)]
    fn take_pending(&mut self, hand: &mut Hand) -> usize {
        let p = 64 * hand.word + hand.pending.trailing_zeros() as usize;
        hand.pending &= hand.pending - 1;
        p
    }

    /// Moves the hand into the next word with a line it will evict: the
    /// rest of the one it was in (or, entering, the one it is at) was all
    /// passed, and so is any word of referenced lines on the way. Without
    /// `wrap`, stops at the end of the array instead of going round to 0,
    /// and says so with `false`.
    #[cold]
    fn next_word(&mut self, hand: &mut Hand, wrap: bool) -> bool {
        let n = self.lines.len();
        let mut p = match hand.word {
            NO_WORD => hand.at,
            w => 64 * (w + 1),
        };
        loop {
            if p >= n {
                if !wrap {
                    // Everything up to the end passed: the next word
                    // looked for is the first.
                    *hand = Hand { at: n, word: NO_WORD, pending: 0 };
                    return false;
                }
                p = 0;
            }
            let (w, b) = (p / 64, p % 64);
            let ahead = bits(b, (n - 64 * w).min(64));
            let pending = !self.referenced[w] & ahead;
            // Passed or taken: every bit ahead reads clear from now on.
            self.referenced[w] &= !ahead;
            if pending != 0 {
                *hand = Hand { at: p, word: w, pending };
                return true;
            }
            p = 64 * (w + 1);
        }
    }

    #[inline(always)]
    fn set_bit(&mut self, p: usize, on: bool) {
        let (w, m) = (p / 64, 1u64 << (p % 64));
        if on {
            self.referenced[w] |= m;
        } else {
            self.referenced[w] &= !m;
        }
    }

    #[inline(always)]
    fn bit(&self, p: usize) -> bool {
        self.referenced[p / 64] >> (p % 64) & 1 == 1
    }

    /// Puts `line` last in a cache that is not full (so not being swept,
    /// the hand at 0): at position `len`.
    fn push_last(&mut self, line: u64) {
        if self.len == self.lines.len() {
            self.grow();
        }
        let p = self.len;
        self.lines[p] = line;
        if SECOND_CHANCE {
            self.set_bit(p, false);
        }
        self.map.insert(line, p as u32);
        self.len += 1;
    }

    /// A ring of `len` lines (fewer than the capacity) doubles, up to the
    /// capacity: constant time per line stored, over the growth. The hand
    /// is still at 0: it moves only once the cache is full, which this form
    /// (that loses no line but by eviction) then stays.
    #[cold]
    fn grow(&mut self) {
        let want = (2 * self.lines.len()).max(16).min(self.cap);
        self.lines.resize(want, 0);
        if SECOND_CHANCE {
            self.referenced.resize(want.div_ceil(64), 0);
        }
    }

    /// Requests of the absent lines `first..first + n` in a full cache, up
    /// to the end of the array: all misses, taken with no lookup. A stretch at a time, of consecutive
    /// victim positions holding consecutive lines (lines that came in
    /// together leave together), moved as ranges and told to `seen` at
    /// once. How many were taken.
    #[inline(always)]
    fn misses_before_end(&mut self, first: u64, n: u64, hand: &mut Hand, seen: &mut impl Seen) -> u64 {
        let mut k = 0;
        while k < n {
            let Some((p, room)) = self.victims_before_end(hand) else { break };
            let most = room.min((n - k) as usize);
            let stretch = &mut self.lines[p..p + most];
            let victim = stretch[0];
            let r = count_consecutive(stretch);
            let line = first + k;
            for (slot, l) in stretch[..r].iter_mut().zip(line..) {
                *slot = l;
            }
            self.map.relocate_range(victim, line, r, p as u32);
            self.take(hand, p, r);
            seen.misses_evicting(line, r as u64, victim);
            k += r as u64;
        }
        k
    }

    /// One request.
    #[inline(always)]
    fn request(&mut self, line: u64, hand: &mut Hand) -> Access {
        if let Some(p) = self.map.get(line) {
            if SECOND_CHANCE {
                let p = p as usize;
                if p / 64 == hand.word && p >= hand.at {
                    // Ahead of the hand in its word: passed, not taken.
                    hand.pending &= !(1 << (p % 64));
                } else {
                    self.set_bit(p, true);
                }
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        if self.len >= self.cap {
            // Full: the ring is the whole array, and the new line takes the
            // victim's place, the last one the hand will come to.
            let p = self.victim(hand);
            let victim = std::mem::replace(&mut self.lines[p], line);
            self.map.relocate(victim, line, p as u32);
            hand.at = p + 1;
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        self.push_last(line);
        Access { hit: false, resident: true, evicted: None }
    }
}

impl<const SECOND_CHANCE: bool> RingClock<SECOND_CHANCE> {
    pub(crate) fn new(cap: usize) -> RingClock<SECOND_CHANCE> {
        RingClock {
            ring: Ring { cap, len: 0, lines: Vec::new(), map: LineMap::new(), referenced: Vec::new() },
            hand: Hand::START,
        }
    }

    #[inline(always)]
    pub(crate) fn access(&mut self, line: u64) -> Access {
        self.ring.request(line, &mut self.hand)
    }

    pub(crate) fn contains(&self, line: u64) -> bool {
        self.ring.map.get(line).is_some()
    }

    /// The same cache as a linked ring: the lines in the hand's order, with
    /// their bits, the swept word's decisions written back first (the lines
    /// ahead of the hand there and not pending are referenced).
    pub(crate) fn into_list(mut self) -> ListClock<SECOND_CHANCE> {
        let Hand { at, word, pending } = self.hand;
        let ring = &mut self.ring;
        let n = ring.lines.len();
        if SECOND_CHANCE && word != NO_WORD && at / 64 == word {
            ring.referenced[word] |= bits(at % 64, (n - 64 * word).min(64)) & !pending;
        }
        let at = if at == n { 0 } else { at };
        let mut list = ListClock::new(ring.cap);
        for k in 0..ring.len {
            let p = ring.at(at, k);
            list.push_last(ring.lines[p], SECOND_CHANCE && ring.bit(p));
        }
        list
    }
}

impl<const SECOND_CHANCE: bool> Stretches for RingClock<SECOND_CHANCE> {
    /// The array's length once full: a stretch stops at its end anyway.
    #[inline(always)]
    fn stretch_room(&self) -> u64 {
        let ring = &self.ring;
        if ring.len >= ring.cap {
            ring.lines.len() as u64
        } else {
            0
        }
    }

    #[inline(always)]
    fn absent_from(&self, first: u64, last: u64) -> u64 {
        self.ring.map.absent_from(first, last)
    }

    #[inline(always)]
    fn misses_in_stretches(&mut self, first: u64, n: u64, seen: &mut impl Seen) -> u64 {
        self.ring.misses_before_end(first, n, &mut self.hand, seen)
    }

    #[inline(always)]
    fn one(&mut self, line: u64) -> Access {
        self.ring.request(line, &mut self.hand)
    }
}

impl<const SECOND_CHANCE: bool> Run for RingClock<SECOND_CHANCE> {
    #[inline(always)]
    fn access_all(&mut self, first: u64, last: u64, seen: &mut impl Seen) {
        in_stretches(self, first, last, seen);
    }
}
