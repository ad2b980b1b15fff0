// The reminder schedule, run by every instance. A tick claims the firings
// that are due with FOR UPDATE SKIP LOCKED, so two instances never claim the
// same one, and in that same transaction deletes them and writes what must be
// delivered (the user's notices, and whatever the onFired hooks write, such
// as webhook deliveries). An instance that dies before commit rolls back and
// another claims the firings; after commit, delivery no longer depends on it:
// the notices wait in the outbox for the streams (src/reminders/notices.ts).
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared, type Transaction, transaction } from '../db/operations'
import { reminderCounters, reminderFirings, reminderNotices, tasks } from '../db/schema'
import type { Notifier } from '../events/notifier'
import type { Logger } from '../http/logger'
import { answerColumns, iso } from '../tasks/columns'
import { enqueueWebhookEvents } from '../webhooks/queries'
import type { ReminderEvent } from './notices'

// Claimed per statement: 1,000 reminders of one second take two claims.
export const CLAIM_BATCH = 500
// The real loop's tick: a reminder fires at most about this late.
export const TICK_MS = 1000

/** A reminder that fired: who it is for, and the event they are told. */
export type FiredReminder = { userId: string; event: ReminderEvent }

/**
 * Runs inside the claim transaction with the reminders it fired (never
 * empty) and the claim's clock: what it writes commits with the claim, and if
 * it throws, nothing fired.
 */
export type OnFired = (tx: Transaction, fired: FiredReminder[], now: Date) => Promise<void>

/** The `reminder` webhook of each fired reminder, queued for the user's webhooks that receive it: one statement per claim. */
export const reminderWebhooks: OnFired = async (tx, fired, now) => {
  await enqueueWebhookEvents(
    tx,
    fired.map(({ userId, event }) => ({ userId, type: 'reminder', data: event })),
    now,
  )
}

export interface SchedulerDeps {
  db: Database
  /** Wakes the users' streams, here and on the other instances, after commit. */
  notifier: Pick<Notifier, 'reminded'>
  logger: Logger
  /** The clock of the real loop; tests call runOnce(now) with their own. */
  now?: () => Date
  onFired?: OnFired[]
  batch?: number
}

export type Scheduler = ReturnType<typeof reminderScheduler>

export function reminderScheduler({ db, notifier, logger, now = () => new Date(), onFired = [], batch = CLAIM_BATCH }: SchedulerDeps) {
  // The idle tick's one query: is anything due? Read by the index on fire_at.
  const anyDue = prepared(db, 'reminders_any_due', (name) =>
    db
      .select({ one: sql<number>`1` })
      .from(reminderFirings)
      .where(sql`${reminderFirings.fireAt} <= ${sql.placeholder('now')}`)
      .limit(1)
      .prepare(name),
  )

  /** Fires every reminder due at `now`, a batch per transaction; returns how many were claimed. */
  async function runOnce(at: Date): Promise<number> {
    const nowText = at.toISOString()
    if ((await anyDue.execute({ now: nowText })).length === 0) return 0
    let total = 0
    for (;;) {
      const { claimed, fired } = await transaction(db, async (tx) => {
        const claimed = await claim(tx, nowText, batch)
        const fired = claimed.filter((row) => !row.completed).map(({ completed: _, ...firing }) => firing)
        if (fired.length > 0) {
          await recordNotices(tx, fired)
          for (const hook of onFired) await hook(tx, fired, at)
        }
        return { claimed: claimed.length, fired }
      })
      for (const userId of new Set(fired.map((firing) => firing.userId))) notifier.reminded(userId)
      total += claimed
      if (claimed < batch) return total
    }
  }

  let running: Promise<unknown> | undefined
  /** Ticks every TICK_MS until the returned function is called; it resolves once a tick under way has ended. */
  function start(everyMs = TICK_MS): () => Promise<void> {
    const timer = setInterval(() => {
      // A slow tick (a large batch, a slow database) is not overlapped by the next.
      running ??= runOnce(now())
        .catch((error: unknown) => logger.warn('reminder tick failed; retried at the next', { cause: String(error) }))
        .finally(() => {
          running = undefined
        })
    }, everyMs)
    timer.unref()
    return async () => {
      clearInterval(timer)
      await running
    }
  }

  return { runOnce, start }
}

/** Deletes up to `limit` due firings no other transaction holds, and answers them with their task. */
async function claim(tx: Transaction, now: string, limit: number) {
  const picked = sql`(${reminderFirings.userId}, ${reminderFirings.taskId}, ${reminderFirings.reminder}, ${reminderFirings.fireAt}) in (
    select user_id, task_id, reminder, fire_at from ${reminderFirings} where fire_at <= ${now}::timestamptz
    order by fire_at limit ${limit} for update skip locked)`
  const claimed = tx.$with('claimed').as(
    tx.delete(reminderFirings).where(picked).returning({
      userId: reminderFirings.userId,
      taskId: reminderFirings.taskId,
      reminder: reminderFirings.reminder,
      fireAt: reminderFirings.fireAt,
    }),
  )
  const rows = await tx
    .with(claimed)
    .select({
      userId: claimed.userId,
      completed: tasks.completed,
      event: {
        task_id: tasks.id,
        title: tasks.title,
        due_date: answerColumns.due_date,
        remind_at: iso(sql`${claimed.fireAt}`),
      },
    })
    .from(claimed)
    // The task is still there: deleting it deleted its firings (and waited for this claim).
    .innerJoin(tasks, and(eq(tasks.userId, claimed.userId), eq(tasks.id, claimed.taskId)))
    .orderBy(asc(claimed.userId), asc(claimed.fireAt), asc(claimed.taskId), asc(claimed.reminder))
  return rows as { userId: string; completed: boolean; event: ReminderEvent }[]
}

/**
 * Writes the fired reminders into their users' outboxes, numbered after each
 * user's last notice. The counters are locked in user order, so two claims
 * sharing users wait for each other instead of deadlocking.
 */
async function recordNotices(tx: Transaction, fired: FiredReminder[]): Promise<void> {
  const counts = new Map<string, number>()
  for (const { userId } of fired) counts.set(userId, (counts.get(userId) ?? 0) + 1)
  const users = [...counts.keys()].sort()
  const counted = await tx
    .insert(reminderCounters)
    .values(users.map((userId) => ({ userId, lastNotice: counts.get(userId)! })))
    .onConflictDoUpdate({
      target: reminderCounters.userId,
      set: { lastNotice: sql`${reminderCounters.lastNotice} + excluded.last_notice` },
    })
    .returning({ userId: reminderCounters.userId, lastNotice: reminderCounters.lastNotice })
  const next = new Map(counted.map(({ userId, lastNotice }) => [userId, lastNotice - counts.get(userId)! + 1]))
  await tx.insert(reminderNotices).values(
    fired.map(({ userId, event }) => {
      const number = next.get(userId)!
      next.set(userId, number + 1)
      return { userId, number, data: event }
    }),
  )
}
