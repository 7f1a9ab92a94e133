import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { pushMultiProcess } from './scenarios/push-multi-process.js'

// On a 3-master Redis Cluster, with two workers.
await pushMultiProcess(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }), { workers: 2 })
