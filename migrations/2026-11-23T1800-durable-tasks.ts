import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// A task is written when the API accepts it, not when a worker finishes it: Postgres holds every accepted send.
export async function up (db: Kysely<any>): Promise<void> {
  await sql`alter table tasks drop constraint tasks_state_check`.execute(db)
  await db.schema.alterTable('tasks')
    .addCheckConstraint('tasks_state_check', sql`state in ('queued', 'active', 'completed', 'failed')`)
    .execute()
  await db.schema.alterTable('tasks').alterColumn('finished_at', (col) => col.dropNotNull()).execute()
  await db.schema.alterTable('tasks').alterColumn('finished_at', (col) => col.dropDefault()).execute()
  await db.schema.alterTable('tasks').alterColumn('created_at', (col) => col.setDefault(sql`now()`)).execute()
  await db.schema.alterTable('tasks').alterColumn('attempts', (col) => col.setDefault(0)).execute()
  await db.schema.alterTable('tasks').alterColumn('state', (col) => col.setDefault('queued')).execute()
  await db.schema.alterTable('tasks')
    // What the worker needs to do the task, so its job can be re-created if Redis loses it. Tasks finished
    // before this migration have none.
    .addColumn('payload', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text')
    // When a reconciler last made sure the task's job exists: its lease, so many workers check each task once.
    .addColumn('checked_at', 'timestamptz')
    .execute()
  await db.schema.alterTable('tasks')
    .addCheckConstraint('tasks_finished_shape', sql`(state in ('completed', 'failed')) = (finished_at is not null)`)
    .execute()
  await db.schema.alterTable('tasks').alterColumn('payload', (col) => col.dropDefault()).execute()
  // NULL keys never collide, so sends without a key need no index entry of their own.
  await db.schema.createIndex('tasks_owner_idempotency_key').on('tasks')
    .columns(['owner_id', 'idempotency_key']).unique().execute()
  await db.schema.createIndex('tasks_unfinished_idx').on('tasks').column('created_at')
    .where(sql.ref('state'), 'in', sql`('queued', 'active')`).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.deleteFrom('tasks').where('state', 'in', ['queued', 'active']).execute()
  await db.schema.dropIndex('tasks_unfinished_idx').execute()
  await db.schema.dropIndex('tasks_owner_idempotency_key').execute()
  await db.schema.alterTable('tasks').dropConstraint('tasks_finished_shape').execute()
  await db.schema.alterTable('tasks')
    .dropColumn('payload').dropColumn('idempotency_key').dropColumn('request_hash').dropColumn('checked_at')
    .execute()
  await db.schema.alterTable('tasks').alterColumn('finished_at', (col) => col.setDefault(sql`now()`)).execute()
  await db.schema.alterTable('tasks').alterColumn('finished_at', (col) => col.setNotNull()).execute()
  await db.schema.alterTable('tasks').alterColumn('created_at', (col) => col.dropDefault()).execute()
  await db.schema.alterTable('tasks').alterColumn('attempts', (col) => col.dropDefault()).execute()
  await db.schema.alterTable('tasks').alterColumn('state', (col) => col.dropDefault()).execute()
  await sql`alter table tasks drop constraint tasks_state_check`.execute(db)
  await db.schema.alterTable('tasks').addCheckConstraint('tasks_state_check', sql`state in ('completed', 'failed')`).execute()
}
