import { withHeaders } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { BODY_ERRORS, errorsFor, IDEMPOTENT_WRITE_ERRORS } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import {
  answeredNotModified,
  ETagHeader,
  etagOf,
  NOT_MODIFIED,
  NotModifiedHeaders,
  PreconditionHeaders,
  preconditionOf,
} from '../http/preconditions'
import { idempotency } from '../idempotency/plugin'
import { SettingsModel } from './model'
import { getSettings, type SettingsRow, updateSettings } from './queries'
import { spellZoneCanonically } from './time-zones'

// One resource per user: its ETag names it, then its version.
const TAG = 'settings'
const ERRORS = errorsFor(401, 412, 422, 500, 503)

function answerSettings({ version, ...settings }: SettingsRow, set: { headers: Record<string, unknown> }) {
  set.headers.etag = etagOf(TAG, version)
  // Every user's settings have the same URL and tags of the same shape: a
  // cache must not answer one user's revalidation with another's settings.
  set.headers.vary = 'Authorization'
  set.headers['cache-control'] = 'private, no-cache'
  return settings
}

export interface SettingsRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  logger: Logger
  /** The clock the reminders of whole-day tasks are rescheduled by when the time zone changes. */
  now: () => Date
}

/** GET and PATCH /api/settings: every user has settings, the defaults until changed. */
export function settingsRoutes({ db, auth, logger, now }: SettingsRoutesDeps) {
  return (
    new Elysia({ prefix: '/api/settings' })
      .use(auth)
      .guard({ auth: true, detail: { tags: ['settings'] } })
      // After the guard: a key is the caller's, so the token comes first.
      .use(idempotency(db, logger))
      // After the guard, so the token is checked before the body is read.
      .onParse(parseJsonBody)
      .onTransform(({ body }) => {
        spellZoneCanonically(body, 'time_zone')
      })
      .get(
        '',
        async ({ userId, set, request }) => {
          const settings = answerSettings(await getSettings(db, userId), set)
          return answeredNotModified(request, set) ? undefined : settings
        },
        {
          headers: NotModifiedHeaders,
          response: { 200: withHeaders(SettingsModel.settings, ETagHeader), ...NOT_MODIFIED, ...ERRORS },
          detail: {
            summary: 'Get your settings',
            description: 'Every user has settings: the defaults (time_zone UTC) until changed. If-None-Match with the current ETag: 304.',
          },
        },
      )
      .patch(
        '',
        async ({ userId, body, headers, set }) =>
          answerSettings(await updateSettings(db, userId, body, preconditionOf(headers['if-match'], TAG), now()), set),
        {
          headers: PreconditionHeaders,
          parse: 'json',
          body: SettingsModel.update,
          response: { 200: withHeaders(SettingsModel.settings, ETagHeader), ...ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: {
            summary: 'Change your settings',
            description:
              'Fields not sent are kept. Honours If-Match (412 when the settings changed; the defaults have the ETag "settings.0").',
          },
        },
      )
  )
}
