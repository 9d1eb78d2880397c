//! `analyze dmd`: geometric-stack costs of a trace (the ByteDMD family and
//! the 2-D grid's fixed placement), exactly as `docs/dmd.md` and the
//! researchers' reference (`tests/data/reference/dmd/`) define them.
//!
//! Every read of an element is priced by a depth `d` at `ceil(sqrt(j))` for
//! each of its bytes `j` in `((d-1) b, d b]`:
//! - `bytedmd_classic`: `d` is the element's depth in an LRU stack of elements;
//! - `bytedmd_live`: the same stack, but a value leaves it after its last read;
//! - `space_dmd`: `d` is the value's rank among the live values of a static,
//!   density-ranked placement;
//! - `address_cost`: `d` is the element's offset + 1 in its own buffer.
//!
//! Liveness and ranks need each value's future (its last read and its read
//! count), so the analysis is two replays of the trace: [`Scan`] prices
//! `classic` and `address` and learns every value's future into a
//! [`spool::Spool`]; its `finish` gives the [`Replay`] that prices `live`
//! and `space`. Memory follows distinct elements and live values, never the
//! length of the trace.

pub mod cost;
pub mod rank;
mod replay;
mod report;
mod scan;
pub mod spool;
pub mod stack;

use std::collections::BTreeMap;

use memtrace::{Header, Role};
use serde::Serialize;

pub use replay::Replay;
pub use scan::Scan;

use crate::linemap::LineMap;
use cost::Pricing;

/// Where time comes from for `space_dmd`'s densities and liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// Each element access is one tick (a range of `n` elements takes `n`).
    Events,
    /// The events' `step` field; accesses with equal steps share one time.
    Steps,
}

impl Clock {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Events => "events",
            Clock::Steps => "steps",
        }
    }
}

/// What to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmdConfig {
    /// Bytes per element for every buffer; `None`: each buffer's own element size.
    pub bytes_per_element: Option<u32>,
    /// The clock of `space_dmd`.
    pub clock: Clock,
}

impl Default for DmdConfig {
    fn default() -> Self {
        DmdConfig { bytes_per_element: None, clock: Clock::Events }
    }
}

/// The costs of one buffer's reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BufferDmd {
    /// Elements read.
    pub loads: u64,
    /// Their cost in an LRU stack of elements.
    pub bytedmd_classic: u64,
    /// Their cost in the LRU stack of live values.
    pub bytedmd_live: u64,
    /// Their cost under the density-ranked static placement.
    pub space_dmd: u64,
    /// Their cost at their own offsets.
    pub address_cost: u64,
}

/// Where the live cost accrues, for plots: never part of the JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// `(elements read so far, cumulative bytedmd_live)`, at most
    /// [`PROFILE_POINTS`] points evenly spaced in reads, and the last read.
    pub cumulative_live: Vec<(u64, u64)>,
    /// `live_depths[k]`: reads at a live depth in `[2^k, 2^(k+1))`.
    pub live_depths: Vec<u64>,
    /// The same for the classic stack.
    pub classic_depths: Vec<u64>,
}

/// Points kept of the cumulative cost.
pub const PROFILE_POINTS: usize = 1024;

/// The result of `analyze dmd`. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DmdReport {
    /// `--bytes-per-element`, or `null`: each buffer's own element size.
    pub bytes_per_element: Option<u32>,
    /// `events` or `steps`.
    pub clock: Clock,
    /// Elements read.
    pub loads: u64,
    /// Elements written.
    pub stores: u64,
    /// Elements read before any write (arguments and values made on the spot).
    pub cold_loads: u64,
    /// Reads priced in Mattson's LRU stack of elements.
    pub bytedmd_classic: u64,
    /// Reads priced in the LRU stack of live values.
    pub bytedmd_live: u64,
    /// Reads priced under the density-ranked static placement.
    pub space_dmd: u64,
    /// Reads priced at their own offsets (fixed placement).
    pub address_cost: u64,
    /// Per buffer name, the buffers that are read or written.
    pub per_buffer: BTreeMap<String, BufferDmd>,
    /// For plots.
    #[serde(skip)]
    pub profile: Profile,
}

/// Costs of one buffer as they accrue (u128: no sum can overflow).
#[derive(Debug, Clone, Default)]
struct Costs {
    loads: u64,
    stores: u64,
    classic: u128,
    live: u128,
    space: u128,
    address: u128,
}

/// What both passes know of the buffers: pricing, argument positions, and
/// the dense number (slot) of each element touched.
struct Elements {
    names: Vec<String>,
    pricing: Vec<Pricing>,
    /// For `input` buffers: the 1-based argument position of element 0.
    argument_base: Vec<Option<u64>>,
    /// Per buffer: element offset -> slot.
    slots: Vec<LineMap>,
    /// Per buffer whose first access covered all of it: the slot of element
    /// 0, the others following (no map lookup; every element is touched).
    dense: Vec<Option<u32>>,
    lens: Vec<u64>,
    count: u32,
}

impl Elements {
    fn new(header: &Header, config: &DmdConfig) -> Elements {
        let mut next_argument = 1u64;
        let argument_base = header
            .buffers
            .iter()
            .map(|b| {
                (b.role == Role::Input).then(|| {
                    let base = next_argument;
                    next_argument = next_argument.saturating_add(b.len);
                    base
                })
            })
            .collect();
        Elements {
            names: header.buffers.iter().map(|b| b.name.clone()).collect(),
            pricing: header
                .buffers
                .iter()
                .map(|b| Pricing::new(config.bytes_per_element.unwrap_or(b.elem_size)))
                .collect(),
            argument_base,
            slots: header.buffers.iter().map(|_| LineMap::new()).collect(),
            dense: vec![None; header.buffers.len()],
            lens: header.buffers.iter().map(|b| b.len).collect(),
            count: 0,
        }
    }

    /// Numbers the elements an access of `buffer` touches first: all of
    /// them at once, in a block, when it is the buffer's first access and
    /// covers the whole buffer.
    #[inline]
    fn prepare(&mut self, buffer: usize, offset: u64, len: u64) {
        if self.dense[buffer].is_none()
            && offset == 0
            && len == self.lens[buffer]
            && self.slots[buffer].is_empty()
            && (self.count as u64 + len) < u32::MAX as u64
        {
            self.dense[buffer] = Some(self.count);
            self.count += len as u32;
        }
    }

    /// The slot of element `offset` of `buffer`, numbering it if it is new.
    #[inline]
    fn slot(&mut self, buffer: usize, offset: u64) -> u32 {
        if let Some(base) = self.dense[buffer] {
            return base + offset as u32;
        }
        let map = &mut self.slots[buffer];
        match map.get(offset) {
            Some(s) => s,
            None => {
                let s = self.count;
                self.count += 1;
                map.insert(offset, s);
                s
            }
        }
    }

    /// The slot of an element the first pass numbered.
    #[inline]
    fn known_slot(&self, buffer: usize, offset: u64) -> Option<u32> {
        if let Some(base) = self.dense[buffer] {
            return Some(base + offset as u32);
        }
        self.slots[buffer].get(offset)
    }

    /// The depth a cold read of element `offset` of `buffer` costs at: its
    /// argument position, or 1 for a value made on the spot.
    #[inline]
    fn cold_depth(&self, buffer: usize, offset: u64) -> u64 {
        self.argument_base[buffer].map_or(1, |base| base.saturating_add(offset))
    }
}

/// `k` with `2^k <= d < 2^(k+1)`.
#[inline]
fn log2_bucket(d: u64) -> usize {
    (63 - d.max(1).leading_zeros()) as usize
}

fn total(c: u128, what: &str) -> crate::Result<u64> {
    u64::try_from(c).map_err(|_| crate::Error::invalid(format!("{what} exceeds 2^64")))
}
