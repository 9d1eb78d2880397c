//! The policy interface, the one table of policy names, and set
//! associativity over any policy.

use super::arc::ArcCache;
use super::clock::{Clock, Fifo};
use super::lfu::Lfu;
use super::queue::Queue;
use super::random::RandomEvict;
use super::s3fifo::S3Fifo;
use super::sieve::Sieve;
use super::ways::{SetArrays, MAX_WAYS};

/// What one request did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// The line was resident.
    pub hit: bool,
    /// The line was (or stays) resident after the request.
    pub resident: bool,
    /// A line the request pushed out of the cache.
    pub evicted: Option<u64>,
}

/// A replacement policy over unit-size lines.
pub trait Policy: Send {
    /// A request of `line`.
    fn access(&mut self, line: u64) -> Access;
    /// Drops `line` if resident (an inclusive hierarchy's back-invalidation);
    /// returns whether it was. Ghost entries are left as they are.
    fn remove(&mut self, line: u64) -> bool;
}

/// What a run of requests did, told as it goes: the simulator's tally of
/// hits and write-backs.
pub(crate) trait Seen {
    /// `line` was requested and did `a`.
    fn one(&mut self, line: u64, a: Access);

    /// Lines `first..first + n` were requested in this order, and each
    /// missed, stayed, and evicted line `victim + i`, resident before the
    /// first of them (so none of them): lines that came in together leaving
    /// together. The same as `n` calls of [`Seen::one`], which a tally may
    /// serve a word of bits at a time.
    fn misses_evicting(&mut self, first: u64, n: u64, victim: u64);
}

/// Requests of a run of lines (an event's, in order), telling `seen` what
/// each did: the simulator's loop, which a policy may serve with its state
/// in locals. A policy runs as its [`Policy::access`] loop
/// ([`one_at_a_time`]), except CLOCK and FIFO in their array form and
/// SIEVE, which take a stretch of absent lines at once ([`in_stretches`]).
pub(crate) trait Run {
    fn access_all(&mut self, first: u64, last: u64, seen: &mut impl Seen);
}

/// The loop of a policy that takes one request at a time.
#[inline(always)]
pub(crate) fn one_at_a_time<P: Policy + ?Sized>(policy: &mut P, first: u64, last: u64, seen: &mut impl Seen) {
    for l in first..=last {
        seen.one(l, policy.access(l));
    }
}

/// A policy that, in a full cache, takes a stretch of absent lines at
/// once (CLOCK and FIFO in their array form, SIEVE): its [`Run`] is
/// [`in_stretches`].
pub(crate) trait Stretches {
    /// How many absent lines to look for at once: 0 until the cache is full.
    fn stretch_room(&self) -> u64;
    /// How many lines from `first` on, up to `last`, are absent.
    fn absent_from(&self, first: u64, last: u64) -> u64;
    /// Requests of the absent lines `first..first + n`, as many as it
    /// takes at once (0: none), told to `seen`; how many.
    fn misses_in_stretches(&mut self, first: u64, n: u64, seen: &mut impl Seen) -> u64;
    /// One request.
    fn one(&mut self, line: u64) -> Access;
}

/// Fewest absent lines taken at once (fewer: one request each, as
/// measured, no slower).
const MIN_STRETCH: u64 = 4;

/// The loop of a [`Stretches`] policy: absent lines looked for at most
/// [`Stretches::stretch_room`] at a time, taken in stretches, the rest one
/// request each. A stretch that stops leaves the lines after it absent, so
/// they are not looked for again; a run too short for a stretch (a single
/// line) is looked at for nothing.
#[inline(always)]
pub(crate) fn in_stretches<P: Stretches>(policy: &mut P, first: u64, last: u64, seen: &mut impl Seen) {
    let mut l = first;
    let mut absent = 0u64;
    loop {
        if absent == 0 && last - l >= MIN_STRETCH - 1 {
            let room = policy.stretch_room();
            if room >= MIN_STRETCH {
                absent = policy.absent_from(l, last.min(l.saturating_add(room - 1)));
            }
        }
        let mut k = 0;
        if absent >= MIN_STRETCH {
            k = policy.misses_in_stretches(l, absent, seen);
        }
        if k == 0 {
            seen.one(l, policy.one(l));
            k = 1;
        }
        absent = absent.saturating_sub(k);
        if last - l < k {
            break;
        }
        l += k;
    }
}

impl Run for dyn Policy {
    #[inline(always)]
    fn access_all(&mut self, first: u64, last: u64, seen: &mut impl Seen) {
        one_at_a_time(self, first, last, seen);
    }
}

/// A replacement policy, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// CLOCK, one reference bit.
    Clock,
    /// SIEVE.
    Sieve,
    /// Least frequently used, FIFO among equal counts.
    Lfu,
    /// Adaptive replacement cache.
    Arc,
    /// S3-FIFO.
    S3fifo,
    /// Random eviction, fixed seed.
    Random,
    /// Belady's MIN (needs the future).
    Opt,
}

/// The one table of policies: kind, name (command line, JSON, errors,
/// docs) and what it is. Adding a policy is a file and a row here.
pub const POLICIES: [(PolicyKind, &str, &str); 9] = [
    (PolicyKind::Lru, "lru", "least recently used"),
    (PolicyKind::Fifo, "fifo", "first in, first out"),
    (PolicyKind::Clock, "clock", "CLOCK, one reference bit"),
    (PolicyKind::Sieve, "sieve", "SIEVE (NSDI 2024), libCacheSim's hand"),
    (PolicyKind::Lfu, "lfu", "least frequently used, FIFO among equal counts"),
    (PolicyKind::Arc, "arc", "adaptive replacement (Megiddo and Modha)"),
    (PolicyKind::S3fifo, "s3fifo", "S3-FIFO (libCacheSim's S3FIFO-0.1000-2)"),
    (PolicyKind::Random, "random", "random eviction, fixed seed"),
    (PolicyKind::Opt, "opt", "Belady's MIN: the optimum, from the future"),
];

impl PolicyKind {
    /// Every policy, in the table's order.
    pub fn all() -> impl Iterator<Item = PolicyKind> {
        POLICIES.iter().map(|p| p.0)
    }

    /// Its name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        POLICIES.iter().find(|p| p.0 == self).map_or("?", |p| p.1)
    }

    /// The policy named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<PolicyKind> {
        POLICIES.iter().find(|p| p.1.eq_ignore_ascii_case(name)).map(|p| p.0)
    }

    /// `lru, fifo, ...`: every name, for messages.
    pub fn names() -> String {
        POLICIES.iter().map(|p| p.1).collect::<Vec<_>>().join(", ")
    }

    /// A fully associative cache of `capacity` lines under this policy;
    /// `None` for `opt`, which needs the future ([`super::Belady::new`]).
    pub fn build(self, capacity: u64) -> Option<Box<dyn Policy>> {
        let c = capacity as usize;
        Some(match self {
            PolicyKind::Lru => Box::new(Queue::new(c)),
            PolicyKind::Fifo => Box::new(Fifo::new(c)),
            PolicyKind::Clock => Box::new(Clock::<true>::new(c)),
            PolicyKind::Sieve => Box::new(Sieve::new(c)),
            PolicyKind::Lfu => Box::new(Lfu::new(c)),
            PolicyKind::Arc => Box::new(ArcCache::new(c)),
            PolicyKind::S3fifo => Box::new(S3Fifo::new(c)),
            PolicyKind::Random => Box::new(RandomEvict::new(c, 0x9E37_79B9_7F4A_7C15 ^ capacity)),
            PolicyKind::Opt => return None,
        })
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<PolicyKind, String> {
        PolicyKind::from_name(s).ok_or_else(|| format!("unknown policy {s:?}; policies are {}", PolicyKind::names()))
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Set associativity: independent sets of `ways` lines, indexed by the low
/// bits of the line number (line modulo the number of sets).
///
/// A set sees its lines by *tag* (line divided by the number of sets), as
/// hardware does: a set's line table then grows to the highest tag, and all
/// sets together to about the highest line, as one fully associative cache.
/// Given whole line numbers, each of 1,088 sets grew a table to the highest
/// line: 4.4 GB for a streamed 64 MiB buffer.
pub struct SetAssociative {
    sets: Vec<Box<dyn Policy>>,
}

impl SetAssociative {
    /// `capacity / ways` sets of `ways` lines under `kind`; `None` for `opt`.
    pub fn new(kind: PolicyKind, capacity: u64, ways: u64) -> Option<SetAssociative> {
        let n = (capacity / ways.max(1)).max(1);
        Some(SetAssociative { sets: (0..n).map(|_| kind.build(ways)).collect::<Option<_>>()? })
    }
}

impl Policy for SetAssociative {
    fn access(&mut self, line: u64) -> Access {
        let n = self.sets.len() as u64;
        let set = line % n;
        let mut a = self.sets[set as usize].access(line / n);
        a.evicted = a.evicted.map(|tag| tag * n + set);
        a
    }

    fn remove(&mut self, line: u64) -> bool {
        let n = self.sets.len() as u64;
        self.sets[(line % n) as usize].remove(line / n)
    }
}

/// A cache of `capacity` lines under `kind`: `ways` per set, or fully
/// associative when `None` or not below the capacity. `None` for `opt`.
pub fn build_cache(kind: PolicyKind, capacity: u64, ways: Option<u64>) -> Option<Box<dyn Policy>> {
    if let Some(arrays) = set_arrays(kind, capacity, ways) {
        return Some(Box::new(arrays));
    }
    match ways {
        Some(w) if w < capacity => Some(Box::new(SetAssociative::new(kind, capacity, w)?)),
        _ => kind.build(capacity),
    }
}

/// The cache [`build_cache`] makes as [`SetArrays`], when it does: LRU or
/// FIFO with at most [`MAX_WAYS`] ways, fewer than its lines.
pub fn set_arrays(kind: PolicyKind, capacity: u64, ways: Option<u64>) -> Option<SetArrays> {
    match ways {
        Some(w) if w < capacity && w <= MAX_WAYS && matches!(kind, PolicyKind::Lru | PolicyKind::Fifo) => {
            Some(SetArrays::new(capacity, w, kind == PolicyKind::Lru))
        }
        _ => None,
    }
}

/// An associativity as simulated: fully associative, or ways per set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assoc {
    /// One set.
    Full,
    /// Lines per set.
    Ways(u64),
}

impl Assoc {
    /// What `ways` (`None`: full) means for a cache of `capacity` lines:
    /// as many ways as lines, or more, is fully associative.
    pub fn of(ways: Option<u64>, capacity: u64) -> Assoc {
        match ways {
            Some(w) if w < capacity => Assoc::Ways(w),
            _ => Assoc::Full,
        }
    }
}

/// JSON: the number of ways, or `"full"`.
impl serde::Serialize for Assoc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Assoc::Full => s.serialize_str("full"),
            Assoc::Ways(w) => s.serialize_u64(*w),
        }
    }
}

impl std::fmt::Display for Assoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Assoc::Full => f.write_str("fully assoc."),
            Assoc::Ways(w) => write!(f, "{w}-way"),
        }
    }
}
