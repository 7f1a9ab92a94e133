import t from 'tap'
import { testPooledReplicatedConfig } from '../harness/postgres-replication.js'
import { messageChangesMultiProcess } from './scenarios/message-changes-multi-process.js'

// Through pgbouncer in transaction mode, with a streaming replica configured for the reads that may lag.
await messageChangesMultiProcess(t, await testPooledReplicatedConfig(t), { workers: 2 })
