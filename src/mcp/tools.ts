// The eight tools: each one a REST route's twin, calling the same data-layer
// function with the same rules (ownership, validation, limits). Descriptions
// are written for the model that chooses and calls them.
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { type Static, type TSchema, t } from 'elysia'
import type { Database } from '../db/client'
import { ValidationFailed } from '../errors'
import { PagingQuery, pageOf } from '../http/paging'
import { createList } from '../lists/arrange'
import { ListModel, trimListInput } from '../lists/model'
import { listLists, toList } from '../lists/queries'
import { MAX_BEFORE_MINUTES, MAX_REMINDERS } from '../reminders/model'
import { WHOLE_DAY_REMINDS_FROM } from '../reminders/schedule'
import { toTask } from '../tasks/columns'
import { createTask } from '../tasks/create'
import { taskColumns } from '../tasks/input'
import { canonicalListQuery, TaskModel, trimTaskInput } from '../tasks/model'
import { deleteTask, getTask, listTasks, listTimeOf, updateTask } from '../tasks/queries'
import { MAX_ANCESTORS } from '../tasks/tree'
import { Answers, taskId, toolArguments, writeArguments } from './schemas'

/** What a tool runs with: the database and the signed-in user, whom every call acts for. */
export interface ToolContext {
  db: Database
  userId: string
  /** The clock the due filters count days by, and completions of recurring tasks are made at. */
  now: () => Date
}

/** A tool's own arguments: what it declares, less user_id and idempotency_key (checked before it runs). */
type Fields<I extends TSchema> = Omit<Static<I>, 'user_id' | 'idempotency_key'>

export interface Tool<I extends TSchema = TSchema> {
  name: string
  title: string
  description: string
  annotations: ToolAnnotations
  input: I
  output: TSchema
  /** Whether a call changes the user's data (then it takes idempotency_key and tells live streams). */
  writes: boolean
  /** Before validation, as the REST route transforms its body. */
  prepare?: (args: Record<string, unknown>) => void
  run(context: ToolContext, fields: Fields<I>): Promise<Record<string, unknown>>
}

const tool = <I extends TSchema>(definition: Tool<I>) => definition as unknown as Tool

// The limits the descriptions tell a model, read from the models that enforce them.
const TITLE = TaskModel.create.properties.title
const TAGS = TaskModel.create.properties.tags
const NAME = ListModel.create.properties.name
const LIMIT = PagingQuery.limit

const READS: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }

const TASK_FIELDS =
  'A task has: id; list_id (the list it is in); parent_id (null, or the task it is a subtask of); title; description (or null); ' +
  "completed; priority (low, medium or high); due_date (a moment as an ISO 8601 date-time in UTC, a whole day as YYYY-MM-DD in the user's time zone, or null); tags (strings); " +
  'recurrence (null, or {rule, from}: how the task repeats); reminders ({before_minutes} or {at}, at in UTC); position ' +
  '(orders it among its siblings); created_at and updated_at.'

const REMINDERS =
  `reminders: up to ${MAX_REMINDERS}, each {before_minutes: 0 to ${MAX_BEFORE_MINUTES}} (before due_date; a whole day counts from ${WHOLE_DAY_REMINDS_FROM} in the user's time zone) ` +
  'or {at: an ISO 8601 date-time}; the user is reminded on their live streams and reminder webhooks at that time, unless the task is completed by then. '

const RECURRENCE =
  'recurrence makes the task repeat (it needs a due_date): {rule, from}, rule an RFC 5545 RRULE value such as FREQ=DAILY, FREQ=WEEKLY;BYDAY=MO,WE, ' +
  'FREQ=MONTHLY;BYMONTHDAY=-1 (the last day of each month), FREQ=MONTHLY;BYDAY=-1FR or FREQ=YEARLY;COUNT=5 (FREQ DAILY, WEEKLY, MONTHLY or YEARLY; ' +
  'INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, COUNT, UNTIL); from: due (the default, the schedule) or completion (counted from when it is completed). '

// The update's fields: whichever the caller names, at least one (as the REST body's minProperties says).
const UPDATE_RULE = (TaskModel.update as unknown as { error: string }).error

export const TOOLS: Tool[] = [
  tool({
    name: 'add_task',
    title: 'Add a task',
    description:
      "Creates a task in the user's task list and returns it. Use it when the user asks to remember, add or schedule something to do. " +
      `Only title is required (${TITLE.minLength} to ${TITLE.maxLength} characters). ` +
      'It goes into the default list (Inbox) unless list_id names one of the lists from list_lists; ' +
      `parent_id makes it a subtask of another task (same list, at most ${MAX_ANCESTORS} levels below a top-level task). ` +
      "due_date is a moment, an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z), or a whole day (2026-01-31), that day in the user's time zone; " +
      `tags are up to ${TAGS.maxItems} distinct short labels. ` +
      RECURRENCE +
      REMINDERS +
      TASK_FIELDS,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: writeArguments(TaskModel.create.properties),
    output: Answers.task,
    writes: true,
    prepare: trimTaskInput,
    run: async ({ db, userId, now }, fields) => toTask(await createTask(db, userId, taskColumns(fields), now())),
  }),
  tool({
    name: 'list_tasks',
    title: 'List tasks',
    description:
      "Lists the user's tasks, newest first unless sort and order say otherwise, with the total that match. Use it to find a task " +
      '(q searches title and description), to see what is pending (status: pending) or due, or before changing a task whose id you do not know. ' +
      'Filters combine: list_id, parent_id (a task id, or none for top-level tasks only), status, priority, tag, q, ' +
      "due (overdue, today, tomorrow, next_7_days or no_date: days of the user's time zone, or of tz when given), " +
      'due_after and due_before (a date or a date-time; after is inclusive, before exclusive). ' +
      'sort: created_at, updated_at, due_date, priority, title or position; order: asc or desc. ' +
      `At most limit tasks (default ${LIMIT.default}, up to ${LIMIT.maximum}) from offset; when total is larger, call again with a larger offset. ` +
      TASK_FIELDS,
    annotations: READS,
    input: toolArguments(TaskModel.listQuery.properties),
    output: Answers.tasks,
    writes: false,
    prepare: canonicalListQuery,
    run: async ({ db, userId, now }, fields) => {
      const { tasks, total } = await listTasks(db, userId, fields, pageOf(fields), await listTimeOf(db, userId, fields, now()))
      return { tasks, total }
    },
  }),
  tool({
    name: 'get_task',
    title: 'Get a task',
    description: `Returns one of the user's tasks by its id. Use it to read a task's current state before changing it. ${TASK_FIELDS}`,
    annotations: READS,
    input: toolArguments({ task_id: taskId }),
    output: Answers.task,
    writes: false,
    run: async ({ db, userId }, { task_id }) => toTask(await getTask(db, userId, task_id)),
  }),
  tool({
    name: 'update_task',
    title: 'Update a task',
    description:
      'Changes the fields given of one task and returns it; fields not given are kept. Use it to rename a task, change its description, ' +
      'priority, due date or tags, move it to another list (list_id; its subtasks move with it; a subtask cannot move alone), ' +
      'or mark it done or not (completed; completing also completes its open subtasks). Set description or due_date to null to clear them. ' +
      'tags and reminders replace the whole set. recurrence: {rule, from} makes it repeat (or changes how), null stops it. ' +
      REMINDERS +
      'Give at least one field besides task_id.',
    // Not idempotent: completed: true moves a recurring task one occurrence on each time.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    input: writeArguments({ task_id: taskId, ...TaskModel.update.properties }),
    output: Answers.task,
    writes: true,
    prepare: trimTaskInput,
    run: async ({ db, userId, now }, { task_id, ...changes }) => {
      if (Object.keys(changes).length === 0) throw new ValidationFailed([{ field: 'arguments', message: UPDATE_RULE }])
      const columns = taskColumns(changes)
      return toTask(await updateTask(db, userId, task_id, columns, undefined, now()))
    },
  }),
  tool({
    name: 'complete_task',
    title: 'Complete a task',
    description:
      'Marks a task as done (or, with completed: false, as not done) and returns it. Use it when the user says a task is finished. ' +
      'It sets the state rather than toggling it, so calling it twice on a task that does not recur is safe. Completing a task also completes its open subtasks; ' +
      'reopening it does not reopen them. A recurring task is not left completed: it moves to its next due date, reopened with its subtasks ' +
      '(it stays completed only when its series has ended), so call it once per occurrence, with an idempotency_key if you may retry: ' +
      'each completion moves it one occurrence on.',
    // Not idempotent: each completion of a recurring task moves it one occurrence on.
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: writeArguments({
      task_id: taskId,
      completed: t.Optional({
        ...TaskModel.complete.properties.completed,
        default: true,
        description: 'true (the default): done; false: not done',
      }),
    }),
    output: Answers.task,
    writes: true,
    run: async ({ db, userId, now }, { task_id, completed = true }) =>
      toTask(await updateTask(db, userId, task_id, { completed }, undefined, now())),
  }),
  tool({
    name: 'delete_task',
    title: 'Delete a task',
    description:
      'Deletes a task for good, with all of its subtasks. Use it only when the user asks to delete or remove a task; ' +
      'to mark one as done, use complete_task instead. There is no undo.',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    input: writeArguments({ task_id: taskId }),
    output: Answers.deleted,
    writes: true,
    run: async ({ db, userId }, { task_id }) => {
      await deleteTask(db, userId, task_id)
      return { task_id, deleted: true }
    },
  }),
  tool({
    name: 'list_lists',
    title: 'List task lists',
    description:
      "Lists the user's task lists in the order the user arranged them. Use it to find the list_id of a list the user names " +
      '(Work, Groceries) before adding or listing tasks in it. Each list has: id, name, color (#rrggbb or null), ' +
      'is_default (the Inbox, where tasks go when no list is named), position, open_count (tasks not completed), created_at, updated_at.',
    annotations: READS,
    input: toolArguments({}),
    output: Answers.lists,
    writes: false,
    run: async ({ db, userId }) => ({ lists: (await listLists(db, userId)).lists }),
  }),
  tool({
    name: 'create_list',
    title: 'Create a task list',
    description:
      'Creates a task list, placed after the others, and returns it. Use it when the user wants a new list (a project, a shopping list); ' +
      `check list_lists first so as not to make a second list of the same name. name: ${NAME.minLength} to ${NAME.maxLength} characters; ` +
      'color: #rrggbb, optional.',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: writeArguments(ListModel.create.properties),
    output: Answers.list,
    writes: true,
    prepare: trimListInput,
    run: async ({ db, userId }, fields) => toList(await createList(db, userId, fields)),
  }),
]
