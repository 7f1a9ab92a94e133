import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { faultSaturated } from './scenarios/fault-saturated.js'

// On a 3-master Redis Cluster, whose clients keep a map of slots that a starved event loop must not lose: slow is
// still not down. Fewer sends than on one Redis (test/fault-saturated.test.ts), which covers the load.
t.setTimeout(400_000)

await faultSaturated(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }), { sends: 100 })
