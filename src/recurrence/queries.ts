// The reads of a recurring task: its completions, newest first, and the due
// dates it will take next.
import { and, desc, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { explainMissing, owned } from '../db/ownership'
import { taskCompletions, tasks } from '../db/schema'
import type { Page } from '../http/paging'
import { iso, resource } from '../tasks/columns'
import { findSeries } from './roll'
import { upcomingOccurrences } from './schedule'

const placeholder = (name: string) => sql.placeholder(name)
const ofTheTask = and(eq(taskCompletions.userId, placeholder('userId')), eq(taskCompletions.taskId, placeholder('id')))

export type Completion = { completed_at: string; due_date: string }

/** A page of the task's completions, newest first, with how many it has; 404/403 for a task that is not the user's. */
export async function listCompletions(
  db: Database,
  userId: string,
  id: number,
  page: Page,
): Promise<{ completions: Completion[]; total: number }> {
  const head = prepared(db, 'completions_head', (name) =>
    db
      .select({
        found: sql<boolean>`exists (select 1 from ${tasks} where ${owned(tasks)})`,
        total: sql<number>`(select count(*)::int from ${taskCompletions} where ${ofTheTask})`,
      })
      .from(sql`(select 1) as one`)
      .prepare(name),
  )
  const [state] = await head.execute({ userId, id })
  if (!state?.found) return explainMissing(db, tasks, resource, userId, id)
  const read = prepared(db, 'completions_page', (name) =>
    db
      .select({
        completed_at: iso(taskCompletions.completedAt),
        due_date: sql<string>`coalesce(${iso(taskCompletions.dueDate)}, to_char(${taskCompletions.dueDay}, 'YYYY-MM-DD'))`,
      })
      .from(taskCompletions)
      .where(ofTheTask)
      .orderBy(desc(taskCompletions.id))
      .limit(placeholder('limit'))
      .offset(placeholder('offset'))
      .prepare(name),
  )
  return { completions: await read.execute({ userId, id, ...page }), total: state.total }
}

/** The task's next due dates after the current one (none when it does not recur); 404/403 for a task that is not the user's. */
export async function listOccurrences(db: Database, userId: string, id: number, limit: number): Promise<string[]> {
  const task = await findSeries(db, userId, id)
  if (!task) return explainMissing(db, tasks, resource, userId, id)
  return task.series ? upcomingOccurrences(task.series, limit) : []
}
