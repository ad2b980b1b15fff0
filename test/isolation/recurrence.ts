// Recurring tasks in the isolation property: the rules a task may carry, what
// completing one does (it rolls forward to a later due date and stays open,
// or completes for good when COUNT ends the series), and the owner reading a
// task's completions and next occurrences. Whole days are worked out
// exactly; moments loosely (later than before and than now, on a Monday in
// the user's zone for BYDAY=MO), their exact arithmetic being
// test/recurrence.test.ts's.
import { expect } from 'bun:test'
import type { Task } from '../../src/tasks/model'
import { RECURRENCES, type RecurrenceInput } from './generators'
import { describeTaskPick, type Model, pickTask, type Refusal, type TaskPick, type UserModel } from './model'
import { base, holder, ISO, label, type Real, Step, show, type Via } from './steps'

type Recurrence = Task['recurrence']

export const storedRecurrence = (sent: RecurrenceInput): Recurrence => RECURRENCES.find(([each]) => show(each) === show(sent))![1]

/** A write that would leave a recurring task without a due date: 422 naming recurrence when the write sets one, else due_date. */
export function withoutDue(after: Task, sent: RecurrenceInput | undefined): Refusal | undefined {
  if (after.recurrence === null || after.due_date !== null) return undefined
  return { status: 422, field: sent ? 'recurrence' : 'due_date' }
}

export function seriesOf(mine: UserModel, id: number) {
  if (!mine.series.has(id)) mine.series.set(id, { done: 0, completions: [] })
  return mine.series.get(id)!
}

/** A new rule or due date starts the series again (COUNT counts from there). */
export const restartsSeries = (before: Task, after: Task) =>
  before.due_date !== after.due_date || show(before.recurrence) !== show(after.recurrence)

const WHOLE_DAY = /^\d{4}-\d{2}-\d{2}$/
const addDays = (day: string, days: number) => Temporal.PlainDate.from(day).add({ days }).toString()
const later = (a: string, b: string) => (a > b ? a : b)
/** The day of `at` in `zone`. */
const dayIn = (at: Date, zone: string) =>
  Temporal.Instant.fromEpochMilliseconds(at.getTime()).toZonedDateTimeISO(zone).toPlainDate().toString()

/** The whole day a rule goes to after `base` (a day), from `from`; null past the year 9999. */
function nextDay(rule: string, base: string): string | null {
  let next = addDays(base, rule === 'FREQ=DAILY;INTERVAL=3' ? 3 : 1)
  // BYDAY=MO: the first Monday after.
  if (rule === 'FREQ=WEEKLY;BYDAY=MO') while (Temporal.PlainDate.from(next).dayOfWeek !== 1) next = addDays(next, 1)
  return next.length > 10 || next > '9999-12-31' ? null : next
}

/**
 * Where completing a recurring task at a time between `from` and `to` takes
 * its whole-day due date: the days it may land on (the zone's day may turn
 * meanwhile), none when the series ends.
 */
function nextWholeDays(recurrence: NonNullable<Recurrence>, due: string, zone: string, between: Date[]): (string | null)[] {
  return between.map((at) => {
    const completedOn = dayIn(at, zone)
    return recurrence.from === 'due' ? nextDay(recurrence.rule, later(completedOn, due)) : nextDay(recurrence.rule, completedOn)
  })
}

/** COUNT=2 from completion ends at the completion that makes two. */
const endsAt = (recurrence: NonNullable<Recurrence>, done: number) => recurrence.rule.endsWith('COUNT=2') && done + 1 >= 2

const isMonday = (moment: string, zone: string) => Temporal.Instant.from(moment).toZonedDateTimeISO(zone).dayOfWeek === 1

/**
 * Completing the open recurring task `after` (its write applied) answered
 * `answer`, the request sent between `sentAt` and `answeredAt`: records the
 * completion, and answers whether it rolled forward (the due date answered
 * checked), or undefined when the series ended and the task stays completed.
 */
export function expectCompletion(mine: UserModel, after: Task, answer: Task, sentAt: Date, answeredAt: Date): boolean {
  const recurrence = after.recurrence!
  const series = seriesOf(mine, after.id)
  const due = after.due_date!
  series.completions.unshift(due)
  if (endsAt(recurrence, series.done)) {
    expect({ task: after.id, completed: answer.completed, due_date: answer.due_date }).toEqual({
      task: after.id,
      completed: true,
      due_date: due,
    })
    return false
  }
  if (WHOLE_DAY.test(due)) {
    const possible = nextWholeDays(recurrence, due, mine.timeZone, [sentAt, answeredAt])
    if (possible.every((day) => day === null)) {
      expect({ task: after.id, completed: answer.completed, due_date: answer.due_date }).toEqual({
        task: after.id,
        completed: true,
        due_date: due,
      })
      return false
    }
    expect({ task: after.id, completed: answer.completed, due_date: possible.includes(answer.due_date) }).toEqual({
      task: after.id,
      completed: false,
      due_date: true,
    })
  } else {
    // Later than the moment it was completed and, from due, than the old due
    // date (from completion it may come sooner); a Monday in the user's zone for BYDAY=MO.
    const next = answer.due_date ?? ''
    const floor = recurrence.from === 'due' ? Math.max(Date.parse(due), sentAt.getTime()) : sentAt.getTime()
    expect({
      task: after.id,
      seen: [recurrence.rule, mine.timeZone, due, next, sentAt.toISOString()],
      completed: answer.completed,
      due_date: ISO.test(next) && Date.parse(next) > floor,
      monday: recurrence.rule.includes('BYDAY=MO') ? isMonday(next, mine.timeZone) : true,
    }).toEqual({ task: after.id, seen: expect.anything(), completed: false, due_date: true, monday: true })
  }
  series.done++
  return true
}

/**
 * The due dates /occurrences must answer for a whole-day task, each completed
 * on its due date; for a moment, only how many (none past the series' end).
 */
function expectedOccurrences(mine: UserModel, task: Task, limit: number): { count: number; days?: string[] } {
  const recurrence = task.recurrence
  if (recurrence === null) return { count: 0, days: [] }
  const done = mine.series.get(task.id)?.done ?? 0
  const left = recurrence.rule.endsWith('COUNT=2') ? Math.max(0, 2 - done - 1) : limit
  if (!WHOLE_DAY.test(task.due_date!)) return { count: Math.min(left, limit) }
  const days: string[] = []
  for (let due: string | null = task.due_date!; days.length < Math.min(left, limit); ) {
    due = nextDay(recurrence.rule, due)
    if (due === null) break
    days.push(due)
  }
  return { count: days.length, days }
}

/** The owner reads a task's completions and next occurrences. */
export class ReadSeries extends Step {
  constructor(
    readonly actor: number,
    readonly pick: TaskPick,
    readonly limit: number,
    readonly via: Via,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'tasks') !== undefined
  toString = () =>
    `holder(${label(this.actor)}) GET completions and occurrences?limit=${this.limit} of own ${describeTaskPick(this.pick)} via ${this.via}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'tasks')!
    const mine = model.users[actor]!
    const user = real.users[actor]!
    const id = pickTask(mine, this.pick)
    const path = `${base(real, actor, this.via)}/${id}`
    const completions = await user.call('GET', `${path}/completions`)
    const recorded = mine.series.get(id)?.completions ?? []
    expect({ task: id, status: completions.status, body: completions.body }).toEqual({
      task: id,
      status: 200,
      body: recorded.map((due) => ({ completed_at: expect.stringMatching(ISO), due_date: due })),
    })
    expect(completions.headers.get('x-total-count')).toBe(String(recorded.length))
    const task = mine.tasks.get(id)!
    const occurrences = await user.call<{ occurrences: string[] }>('GET', `${path}/occurrences?limit=${this.limit}`)
    const expected = expectedOccurrences(mine, task, this.limit)
    const dates = occurrences.body?.occurrences ?? []
    expect({ task: id, status: occurrences.status, count: dates.length }).toEqual({ task: id, status: 200, count: expected.count })
    if (expected.days) expect(dates).toEqual(expected.days)
    else
      for (const [index, date] of dates.entries()) {
        const previous = index === 0 ? task.due_date! : dates[index - 1]!
        expect({ date, later: ISO.test(date) && date > previous }).toEqual({ date, later: true })
      }
    return `${label(actor)} GET completions and occurrences of own task ${id} → ${recorded.length} completions, ${dates.length} occurrences`
  }
}
