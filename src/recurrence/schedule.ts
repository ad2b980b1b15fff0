// Where a recurring task goes next. rrule-temporal does the calendar
// arithmetic (RFC 5545, with Temporal's time zones); this file only decides
// what the series starts at and which occurrence a completion moves to.
import { RRuleTemporal } from 'rrule-temporal'
import { countOf, withoutCount } from './rule'

/** A due date as a task has it: a moment (ISO 8601, UTC) or a whole day (YYYY-MM-DD). */
export type Due = { moment: string; day?: undefined } | { day: string; moment?: undefined }

export type From = 'due' | 'completion'

/** A recurring task's series as stored, with the user's time zone. */
export type Series = {
  rule: string
  from: From
  /** The series start's wall-clock date and time (ISO 8601, no zone), or null: it starts at the due date. */
  start: string | null
  /** Occurrences completed since the series start. */
  done: number
  due: Due
  zone: string
}

/** The task's next occurrence and the series start to keep with it; null when the series has ended. */
export type Next = { due: Due; start: string } | null

// Whole days recur by days: a day is a day in every zone, so their series
// run at midnight in UTC, where no day is 23 or 25 hours long.
const DAY_ZONE = 'UTC'

const MAX_YEAR = 9999

const instantOf = (date: Date) => Temporal.Instant.fromEpochMilliseconds(date.getTime())

function wallStart(series: Series): Temporal.PlainDateTime {
  if (series.start) return Temporal.PlainDateTime.from(series.start)
  if (series.due.day !== undefined) return Temporal.PlainDate.from(series.due.day).toPlainDateTime()
  return Temporal.Instant.from(series.due.moment).toZonedDateTimeISO(series.zone).toPlainDateTime()
}

/** The first occurrence after `after` (or at it, when inclusive); null when there is none. */
function firstAfter(rule: string, dtstart: Temporal.ZonedDateTime, after: Temporal.ZonedDateTime, inclusive = false) {
  try {
    return new RRuleTemporal({ rruleString: rule, dtstart, cache: false }).next(after, inclusive)
  } catch {
    // A rule that yields nothing for thousands of periods (yearly 29 February
    // every 4 years from a year that is not leap) is a series that has ended.
    return null
  }
}

function dueOf(occurrence: Temporal.ZonedDateTime, wholeDay: boolean): Due {
  return wholeDay ? { day: occurrence.toPlainDate().toString() } : { moment: new Date(occurrence.epochMilliseconds).toISOString() }
}

/**
 * The occurrence a completion at `now` moves the task to. From `due`: the
 * first occurrence of the series after both the current due date and now (a
 * whole day counts as after now when it is later than today in the user's
 * zone). From `completion`: the first occurrence of the rule started on the
 * day of the completion (in the user's zone, at the series' wall time) that
 * falls on a later day: FREQ=DAILY;INTERVAL=3 is three days after it. COUNT
 * ends a series counted from its start; UNTIL ends it at that time.
 */
export function nextOccurrence(series: Series, now: Date): Next {
  const wholeDay = series.due.day !== undefined
  const zone = wholeDay ? DAY_ZONE : series.zone
  const start = wallStart(series)
  const completedOn = instantOf(now).toZonedDateTimeISO(series.zone).toPlainDate()
  const count = countOf(series.rule)
  let occurrence: Temporal.ZonedDateTime | null
  if (series.from === 'completion') {
    if (count !== undefined && series.done + 1 >= count) return null
    const dtstart = completedOn.toPlainDateTime(wholeDay ? undefined : start.toPlainTime()).toZonedDateTime(zone)
    occurrence = firstAfter(withoutCount(series.rule), dtstart, completedOn.add({ days: 1 }).toZonedDateTime(zone), true)
  } else {
    let after: Temporal.ZonedDateTime
    if (wholeDay) {
      const dueDay = Temporal.PlainDate.from(series.due.day!)
      after = (Temporal.PlainDate.compare(completedOn, dueDay) > 0 ? completedOn : dueDay).toZonedDateTime(zone)
    } else {
      const dueAt = Temporal.Instant.from(series.due.moment!)
      after = (Temporal.Instant.compare(instantOf(now), dueAt) > 0 ? instantOf(now) : dueAt).toZonedDateTimeISO(zone)
    }
    occurrence = firstAfter(series.rule, start.toZonedDateTime(zone), after)
  }
  // Past the years a due date can hold (src/tasks/due-dates.ts), the series has ended.
  if (!occurrence || occurrence.withTimeZone('UTC').year > MAX_YEAR) return null
  // COUNT counts from the series start, which therefore stays. Without it the
  // series can start again at the new occurrence (every later one is the
  // same), so that finding the next never walks years of past occurrences.
  const keepsStart = count !== undefined && series.from === 'due'
  const nextStart = keepsStart ? start : occurrence.toPlainDate().toPlainDateTime(start.toPlainTime())
  return { due: dueOf(occurrence, wholeDay), start: nextStart.toString() }
}

/**
 * The due dates after the current one, at most `limit`: the dates the task
 * takes if each occurrence is completed on its due date (from `completion`,
 * the next counts from that; from `due`, it is the schedule). Fewer when the
 * series ends.
 */
export function upcomingOccurrences(series: Series, limit: number): string[] {
  const dates: string[] = []
  let current = series
  while (dates.length < limit) {
    const completedAt =
      current.due.day === undefined
        ? new Date(current.due.moment)
        : new Date(Temporal.PlainDate.from(current.due.day).toZonedDateTime(current.zone).epochMilliseconds)
    const next = nextOccurrence(current, completedAt)
    if (!next) break
    dates.push(next.due.day ?? next.due.moment!)
    current = { ...current, due: next.due, start: next.start, done: current.done + 1 }
  }
  return dates
}
