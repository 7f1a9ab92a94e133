import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// A delete removes from Redis the jobs that carried the message's texts: its send's, and those of its edits, found
// here. Only edits are indexed, so sends (nearly every task) pay nothing for it.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tasks_edits_by_message_idx').on('tasks').column('message_id')
    .where(sql.ref('kind'), '=', 'edit-message').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('tasks_edits_by_message_idx').execute()
}
