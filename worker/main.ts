import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { loadConfig } from '../core/config.js'
import { createDb } from '../core/db/connect.js'
import { startWorkers } from './start-workers.js'

const config = loadConfig()
const log = pino({ level: config.LOG_LEVEL, name: 'pigeon-worker' })
const db = createDb(config.DATABASE_URL, { max: config.WORKER_CONCURRENCY + 2 })
const workers = startWorkers({ config, db, log })
log.info({ concurrency: config.WORKER_CONCURRENCY }, 'workers started')

closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
  if (err !== undefined) log.error({ err }, 'closing after an error')
  else log.info({ signal }, 'closing')
  await workers.close()
  await db.destroy()
})
