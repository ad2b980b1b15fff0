// A recurrence rule as a task takes it: an RFC 5545 RRULE value limited to
// the parts a to-do needs, checked part by part so that a 422 names the part
// that is wrong, and stored in one spelling (parts in a fixed order, lists
// sorted, INTERVAL=1 left out), so that the same rule is always the same text.
import { ValidationFailed } from '../errors'

const FREQUENCIES = ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const
// The order parts are stored in.
const SUPPORTED = ['FREQ', 'INTERVAL', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'BYSETPOS', 'COUNT', 'UNTIL'] as const
// RFC 5545 and 7529 parts this service does not take: named as unsupported, not as unknown.
const UNSUPPORTED = new Set(['BYHOUR', 'BYMINUTE', 'BYSECOND', 'BYYEARDAY', 'BYWEEKNO', 'WKST', 'RSCALE', 'SKIP'])

/** The longest INTERVAL and COUNT taken: past them a to-do is no longer a to-do, and a series costs more to walk. */
export const MAX_INTERVAL = 1000
export const MAX_COUNT = 1000

type Part = (typeof SUPPORTED)[number]
type Frequency = (typeof FREQUENCIES)[number]

const FIELD = 'recurrence.rule'
const SUPPORTED_LIST = `supported: ${SUPPORTED.join(', ')}`
const refuse = (message: string): never => {
  throw new ValidationFailed([{ field: FIELD, message }])
}

/** An integer written in decimal, within min..max (signed: either sign, its magnitude within them). */
function integer(part: string, text: string, min: number, max: number, signed = false): number {
  if (!(signed ? /^[+-]?\d+$/ : /^\d+$/).test(text)) refuse(`${part} must be ${signed ? 'an integer' : 'a whole number'}, not ${text}`)
  const value = Number(text)
  const magnitude = Math.abs(value)
  const range = signed ? `${min} to ${max} or -${max} to -${min}` : `${min} to ${max}`
  if (magnitude < min || magnitude > max || (!signed && value < 0)) refuse(`${part} must be ${range}, not ${text}`)
  return value
}

function list(part: string, text: string): string[] {
  const items = text.split(',')
  if (items.some((item) => item === '')) refuse(`${part} has an empty item`)
  return items
}

const sortedUnique = (values: number[]) => [...new Set(values)].sort((a, b) => a - b)

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

// The most weekdays a period has: a month has at most five Mondays, a year
// 53. rrule-temporal places a 53rd weekday of the year wrongly
// (FREQ=YEARLY;BYDAY=53MO gives 2027-01-04), so a yearly ordinal stops at 52.
// With BYMONTH, a yearly rule's ordinals count within each month (RFC 5545).
const MAX_ORDINAL_IN_MONTH = 5
const MAX_ORDINAL_IN_YEAR = 52

function byDay(text: string, freq: Frequency, inMonths: boolean): string {
  const days = list('BYDAY', text).map((item) => {
    const match = item.match(/^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/)
    if (!match) return refuse(`BYDAY must be weekdays (MO, TU, WE, TH, FR, SA, SU), each maybe after an ordinal (1MO, -1FR), not ${item}`)
    const [, ordinal, weekday] = match
    if (ordinal === undefined) return { ordinal: 0, weekday: weekday! }
    if (freq !== 'MONTHLY' && freq !== 'YEARLY') return refuse(`BYDAY ordinals (${item}) are only for FREQ=MONTHLY or FREQ=YEARLY`)
    const withinMonth = freq === 'MONTHLY' || inMonths
    if (!withinMonth && Math.abs(Number(ordinal)) === MAX_ORDINAL_IN_YEAR + 1)
      return refuse(
        `a BYDAY ordinal of FREQ=YEARLY must be 1 to 52 or -52 to -1 (a 53rd weekday of the year is not supported), not ${item}`,
      )
    const part = freq === 'YEARLY' && inMonths ? 'a BYDAY ordinal with BYMONTH (counted within the month)' : 'a BYDAY ordinal'
    return { ordinal: integer(part, ordinal, 1, withinMonth ? MAX_ORDINAL_IN_MONTH : MAX_ORDINAL_IN_YEAR, true), weekday: weekday! }
  })
  const order = (day: { ordinal: number; weekday: string }) => day.ordinal * 10 + WEEKDAYS.indexOf(day.weekday as (typeof WEEKDAYS)[number])
  const spelt = new Set(days.sort((a, b) => order(a) - order(b)).map((day) => `${day.ordinal || ''}${day.weekday}`))
  return [...spelt].join(',')
}

// RFC 5545 UNTIL: a date, or a date-time in UTC (a floating or zoned one is refused: this service reads no TZID).
function until(text: string): string {
  const match = text.match(/^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z)?$/)
  if (!match) return refuse(`UNTIL must be a date (20261231) or a date-time in UTC (20261231T170000Z), not ${text}`)
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part)))
  const date = new Date(Date.UTC(year!, month! - 1, day!))
  if (year! < 1 || date.getUTCMonth() !== month! - 1 || date.getUTCDate() !== day! || hour! > 23 || minute! > 59 || second! > 59)
    refuse(`UNTIL is not a real date${match[4] === undefined ? '' : ' and time'}: ${text}`)
  return text
}

/**
 * The rule as stored, or a 422 naming what is wrong. An `RRULE:` prefix (as
 * an iCalendar file writes the property) is taken and dropped; names and
 * values are read in any case.
 */
export function normalizeRule(input: string): string {
  const text = input
    .trim()
    .toUpperCase()
    .replace(/^RRULE:/, '')
  if (text === '') refuse('must not be empty: FREQ=DAILY, for example')
  const given = new Map<Part, string>()
  for (const part of text.split(';')) {
    const equals = part.indexOf('=')
    if (part === '') refuse('has an empty part (two ; in a row, or one at the end)')
    if (equals <= 0) refuse(`${part} is not NAME=VALUE`)
    const name = part.slice(0, equals)
    const value = part.slice(equals + 1)
    if (UNSUPPORTED.has(name)) refuse(`${name} is not supported (${SUPPORTED_LIST})`)
    if (!(SUPPORTED as readonly string[]).includes(name)) refuse(`${name} is not an RRULE part (${SUPPORTED_LIST})`)
    if (given.has(name as Part)) refuse(`${name} is given twice`)
    if (value === '') refuse(`${name} has no value`)
    given.set(name as Part, value)
  }
  const freq = given.get('FREQ')
  if (freq === undefined) return refuse('FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)')
  if (!(FREQUENCIES as readonly string[]).includes(freq)) return refuse(`FREQ=${freq} is not supported (DAILY, WEEKLY, MONTHLY or YEARLY)`)
  if (given.has('COUNT') && given.has('UNTIL')) refuse('COUNT and UNTIL cannot both be given')
  if (given.has('BYMONTHDAY') && freq === 'WEEKLY') refuse('BYMONTHDAY cannot be used with FREQ=WEEKLY')
  if (given.has('BYSETPOS') && !['BYDAY', 'BYMONTHDAY', 'BYMONTH'].some((part) => given.has(part as Part)))
    refuse('BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH to choose among')

  const stored: Partial<Record<Part, string>> = { FREQ: freq }
  const interval = given.has('INTERVAL') ? integer('INTERVAL', given.get('INTERVAL')!, 1, MAX_INTERVAL) : 1
  if (interval !== 1) stored.INTERVAL = String(interval)
  const months = given.has('BYMONTH') ? sortedUnique(list('BYMONTH', given.get('BYMONTH')!).map((m) => integer('BYMONTH', m, 1, 12))) : []
  if (months.length) stored.BYMONTH = months.join(',')
  if (given.has('BYMONTHDAY')) {
    const days = sortedUnique(list('BYMONTHDAY', given.get('BYMONTHDAY')!).map((d) => integer('BYMONTHDAY', d, 1, 31, true)))
    // A rule that names no day of its months would never occur: 30 February, 31 April.
    if (months.length && !months.some((month) => days.some((day) => Math.abs(day) <= DAYS_IN_MONTH[month - 1]!)))
      refuse(`BYMONTHDAY=${days.join(',')} falls on no day of BYMONTH=${months.join(',')}`)
    stored.BYMONTHDAY = days.join(',')
  }
  if (given.has('BYDAY')) stored.BYDAY = byDay(given.get('BYDAY')!, freq as Frequency, months.length > 0)
  if (given.has('BYSETPOS'))
    stored.BYSETPOS = sortedUnique(list('BYSETPOS', given.get('BYSETPOS')!).map((p) => integer('BYSETPOS', p, 1, 366, true))).join(',')
  if (given.has('COUNT')) stored.COUNT = String(integer('COUNT', given.get('COUNT')!, 1, MAX_COUNT))
  if (given.has('UNTIL')) stored.UNTIL = until(given.get('UNTIL')!)
  return SUPPORTED.filter((part) => stored[part] !== undefined)
    .map((part) => `${part}=${stored[part]}`)
    .join(';')
}

/** The COUNT of a stored rule, if it has one. */
export function countOf(rule: string): number | undefined {
  const match = rule.match(/(?:^|;)COUNT=(\d+)/)
  return match ? Number(match[1]) : undefined
}

/** A stored rule without its COUNT. */
export function withoutCount(rule: string): string {
  return rule
    .split(';')
    .filter((part) => !part.startsWith('COUNT='))
    .join(';')
}

/** A stored rule with its COUNT set to `count`. */
export function withCount(rule: string, count: number): string {
  return rule.replace(/(^|;)COUNT=\d+/, `$1COUNT=${count}`)
}
