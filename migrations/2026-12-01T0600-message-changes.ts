import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// Edits and deletes: every insert, edit and delete takes the room's next change_seq under the room lock, so the
// unseen feed can answer "what changed after this point" exactly, as it answers "what is new after this seq".
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rooms')
    .addColumn('last_change_seq', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute()
  await db.schema.alterTable('messages')
    .addColumn('change_seq', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute()
  // Until now only inserts happened: a message's change is its insert, in seq order.
  await sql`update messages set change_seq = seq`.execute(db)
  await sql`update rooms set last_change_seq = last_seq`.execute(db)
  await db.schema.alterTable('messages').alterColumn('change_seq', (col) => col.dropDefault()).execute()
  await db.schema.createIndex('messages_room_change_seq_idx').on('messages').columns(['room_id', 'change_seq']).execute()

  // A tombstone keeps its slot (room, seq) and loses its text.
  await db.schema.alterTable('messages').alterColumn('text', (col) => col.dropNotNull()).execute()
  await sql`update messages set text = null where deleted_at is not null`.execute(db)
  await db.schema.alterTable('messages')
    .addCheckConstraint('messages_tombstone_shape', sql`(deleted_at is null) = (text is not null)`)
    .execute()

  // When a read watermark moved, and how far: "seen by whom, when" for a message is the first move that passed it.
  await db.schema.createTable('read_marks')
    .addColumn('room_id', 'bigint', (col) => col.notNull())
    .addColumn('user_id', 'bigint', (col) => col.notNull())
    .addColumn('up_to_seq', 'bigint', (col) => col.notNull())
    .addColumn('read_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint('read_marks_member_fkey', ['room_id', 'user_id'], 'room_members', ['room_id', 'user_id'], (fk) => fk.onDelete('cascade'))
    .execute()
  await db.schema.createIndex('read_marks_member_seq_idx').on('read_marks').columns(['room_id', 'user_id', 'up_to_seq']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('read_marks').execute()
  await db.schema.alterTable('messages').dropConstraint('messages_tombstone_shape').execute()
  await sql`update messages set text = '' where text is null`.execute(db)
  await db.schema.alterTable('messages').alterColumn('text', (col) => col.setNotNull()).execute()
  await db.schema.dropIndex('messages_room_change_seq_idx').execute()
  await db.schema.alterTable('messages').dropColumn('change_seq').execute()
  await db.schema.alterTable('rooms').dropColumn('last_change_seq').execute()
}
