//! The write-ahead log: what was appended survives a restart, a torn tail is cut, the
//! reader streams across segments, and delivered segments are removed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use wasml_collector::wal::{Wal, WalReader, WalStats, segment};
use wasml_test_support::ScratchDir;

fn scratch(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("wal-{name}"))
}

fn payloads(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("{{\"event\":{i}}}")).collect()
}

fn read_all(dir: &Path, after: u64, through: u64) -> Vec<(u64, String)> {
    let mut reader = WalReader::new(dir, after);
    let mut all = Vec::new();
    loop {
        let batch = reader.next_batch(through, 7, 1 << 20).unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(
            batch
                .into_iter()
                .map(|(s, p)| (s, String::from_utf8(p).unwrap())),
        );
    }
}

#[test]
fn appended_events_are_numbered_read_back_and_survive_reopening() {
    let dir = scratch("reopen");
    let mut wal = Wal::open(&dir, 1 << 20).unwrap();
    assert_eq!(wal.append(&payloads(0..3)).unwrap(), (1, 3));
    assert_eq!(wal.append(&payloads(3..5)).unwrap(), (4, 5));
    drop(wal);
    let mut wal = Wal::open(&dir, 1 << 20).unwrap();
    assert_eq!(wal.last_seq(), 5);
    assert_eq!(wal.append(&payloads(5..6)).unwrap(), (6, 6));
    let read = read_all(&dir, 0, wal.last_seq());
    let expected: Vec<(u64, String)> = (1..=6).zip(payloads(0..6)).collect();
    assert_eq!(read, expected);
    // Nothing past `through` is handed out.
    assert_eq!(read_all(&dir, 0, 4).len(), 4);
    assert_eq!(read_all(&dir, 4, 6).len(), 2);
}

#[test]
fn a_torn_tail_is_cut_and_numbering_resumes_after_the_last_intact_record() {
    let dir = scratch("torn");
    let mut wal = Wal::open(&dir, 1 << 20).unwrap();
    wal.append(&payloads(0..4)).unwrap();
    drop(wal);
    let (_, path) = segment::list(&dir).unwrap().pop().unwrap();
    let full = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of appending a fifth record: half of it reached the disk.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&[42, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(file);
    let mut wal = Wal::open(&dir, 1 << 20).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        full,
        "the torn bytes are gone"
    );
    assert_eq!(wal.append(&payloads(4..5)).unwrap(), (5, 5));
    assert_eq!(read_all(&dir, 0, 5).len(), 5);
}

#[test]
fn the_reader_crosses_segments_and_delivered_segments_are_removed() {
    let dir = scratch("segments");
    // Tiny segments: each append of 10 events starts a new one.
    let mut wal = Wal::open(&dir, 64).unwrap();
    for group in 0..5 {
        wal.append(&payloads(group * 10..group * 10 + 10)).unwrap();
    }
    assert_eq!(segment::list(&dir).unwrap().len(), 5);
    let read = read_all(&dir, 0, wal.last_seq());
    assert_eq!(
        read.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );

    let before = wal.stats();
    assert_eq!(before.pending_events, 50);
    wal.delivered_through(25).unwrap();
    // Segments 1-10 and 11-20 are wholly delivered; 21-30 is not.
    let firsts: Vec<u64> = segment::list(&dir)
        .unwrap()
        .iter()
        .map(|(f, _)| *f)
        .collect();
    assert_eq!(firsts, [21, 31, 41]);
    let after = wal.stats();
    assert_eq!(after.pending_events, 25);
    assert!(after.bytes < before.bytes);
    drop(wal);
    // After a restart the checkpoint holds, and reading resumes after it.
    let wal = Wal::open(&dir, 64).unwrap();
    assert_eq!(wal.delivered(), 25);
    assert_eq!(wal.stats().pending_events, 25);
    let rest = read_all(&dir, wal.delivered(), wal.last_seq());
    assert_eq!(rest.first().map(|r| r.0), Some(26));
    assert_eq!(rest.len(), 25);
}

#[test]
fn a_reader_follows_appends_as_they_happen() {
    let dir = scratch("follow");
    let mut wal = Wal::open(&dir, 256).unwrap();
    let mut reader = WalReader::new(&dir, 0);
    assert!(
        reader
            .next_batch(wal.last_seq(), 100, 1 << 20)
            .unwrap()
            .is_empty()
    );
    let mut seen = 0;
    for round in 0..20 {
        wal.append(&payloads(round * 3..round * 3 + 3)).unwrap();
        let batch = reader.next_batch(wal.last_seq(), 100, 1 << 20).unwrap();
        assert_eq!(batch.len(), 3, "round {round}");
        assert_eq!(batch[0].0, seen + 1);
        seen += 3;
    }
    assert_eq!(reader.position(), 60);
    assert_eq!(
        wal.stats(),
        WalStats {
            pending_events: 60,
            bytes: wal.stats().bytes
        }
    );
}
