import t from 'tap'
import { testPooledReplicatedConfig } from '../harness/postgres-replication.js'
import { longPollMultiProcess } from './scenarios/long-poll-multi-process.js'

// Through pgbouncer in transaction mode, with a streaming replica configured for the reads that may lag.
await longPollMultiProcess(t, await testPooledReplicatedConfig(t), { workers: 2 })
