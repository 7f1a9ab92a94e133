import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// Both reads of edits and deletes (the unseen feed's changes, a room read's) ask for changed messages only. An index of
// those alone is as small as they are few, and the feed joins the reader's rooms to it; over the index of every
// message the planner read the whole table instead, on every feed read (0.3 s at a million messages, see the README's
// "The path beyond one primary"). Built concurrently, so this migration runs outside a transaction (see
// core/db/migrate.ts): each statement is its own, and each can be run again after a failure.
export const transactional = false

export async function up (db: Kysely<any>): Promise<void> {
  // A concurrent build that failed leaves an invalid index behind: drop it, so the build below runs again.
  const { rows } = await sql<{ valid: boolean }>`
    select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relname = 'messages_changed_idx'`.execute(db)
  if (rows[0]?.valid === false) await sql`drop index concurrently messages_changed_idx`.execute(db)
  await sql`
    create index concurrently if not exists messages_changed_idx on messages (room_id, change_seq)
      where edited_at is not null or deleted_at is not null`.execute(db)
  await sql`drop index concurrently if exists messages_room_change_seq_idx`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`create index concurrently if not exists messages_room_change_seq_idx on messages (room_id, change_seq)`.execute(db)
  await sql`drop index concurrently if exists messages_changed_idx`.execute(db)
}
