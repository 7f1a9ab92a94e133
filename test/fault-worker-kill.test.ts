import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { startRedis } from './faults.js'
import { faultWorkerKill } from './scenarios/fault-worker-kill.js'

// On a Redis of the test's own; test/fault-worker-kill-cluster.test.ts runs it on a Redis Cluster.
t.setTimeout(400_000)

const redis = await startRedis()
t.teardown(redis.kill)
await faultWorkerKill(t, await testConfig(t, { REDIS_URL: redis.url }), { sends: 2000 })
