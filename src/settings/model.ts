import { t } from 'elysia'
import { TypeRegistry } from 'elysia/type-system'
import { userSettings } from '../db/schema'
import { canonicalTimeZone } from './time-zones'

/** What a user who never changed their settings has. */
export const DEFAULT_TIME_ZONE = userSettings.timeZone.default as string

// Checked against the runtime's time zone database; routes spell a valid name
// canonically before it is checked (canonicalTimeZone), so what passes is stored as is.
TypeRegistry.Set('TimeZone', (_, value) => typeof value === 'string' && canonicalTimeZone(value) === value)

export const TIME_ZONE_ERROR = 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'

/** An IANA time zone name, for a body field or a query parameter. */
export function timeZone(description: string) {
  return t.Unsafe<string>({
    [Symbol.for('TypeBox.Kind')]: 'TimeZone',
    type: 'string',
    examples: ['Europe/Berlin'],
    description,
    error: TIME_ZONE_ERROR,
  })
}

const writable = t.Object({
  time_zone: timeZone(
    'Day-based views (due=today, whole-day due dates) are evaluated in it. Any case, and aliases, are accepted; answered in its canonical spelling (US/Eastern: America/New_York).',
  ),
})

export const SettingsModel = {
  settings: t.Object(
    { time_zone: t.String({ description: `An IANA time zone name; ${DEFAULT_TIME_ZONE} until set` }) },
    { noValidate: true },
  ),
  update: t.Partial(writable, {
    minProperties: 1,
    error: `must set at least one of ${Object.keys(writable.properties).join(', ')}`,
  }),
} as const

export type Settings = typeof SettingsModel.settings.static
export type SettingsUpdate = typeof SettingsModel.update.static
