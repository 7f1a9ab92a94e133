import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// The tasks that show a message in their result (its send, its edits and deletes): an edit or a delete finds them
// to mark their cached answers stale before it commits, and a delete the jobs that carried its texts. It covers what
// the edits-only index of 2026-12-02T0900 did, which goes.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tasks_message_idx').on('tasks').column('message_id').where(sql.ref('message_id'), 'is not', null).execute()
  await db.schema.dropIndex('tasks_edits_by_message_idx').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tasks_edits_by_message_idx').on('tasks').column('message_id')
    .where(sql.ref('kind'), '=', 'edit-message').execute()
  await db.schema.dropIndex('tasks_message_idx').execute()
}
