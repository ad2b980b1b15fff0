import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { Forbidden } from '../errors'
import type { Notifier } from '../events/notifier'
import { notifiesItself } from '../events/publisher'
import { errorsFor, MethodNotAllowed } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import { requestIdOf } from '../http/request-log'
import { baseUrlOf, MCP_PATH, METADATA_PATH, ResourceMetadata, resourceMetadata } from './metadata'
import { answerMcp } from './server'

export interface McpRoutesDeps {
  db: Database
  /** The clock the due filters count days by. */
  now: () => Date
  auth: ReturnType<typeof authPlugin>
  logger: Logger
  notifier: Notifier
  publicUrl: string | undefined
  /** BETTER_AUTH_URL: where an OAuth-capable client gets its token. */
  authorizationServer: string | undefined
  /** CORS_ORIGINS: the only pages that may call /mcp from a browser. */
  corsOrigins: string[]
  version: string
}

const TAG = 'agents (MCP)'

const refuse = (method: string): never => {
  throw new MethodNotAllowed(method, ['POST'])
}

// For the OpenAPI document: a JSON-RPC 2.0 message in, a response out (the SDK reads them).
const JsonRpcRequest = t.Object(
  {
    jsonrpc: t.Literal('2.0'),
    id: t.Optional(t.Union([t.String(), t.Integer()])),
    method: t.String({ description: 'initialize, tools/list, tools/call, ping, or a notification' }),
    params: t.Optional(t.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true, description: 'A JSON-RPC 2.0 request or notification' },
)
const JsonRpcResponse = t.Object(
  {
    jsonrpc: t.Literal('2.0'),
    id: t.Union([t.String(), t.Integer(), t.Null()]),
    result: t.Optional(t.Object({}, { additionalProperties: true })),
    error: t.Optional(t.Object({ code: t.Integer(), message: t.String() }, { additionalProperties: true })),
  },
  { noValidate: true, description: 'The JSON-RPC response (a notification: 202 with no body)' },
)

/**
 * `/mcp`, the Model Context Protocol over Streamable HTTP (stateless, JSON
 * answers), behind the same bearer auth as the REST routes; and the resource
 * metadata that tells an OAuth client where to get a token. Nothing here
 * hooks any other route.
 */
export function mcpRoutes({ db, now, auth, logger, notifier, publicUrl, authorizationServer, corsOrigins, version }: McpRoutesDeps) {
  const origins = new Set(corsOrigins)
  return new Elysia()
    .get(METADATA_PATH, ({ request }) => resourceMetadata(baseUrlOf(request, publicUrl), authorizationServer), {
      response: ResourceMetadata,
      detail: {
        summary: 'OAuth protected resource metadata (RFC 9728)',
        description: 'Names the MCP endpoint as the resource and Better Auth (BETTER_AUTH_URL) as its authorization server.',
        tags: [TAG],
        security: [],
      },
    })
    .use(
      new Elysia({ prefix: MCP_PATH })
        .use(auth)
        .guard({ auth: true, detail: { tags: [TAG] } })
        // No sessions and no standalone stream: GET and DELETE are 405, but
        // only after the token, so a client without one gets the 401 challenge.
        .get('', ({ request }) => refuse(request.method), { detail: { hide: true } })
        .delete('', ({ request }) => refuse(request.method), { detail: { hide: true } })
        // After the guard, so the token is checked before the body is read.
        .onParse(parseJsonBody)
        .post(
          '',
          async ({ userId, body, request, set }) => {
            // The transport's rule against DNS rebinding: a page may call only from an allowed origin
            // (CORS keeps a browser from reading the answer; this keeps the call from running).
            const origin = request.headers.get('origin')
            if (origin !== null && !origins.has(origin)) throw new Forbidden('This origin may not call /mcp (see CORS_ORIGINS)')
            // Most calls only read: the tools tell live streams of the writes they make.
            notifiesItself(request)
            const answer = await answerMcp(request, body, { db, now, logger, notifier, userId, requestId: requestIdOf(request) }, version)
            // For the access log: the transport chose the status (202 for a notification, 406, 400).
            set.status = answer.status
            return answer
          },
          {
            parse: 'json',
            body: JsonRpcRequest,
            response: { 200: JsonRpcResponse, 202: t.Void(), ...errorsFor(400, 401, 403, 413, 415, 422, 500, 503) },
            detail: {
              summary: 'Model Context Protocol endpoint (Streamable HTTP, stateless)',
              description:
                'Tools: add_task, list_tasks, get_task, update_task, complete_task, delete_task, list_lists, create_list, acting on the ' +
                "caller's data with the REST rules. Send Accept: application/json, text/event-stream. A request answers 200 with its " +
                'JSON-RPC response; a notification 202. No sessions: GET and DELETE are 405 (401 first without a token). A browser Origin outside CORS_ORIGINS: 403. ' +
                '401 carries WWW-Authenticate with resource_metadata (RFC 9728).',
            },
          },
        ),
    )
}
