import { withHeaders } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { readDecimal } from '../http/decimal'
import { BODY_ERRORS, errorsFor, IDEMPOTENT_WRITE_ERRORS, RESOURCE_ERRORS } from '../http/errors'
import { OWNER_PARAMS, PLAIN_PARAMS, type PrefixParams, readIdParam } from '../http/ids'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import { WriteHeaders } from '../http/preconditions'
import { idempotency } from '../idempotency/plugin'
import { checkWebhookUrl, type DestinationPolicy, type Resolve } from './destinations'
import { DEFAULT_DELIVERIES_LIMIT, WebhookModel } from './model'
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, MAX_WEBHOOKS_PER_USER } from './queries'
import type { ChangeWebhookUsers } from './worker'

export interface WebhookRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  logger: Logger
  policy: DestinationPolicy
  now: () => Date
  resolve?: Resolve
  /** This instance's webhook worker, told who registers and deletes webhooks (its writes wake it for their users only). */
  users?: ChangeWebhookUsers
}

const TAG = 'webhooks'

/** The webhook routes, under `/api/webhooks` and under the `/api/:user_id/webhooks` alias, as lists and tasks. */
export function webhookRoutes(deps: WebhookRoutesDeps) {
  return new Elysia()
    .use(webhookRoutesAt({ ...deps, ...PLAIN_PARAMS, prefix: '/api/webhooks', tag: TAG }))
    .use(webhookRoutesAt({ ...deps, ...OWNER_PARAMS, prefix: '/api/:user_id/webhooks', tag: `${TAG} (user id in path)` }))
}

function webhookRoutesAt<const Prefix extends string>({
  db,
  auth,
  logger,
  policy,
  now,
  resolve,
  users,
  prefix,
  params: paramsSchema,
  collectionParams,
  tag,
}: WebhookRoutesDeps & PrefixParams & { prefix: Prefix; tag: string }) {
  return (
    new Elysia({ prefix })
      .use(auth)
      .guard({ auth: true, detail: { tags: [tag] } })
      // After the guard: a key is the caller's, so the token comes first.
      .use(idempotency(db, logger))
      // After the guard, so the token is checked before the body is read.
      .onParse(parseJsonBody)
      .onTransform(({ params, query }) => {
        readIdParam(params)
        const values = query as Record<string, unknown>
        if (values.limit !== undefined) values.limit = readDecimal('limit', values.limit, WebhookModel.deliveriesQuery.properties.limit)
      })
      .get('', ({ userId }) => listWebhooks(db, userId), {
        params: collectionParams,
        response: { 200: WebhookModel.webhooks, ...RESOURCE_ERRORS },
        detail: {
          summary: 'List webhooks',
          description: 'Every webhook of the caller, oldest first, with whether it is enabled (never its secret).',
        },
      })
      .post(
        '',
        async ({ userId, body, set, path }) => {
          await checkWebhookUrl(body.url, policy, resolve)
          const made = await createWebhook(db, userId, body, now())
          users?.registered(userId, body.events)
          set.status = 201
          set.headers.location = `${path.endsWith('/') ? path.slice(0, -1) : path}/${made.id}`
          return made
        },
        {
          params: collectionParams,
          headers: WriteHeaders,
          parse: 'json',
          body: WebhookModel.create,
          response: {
            201: withHeaders(WebhookModel.created, { location: t.String({ description: 'The new webhook' }) }),
            ...RESOURCE_ERRORS,
            ...BODY_ERRORS,
            ...IDEMPOTENT_WRITE_ERRORS,
          },
          detail: {
            summary: 'Register a webhook',
            description:
              `Events are POSTed to the URL as {type, timestamp, data}, signed as Standard Webhooks says (webhook-id, webhook-timestamp, webhook-signature) with the secret answered here, and only here. ` +
              `The URL is refused (422 naming url) when its host is or resolves to a loopback (unless allowed), private, link-local or cloud metadata address, carries credentials, or (in production) is not https. ` +
              `409 webhook_limit past ${MAX_WEBHOOKS_PER_USER} webhooks.`,
          },
        },
      )
      .get('/:id', ({ userId, params }) => getWebhook(db, userId, params.id), {
        params: paramsSchema,
        response: { 200: WebhookModel.webhook, ...RESOURCE_ERRORS },
        detail: { summary: 'Get a webhook', description: 'Never its secret.' },
      })
      .delete(
        '/:id',
        async ({ userId, params, set }) => {
          await deleteWebhook(db, userId, params.id)
          await users?.removed(userId)
          set.status = 204
        },
        {
          params: paramsSchema,
          headers: WriteHeaders,
          response: { 204: t.Void(), ...RESOURCE_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: { summary: 'Delete a webhook', description: 'Its deliveries, sent or waiting, go with it.' },
        },
      )
      .get(
        '/:id/deliveries',
        ({ userId, params, query }) => listDeliveries(db, userId, params.id, query.limit ?? DEFAULT_DELIVERIES_LIMIT),
        {
          params: paramsSchema,
          query: WebhookModel.deliveriesQuery,
          response: { 200: WebhookModel.deliveries, ...RESOURCE_ERRORS, ...errorsFor(422) },
          detail: {
            summary: "A webhook's recent deliveries",
            description:
              "Newest first, at most `limit` (1 to 100, default 50): each event sent or to be sent, its attempts so far, the last one's outcome and when the next one is due. Kept 7 days.",
          },
        },
      )
  )
}
