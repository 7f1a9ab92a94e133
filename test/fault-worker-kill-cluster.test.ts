import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { faultWorkerKill } from './scenarios/fault-worker-kill.js'

// On a 3-master Redis Cluster: a killed worker's jobs are taken up again there too. Fewer sends than on one Redis
// (test/fault-worker-kill.test.ts), which covers the load; this covers the cluster.
t.setTimeout(400_000)

await faultWorkerKill(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }), { sends: 600 })
