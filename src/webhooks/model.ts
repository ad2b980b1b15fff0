import { t } from 'elysia'
import { decimal } from '../http/decimal'
import { text } from '../http/text'

export const WEBHOOK_EVENTS = ['reminder', 'change'] as const
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]

export const DEFAULT_DELIVERIES_LIMIT = 50

const timestamp = t.String({ format: 'date-time' })
const nullableTimestamp = t.Union([timestamp, t.Null()])
const event = t.Union([t.Literal('reminder'), t.Literal('change')], { error: `must be one of ${WEBHOOK_EVENTS.join(', ')}` })

const url = text({
  minLength: 1,
  maxLength: 2000,
  description:
    'Where events are POSTed. http or https (https only in production), without credentials, never to loopback (unless allowed), private, link-local or cloud metadata addresses.',
  error: 'must be an http or https URL of at most 2000 characters',
})

// Answers are read from an explicit column list (never user_id or the secret;
// queries.ts): not checked again on the way out.
const webhookFields = {
  id: t.Integer(),
  url: t.String(),
  events: t.Array(event),
  created_at: timestamp,
  failing_since: t.Union([timestamp, t.Null()], {
    description: 'Since when deliveries have been failing (null: the last one succeeded, or none failed yet)',
  }),
  disabled_at: t.Union([timestamp, t.Null()], {
    description: 'When the webhook was disabled after 24 hours of failures: nothing is sent any more (null: enabled)',
  }),
}
const webhook = t.Object(webhookFields, { noValidate: true })

const delivery = t.Object(
  {
    id: t.Integer(),
    message_id: t.String({ description: 'The webhook-id header: the same on every attempt' }),
    event,
    status: t.Union([t.Literal('pending'), t.Literal('retrying'), t.Literal('delivered'), t.Literal('failed')], {
      description:
        'pending: waiting for its first attempt, or an attempt under way; retrying: the last attempt failed, another follows at next_attempt_at; delivered: a 2xx answer; failed: given up (24 hours of retries, or the webhook disabled)',
    }),
    attempts: t.Integer({ description: 'Attempts made so far' }),
    response_status: t.Union([t.Integer(), t.Null()], { description: "The last attempt's HTTP status (null: no answer)" }),
    error: t.Union([t.String(), t.Null()], { description: 'Why the last attempt failed' }),
    created_at: timestamp,
    attempted_at: nullableTimestamp,
    next_attempt_at: nullableTimestamp,
  },
  { noValidate: true },
)

export const WebhookModel = {
  create: t.Object({
    url,
    events: t.Array(event, {
      minItems: 1,
      maxItems: WEBHOOK_EVENTS.length,
      uniqueItems: true,
      description: 'The events to receive: reminder, change (each at most once)',
      error: `must be a non-empty list of distinct events from ${WEBHOOK_EVENTS.join(', ')}`,
    }),
  }),
  webhook,
  webhooks: t.Array(webhook, { noValidate: true }),
  created: t.Object(
    {
      ...webhookFields,
      secret: t.String({
        description: 'whsec_ followed by base64: verifies the webhook-signature header (Standard Webhooks). Shown only in this answer.',
      }),
    },
    { noValidate: true },
  ),
  deliveries: t.Array(delivery, { noValidate: true }),
  // Unknown parameters (a cache buster) are ignored, as on the other reads.
  deliveriesQuery: t.Object(
    {
      limit: t.Optional(
        decimal({ minimum: 1, maximum: 100, default: DEFAULT_DELIVERIES_LIMIT, error: 'must be an integer from 1 to 100' }),
      ),
    },
    { additionalProperties: true },
  ),
} as const

export type Webhook = typeof WebhookModel.webhook.static
export type CreatedWebhook = typeof WebhookModel.created.static
export type Delivery = typeof WebhookModel.deliveries.static extends (infer D)[] ? D : never
