// A task's fields as a client sends them (REST body or MCP arguments), turned
// into the columns they are stored in: the due date's kind, the recurrence's
// normalized rule, the reminders as kept. Undefined stays undefined: not sent.
import { recurrenceColumns } from '../recurrence/columns'
import { readReminders } from '../reminders/model'
import { dueColumns } from './due-dates'
import type { TaskModel } from './model'

type Sent = Partial<Pick<typeof TaskModel.update.static, 'due_date' | 'recurrence' | 'reminders'>>

/** The fields given, with the due date, recurrence and reminders as stored. */
export function taskColumns<const Fields extends Sent>(fields: Fields) {
  return {
    ...fields,
    ...dueColumns(fields.due_date),
    ...recurrenceColumns(fields.recurrence),
    reminders: readReminders(fields.reminders),
  }
}
