import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { faultPostgresCut } from './scenarios/fault-postgres-cut.js'

// On a 3-master Redis Cluster: the sends accepted while the worker cannot reach Postgres wait in the cluster's queue.
// Fewer sends than on one Redis (test/fault-postgres-cut.test.ts), which covers the load; this covers the cluster.
t.setTimeout(300_000)

await faultPostgresCut(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }), { sends: 200 })
