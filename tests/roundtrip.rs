//! Writer then reader: every event and all metadata come back, raw and
//! compressed, for random headers (unicode names, any roles and element
//! sizes) and random events.

use memtrace::{Buffer, Event, Header, Op, Role, TraceReader, TraceWriter};
use proptest::prelude::*;

fn header() -> impl Strategy<Value = Header> {
    (
        "\\PC{0,12}",
        prop::collection::vec(("[a-z]{1,6}", "\\PC{0,20}"), 0..5),
        prop::collection::vec((1u64..1 << 40, 1u32..64, 0usize..6), 1..6),
    )
        .prop_map(|(producer, meta, bufs)| {
            let mut h = Header::new(producer, "v");
            for (k, v) in meta {
                h.set_metadata(k, v);
            }
            for (i, (len, elem_size, role)) in bufs.into_iter().enumerate() {
                h.add_buffer(Buffer { name: format!("bü{i}"), len, elem_size, role: Role::ALL[role] }).unwrap();
            }
            h
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_event_and_all_metadata_round_trip(h in header(), raw in prop::collection::vec((any::<u32>(), any::<bool>(), any::<u64>(), any::<u32>(), any::<u32>()), 0..300), zst in any::<bool>()) {
        let n = h.buffers.len() as u32;
        let events: Vec<Event> = raw.into_iter().map(|(b, w, x, l, step)| {
            let buffer = b % n;
            let len_b = h.buffers[buffer as usize].len;
            let offset = x % len_b;
            let len = (1 + l as u64 % (len_b - offset)).min(u32::MAX as u64) as u32;
            Event { buffer, op: if w { Op::Write } else { Op::Read }, offset, len, step }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if zst { "t.zst" } else { "t.trace" });
        let mut w = TraceWriter::create(&path, h.clone()).unwrap();
        for e in &events { w.event(*e).unwrap(); }
        prop_assert_eq!(w.finish().unwrap().events, events.len() as u64);
        let mut r = TraceReader::open(&path).unwrap();
        prop_assert_eq!(r.header(), &h);
        let mut back = Vec::new();
        while let Some(b) = r.next_batch().unwrap() { back.extend_from_slice(b); }
        prop_assert_eq!(back, events);
    }
}
