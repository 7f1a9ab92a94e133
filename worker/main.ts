import { createServer } from 'node:http'
import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { loadConfig } from '../core/config.js'
import { createDb } from '../core/db/connect.js'
import { startWorkers, workerPoolSize } from './start-workers.js'

const config = loadConfig()
const log = pino({ level: config.LOG_LEVEL, name: 'pigeon-worker' })
const db = createDb(config.DATABASE_URL, { max: workerPoolSize(config) })
const registry = new Registry()
collectDefaultMetrics({ register: registry })
const workers = startWorkers({ config, db, log, registry })
log.info({ concurrency: config.WORKER_CONCURRENCY }, 'workers started')

// Prometheus scrapes each worker process directly; it serves nothing else.
const metricsServer = createServer((request, response) => {
  if (request.url !== '/metrics') {
    response.writeHead(404).end()
    return
  }
  registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
    () => response.writeHead(500).end()
  )
})
// A second worker on the same machine finds the port taken: it goes on working, without metrics.
metricsServer.on('error', (error) => log.warn({ err: error, port: config.WORKER_METRICS_PORT }, 'metrics server not started'))
if (config.WORKER_METRICS_PORT !== 0) {
  metricsServer.listen(config.WORKER_METRICS_PORT, config.HOST, () => log.info({ port: config.WORKER_METRICS_PORT }, 'metrics at /metrics'))
}

closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
  if (err !== undefined) log.error({ err }, 'closing after an error')
  else log.info({ signal }, 'closing')
  metricsServer.close()
  await workers.close()
  await db.destroy()
})
