// One MCP server per request: the SDK's stateless Streamable HTTP transport
// refuses a second request, so each POST gets a fresh server and transport.
// What does not depend on the request (the tool list as JSON Schema, each
// tool's compiled argument check) is built once, here, at load.
//
// The SDK's low-level Server, not McpServer: McpServer takes tools only as
// zod schemas, which would restate the REST models' rules (and count text
// in UTF-16 units where the models count characters). Here a tool's schema
// is the models' own TypeBox, its check the same 422 wording as the routes'.
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  McpError,
  ErrorCode as RpcError,
} from '@modelcontextprotocol/sdk/types.js'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv'
import type { Database } from '../db/client'
import type { Notifier } from '../events/notifier'
import { appErrorOf, errorAnswer } from '../http/error-handler'
import type { Logger } from '../http/logger'
import { validator } from '../http/validation'
import { claimOrReplay, fingerprintOf, recordAnswer } from '../idempotency/once'
import { NotTheSignedInUser } from './errors'
import { jsonSchema } from './schemas'
import { TOOLS, type Tool } from './tools'

const INSTRUCTIONS =
  "Tools for the signed-in user's task lists and tasks. Find ids with list_lists and list_tasks before changing anything; " +
  "every tool acts only on the signed-in user's own data. Send an idempotency_key with a write you may retry."

const LISTED = {
  tools: TOOLS.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input),
    outputSchema: jsonSchema(tool.output),
    annotations: { title: tool.title, ...tool.annotations },
  })),
}

// A Server builds a JSON Schema validator of its own unless given one (for
// elicitation answers, which these tools never ask for): shared, it is not
// built again for every request, where it cost about as much as the tool call.
const SCHEMA_VALIDATOR = new AjvJsonSchemaValidator()

const BY_NAME = new Map(
  TOOLS.map((tool) => [tool.name, { tool, check: validator(tool.input) as (args: unknown) => Record<string, unknown> }]),
)

/** What a call runs with: the request's user, and where its writes are told. */
export interface Caller {
  db: Database
  /** The clock the due filters count days by (tests pin it). */
  now: () => Date
  logger: Logger
  notifier: Notifier
  userId: string
  requestId: string | undefined
}

/** Answers one POST /mcp (its body already read and parsed) as a JSON-RPC response. */
export async function answerMcp(request: Request, body: unknown, caller: Caller, version: string): Promise<Response> {
  const server = new Server(
    { name: 'todo-api', version },
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS, jsonSchemaValidator: SCHEMA_VALIDATOR },
  )
  server.setRequestHandler(ListToolsRequestSchema, () => LISTED)
  server.setRequestHandler(CallToolRequestSchema, ({ params }) => callTool(params.name, params.arguments ?? {}, caller))
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
  await server.connect(transport)
  try {
    return await transport.handleRequest(request, { parsedBody: body })
  } finally {
    await server.close()
  }
}

type Outcome = { status: number; result: CallToolResult }

async function callTool(name: string, args: Record<string, unknown>, caller: Caller): Promise<CallToolResult> {
  const entry = BY_NAME.get(name)
  // An unknown tool is the client's mistake about this server, not a failed call: a protocol error.
  if (!entry) throw new McpError(RpcError.InvalidParams, `Unknown tool: ${name}`)
  let checked: Record<string, unknown>
  try {
    entry.tool.prepare?.(args)
    checked = entry.check(args)
    if (checked.user_id !== undefined && checked.user_id !== caller.userId) throw new NotTheSignedInUser()
  } catch (error) {
    return failed(error, caller).result
  }
  const { user_id: _, idempotency_key: key, ...fields } = checked
  if (!entry.tool.writes || typeof key !== 'string') return (await run(entry.tool, fields, caller)).result
  return once(entry.tool, key, fields, caller)
}

/** A write with an idempotency_key: as the Idempotency-Key header makes a REST write, once. */
async function once(tool: Tool, key: string, fields: Record<string, unknown>, caller: Caller): Promise<CallToolResult> {
  const { db, logger, userId, requestId } = caller
  let kept: Awaited<ReturnType<typeof claimOrReplay>>
  try {
    kept = await claimOrReplay(db, userId, key, fingerprintOf(`MCP ${tool.name}`, fields))
  } catch (error) {
    return failed(error, caller).result
  }
  if (kept) return { ...(JSON.parse(kept.body) as CallToolResult), _meta: { idempotent_replayed: true } }
  const { status, result } = await run(tool, fields, caller)
  await recordAnswer(db, logger, userId, key, { status, headers: {}, body: JSON.stringify(result) }, requestId)
  return result
}

async function run(tool: Tool, fields: Record<string, unknown>, caller: Caller): Promise<Outcome> {
  try {
    const answer = await tool.run(caller, fields)
    // Committed: the user's live streams read the feed (the publisher leaves /mcp to this).
    if (tool.writes) caller.notifier.changed(caller.userId)
    return { status: 200, result: { content: [{ type: 'text', text: JSON.stringify(answer) }], structuredContent: answer } }
  } catch (error) {
    return failed(error, caller)
  }
}

/** A failed call as a tool result the model can read (isError), with the status its REST twin would answer. */
function failed(error: unknown, { logger, requestId }: Caller): Outcome {
  const { status, body } = errorAnswer(appErrorOf(error), error, logger, requestId)
  return { status, result: { isError: true, content: [{ type: 'text', text: JSON.stringify(body) }] } }
}
