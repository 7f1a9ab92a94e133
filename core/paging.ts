/** A keyset page from `limit + 1` rows read: the first `limit`, and whether more follow. */
export function pageOf<T> (rows: T[], limit: number): { rows: T[], hasMore: boolean } {
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
}
