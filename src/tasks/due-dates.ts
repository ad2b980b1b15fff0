// A due date is a moment (an ISO 8601 date-time with a zone, kept and
// answered in UTC) or a whole day (YYYY-MM-DD, kept and answered as sent,
// meaning that day in the user's time zone). Stored in two columns, at most
// one of them set: due_date for a moment, due_day for a day.
import { ValidationFailed } from '../errors'

// Strict ISO 8601: a date-time with a zone, or a date; the calendar is checked by readDueDate.
export const DATE_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$'
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$'

export type DueDate = { moment: Date; day?: undefined } | { day: Temporal.PlainDate; moment?: undefined }

// What PostgreSQL is given must be a date it accepts (no Feb 30, no hour 24) in years it can store.
const MIN_YEAR = 1
const MAX_YEAR = 9999

/** Whether year-month-day names a day of the calendar. */
const isCalendarDay = (year: number, month: number, day: number) =>
  month >= 1 &&
  month <= 12 &&
  day >= 1 &&
  day <= new Date(Date.UTC(2000, month, 0)).getUTCDate() &&
  (month !== 2 || day < 29 || isLeap(year))
const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

const PARTS = /^(?<date>[\d-]{10})(?:T(?<time>[\d:]{5,8})(?:\.\d+)?(?:Z|[+-](?<offset>\d{2}:\d{2})))?$/
const numbers = (text = '') => [...text.split(/[-:]/).map(Number), 0, 0, 0] as [number, number, number]

/**
 * A due date or due bound, already of one of the two patterns: calendar-checked,
 * in the years 0001 to 9999 (a moment's in UTC). Else a 422 naming `field`.
 */
export function readDueDate(field: string, value: string): DueDate {
  const parts = value.match(PARTS)?.groups
  if (!parts) throw new ValidationFailed([{ field, message: 'is not a date (2026-01-31) or a date-time with a time zone' }])
  const { date, time, offset } = parts
  const [year, month, day] = numbers(date)
  const [hour, minute, second] = numbers(time)
  const [offsetHours, offsetMinutes] = numbers(offset)
  const timed = time !== undefined
  if (!isCalendarDay(year, month, day) || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59)
    throw new ValidationFailed([{ field, message: timed ? 'is not a real date and time' : 'is not a real date' }])
  if (!timed) {
    if (year < MIN_YEAR) throw new ValidationFailed([{ field, message: 'must fall in the years 0001 to 9999' }])
    return { day: new Temporal.PlainDate(year, month, day) }
  }
  const moment = new Date(value)
  // The offset can carry 9999-12-31 into year 10000, or 0001-01-01 back into year 0.
  const utcYear = moment.getUTCFullYear()
  if (Number.isNaN(moment.getTime()) || utcYear < MIN_YEAR || utcYear > MAX_YEAR)
    throw new ValidationFailed([{ field, message: 'must fall in the years 0001 to 9999 (UTC)' }])
  return { moment }
}

/** The columns a due date is stored in: a moment, a day, or neither (null clears it). */
export type DueColumns = { due_date: string | null; due_day: string | null }

/** A body's due_date as the columns it sets; undefined when the body did not send it. */
export function dueColumns(value: string | null | undefined): DueColumns | undefined {
  if (value === undefined) return undefined
  if (value === null) return { due_date: null, due_day: null }
  const due = readDueDate('due_date', value)
  return due.moment ? { due_date: due.moment.toISOString(), due_day: null } : { due_date: null, due_day: value }
}
