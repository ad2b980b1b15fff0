// When each of a task's reminders fires next, kept in reminder_firings and
// computed in SQL from the task row itself: whoever changes what a reminder
// counts from (the due date, the reminders, the recurrence moving the due
// date on, the user's time zone for whole days) calls this in the same
// transaction, so the schedule never disagrees with a committed task.
import { and, eq, gt, inArray, type SQL, sql } from 'drizzle-orm'
import type { Transaction } from '../db/operations'
import { reminderFirings, tasks } from '../db/schema'
import { userTimeZone } from '../settings/zone'

// A whole day has no time: a relative reminder counts from 09:00 of that day
// in the user's time zone, as calendar apps remind of all-day events. From
// 00:00, "on the day" would fire at midnight, while the user sleeps, and
// "a day before" would mean the evening two days before.
export const WHOLE_DAY_REMINDS_FROM = '09:00'

/**
 * Recomputes the reminders of the user's tasks `taskIds` from their rows, at
 * `now`: each one whose time is still ahead is (re)scheduled; one whose time
 * has passed, or a relative one of a task without a due date, is not. A
 * firing already due that the scheduler has not claimed yet (it runs about
 * once a second) is left to fire: a client that PUTs the whole task in that
 * second must not lose it. A completed task keeps its schedule (reopened, it
 * reminds again); the scheduler skips it while it is completed.
 */
export async function scheduleReminders(tx: Transaction, userId: string, taskIds: readonly number[], now: Date): Promise<void> {
  if (taskIds.length > 0) await reschedule(tx, userId, inArray(tasks.id, [...taskIds]), now)
}

/** After the user's time zone changed: the reminders of their whole-day tasks move with it. */
export async function rescheduleWholeDays(tx: Transaction, userId: string, now: Date): Promise<void> {
  await reschedule(tx, userId, sql`${tasks.dueDay} is not null`, now)
}

async function reschedule(tx: Transaction, userId: string, which: SQL, now: Date): Promise<void> {
  const chosen = and(eq(tasks.userId, userId), which)
  const nowText = now.toISOString()
  await tx
    .delete(reminderFirings)
    .where(
      and(
        eq(reminderFirings.userId, userId),
        inArray(reminderFirings.taskId, tx.select({ id: tasks.id }).from(tasks).where(chosen)),
        gt(reminderFirings.fireAt, nowText),
      ),
    )
  const zone = userTimeZone(tasks.userId)
  const dueMoment = sql`coalesce(${tasks.dueDate}, (${tasks.dueDay} + time '${sql.raw(WHOLE_DAY_REMINDS_FROM)}') at time zone ${zone})`
  // Null for a relative reminder without a due date: not scheduled.
  const fireAt = sql`case when item ->> 'at' is not null then (item ->> 'at')::timestamptz
    else ${dueMoment} - make_interval(mins => (item ->> 'before_minutes')::int) end`
  await tx.execute(sql`insert into ${reminderFirings} (user_id, task_id, reminder, fire_at)
    select user_id, task_id, reminder, fire_at from (
      select ${tasks.userId} as user_id, ${tasks.id} as task_id, (ordinal - 1)::int as reminder, ${fireAt} as fire_at
      from ${tasks} cross join lateral jsonb_array_elements(${tasks.reminders}) with ordinality as given(item, ordinal)
      where ${chosen}
    ) as due
    where fire_at > ${nowText}::timestamptz
    on conflict do nothing`)
}
