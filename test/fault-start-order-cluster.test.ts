import t from 'tap'
import { distinctFreePorts, startRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { faultStartOrder } from './scenarios/fault-start-order.js'

// The API and the worker started before their Redis Cluster: its masters not yet up, then for a moment up but not yet
// joined (compose's cluster-create job leaves them so for a while). Clients of a cluster never reached keep trying.
// test/fault-start-order.test.ts starts one Redis late.
t.setTimeout(300_000)

// A cluster of the test's own, on ports chosen now and started late.
const ports = await distinctFreePorts(3)
const config = await testConfig(t, { REDIS_CLUSTER_NODES: ports.map((port) => `127.0.0.1:${port}`).join(',') })
await faultStartOrder(t, config, async () => (await startRedisCluster(ports)).stop)
