//! Store benchmark: durable write throughput with 64 concurrent writers (group commit),
//! commit latency at a modest rate, and the disk's floor (fdatasync of a 4 KiB overwrite).
//!
//! Run: `cargo run --release -p k3rs-store --example store_bench -- <dir>`

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k3rs_store::{SqliteOptions, SqliteStore, Store};

const WRITERS: usize = 64;
const WRITES_PER_WRITER: usize = 500;
const VALUE_SIZE: usize = 1024;
const PACED_WRITES: usize = 1000;
const PACED_RATE: u64 = 500; // writes per second
const FSYNCS: usize = 1000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// User+system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn fsync_floor(dir: &Path) -> std::io::Result<Vec<Duration>> {
    let path = dir.join("fsync-floor.bin");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = vec![0x5a_u8; 4096];
    file.write_all(&block)?;
    file.sync_all()?;
    let mut lat = Vec::with_capacity(FSYNCS);
    for _ in 0..FSYNCS {
        let t = Instant::now();
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&block)?;
        file.sync_data()?;
        lat.push(t.elapsed());
    }
    std::fs::remove_file(&path)?;
    lat.sort();
    Ok(lat)
}

async fn throughput(store: &Arc<SqliteStore>) -> (f64, Vec<Duration>, f64) {
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(WRITES_PER_WRITER);
                for i in 0..WRITES_PER_WRITER {
                    let t = Instant::now();
                    store
                        .create(&format!("/registry/bench/{w}/{i}"), vec![b'x'; VALUE_SIZE])
                        .await
                        .expect("write");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("writer task"));
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    (
        (WRITERS * WRITES_PER_WRITER) as f64 / secs,
        lat,
        cpu_seconds() - cpu0,
    )
}

async fn paced(store: &Arc<SqliteStore>) -> Vec<Duration> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE));
    let mut lat = Vec::with_capacity(PACED_WRITES);
    let kv = store
        .create("/registry/bench/paced", vec![b'y'; VALUE_SIZE])
        .await
        .expect("create");
    let mut rev = kv.mod_revision;
    for _ in 0..PACED_WRITES {
        tick.tick().await;
        let t = Instant::now();
        rev = store
            .update("/registry/bench/paced", vec![b'y'; VALUE_SIZE], Some(rev))
            .await
            .expect("update")
            .mod_revision;
        lat.push(t.elapsed());
    }
    lat.sort();
    lat
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: store_bench <dir>")?);
    let dir = dir.join(format!("k3rs-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("state.db");
    let floor_before = fsync_floor(&dir)?;
    let store = SqliteStore::open(&db, SqliteOptions::default())?;

    let (rate, load_lat, cpu) = throughput(&store).await;
    let paced_lat = paced(&store).await;
    store.close().await;
    drop(store);
    let floor_after = fsync_floor(&dir)?;
    std::fs::remove_dir_all(&dir)?;

    println!("store_bench in {}", dir.display());
    println!(
        "throughput: {WRITERS} writers x {WRITES_PER_WRITER} creates of {VALUE_SIZE} B: {rate:.0} durable writes/s \
         (latency under load p50 {:.2} ms, p99 {:.2} ms; process CPU {cpu:.2} s)",
        ms(percentile(&load_lat, 0.5)),
        ms(percentile(&load_lat, 0.99)),
    );
    println!("{:<44} {:>9} {:>9}", "latency", "p50 ms", "p99 ms");
    println!(
        "{:<44} {:>9.3} {:>9.3}",
        format!("store commit, 1 writer at {PACED_RATE}/s ({PACED_WRITES} writes)"),
        ms(percentile(&paced_lat, 0.5)),
        ms(percentile(&paced_lat, 0.99)),
    );
    for (when, floor) in [("before", &floor_before), ("after", &floor_after)] {
        println!(
            "{:<44} {:>9.3} {:>9.3}",
            format!("floor {when}: fdatasync 4 KiB overwrite ({FSYNCS})"),
            ms(percentile(floor, 0.5)),
            ms(percentile(floor, 0.99)),
        );
    }
    Ok(())
}
