//! An adversarial corpus generated from a valid trace: every bit flip of a
//! compressed trace, decompression bombs, absurd declared sizes. Each gives
//! a clear error (or, for what is valid, a correct read) in bounded time
//! and memory; none is accepted silently.

use std::io::Write;

use memtrace::{Buffer, ErrorKind, Header, Op, Role, TraceReader, TraceWriter};

fn small_trace() -> Vec<u8> {
    small_trace_as("t.trace")
}

/// The same small trace written by memtrace's writer under `name` (`.zst`: compressed and sealed).
fn small_trace_as(name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    let mut h = Header::new("adversarial", "1");
    h.set_metadata("k", "v");
    h.add_buffer(Buffer::new("W1", 64, Role::Parameter)).unwrap();
    h.add_buffer(Buffer::new("x", 8, Role::Input)).unwrap();
    let mut w = TraceWriter::create(&p, h).unwrap();
    for i in 0..40u32 {
        w.access(i % 2, if i % 3 == 0 { Op::Write } else { Op::Read }, 0, 8, i / 8).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&p).unwrap()
}

fn read_all(bytes: Vec<u8>) -> memtrace::Result<u64> {
    let mut r = TraceReader::from_bytes(bytes)?;
    let mut n = 0;
    while let Some(b) = r.next_batch()? {
        n += b.len() as u64;
    }
    Ok(n)
}

/// Some flips of a zstd stream decode to the same content (reserved header
/// bits, the window size, slack in entropy tables), so only a seal over the
/// compressed bytes sees them: memtrace's writer appends one.
#[test]
fn every_single_bit_flip_of_a_compressed_trace_is_reported() {
    let zst = small_trace_as("t.zst");
    assert_eq!(zst[..4], memtrace::format::ZSTD_MAGIC);
    assert_eq!(read_all(zst.clone()).unwrap(), 40);
    let mut accepted = Vec::new();
    for i in 0..zst.len() {
        for bit in 0..8 {
            let mut b = zst.clone();
            b[i] ^= 1 << bit;
            if read_all(b).is_ok() {
                accepted.push((i, bit));
            }
        }
    }
    assert!(accepted.is_empty(), "bit flips accepted silently at (byte, bit): {accepted:?}");
}

/// A valid header followed by a gigabyte of zeros, compressed to a few
/// kilobytes: the first zero record is refused (length 0), without
/// decompressing the rest.
#[test]
fn a_bomb_of_zeros_stops_at_the_first_record() {
    let raw = small_trace();
    let header_len = u32::from_le_bytes(raw[12..16].try_into().unwrap()) as usize;
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.write_all(&raw[..header_len]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 200_000, "the bomb is {} bytes", bomb.len());
    let e = read_all(bomb).unwrap_err();
    assert_eq!(e.byte_offset(), Some(header_len as u64 + 8), "{e}");
    assert!(e.to_string().contains("length 0"), "{e}");
}

/// A frame that declares 4 KiB of content but holds 1 MiB: refused.
#[test]
fn a_frame_that_expands_past_its_declared_size_is_refused() {
    let mut raw = small_trace();
    let header_len = u32::from_le_bytes(raw[12..16].try_into().unwrap()) as usize;
    let events: Vec<u8> = raw[header_len..raw.len() - 24].to_vec();
    let footer_at = raw.len() - 24;
    raw.truncate(footer_at);
    while raw.len() < 1 << 20 {
        raw.extend_from_slice(&events);
    }
    let mut frame = zstd::bulk::Compressor::new(3).unwrap();
    frame.include_contentsize(true).unwrap();
    let mut z = frame.compress(&raw).unwrap();
    // Frame header: magic, descriptor; content size 2^20 as a 4-byte field.
    let fhd = z[4];
    assert_eq!(fhd >> 6, 2, "expected a 4-byte content size field");
    let fcs_at = 5 + usize::from(fhd & 0x20 == 0); // a window byte unless single-segment
    assert_eq!(u32::from_le_bytes(z[fcs_at..fcs_at + 4].try_into().unwrap()) as usize, raw.len());
    z[fcs_at..fcs_at + 4].copy_from_slice(&4096u32.to_le_bytes());
    let e = read_all(z).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Compression(_)), "{e}");
}

#[test]
fn absurd_buffer_lengths_are_valid_and_analyzable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.trace");
    let mut h = Header::new("adversarial", "1");
    h.add_buffer(Buffer { name: "huge".into(), len: u64::MAX, elem_size: u32::MAX, role: Role::Other }).unwrap();
    let mut w = TraceWriter::create(&p, h).unwrap();
    w.access(0, Op::Write, u64::MAX - u32::MAX as u64, u32::MAX as u64, 0).unwrap();
    w.access(0, Op::Read, u64::MAX - 1, 1, 0).unwrap();
    w.access(0, Op::Read, 0, 1, u32::MAX).unwrap();
    w.finish().unwrap();
    assert_eq!(read_all(std::fs::read(&p).unwrap()).unwrap(), 3);
}

#[test]
fn counts_of_two_to_the_32_and_64_are_refused_before_allocation() {
    let raw = small_trace();
    let producer_end = 24 + 2 + "adversarial".len() + 2 + 1;
    let meta_len = 4 + 2 + 1 + 4 + 1; // count, "k", "v"
    let buffers_at = producer_end + meta_len;
    for (at, value) in [(producer_end, u32::MAX), (buffers_at, u32::MAX), (buffers_at, 1 << 20)] {
        let mut b = raw.clone();
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let e = read_all(b).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Corrupt(_) | ErrorKind::ChecksumMismatch { .. }), "{e}");
    }
    // A buffer entry whose name claims 65535 bytes.
    let mut b = raw.clone();
    let name_at = buffers_at + 4 + 4 + 4 + 8 + 1;
    b[name_at..name_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(read_all(b).is_err());
}

#[test]
fn a_compressed_trace_is_still_a_plain_zstd_stream_and_hand_compression_is_accepted() {
    let zst = small_trace_as("t.zst");
    assert_eq!(zstd::decode_all(&zst[..]).unwrap(), small_trace(), "zstd -d must give the raw trace");
    let by_hand = zstd::encode_all(&small_trace()[..], 19).unwrap();
    assert_eq!(read_all(by_hand).unwrap(), 40);
}

/// A raw trace truncated while it is being read (another process
/// rewriting it, a copy still in progress) is an error naming truncation:
/// memory-mapped, the next page touched raised SIGBUS and killed the
/// process without a word (issue 16, item 11).
#[test]
fn a_trace_truncated_while_read_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shrinking.trace");
    let mut h = Header::new("adversarial", "1");
    h.add_buffer(Buffer::new("a", 1 << 20, Role::Other)).unwrap();
    let mut w = TraceWriter::create(&p, h).unwrap();
    for i in 0..400_000u64 {
        w.access(0, Op::Read, i % 1000, 8, 0).unwrap();
    }
    w.finish().unwrap();
    let full = std::fs::metadata(&p).unwrap().len();
    let mut r = TraceReader::open(&p).unwrap();
    assert!(r.next_batch().unwrap().is_some());
    // Cut to a third, on a page boundary, while the reader is mid-file.
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(full / 3 / 4096 * 4096).unwrap();
    let mut outcome = Ok(());
    loop {
        match r.next_batch() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    let e = outcome.expect_err("a shrunken trace must not read as complete");
    assert!(matches!(e.kind(), ErrorKind::Truncated { .. } | ErrorKind::Corrupt(_)), "{e}");
}
