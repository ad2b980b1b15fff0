// What the isolation property sends: text, tags and dates that probe storage,
// case and sorting; bodies for tasks and lists; and where a task goes (a list,
// a parent, an anchor among siblings), named by a pick that each step resolves
// against the model when it runs.
import fc from 'fast-check'
import type { List } from '../../src/lists/model'
import type { Task } from '../../src/tasks/model'
import { USERS, ZONES } from './model'

type Priority = Task['priority']

// Letters whose lower case is one code point, in several scripts; LIKE and
// string-literal metacharacters; an astral character (😀, U+1F600) that sorts
// above U+FF76 (ｶ) by code point but below it by UTF-16 code unit.
const ALPHABET = [
  'a',
  'b',
  'z',
  'A',
  'B',
  'Z',
  '0',
  '9',
  ' ',
  ' ',
  '%',
  '_',
  '\\',
  "'",
  '"',
  ';',
  '-',
  '*',
  '(',
  ')',
  'é',
  'É',
  'ö',
  'Ö',
  'σ',
  'Σ',
  'ж',
  'Ж',
  '漢',
  'ｶ',
  '😀',
  '👩‍💻',
  '\u00a0',
]
const NAMED_TITLES = [
  'a',
  'A',
  'b',
  'B',
  'Buy milk',
  'buy milk',
  'BUY MILK',
  "'; DROP TABLE tasks; --",
  "Robert'); DELETE FROM tasks WHERE ('1'='1",
  '" OR 1=1 --',
  "' OR ''='",
  '%',
  '_',
  '\\',
  '$1',
  'NULL',
  'null',
  '{}',
  '{"a":1}',
  '<script>alert(1)</script>',
  'Émile',
  'émile',
  'Zoë',
  'ΣΊΣΥΦΟΣ',
  'жук',
  'Жук',
  '漢字',
  '😀 emoji',
  'ｶﾀｶﾅ',
  '\u{10FFFF}',
  'x'.repeat(200),
  // 200 characters but 400 UTF-16 code units: lengths count characters.
  '😀'.repeat(200),
]
const PADDING = ['', '', ' ', '  ', '\t', '\n ', '\u00a0', '\u3000', '\ufeff']

/** Caseless code points only, so the model's lower-casing cannot disagree with the database's. */
const caseless = (text: string) => Array.from(text).every((c) => c.toLowerCase() === c && c.toUpperCase() === c)
const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed()
export const codePoints = (text: string) => Array.from(text).length

const coreText = fc.oneof(
  // Titles equal but for case, so the title sort's tie-break shows.
  { weight: 2, arbitrary: fc.constantFrom('a', 'A', 'b', 'B', 'émile', 'Émile', 'ΣΑ', 'σα') },
  { weight: 3, arbitrary: fc.constantFrom(...NAMED_TITLES) },
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => storable(s) && caseless(s)) },
)

const titleArb = fc
  .tuple(fc.constantFrom(...PADDING), coreText, fc.constantFrom(...PADDING))
  .map(([before, core, after]) => before + core + after)
  .filter((title) => storable(title) && title.trim().length > 0 && codePoints(title.trim()) <= 200)

const descriptionArb = fc.oneof(
  fc.constant(null),
  fc.constantFrom('', 'd'.repeat(2000), '😀'.repeat(2000)),
  coreText,
  fc.string({ unit: 'grapheme', maxLength: 30 }).filter(storable),
)

const priorityArb = fc.constantFrom<Priority>('low', 'medium', 'high')

const TAGS = ['home', 'work', 'Work', 'urgent', 'ünï', 'x y', '%', 'a,b', '"q"', '{}', 'NULL', '😀', "'; --", '\\']
const COMMON_TAGS = ['home', 'work']
// The most a task may hold: 20 distinct tags, one of them 40 characters of 4 bytes each.
const FULL_TAGS = ['home', '😀'.repeat(40), ...Array.from({ length: 18 }, (_, i) => `tag ${i}`)]
const tagsArb = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.uniqueArray(fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...COMMON_TAGS) }, fc.constantFrom(...TAGS)), {
      maxLength: 4,
    }),
  },
  fc.constant(FULL_TAGS),
)

const two = (n: number) => String(n).padStart(2, '0')
/** A day of the calendar as YYYY-MM-DD, mostly near now, in years from `first` to `last`; days up to 28 so every one is real. */
const calendarDayArb = (first: number, last: number) =>
  fc
    .record({
      year: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 2000, max: 2040 }) },
        { weight: 1, arbitrary: fc.integer({ min: first, max: last }) },
      ),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
    })
    .map(({ year, month, day }) => `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`)
// Several spellings of a date-time with a zone, its offset never carrying it out of the years 0001 to 9999.
const dueDateArb = fc
  .record({
    date: calendarDayArb(2, 9998),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
    fraction: fc.constantFrom('', '.5', '.25', '.123'),
    zone: fc.constantFrom('Z', '+00:00', '+02:00', '-05:30', '+14:00', '-12:00'),
  })
  .map(
    ({ date, hour, minute, second, fraction, zone }) =>
      `${date}T${two(hour)}:${two(minute)}${second === undefined ? '' : `:${two(second)}${fraction}`}${zone}`,
  )
// One instant spelled three ways, and its neighbours, so the due_date sort's tie-break shows.
const sharedDueDateArb = fc.constantFrom(
  '2030-01-01T00:00:00Z',
  '2030-01-01T02:00:00+02:00',
  '2029-12-31T19:00:00.000-05:00',
  '2030-01-01T00:00:00.001Z',
)
// Whole days: any, the days the clocks change in Berlin and New York, and the
// day of the shared instant (in UTC it starts at that instant: a tie).
const wholeDayArb = fc.oneof(
  calendarDayArb(1, 9999),
  fc.constantFrom('2026-03-29', '2026-10-25', '2026-03-08', '2026-11-01', '2029-12-31', '2030-01-01'),
)
const dueDateOrNullArb = fc.oneof(fc.constant(null), dueDateArb, sharedDueDateArb, wholeDayArb)

/** A time zone as a client may spell it (model.ts says how the service keeps it). */
export const zoneArb = fc.constantFrom(...Object.keys(ZONES))

export type UpdateBody = Partial<Pick<Task, 'title' | 'description' | 'completed' | 'priority' | 'due_date' | 'tags'>> & {
  recurrence?: RecurrenceInput
}
export type CreateBody = Omit<UpdateBody, 'completed'> & { title: string }

export type RecurrenceInput = { rule: string; from?: 'due' | 'completion' } | null

/** Rules as sent, and as the task answers them (normalized: upper case, no prefix, INTERVAL=1 left out, from defaulted). */
export const RECURRENCES: [RecurrenceInput, Task['recurrence']][] = [
  [{ rule: 'FREQ=DAILY' }, { rule: 'FREQ=DAILY', from: 'due' }],
  [
    { rule: 'rrule:freq=weekly;byday=mo;interval=1', from: 'due' },
    { rule: 'FREQ=WEEKLY;BYDAY=MO', from: 'due' },
  ],
  [
    { rule: 'FREQ=DAILY;INTERVAL=3', from: 'completion' },
    { rule: 'FREQ=DAILY;INTERVAL=3', from: 'completion' },
  ],
  // Ends at its second completion: the task then stays completed.
  [
    { rule: 'FREQ=DAILY;COUNT=2', from: 'completion' },
    { rule: 'FREQ=DAILY;COUNT=2', from: 'completion' },
  ],
  [null, null],
]
const recurrenceArb = fc.constantFrom(...RECURRENCES.map(([sent]) => sent))
// A recurring task needs a due date: mostly one is sent with the rule, sometimes not (422 naming recurrence).
const recurringArb = fc.record(
  { recurrence: recurrenceArb, due_date: fc.oneof(dueDateArb, sharedDueDateArb, wholeDayArb, wholeDayArb) },
  { requiredKeys: ['recurrence'] },
)
/** In about a third of bodies, a recurrence (null included) and usually a due date with it. */
const withRecurrence = <T extends object>(arbitrary: fc.Arbitrary<T>) =>
  fc
    .tuple(arbitrary, fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: recurringArb }))
    .map(([body, recurring]) => ({ ...body, ...recurring }))

export const createBodyArb: fc.Arbitrary<CreateBody> = withRecurrence(
  fc.record(
    { title: titleArb, description: descriptionArb, priority: priorityArb, due_date: dueDateOrNullArb, tags: tagsArb },
    { requiredKeys: ['title'] },
  ),
)

export const updateBodyArb: fc.Arbitrary<UpdateBody> = withRecurrence(
  fc.record(
    {
      title: titleArb,
      description: descriptionArb,
      completed: fc.boolean(),
      priority: priorityArb,
      due_date: dueDateOrNullArb,
      tags: tagsArb,
    },
    { requiredKeys: [] },
  ),
).filter((body) => Object.keys(body).length > 0)

/** Names a task or list of the acting user: resolved at run time as the pick-th of them by id. */
export const pickArb = fc.nat({ max: 1000 })
/** A task to change: often the one with the most subtasks, so that subtrees move, complete and go together. */
export const taskPickArb = fc.oneof(
  { weight: 4, arbitrary: pickArb },
  { weight: 2, arbitrary: fc.constant('largest' as const) },
  { weight: 1, arbitrary: fc.constant('recurring' as const) },
)
export const actorArb = fc.integer({ min: 0, max: USERS - 1 })
/** Owner routes: /api/tasks (or /api/lists), or the /api/{own id}/... alias. */
export const viaArb = fc.constantFrom<'plain' | 'alias'>('plain', 'alias')
/** A list to move or delete: mostly one the user made, sometimes the default list (which stays: 409). */
export const listPickArb = fc.oneof({ weight: 4, arbitrary: pickArb }, { weight: 1, arbitrary: fc.constant('default' as const) })
export const ifMatchArb = fc.constantFrom<'none' | 'current' | '*'>('none', 'none', 'current', '*')

/** Where a new task goes: the default list, an explicit top level, one of the user's lists, or under a task. */
export type Placement =
  | { kind: 'default' }
  | { kind: 'top' }
  | { kind: 'list'; pick: number }
  | { kind: 'parent'; pick: number | 'newest' | 'deepest'; list: 'absent' | 'parent' | 'other' }

export const placementArb: fc.Arbitrary<Placement> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'default' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'top' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('list' as const), pick: pickArb }) },
  {
    // Under the newest or the deepest task makes chains, so that the depth limit is reached.
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('parent' as const),
      pick: fc.oneof({ weight: 2, arbitrary: pickArb }, fc.constantFrom('newest' as const, 'deepest' as const)),
      list: fc.constantFrom<'absent' | 'parent' | 'other'>('absent', 'absent', 'absent', 'parent', 'other'),
    }),
  },
)

/** A task named relative to the one being moved. */
export type TaskRef =
  /** Another task of the user's. */
  | { kind: 'task'; pick: number }
  | { kind: 'self' }
  /** One of its subtasks (any level): a cycle. */
  | { kind: 'below'; pick: number }
  /** For parent_id: the deepest task outside its subtree, where the depth limit is. */
  | { kind: 'deepest' }
  /** A sibling at the destination the rest of the body asks for. */
  | { kind: 'sibling'; pick: number }
  /** For before_id: the sibling `skip` places after the after_id sibling (its neighbour when 0). */
  | { kind: 'following'; skip: number }

const otherTaskRefArb: fc.Arbitrary<TaskRef> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('task' as const), pick: pickArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('below' as const), pick: pickArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'self' as const }) },
)
// Anchors are mostly siblings at the destination, so that most moves go through.
const anchorArb: fc.Arbitrary<TaskRef> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sibling' as const), pick: pickArb }) },
  { weight: 1, arbitrary: otherTaskRefArb },
)

export type MoveSpec = {
  list?: { kind: 'list'; pick: number } | { kind: 'current' }
  parent?: { kind: 'null' } | TaskRef
  after?: TaskRef
  before?: TaskRef
}

const listRefArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('list' as const), pick: pickArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'current' as const }) },
)
const topLevel = fc.constant({ kind: 'null' as const })

const parentRefArb: fc.Arbitrary<TaskRef> = fc.oneof(otherTaskRefArb, fc.constant({ kind: 'deepest' as const }))

// Where to: the same group (a reorder), another list, the top level, under another task.
const destinationArb: fc.Arbitrary<Pick<MoveSpec, 'list' | 'parent'>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.record({ list: listRefArb }) },
  { weight: 1, arbitrary: fc.record({ list: listRefArb, parent: topLevel }) },
  { weight: 1, arbitrary: fc.record({ parent: topLevel }) },
  { weight: 3, arbitrary: fc.record({ parent: parentRefArb }) },
  { weight: 1, arbitrary: fc.record({ parent: parentRefArb, list: listRefArb }) },
)

const anchorsArb: fc.Arbitrary<Pick<MoveSpec, 'after' | 'before'>> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.record({ after: anchorArb }) },
  { weight: 3, arbitrary: fc.record({ before: anchorArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      after: anchorArb,
      before: fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('following' as const), skip: fc.nat({ max: 2 }) }) },
        { weight: 1, arbitrary: anchorArb },
      ),
    }),
  },
)

export const moveSpecArb: fc.Arbitrary<MoveSpec> = fc
  .tuple(destinationArb, anchorsArb)
  .map(([destination, anchors]) => ({ ...destination, ...anchors }))
  .filter((spec) => Object.keys(spec).length > 0)

const listNameArb = fc.oneof(
  { weight: 9, arbitrary: titleArb.filter((name) => codePoints(name.trim()) <= 100) },
  // The longest name, in one- and two-unit characters.
  { weight: 1, arbitrary: fc.constantFrom('l'.repeat(100), '😀'.repeat(100)) },
)
const hexDigit = fc.constantFrom(...'0123456789abcdefABCDEF')
// Upper and lower case: the list stores the colour lower-cased.
const colorArb = fc.oneof(
  fc.constant(null),
  fc.string({ unit: hexDigit, minLength: 6, maxLength: 6 }).map((digits) => `#${digits}`),
)

export type ListBody = Partial<Pick<List, 'name' | 'color'>>
export const createListBodyArb = fc.record({ name: listNameArb, color: colorArb }, { requiredKeys: ['name'] })
export const updateListBodyArb: fc.Arbitrary<ListBody> = fc
  .record({ name: listNameArb, color: colorArb }, { requiredKeys: [] })
  .filter((body) => Object.keys(body).length > 0)

export interface ListParams {
  list_id?: number
  parent_id?: number | 'none'
  status?: 'all' | 'pending' | 'completed'
  priority?: Priority
  tag?: string
  sort?: 'created_at' | 'updated_at' | 'due_date' | 'priority' | 'title' | 'position'
  order?: 'asc' | 'desc'
  limit?: number
  offset?: number
  // The due filters that do not depend on the clock (due_after, due_before, no_date); tz as sent.
  due?: 'no_date'
  due_after?: string
  due_before?: string
  tz?: string
}

/** Present in about a quarter of lists: several filters at once would mostly match nothing. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight = 1) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight, arbitrary })

/** The list and parent filters name the user's own list or task by a pick (the model resolves it). */
export type QuerySpec = Omit<ListParams, 'list_id' | 'parent_id'> & { list?: number; parent?: number | 'none' }

export const querySpecArb: fc.Arbitrary<QuerySpec> = fc
  .record({
    list: sometimes(pickArb, 2),
    parent: sometimes(fc.oneof(fc.constant('none' as const), pickArb), 2),
    status: sometimes(fc.constantFrom('all' as const, 'pending' as const, 'completed' as const)),
    priority: sometimes(priorityArb),
    tag: sometimes(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...COMMON_TAGS) }, fc.constantFrom(...TAGS, 'absent'))),
    sort: sometimes(
      fc.constantFrom(
        'created_at' as const,
        'updated_at' as const,
        'due_date' as const,
        'priority' as const,
        'title' as const,
        'position' as const,
      ),
      9,
    ),
    order: sometimes(fc.constantFrom('asc' as const, 'desc' as const), 6),
    limit: sometimes(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(100, 1000))),
    offset: sometimes(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) }, fc.constant(40))),
    due: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('no_date' as const) }),
    due_after: sometimes(fc.oneof(wholeDayArb, dueDateArb, sharedDueDateArb)),
    due_before: sometimes(fc.oneof(wholeDayArb, dueDateArb, sharedDueDateArb)),
    tz: sometimes(zoneArb),
  })
  .map((spec) => Object.fromEntries(Object.entries(spec).filter(([, value]) => value !== undefined)) as QuerySpec)
