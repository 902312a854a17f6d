//! The engine's compile threads yield to serving threads, and a component's digest is the
//! same whether it is hashed whole or while it arrives.

use wasml_runtime::digest::{DigestedWasm, DigestingBuffer, sha256_hex};
use wasml_runtime::engine::{COMPILE_NICENESS, new_engine};

#[test]
fn compile_threads_run_at_a_lower_priority() {
    let _engine = new_engine().unwrap();
    // SAFETY: a plain syscall; on a rayon worker, it reads that thread's niceness.
    let niceness = rayon::join(
        || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
        || (),
    );
    let own = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    assert_eq!(niceness.0, own + COMPILE_NICENESS);
}

#[test]
fn hashing_in_chunks_gives_the_digest_of_the_whole() {
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut buffer = DigestingBuffer::with_capacity(10);
    for chunk in bytes.chunks(4093) {
        buffer.push(chunk);
    }
    let streamed = buffer.finish();
    let whole = DigestedWasm::new(bytes.clone());
    assert_eq!(streamed.sha256(), whole.sha256());
    assert_eq!(streamed.bytes(), bytes);
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
