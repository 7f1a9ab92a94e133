import type { Config } from '../../core/config.js'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { mergeOldReadMarks } from '../../core/read-state.js'

/** The name of the repeated job, on the mark-seen queue, that merges old read watermark moves. */
export const mergeReadMarksJob = 'merge-read-marks'

/** How often it runs: often enough that a span's moves wait about a span for their merge, at most hourly. */
export function mergeReadMarksEveryMs (config: Config): number {
  return Math.min(3600, Math.max(5, config.READ_MARKS_EXACT_SECONDS / 4)) * 1000
}

/**
 * Merges old read watermark moves of every member, a batch of members per statement (each its own short
 * transaction), so read_marks holds each member's recent moves and a few rows for the rest. Answers the rows removed.
 */
export function createMergeReadMarks ({ db, config, log }: { db: Db, config: Config, log: Log }) {
  return async (): Promise<number> => {
    let removed = 0
    let after: { roomId: number, userId: number } | undefined
    for (;;) {
      const batch = await mergeOldReadMarks(db, { exactSeconds: config.READ_MARKS_EXACT_SECONDS, keepSeconds: config.READ_MARKS_KEEP_SECONDS, batch: 500, after })
      removed += batch.removed
      if (batch.next === null) break
      after = batch.next
    }
    if (removed > 0) log.info({ removed }, 'old read marks merged')
    return removed
  }
}
