import t from 'tap'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { startRedis } from './faults.js'
import { faultStartOrder } from './scenarios/fault-start-order.js'

// On a Redis of the test's own; test/fault-start-order-cluster.test.ts starts a Redis Cluster late instead.
t.setTimeout(300_000)

const redisPort = await freePort()
await faultStartOrder(t, await testConfig(t, { REDIS_URL: `redis://127.0.0.1:${redisPort}` }), async () => (await startRedis(redisPort)).kill)
