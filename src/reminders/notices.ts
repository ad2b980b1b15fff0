// The outbox between the scheduler and the live streams: each user's fired
// reminders, numbered in commit order (reminder_counters is locked by the
// claim that writes them), so a stream that has sent notice N reads "after N"
// and never skips one that committed late. Kept an hour: a stream reads a
// notice within moments of its wake-up, or at the next catch-up sweep.
import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { reminderCounters, reminderNotices } from '../db/schema'

export const NOTICES_KEPT_MS = 60 * 60 * 1000

/** What `event: reminder` carries. */
export type ReminderEvent = { task_id: number; title: string; due_date: string | null; remind_at: string }

const placeholder = (name: string) => sql.placeholder(name)

/** The number of the user's last notice (0: none yet): a stream opened now sends what comes after it. */
export async function latestNotice(db: Database, userId: string): Promise<number> {
  const read = prepared(db, 'reminders_latest_notice', (name) =>
    db
      .select({ last: reminderCounters.lastNotice })
      .from(reminderCounters)
      .where(eq(reminderCounters.userId, placeholder('userId')))
      .prepare(name),
  )
  const [row] = await read.execute({ userId })
  return row?.last ?? 0
}

/** The user's notices after number `after`, oldest first, at most `limit`. */
export async function readNotices(
  db: Database,
  userId: string,
  after: number,
  limit: number,
): Promise<{ number: number; data: ReminderEvent }[]> {
  const read = prepared(db, 'reminders_read_notices', (name) =>
    db
      .select({ number: reminderNotices.number, data: reminderNotices.data })
      .from(reminderNotices)
      .where(and(eq(reminderNotices.userId, placeholder('userId')), gt(reminderNotices.number, placeholder('after'))))
      .orderBy(asc(reminderNotices.number))
      .limit(placeholder('limit'))
      .prepare(name),
  )
  return (await read.execute({ userId, after, limit })) as { number: number; data: ReminderEvent }[]
}

/** The last notice number of each of `userIds` that has one (the catch-up sweep compares them with its streams'). */
export async function latestNotices(db: Database, userIds: string[]): Promise<Map<string, number>> {
  const found = await db
    .select({ userId: reminderCounters.userId, last: reminderCounters.lastNotice })
    .from(reminderCounters)
    .where(inArray(reminderCounters.userId, userIds))
  return new Map(found.map(({ userId, last }) => [userId, last]))
}

/** Housekeeping: forgets the notices older than NOTICES_KEPT_MS before `now`; returns how many. */
export async function purgeNotices(db: Database, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - NOTICES_KEPT_MS)
  const purged = await db.delete(reminderNotices).where(lt(reminderNotices.createdAt, cutoff)).returning({ number: reminderNotices.number })
  return purged.length
}
