import { Elysia, t } from 'elysia'
import { Unauthenticated } from '../auth/errors'
import type { authPlugin } from '../auth/plugin'
import type { Tokens } from '../auth/tokens'
import type { Database } from '../db/client'
import { BODY_ERRORS, errorsFor, IDEMPOTENT_WRITE_ERRORS } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import { WriteHeaders } from '../http/preconditions'
import { idempotency } from '../idempotency/plugin'
import type { CursorCodec } from '../sync/cursor'
import { TooManyStreams } from './errors'
import { type Hub, MAX_STREAMS_PER_USER } from './hub'
import { currentCursor, liveStream } from './stream'
import { issueTicket, redeemTicket, TICKET_SECONDS } from './tickets'

export interface EventRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  tokens: Pick<Tokens, 'verifyBearer'>
  hub: Hub
  cursors: CursorCodec
  logger: Logger
  /** Tests shorten the 15 s heartbeat. */
  heartbeatMs?: number
}

/** GET /api/events (a live stream of the caller's changes) and POST /api/events/ticket. */
export function eventRoutes({ db, auth, tokens, hub, cursors, logger, heartbeatMs }: EventRoutesDeps) {
  async function streamUser(request: Request, ticket: string | undefined): Promise<string> {
    // A ticket stands in for the Authorization header EventSource cannot send.
    if (ticket === undefined) return (await tokens.verifyBearer(request.headers.get('authorization') ?? undefined)).userId
    const userId = await redeemTicket(db, ticket)
    if (userId === undefined) throw new Unauthenticated('signature', 'The ticket is unknown, used or expired: get a new one')
    return userId
  }

  return (
    new Elysia({ prefix: '/api/events' })
      .get(
        '',
        async ({ request, query, server, set }) => {
          const userId = await streamUser(request, query.ticket)
          if (hub.count(userId) >= MAX_STREAMS_PER_USER) throw new TooManyStreams(MAX_STREAMS_PER_USER)
          const lastEventId = request.headers.get('last-event-id')
          const from =
            lastEventId !== null
              ? cursors.decode(userId, lastEventId, 'Last-Event-ID')
              : query.cursor !== undefined
                ? cursors.decode(userId, query.cursor)
                : await currentCursor(db, userId)
          const { body, stream } = liveStream({ db, hub, cursors, logger, heartbeatMs }, userId, from, false)
          if (!hub.add(stream)) {
            // Another request of the user's took the last place meanwhile: this stream must not run on unseen.
            await body.cancel()
            throw new TooManyStreams(MAX_STREAMS_PER_USER)
          }
          // A quiet stream must outlive Bun's idle timeout: the heartbeat keeps it moving.
          server?.timeout(request, 0)
          return new Response(body, {
            headers: {
              ...(set.headers as Record<string, string>),
              'content-type': 'text/event-stream',
              'cache-control': 'no-cache',
              'x-accel-buffering': 'no',
            },
          })
        },
        {
          // Checked before the handler, which authenticates: an unknown parameter refused here would
          // answer an anonymous request 422 instead of 401. Ignored instead, as on the other reads.
          query: t.Object(
            {
              cursor: t.Optional(t.String({ description: 'A cursor from a sync answer: the changes after it come first' })),
              ticket: t.Optional(t.String({ description: 'From POST /api/events/ticket, for EventSource (no Authorization header)' })),
            },
            { additionalProperties: true },
          ),
          detail: {
            tags: ['events'],
            summary: 'Live changes of your lists and tasks (Server-Sent Events)',
            description:
              'text/event-stream: `event: change`, `id: <cursor>`, `data: <a change as in sync>`, for every change after Last-Event-ID ' +
              '(or ?cursor=; neither: from now on), then each new one as it commits, from any instance. A comment line every 15 s. ' +
              'A cursor too old: one `event: reset` (sync again), then the live changes. ' +
              'A reminder of yours firing: `event: reminder`, `data: {task_id, title, due_date, remind_at}`, without an id, on every open stream (not replayed to one opened later). ' +
              'Authorization: Bearer, or ?ticket=. ' +
              `At most ${MAX_STREAMS_PER_USER} open streams per user (429).`,
            // Bearer, or no header at all with ?ticket=.
            security: [{ bearer: [] }, {}],
          },
          response: { 200: t.String({ description: 'text/event-stream' }), ...errorsFor(401, 422, 429, 500, 503) },
        },
      )
      .use(auth)
      .guard({ auth: true, detail: { tags: ['events'] } })
      .use(idempotency(db, logger))
      // The ticket takes no body, but one sent is read as every write reads it (64 KiB, JSON, 8 deep):
      // Elysia's own parser would take any size and depth, and Idempotency-Key fingerprints it.
      .onParse(parseJsonBody)
      .post(
        '/ticket',
        async ({ userId }) => {
          const { ticket, expiresAt } = await issueTicket(db, userId)
          return { ticket, expires_at: expiresAt.toISOString() }
        },
        {
          headers: WriteHeaders,
          response: {
            200: t.Object({ ticket: t.String(), expires_at: t.String({ format: 'date-time' }) }),
            ...errorsFor(401, 500, 503),
            ...BODY_ERRORS,
            ...IDEMPOTENT_WRITE_ERRORS,
          },
          detail: {
            summary: 'A ticket for EventSource',
            description: `Single use, valid ${TICKET_SECONDS} s, accepted as ?ticket= on GET /api/events only.`,
          },
        },
      )
  )
}
