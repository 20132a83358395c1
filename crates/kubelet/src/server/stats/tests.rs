use super::*;

#[test]
fn cpu_time_counts_busy_ticks() {
    let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4\nintr 1\n";
    // user+nice+system+irq+softirq+steal = 161 ticks of 10 ms.
    assert_eq!(cpu_usage_ns(stat), Some(1_610_000_000));
    assert_eq!(cpu_usage_ns("intr 1\n"), None);
}

#[test]
fn memory_from_meminfo() {
    let info = "MemTotal:       2048 kB\nMemFree:  10 kB\nMemAvailable:   1024 kB\n";
    assert_eq!(memory_bytes(info), Some((2048 * 1024, 1024 * 1024)));
    assert_eq!(memory_bytes("MemTotal: 1 kB\n"), None);
}
