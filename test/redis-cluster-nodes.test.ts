import t from 'tap'
import { loadConfig } from '../core/config.js'
import { clusterNodes } from '../core/redis.js'

t.test('REDIS_CLUSTER_NODES: seeds as host:port, comma-separated; empty means one Redis at REDIS_URL', async (t) => {
  t.same(clusterNodes(loadConfig({})), [])
  t.same(clusterNodes(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:6379, 10.0.0.2:7001,redis-3:6379' })), [
    { host: 'redis-1', port: 6379 }, { host: '10.0.0.2', port: 7001 }, { host: 'redis-3', port: 6379 }
  ])
  for (const wrong of ['redis-1', 'redis-1:6379,', 'redis://redis-1:6379', 'redis-1:port']) {
    t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: wrong }), `${wrong} is refused at start`)
  }
})
