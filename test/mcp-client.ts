// The MCP SDK's own client, as an agent runs it: Client over
// StreamableHTTPClientTransport, its requests driven into an app in process
// (app.handle) or sent to a listening server.
import { expect } from 'bun:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { app, type TestApp } from './support'

export type McpClient = Client

/** A connected client (initialize done) sending `token` as its bearer token; into `on` in process, or to `url`. */
export async function mcpClient(token: string, on: TestApp | URL = app): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(on instanceof URL ? on : new URL('http://localhost/mcp'), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    ...(on instanceof URL ? {} : { fetch: (url: string | URL, init?: RequestInit) => on.handle(new Request(String(url), init)) }),
  })
  const client = new Client({ name: 'todo-api-tests', version: '1.0.0' })
  await client.connect(transport)
  return client
}

type ToolResult = Awaited<ReturnType<Client['callTool']>>

/** The structured content of a call that succeeded. */
export function answerOf(result: ToolResult): any {
  expect({ isError: result.isError ?? false, content: result.content }).toEqual({
    isError: false,
    content: [{ type: 'text', text: JSON.stringify(result.structuredContent) }],
  })
  return result.structuredContent
}

/** The {detail, code, errors?} a failed call reports (isError: a tool result, not a protocol error). */
export function errorOf(result: ToolResult): { detail: string; code: string; errors?: { field: string; message: string }[] } {
  expect(result.isError).toBe(true)
  expect(result.structuredContent).toBeUndefined()
  const content = result.content as { type: string; text: string }[]
  expect(content).toHaveLength(1)
  return JSON.parse(content[0]!.text)
}
