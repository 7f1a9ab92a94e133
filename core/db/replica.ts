import { sql } from 'kysely'
import pg from 'pg'
import { createDb, isDatabaseUnavailable, type Db } from './connect.js'
import type { Log } from '../log.js'

/** Where one read ran: the replica, or the primary (no replica configured, the replica away, or not caught up). */
export type ReadTarget = 'replica' | 'primary'

// How long the replica may take to connect or to answer before its read goes to the primary: through pgbouncer a
// replica that is away does not refuse, its queries wait in the pooler's queue.
const replicaTimeoutMillis = 5000

/**
 * The one place that decides where the reads that tolerate a short lag run (the README's route table lists them):
 * on the streaming replica when one is configured and answering, else on the primary. Everything else takes the
 * primary `Db` directly and never comes here.
 *
 * A replica that cannot be reached costs no failed request: the read that found it away runs again on the primary,
 * and so do the reads after it, until a probe (every `retrySeconds`, only while it is away) finds it answering again.
 * Its pool is dropped when it goes away and made afresh when it is back, so no connection stuck on the outage
 * (a query queued in pgbouncer) is handed out again.
 */
export function createLaggingReads (primary: Db, options: {
  replicaUrl: string
  retrySeconds: number
  log: Log
  /** Told where each read ran (a metric). */
  onRead?: (target: ReadTarget) => void
}) {
  const { replicaUrl, retrySeconds, log, onRead = () => {} } = options
  const connectReplica = () => createDb(replicaUrl, { timeoutMillis: replicaTimeoutMillis })
  // undefined: no replica configured, or it is away (then `probe` runs).
  let replica = replicaUrl === '' ? undefined : connectReplica()
  let probe: NodeJS.Timeout | undefined

  function markAway (away: Db, error: unknown): void {
    if (replica !== away) return
    replica = undefined
    // In-flight reads on it finish or fail over on their own; its connections close as they come back.
    away.destroy().catch(() => {})
    log.warn({ err: error }, 'read replica unreachable: its reads go to the primary until it answers again')
    probe = setInterval(() => {
      answers(replicaUrl).then((back) => {
        if (!back || probe === undefined) return
        clearInterval(probe)
        probe = undefined
        replica = connectReplica()
        log.info({}, 'read replica answers again: lagging reads go back to it')
      }, () => {})
    }, retrySeconds * 1000)
    probe.unref()
  }

  /** `read` on the replica when it is up; `instead` when it is away, or goes away during the read. */
  async function onReplicaElse<T> (read: (db: Db) => Promise<T>, instead: () => Promise<T>): Promise<T> {
    const used = replica
    if (used === undefined) return await instead()
    try {
      return await read(used)
    } catch (error) {
      // A pool dropped under this read (another read found the replica away) fails with errors of its own.
      if (replica !== used) return await instead()
      if (isDatabaseUnavailable(error) || (error as Error).message === 'Query read timeout') markAway(used, error)
      // A standby cancels a query whose rows its replay must remove ("conflict with recovery"): the primary has them.
      else if ((error as { code?: unknown }).code !== '40001') throw error
      return await instead()
    }
  }

  async function onPrimary<T> (read: (db: Db) => Promise<T>): Promise<T> {
    const result = await read(primary)
    onRead('primary')
    return result
  }

  /** Runs a read that may lag: on the replica when it is up, else on the primary. */
  async function run<T> (read: (db: Db) => Promise<T>): Promise<T> {
    return await onReplicaElse(async (db) => {
      const result = await read(db)
      onRead('replica')
      return result
    }, async () => await onPrimary(read))
  }

  return {
    run,

    /**
     * Whether lagging reads go to a replica now. A read that also checks something only the primary may answer
     * (membership, say) checks it apart while they do, and on the primary in the same statement (`onPrimary`) when not.
     */
    replicaInUse: (): boolean => replica !== undefined,

    /** A lagging read that runs on the primary, counted as one. */
    onPrimary,

    /**
     * As `run`, but on the replica only once it has replayed the primary's WAL up to `position` (`walPosition` on
     * the primary after a write), so the read sees that write; on the primary otherwise, and when `position` is null
     * (unknown). Replay only moves forward: caught up once, caught up for the read that follows.
     */
    async runCaughtUpTo<T> (position: string | null, read: (db: Db) => Promise<T>): Promise<T> {
      const caughtUp = position !== null && await onReplicaElse(async (db) => {
        const { rows: [replayed] } = await sql<{ caughtUp: boolean | null }>`select pg_last_wal_replay_lsn() >= ${position}::pg_lsn as "caughtUp"`.execute(db)
        return replayed?.caughtUp === true
      }, async () => false)
      return caughtUp ? await run(read) : await onPrimary(read)
    },

    async close (): Promise<void> {
      clearInterval(probe)
      probe = undefined
      await replica?.destroy()
    }
  }
}

export type LaggingReads = ReturnType<typeof createLaggingReads>

/** The primary's WAL position after every write committed so far, for `runCaughtUpTo`. */
export async function walPosition (primary: Db): Promise<string | null> {
  // The insert position, not `pg_current_wal_lsn()` (what has been written out): with `synchronous_commit = off` a
  // commit returns before its record is written, so the write position can still be short of a committed change.
  const { rows: [current] } = await sql<{ lsn: string }>`select pg_current_wal_insert_lsn()::text as lsn`.execute(primary)
  return current?.lsn ?? null
}

/** Whether the server at `url` answers a query now, on a connection of its own (closed after). */
async function answers (url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: replicaTimeoutMillis, query_timeout: replicaTimeoutMillis })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}
