/**
 * The yardstick for `npm run bench`: the least a BullMQ + Postgres pipeline can do. A worker process
 * (concurrency 50) that stores each job with one INSERT through pg, no HTTP, no checks, no transaction.
 * The bench starts it as a child with DATABASE_URL, REDIS_URL and BARE_PREFIX set, waits for its 'ready'
 * message, and stops it with SIGTERM.
 */
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import { bareQueueName } from './support.js'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 52 })
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null })
const worker = new Worker<{ text: string }>(bareQueueName, async (job) => {
  await pool.query('insert into bare_messages (text) values ($1)', [job.data.text])
}, { connection, prefix: process.env.BARE_PREFIX, concurrency: 50, removeOnComplete: { count: 1000 } })
worker.on('error', (error) => console.error(error))
// The bench starts timing once the worker is connected, as Pigeon's worker is by then.
worker.waitUntilReady().then(() => process.send?.('ready'), (error: unknown) => console.error(error))

process.once('SIGTERM', () => {
  worker.close().then(async () => {
    await pool.end()
    connection.disconnect()
  }, (error: unknown) => console.error(error))
})
