//! The process's resident memory, read from the OS (`ml_app_memory_bytes`).

/// Resident set size of this process in bytes (Linux `/proc/self/status`, `VmRSS`), or
/// `None` where the OS does not say.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn grows_when_the_process_touches_memory() {
        let before = resident_bytes().expect("Linux reports VmRSS");
        let hoard = vec![1u8; 64 << 20];
        let after = resident_bytes().unwrap();
        assert!(
            after >= before + (48 << 20),
            "{before} -> {after} after touching 64 MiB"
        );
        drop(std::hint::black_box(hoard));
    }
}
