//! The durable backend: an append-only log of versions in SQLite (WAL journal,
//! `synchronous=FULL`: an acknowledged write survives a crash and a power cut).
//!
//! Schema: `log(revision INTEGER PRIMARY KEY, key BLOB, value BLOB, create_revision,
//! prev_revision, deleted)` indexed by `(key, revision)`, where `prev_revision` is the
//! key's previous version (0: none) and a deletion row has an empty value (its last
//! value is that of `prev_revision`); `meta(name, value)` holds `compact_revision`.
//! The current revision is `max(max(log.revision), compact_revision)`: rows above the
//! compaction point are never deleted, so it never goes backwards.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::backend::{Backend, LoadedState, effective_limit, prefix_end};
use crate::engine::{KvStore, StoreOptions};
use crate::{Event, EventKind, KeyValue, ListOptions, Result, Revision, StoreError};

/// The store over SQLite: the default, durable store.
pub type SqliteStore = KvStore<SqliteBackend>;

/// How to open a [`SqliteStore`].
#[derive(Clone, Debug, Default)]
pub struct SqliteOptions {
    /// Options of the shared core (compaction interval, watch cache, batching).
    pub store: StoreOptions,
}

impl KvStore<SqliteBackend> {
    /// Opens (creating it and its parent directories if needed) the database at `path`,
    /// loads the current state and starts the writer thread and the background
    /// compactor. Call it inside a tokio runtime (otherwise background compaction is off).
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<Arc<SqliteStore>> {
        let backend = SqliteBackend::open(path)?;
        KvStore::start(backend, opts.store)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(format!("sqlite: {e}"))
    }
}

/// Connections kept for reads and compaction beyond this are closed after use.
const MAX_IDLE_READERS: usize = 4;
/// Rows looked at per compaction transaction (keeps the write lock short).
const COMPACT_CHUNK: i64 = 2000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

/// WAL bytes appended between two checkpoints (SQLite's default is about 4 MiB).
const CHECKPOINT_BYTES: usize = 8 << 20;
/// WAL bytes every commit writes at least: whole pages of the log table and of its index.
/// Counting only row bytes undercounts small commits 10–20×, which made checkpoints rare and
/// huge (their fsyncs then stall commits).
const COMMIT_PAGE_FLOOR: usize = 2 * 4096;

/// The SQLite log. One connection is used by the writer thread; reads of history and
/// compaction use a small pool of other connections (WAL lets them run beside it).
/// Checkpoints (copying the WAL into the database file, with its own fsyncs) run on a
/// separate thread, off the commit path.
pub struct SqliteBackend {
    path: PathBuf,
    writer: Mutex<Writer>,
    pool: Mutex<Vec<Connection>>,
}

struct Writer {
    conn: Connection,
    /// Bytes appended since the last checkpoint was asked for.
    unchecked: usize,
    /// Wakes the checkpointer thread (which stops when this is dropped).
    checkpoint: std::sync::mpsc::SyncSender<()>,
}

fn run_checkpointer(conn: Connection, wake: std::sync::mpsc::Receiver<()>) {
    while wake.recv().is_ok() {
        let started = std::time::Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((log, done)) => {
                tracing::trace!(log, done, elapsed = ?started.elapsed(), "wal checkpoint")
            }
            Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits for the write lock in short steps (SQLite's default busy handler sleeps whole
/// milliseconds), giving up after about 30 s.
fn busy_wait(attempt: i32) -> bool {
    match attempt {
        0..200 => std::thread::sleep(Duration::from_micros(50)),
        200..30_000 => std::thread::sleep(Duration::from_millis(1)),
        _ => return false,
    }
    true
}

fn connect(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_handler(Some(busy_wait))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "sqlite: cannot use WAL journal (got {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")?;
    Ok(conn)
}

fn key_string(bytes: Vec<u8>) -> rusqlite::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

impl SqliteBackend {
    /// Opens or creates the database file (and its parent directories).
    pub fn open(path: &Path) -> Result<SqliteBackend> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let writer = connect(path)?;
        writer.execute_batch(SCHEMA)?;
        // Checkpoints run on their own thread; keep the WAL file from growing for good.
        writer.execute_batch(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
        )?;
        let checkpointer = connect(path)?;
        let (checkpoint, wake) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("k3rs-store-checkpoint".into())
            .spawn(move || run_checkpointer(checkpointer, wake))
            .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        // Make the new file's directory entry durable too.
        if let Some(dir) = dir
            && let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all())
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot sync the database directory");
        }
        Ok(SqliteBackend {
            path: path.to_owned(),
            writer: Mutex::new(Writer {
                conn: writer,
                unchecked: 0,
                checkpoint,
            }),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled connection.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = lock(&self.pool).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let out = f(&mut conn);
        let mut pool = lock(&self.pool);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    fn compacted(conn: &Connection) -> Result<Revision> {
        Ok(conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'compact_revision'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }
}

/// SQL conditions and parameters selecting keys of a listing or history range.
fn key_range(column: &str, prefix: &str, start_after: Option<&str>) -> (String, Vec<Vec<u8>>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    if !prefix.is_empty() {
        sql.push_str(&format!(" AND {column} >= ?"));
        args.push(prefix.as_bytes().to_vec());
    }
    if let Some(end) = prefix_end(prefix.as_bytes()) {
        sql.push_str(&format!(" AND {column} < ?"));
        args.push(end);
    }
    if let Some(after) = start_after {
        sql.push_str(&format!(" AND {column} > ?"));
        args.push(after.as_bytes().to_vec());
    }
    (sql, args)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(-1)
}

impl Backend for SqliteBackend {
    fn load(&self) -> Result<LoadedState> {
        let writer = lock(&self.writer);
        let conn = &writer.conn;
        let compacted = Self::compacted(conn)?;
        let max: Revision =
            conn.query_row("SELECT COALESCE(MAX(revision), 0) FROM log", [], |r| {
                r.get(0)
            })?;
        // SQLite takes the bare columns from the row holding MAX(revision).
        let mut stmt = conn.prepare(
            "SELECT key, value, create_revision, MAX(revision), deleted FROM log GROUP BY key",
        )?;
        let mut kvs = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if row.get::<_, bool>(4)? {
                continue;
            }
            let value: Vec<u8> = row.get(1)?;
            kvs.push(KeyValue {
                key: key_string(row.get(0)?)?,
                value: value.into(),
                create_revision: row.get(2)?,
                mod_revision: row.get(3)?,
            });
        }
        Ok(LoadedState {
            kvs,
            current_revision: max.max(compacted),
            compacted_revision: compacted,
        })
    }

    fn append(&self, events: &[Event]) -> Result<()> {
        let mut writer = lock(&self.writer);
        let mut bytes = 0;
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO log (revision, key, value, create_revision, prev_revision, deleted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in events {
                let deleted = e.kind == EventKind::Delete;
                let value: &[u8] = if deleted { &[] } else { &e.kv.value };
                bytes += 64 + e.kv.key.len() * 2 + value.len();
                insert.execute(params![
                    e.kv.mod_revision,
                    e.kv.key.as_bytes(),
                    value,
                    e.kv.create_revision,
                    e.prev.as_ref().map_or(0, |p| p.mod_revision),
                    deleted,
                ])?;
            }
        }
        tx.commit()?;
        writer.unchecked += bytes + COMMIT_PAGE_FLOOR;
        if writer.unchecked >= CHECKPOINT_BYTES {
            writer.unchecked = 0;
            // Full: a checkpoint is already asked for.
            let _ = writer.checkpoint.try_send(());
        }
        Ok(())
    }

    fn history(
        &self,
        prefix: &str,
        after: Revision,
        up_to: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let (range_sql, range_args) = key_range("l.key", prefix, None);
        let sql = format!(
            "SELECT l.revision, l.key, l.value, l.create_revision, l.prev_revision, l.deleted,
                    p.value, p.create_revision
             FROM log l LEFT JOIN log p ON p.revision = l.prev_revision
             WHERE l.revision > ? AND l.revision <= ?{range_sql}
             ORDER BY l.revision LIMIT ?"
        );
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&after, &up_to];
            args.extend(range_args.iter().map(|a| a as &dyn rusqlite::ToSql));
            let limit = sql_limit(limit);
            args.push(&limit);
            let mut rows = stmt.query(args.as_slice())?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                let revision: Revision = row.get(0)?;
                let key = key_string(row.get(1)?)?;
                let prev_revision: Revision = row.get(4)?;
                let deleted: bool = row.get(5)?;
                let prev_value: Option<Vec<u8>> = row.get(6)?;
                let prev = match prev_value {
                    Some(v) => Some(KeyValue {
                        key: key.clone(),
                        value: v.into(),
                        create_revision: row.get(7)?,
                        mod_revision: prev_revision,
                    }),
                    None if prev_revision != 0 => {
                        tracing::warn!(
                            revision,
                            prev_revision,
                            "previous version missing from the log"
                        );
                        None
                    }
                    None => None,
                };
                let event = if deleted {
                    let value = prev
                        .as_ref()
                        .map_or_else(|| Arc::from(Vec::new()), |p| p.value.clone());
                    Event {
                        kind: EventKind::Delete,
                        kv: KeyValue {
                            key,
                            value,
                            create_revision: row.get(3)?,
                            mod_revision: revision,
                        },
                        prev,
                    }
                } else {
                    let value: Vec<u8> = row.get(2)?;
                    Event {
                        kind: EventKind::Put,
                        kv: KeyValue {
                            key,
                            value: value.into(),
                            create_revision: row.get(3)?,
                            mod_revision: revision,
                        },
                        prev,
                    }
                };
                events.push(event);
            }
            Ok(events)
        })
    }

    fn list_at(&self, opts: &ListOptions, revision: Revision) -> Result<(Vec<KeyValue>, bool)> {
        let (range_sql, range_args) = key_range("l.key", &opts.prefix, opts.start_after.as_deref());
        let sql = format!(
            "SELECT l.key, l.value, l.create_revision, l.revision FROM log l
             WHERE l.revision <= ?{range_sql}
               AND NOT EXISTS (SELECT 1 FROM log n
                               WHERE n.key = l.key AND n.revision > l.revision AND n.revision <= ?)
               AND l.deleted = 0
             ORDER BY l.key LIMIT ?"
        );
        let limit = effective_limit(opts.limit);
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&revision];
            args.extend(range_args.iter().map(|a| a as &dyn rusqlite::ToSql));
            args.push(&revision);
            let sql_lim = sql_limit(limit.saturating_add(1));
            args.push(&sql_lim);
            let mut rows = stmt.query(args.as_slice())?;
            let mut items = Vec::new();
            let mut more = false;
            while let Some(row) = rows.next()? {
                if items.len() >= limit {
                    more = true;
                    break;
                }
                let value: Vec<u8> = row.get(1)?;
                items.push(KeyValue {
                    key: key_string(row.get(0)?)?,
                    value: value.into(),
                    create_revision: row.get(2)?,
                    mod_revision: row.get(3)?,
                });
            }
            Ok((items, more))
        })
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        self.with_conn(|conn| {
            // Record the point first: if we stop midway, reads below it are refused anyway.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old = Self::compacted(&tx)?;
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('compact_revision', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [revision.max(old)],
            )?;
            tx.commit()?;

            let mut low: Revision =
                conn.query_row("SELECT COALESCE(MIN(revision), 0) - 1 FROM log", [], |r| r.get(0))?;
            let mut removed = 0usize;
            while low < revision {
                let high: Revision = conn
                    .query_row(
                        "SELECT revision FROM log WHERE revision > ?1 ORDER BY revision LIMIT 1 OFFSET ?2",
                        params![low, COMPACT_CHUNK - 1],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(revision)
                    .min(revision);
                removed += conn.execute(
                    "DELETE FROM log WHERE revision > ?1 AND revision <= ?2
                       AND (deleted = 1 OR EXISTS (SELECT 1 FROM log n
                            WHERE n.key = log.key AND n.revision > log.revision AND n.revision <= ?3))",
                    params![low, high, revision],
                )?;
                low = high;
            }
            tracing::debug!(revision, removed, "sqlite log compacted");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
