import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { wakeupSharding } from './scenarios/wakeup-sharding.js'

// On one Redis: sharded pub/sub narrows who receives even without a cluster.
await wakeupSharding(t, await testConfig(t))
