// Where a recurring task goes next. rrule-temporal does the calendar
// arithmetic (RFC 5545, with Temporal's time zones); this file only decides
// what the series starts at and which occurrence a completion moves to.
import { RRuleTemporal } from 'rrule-temporal'
import { countOf, withCount, withoutCount } from './rule'

/** A due date as a task has it: a moment (ISO 8601, UTC) or a whole day (YYYY-MM-DD). */
export type Due = { moment: string; day?: undefined } | { day: string; moment?: undefined }

export type From = 'due' | 'completion'

/** A recurring task's series as stored, with the user's time zone. */
export type Series = {
  rule: string
  from: From
  /** The series start's wall-clock date and time, or null: it starts at the due date. */
  start: Temporal.PlainDateTime | null
  /** Occurrences completed since the series start (COUNT of a series counted from completion). */
  done: number
  /** The rule's occurrences before the start (COUNT of a series counted from due). */
  counted: number
  due: Due
  zone: string
}

/** The task's next occurrence and the series start to keep with it; null when the series has ended. */
export type Next = { due: Due; start: Temporal.PlainDateTime; counted: number } | null

// Whole days recur by days: a day is a day in every zone, so their series
// run at midnight in UTC, where no day is 23 or 25 hours long.
const DAY_ZONE = 'UTC'

const MAX_YEAR = 9999

/**
 * The periods one walk of a series may go through (rrule-temporal's
 * maxIterations): about a century of candidate dates (a year tries each of
 * its days against BYSETPOS, a day one date), at most 20,000 periods, at
 * least 120 (a hundred yearly occurrences): a few tens of milliseconds at
 * worst. A walk that needs more (a rule that matches once in decades, a
 * COUNT series whose due date is centuries back) ends the series there, so
 * that no request holds the event loop for long.
 */
const WALK_DAYS = 36_600
const DAYS_PER_PERIOD: Record<string, number> = { DAILY: 1, WEEKLY: 7, MONTHLY: 31, YEARLY: 366 }
export function walkBudget(rule: string): number {
  const freq = rule.match(/(?:^|;)FREQ=(\w+)/)?.[1] ?? 'DAILY'
  return Math.max(120, Math.min(20_000, Math.floor(WALK_DAYS / (DAYS_PER_PERIOD[freq] ?? 1))))
}

const instantOf = (date: Date) => Temporal.Instant.fromEpochMilliseconds(date.getTime())

function wallStart(series: Series): Temporal.PlainDateTime {
  if (series.start) return series.start
  if (series.due.day !== undefined) return Temporal.PlainDate.from(series.due.day).toPlainDateTime()
  return Temporal.Instant.from(series.due.moment).toZonedDateTimeISO(series.zone).toPlainDateTime()
}

const recurrence = (rule: string, dtstart: Temporal.ZonedDateTime) =>
  new RRuleTemporal({ rruleString: rule, dtstart, cache: false, maxIterations: walkBudget(rule) })

/** The first occurrence after `after` (or at it, when inclusive); null when there is none within the budget. */
function firstAfter(rule: string, dtstart: Temporal.ZonedDateTime, after: Temporal.ZonedDateTime, inclusive = false) {
  try {
    return recurrence(rule, dtstart).next(after, inclusive)
  } catch {
    // Past the budget, or a rule that yields nothing for thousands of periods
    // (yearly 29 February every 4 years from a year that is not leap): the series has ended.
    return null
  }
}

/**
 * Walks the occurrences from `dtstart` in order, one iterator for the whole
 * walk, until `visit` answers false, the series ends or the budget is spent
 * (the walk then stops where it is, as if the series had ended there).
 */
function walk(rule: string, dtstart: Temporal.ZonedDateTime, visit: (occurrence: Temporal.ZonedDateTime) => boolean): void {
  try {
    recurrence(rule, dtstart).all((occurrence) => visit(occurrence))
  } catch {
    // Past the budget: what was visited stands.
  }
}

// Where a rule is tried to see whether it gives any date at all: a 1
// January has every day of the month and the month every rule can name.
const TRIAL_START = Temporal.ZonedDateTime.from('2000-01-01T00:00:00[UTC]')

/**
 * Whether the rule (its COUNT and UNTIL aside, at INTERVAL=1) gives any date
 * within a walk's budget: one that does not (the first Monday of February on
 * the 29th or 30th) would never move a task. A rule that does may still give
 * none for a given due date (INTERVAL=4 on 29 February from a year that is
 * not leap): that series ends at its first completion.
 */
export function givesAnyDate(rule: string): boolean {
  const open = withoutCount(rule)
    .split(';')
    .filter((part) => !part.startsWith('UNTIL=') && !part.startsWith('INTERVAL='))
    .join(';')
  return firstAfter(open, TRIAL_START, TRIAL_START, true) !== null
}

/** Within the years a due date can hold (src/tasks/due-dates.ts); past them, the series has ended. */
const inRange = (occurrence: Temporal.ZonedDateTime) => occurrence.withTimeZone('UTC').year <= MAX_YEAR

function dueOf(occurrence: Temporal.ZonedDateTime, wholeDay: boolean): Due {
  return wholeDay ? { day: occurrence.toPlainDate().toString() } : { moment: new Date(occurrence.epochMilliseconds).toISOString() }
}

/** The series' rule as counted from its start: COUNT less the occurrences before it; null when none is left. */
function ruleFromStart(series: Series): string | null {
  const count = countOf(series.rule)
  if (count === undefined) return series.rule
  return count > series.counted ? withCount(series.rule, count - series.counted) : null
}

/** The moment after which a completion at `now` looks for the next occurrence of a series counted from due. */
function dueAfter(series: Series, now: Date, zone: string): Temporal.ZonedDateTime {
  if (series.due.day !== undefined) {
    const completedOn = instantOf(now).toZonedDateTimeISO(series.zone).toPlainDate()
    const dueDay = Temporal.PlainDate.from(series.due.day)
    return (Temporal.PlainDate.compare(completedOn, dueDay) > 0 ? completedOn : dueDay).toZonedDateTime(zone)
  }
  const dueAt = Temporal.Instant.from(series.due.moment)
  return (Temporal.Instant.compare(instantOf(now), dueAt) > 0 ? instantOf(now) : dueAt).toZonedDateTimeISO(zone)
}

/**
 * The occurrence a completion at `now` moves the task to. From `due`: the
 * first occurrence of the series after both the current due date and now (a
 * whole day counts as after now when it is later than today in the user's
 * zone). From `completion`: the first occurrence of the rule started on the
 * day of the completion (in the user's zone, at the series' wall time) that
 * falls on a later day: FREQ=DAILY;INTERVAL=3 is three days after it. COUNT
 * ends a series counted from its start; UNTIL ends it at that time. Null
 * when the series has ended, also when the next date would be outside the
 * years 0001 to 9999 or past the walk's budget.
 */
export function nextOccurrence(series: Series, now: Date): Next {
  try {
    return nextOf(series, now)
  } catch (error) {
    // Temporal's range (a start in year 10000 or before year 1, from a due date at a year's edge): the series has ended.
    if (error instanceof RangeError) return null
    throw error
  }
}

function nextOf(series: Series, now: Date): Next {
  const wholeDay = series.due.day !== undefined
  const zone = wholeDay ? DAY_ZONE : series.zone
  const start = wallStart(series)
  // The series starts again at each occurrence it moves to (every later one
  // is the same from there), so that no completion walks the occurrences
  // before it again; COUNT then counts those in `counted`.
  const restartAt = (occurrence: Temporal.ZonedDateTime, counted: number): Next =>
    inRange(occurrence)
      ? { due: dueOf(occurrence, wholeDay), start: occurrence.toPlainDate().toPlainDateTime(start.toPlainTime()), counted }
      : null
  if (series.from === 'completion') {
    const count = countOf(series.rule)
    if (count !== undefined && series.done + 1 >= count) return null
    const completedOn = instantOf(now).toZonedDateTimeISO(series.zone).toPlainDate()
    const dtstart = completedOn.toPlainDateTime(wholeDay ? undefined : start.toPlainTime()).toZonedDateTime(zone)
    const occurrence = firstAfter(withoutCount(series.rule), dtstart, completedOn.add({ days: 1 }).toZonedDateTime(zone), true)
    return occurrence && restartAt(occurrence, 0)
  }
  const rule = ruleFromStart(series)
  if (rule === null) return null
  const after = dueAfter(series, now, zone)
  const dtstart = start.toZonedDateTime(zone)
  if (countOf(rule) === undefined) {
    const occurrence = firstAfter(rule, dtstart, after)
    return occurrence && restartAt(occurrence, 0)
  }
  // COUNT: the occurrences passed on the way are counted, skipped or not.
  let passed = 0
  let found: Temporal.ZonedDateTime | null = null
  walk(rule, dtstart, (occurrence) => {
    if (Temporal.ZonedDateTime.compare(occurrence, after) > 0) found = occurrence
    else passed++
    return found === null
  })
  return found && restartAt(found, series.counted + passed)
}

/**
 * The due dates after the current one, at most `limit`: the dates the task
 * takes if each occurrence is completed on its due date (from `completion`,
 * the next counts from that; from `due`, it is the schedule, read in one
 * walk). Fewer when the series ends.
 */
export function upcomingOccurrences(series: Series, limit: number): string[] {
  const dates: string[] = []
  try {
    if (series.from === 'due') scheduleAfterDue(series, limit, dates)
    else completedOnEachDue(series, limit, dates)
  } catch (error) {
    // As for nextOccurrence: outside Temporal's years the series has ended.
    if (!(error instanceof RangeError)) throw error
  }
  return dates
}

function scheduleAfterDue(series: Series, limit: number, dates: string[]): void {
  const rule = ruleFromStart(series)
  if (rule === null) return
  const wholeDay = series.due.day !== undefined
  const zone = wholeDay ? DAY_ZONE : series.zone
  const after = wholeDay
    ? Temporal.PlainDate.from(series.due.day!).toZonedDateTime(zone)
    : Temporal.Instant.from(series.due.moment!).toZonedDateTimeISO(zone)
  walk(rule, wallStart(series).toZonedDateTime(zone), (occurrence) => {
    if (!inRange(occurrence)) return false
    if (Temporal.ZonedDateTime.compare(occurrence, after) > 0) {
      const due = dueOf(occurrence, wholeDay)
      dates.push(due.day ?? due.moment!)
    }
    return dates.length < limit
  })
}

// The days the walks of one list from completion may span together: four
// walks' worth (each one restarts at a completion, so each has its own budget).
const LIST_WALK_MS = 4 * WALK_DAYS * 86_400_000

function completedOnEachDue(series: Series, limit: number, dates: string[]): void {
  let current = series
  let walked = 0
  while (dates.length < limit) {
    const completedAt =
      current.due.day === undefined
        ? new Date(current.due.moment)
        : new Date(Temporal.PlainDate.from(current.due.day).toZonedDateTime(current.zone).epochMilliseconds)
    const next = nextOf(current, completedAt)
    if (!next) return
    const nextAt = next.due.day === undefined ? Date.parse(next.due.moment) : Date.parse(next.due.day)
    walked += nextAt - completedAt.getTime()
    if (walked > LIST_WALK_MS) return
    dates.push(next.due.day ?? next.due.moment!)
    current = { ...current, due: next.due, start: next.start, counted: next.counted, done: current.done + 1 }
  }
}
