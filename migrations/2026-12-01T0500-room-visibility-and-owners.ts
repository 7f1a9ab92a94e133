import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// Group rooms are public (listed, anyone may join) or private (members add people); members are owners or members.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rooms').addColumn('visibility', 'text').execute()
  // Rooms made before this were joinable by id but never listed, and were made with a list of members: kept closed.
  await db.updateTable('rooms').set({ visibility: 'private' }).where('kind', '=', 'group').execute()
  await db.schema.alterTable('rooms')
    .addCheckConstraint('rooms_visibility_shape', sql`(kind = 'group' and visibility in ('public', 'private')) or (kind = 'direct' and visibility is null)`)
    .execute()
  await db.schema.createIndex('rooms_public_idx').on('rooms').column('id').where(sql.ref('visibility'), '=', 'public').execute()

  await db.schema.alterTable('room_members')
    .addColumn('role', 'text', (col) => col.notNull().defaultTo('member').check(sql`role in ('owner', 'member')`))
    .execute()
  // The creator owns the room; where the creator has left, its longest-standing member does.
  await sql`
    update room_members rm set role = 'owner'
    from rooms r
    where r.id = rm.room_id and r.kind = 'group' and rm.user_id = r.created_by`.execute(db)
  await sql`
    update room_members rm set role = 'owner'
    from (
      select distinct on (m.room_id) m.room_id, m.user_id
      from room_members m join rooms r on r.id = m.room_id
      where r.kind = 'group'
        and not exists (select 1 from room_members o where o.room_id = m.room_id and o.role = 'owner')
      order by m.room_id, m.joined_at, m.user_id
    ) first
    where rm.room_id = first.room_id and rm.user_id = first.user_id`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('room_members').dropColumn('role').execute()
  await db.schema.dropIndex('rooms_public_idx').execute()
  await db.schema.alterTable('rooms').dropConstraint('rooms_visibility_shape').execute()
  await db.schema.alterTable('rooms').dropColumn('visibility').execute()
}
