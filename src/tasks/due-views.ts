// The due filters of GET /api/tasks (due, due_after, due_before) as one
// window: bounds on the moments (due_date) and on the whole days (due_day),
// each served by its own index. Days are the days of a time zone (the user's,
// or tz), worked out here with Temporal, so that the database compares plain
// values. A whole day counts from its first moment in the zone: due_after
// 2026-03-29 includes the moments from that midnight and the days from that
// day on; overdue alone treats a whole day as due until its end.
import { and, gte, lt, or, type SQL, sql } from 'drizzle-orm'
import { tasks } from '../db/schema'
import { readDueDate } from './due-dates'
import type { TaskModel } from './model'

type ListQuery = typeof TaskModel.listQuery.static

/** A bound on both kinds of due date: from is inclusive, to exclusive. */
type Bound = { moment: Temporal.Instant; day: Temporal.PlainDate }
type Window = { from?: Bound; to?: Bound }

/** What the due filters select, as the statement's shape and the values it binds. */
export type DueWindow =
  | { kind: 'nothing' }
  | { kind: 'no_date' }
  | { kind: 'dated'; from?: { moment: string; day: string }; to?: { moment: string; day: string } }

// Stored due dates lie in the years 0001 to 9999: a bound past them is clamped
// (it selects the same tasks), so the database never meets a year it refuses.
const FIRST_MOMENT = Temporal.Instant.from('0001-01-01T00:00:00Z')
const PAST_LAST_MOMENT = Temporal.Instant.from('+010000-01-01T00:00:00Z')
const FIRST_DAY = Temporal.PlainDate.from('0001-01-01')
const PAST_LAST_DAY = Temporal.PlainDate.from('+010000-01-01')

const clamp = <T>(value: T, low: T, high: T, compare: (a: T, b: T) => number) =>
  compare(value, low) < 0 ? low : compare(value, high) > 0 ? high : value

// Written as PostgreSQL reads them: four-digit years at least, no sign.
const pad = (n: number, width: number) => String(n).padStart(width, '0')
function dayText(day: Temporal.PlainDate): string {
  const clamped = clamp(day, FIRST_DAY, PAST_LAST_DAY, Temporal.PlainDate.compare)
  return `${pad(clamped.year, 4)}-${pad(clamped.month, 2)}-${pad(clamped.day, 2)}`
}
function momentText(instant: Temporal.Instant): string {
  const utc = clamp(instant, FIRST_MOMENT, PAST_LAST_MOMENT, Temporal.Instant.compare).toZonedDateTimeISO('UTC')
  return `${dayText(utc.toPlainDate())}T${utc.toPlainTime().toString({ smallestUnit: 'millisecond' })}Z`
}
const boundText = (bound: Bound | undefined) => bound && { moment: momentText(bound.moment), day: dayText(bound.day) }

/** The first moment of `day` in `zone` (01:00 where that midnight is skipped). */
const startOfDay = (day: Temporal.PlainDate, zone: string) => day.toZonedDateTime(zone).toInstant()

/** The day `instant` falls on in `zone`. */
const dayOf = (instant: Temporal.Instant, zone: string) => instant.toZonedDateTimeISO(zone).toPlainDate()

/** A bound at a moment: the moment, and the first whole day that starts at or after it. */
function boundAt(moment: Temporal.Instant, zone: string): Bound {
  const day = dayOf(moment, zone)
  return { moment, day: Temporal.Instant.compare(startOfDay(day, zone), moment) < 0 ? day.add({ days: 1 }) : day }
}

/** A bound at the start of a day: its first moment in the zone, and the day. */
const boundAtDay = (day: Temporal.PlainDate, zone: string): Bound => ({ moment: startOfDay(day, zone), day })

function boundOf(field: 'due_after' | 'due_before', value: string, zone: string): Bound {
  const due = readDueDate(field, value)
  return due.day ? boundAtDay(due.day, zone) : boundAt(Temporal.Instant.fromEpochMilliseconds(due.moment.getTime()), zone)
}

// Two bounds of one side as one, part by part: the later of two from-bounds, the earlier of two to-bounds.
function pick(a: Bound | undefined, b: Bound | undefined, sign: 1 | -1): Bound | undefined {
  if (!a || !b) return a ?? b
  return {
    moment: sign * Temporal.Instant.compare(a.moment, b.moment) > 0 ? a.moment : b.moment,
    day: sign * Temporal.PlainDate.compare(a.day, b.day) > 0 ? a.day : b.day,
  }
}

/** Whether the list's answer depends on a time zone: the due filters but no_date, and the due_date sort. */
export const usesTimeZone = (query: ListQuery) =>
  (query.due !== undefined && query.due !== 'no_date') ||
  query.due_after !== undefined ||
  query.due_before !== undefined ||
  query.sort === 'due_date'

/** Whether the answer changes as the days pass, the user's data and the URL staying the same. */
const dependsOnToday = (query: ListQuery) => query.due !== undefined && query.due !== 'no_date'

/**
 * What the answer depends on besides the user's data and the URL, for its
 * ETag: the zone its days are in, today when it counts days from today, and
 * for overdue the last due moment that has passed (lastPassedColumn).
 */
export function dueTagContext(query: ListQuery, zone: string, now: Date, lastPassed: string | null | undefined): string {
  if (!usesTimeZone(query)) return ''
  const parts = [zone]
  if (dependsOnToday(query)) parts.push(dayOf(Temporal.Instant.fromEpochMilliseconds(now.getTime()), zone).toString())
  if (query.due === 'overdue') parts.push(lastPassed ?? 'none')
  return parts.join(' ')
}

/** The days `due` spans, counted from today: [first, past last). */
const DAYS = { today: [0, 1], tomorrow: [1, 2], next_7_days: [0, 7] } as const

/**
 * What the query's due filters select at `now`, days being those of `zone`;
 * undefined when it has none. A bound that is no real date is a 422 naming it.
 */
export function dueWindow(query: ListQuery, now: Date, zone: string): DueWindow | undefined {
  const after = query.due_after === undefined ? undefined : boundOf('due_after', query.due_after, zone)
  const before = query.due_before === undefined ? undefined : boundOf('due_before', query.due_before, zone)
  if (query.due === 'no_date') return after || before ? { kind: 'nothing' } : { kind: 'no_date' }
  if (!query.due && !after && !before) return undefined
  const instant = Temporal.Instant.fromEpochMilliseconds(now.getTime())
  const today = dayOf(instant, zone)
  let due: Window = {}
  if (query.due === 'overdue') due = { to: { moment: instant, day: today } }
  else if (query.due) {
    const [first, pastLast] = DAYS[query.due]
    due = { from: boundAtDay(today.add({ days: first }), zone), to: boundAtDay(today.add({ days: pastLast }), zone) }
  }
  return { kind: 'dated', from: boundText(pick(due.from, after, 1)), to: boundText(pick(due.to, before, -1)) }
}

// ---------------------------------------------------------------------------
// The window in SQL

const placeholder = (name: string) => sql.placeholder(name)

/** What tells one statement of the window from another: which bounds it has. */
export const dueShape = (window: DueWindow | undefined) =>
  !window ? 'any' : window.kind !== 'dated' ? window.kind : `${window.from ? 'from' : ''}${window.to ? 'to' : ''}`

/** The window's condition on tasks; its bounds are bound by name (dueValues). Each side is served by its kind's index. */
export function dueCondition(window: DueWindow | undefined): SQL | undefined {
  if (!window) return undefined
  if (window.kind === 'nothing') return sql`false`
  if (window.kind === 'no_date') return sql`${tasks.dueDate} is null and ${tasks.dueDay} is null`
  const side = (column: typeof tasks.dueDate | typeof tasks.dueDay, kind: 'moment' | 'day') =>
    and(window.from ? gte(column, placeholder(`${kind}From`)) : undefined, window.to ? lt(column, placeholder(`${kind}To`)) : undefined)
  return or(side(tasks.dueDate, 'moment'), side(tasks.dueDay, 'day'))
}

export function dueValues(window: DueWindow | undefined): Record<string, string> {
  if (window?.kind !== 'dated') return {}
  const { from, to } = window
  return { ...(from && { momentFrom: from.moment, dayFrom: from.day }), ...(to && { momentTo: to.moment, dayTo: to.day }) }
}

/** The due_date sort: a whole day sorts at its first moment in the zone bound as `zone`. */
export const dueSortKey = sql`coalesce(${tasks.dueDate}, ${tasks.dueDay}::timestamp at time zone ${placeholder('zone')})`

/**
 * For the ETag of due=overdue: the last due moment before `now` (bound as
 * `now`). With the user's data unchanged, the overdue moments change exactly
 * when it does. A backward step of the (user_id, due_date) index.
 */
export const lastPassedColumn = sql<string | null>`(select extract(epoch from max(passed.due_date))::text from ${tasks} as passed
  where passed.user_id = ${placeholder('userId')} and passed.due_date < ${placeholder('now')})`
