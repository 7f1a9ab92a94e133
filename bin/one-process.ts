// One-process mode for a laptop: the API and the workers share a process (and nothing else but config).
import closeWithGrace from 'close-with-grace'
import { Registry } from 'prom-client'
import { buildApp } from '../api/build-app.js'
import { loadConfig } from '../core/config.js'
import { createDb } from '../core/db/connect.js'
import { startWorkers, workerPoolSize } from '../worker/start-workers.js'

const config = loadConfig()
// One registry: the API's /metrics shows the workers' job durations too.
const registry = new Registry()
const app = await buildApp(config, { registry })
const db = createDb(config.DATABASE_URL, { max: workerPoolSize(config) })
const workers = startWorkers({ config, db, log: app.log.child({ name: 'pigeon-worker' }), registry })

closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
  await workers.close()
  await db.destroy()
})

await app.listen({ host: config.HOST, port: config.PORT })
