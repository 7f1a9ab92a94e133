import type { Db } from './db/connect.js'

export async function insertRefreshToken (db: Db, token: { id: string, familyId: string, userId: number, expiresAt: Date }): Promise<void> {
  await db.insertInto('refresh_tokens')
    .values({ id: token.id, family_id: token.familyId, user_id: token.userId, expires_at: token.expiresAt })
    .execute()
}

export type RefreshOutcome = 'rotated' | 'reused' | 'invalid'

/**
 * Marks a refresh token used, exactly once. A second use of the same token (a stolen copy, or a replay)
 * revokes its whole family, so neither holder can go on refreshing.
 */
export async function consumeRefreshToken (db: Db, id: string, userId: number): Promise<RefreshOutcome> {
  return await db.transaction().execute(async (trx) => {
    const token = await trx.selectFrom('refresh_tokens').selectAll()
      .where('id', '=', id).where('user_id', '=', userId)
      .forUpdate().executeTakeFirst()
    if (token === undefined || token.revoked_at !== null || token.expires_at <= new Date()) return 'invalid'
    if (token.used_at !== null) {
      await revokeFamily(trx, token.family_id)
      return 'reused'
    }
    await trx.updateTable('refresh_tokens').set({ used_at: new Date() }).where('id', '=', id).execute()
    return 'rotated'
  })
}

/** Family ids come from a verified token, so they cannot name another user's family. */
export async function revokeFamily (db: Db, familyId: string): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: new Date() })
    .where('family_id', '=', familyId).where('revoked_at', 'is', null)
    .execute()
}

/** Whether a login (a family) was revoked: what the access-token check asks when Redis cannot answer. */
export async function isFamilyRevoked (db: Db, familyId: string): Promise<boolean> {
  const row = await db.selectFrom('refresh_tokens').select('id')
    .where('family_id', '=', familyId).where('revoked_at', 'is not', null)
    .limit(1).executeTakeFirst()
  return row !== undefined
}

/** Revokes every login of a user but `keep` (if given); returns the families that were live until now. */
export async function revokeFamiliesOf (db: Db, userId: number, keep?: string): Promise<string[]> {
  let update = db.updateTable('refresh_tokens').set({ revoked_at: new Date() })
    .where('user_id', '=', userId).where('revoked_at', 'is', null)
  if (keep !== undefined) update = update.where('family_id', '!=', keep)
  const rows = await update.returning('family_id').execute()
  return [...new Set(rows.map((row) => row.family_id))]
}
