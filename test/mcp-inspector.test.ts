// The MCP Inspector's CLI (@modelcontextprotocol/inspector, a dev dependency)
// against a listening server: a client written by the protocol's maintainers,
// run as a separate process, with a bearer token in a header.
import { afterAll, describe, expect, test } from 'bun:test'
import { fileURLToPath } from 'node:url'
import { app, signedInUser } from './support'

const INSPECTOR = fileURLToPath(import.meta.resolve('@modelcontextprotocol/inspector/package.json')).replace(
  /package\.json$/,
  'clients/launcher/build/index.js',
)

// The inspector asks for Node 22.19 or later; where the machine's node is older, Bun runs it.
function runtime(): string {
  const node = Bun.which('node')
  const version = node ? Bun.spawnSync([node, '--version']).stdout.toString().trim() : ''
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  return node && (major > 22 || (major === 22 && minor >= 19)) ? node : process.execPath
}

const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => app.handle(request) })
afterAll(() => server.stop(true))
const url = `http://127.0.0.1:${server.port}/mcp`

/** Runs the CLI; its exit code and each JSON object it printed. */
async function inspector(token: string, ...args: string[]) {
  const header = token ? ['--header', `Authorization: Bearer ${token}`] : []
  const command = [runtime(), INSPECTOR, '--cli', url, '--transport', 'http', ...header, '--format', 'json', ...args]
  const child = Bun.spawn(command, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  try {
    const lines = `${stdout}\n${stderr}`.split('\n').filter((line) => line.startsWith('{'))
    return { code, printed: lines.map((line) => JSON.parse(line)) }
  } catch {
    throw new Error(`inspector exited ${code} with ${stdout.slice(0, 1000)} ${stderr.slice(0, 2000)}`)
  }
}

/** The result of a call that succeeded. */
async function inspect(token: string, ...args: string[]) {
  const { code, printed } = await inspector(token, ...args)
  expect({ code, printed: printed.length }).toEqual({ code: 0, printed: 1 })
  return printed[0].result
}

describe('the MCP Inspector CLI', () => {
  test('lists the tools, adds a task and lists it, with a bearer token; a failed call is a tool error', async () => {
    const user = await signedInUser()
    const listed = await inspect(user.token, '--method', 'tools/list')
    expect(listed.tools.map((tool: { name: string }) => tool.name).sort()).toEqual([
      'add_task',
      'complete_task',
      'create_list',
      'delete_task',
      'get_task',
      'list_lists',
      'list_tasks',
      'update_task',
    ])
    const args = ['--tool-arg', 'title=From the inspector', '--tool-arg', 'tags=["cli"]', '--tool-arg', 'priority=high']
    const added = await inspect(user.token, '--method', 'tools/call', '--tool-name', 'add_task', ...args)
    expect(added.isError ?? false).toBe(false)
    expect(added.structuredContent).toMatchObject({ title: 'From the inspector', tags: ['cli'], priority: 'high' })
    const tasks = await inspect(user.token, '--method', 'tools/call', '--tool-name', 'list_tasks', '--tool-arg', 'limit=10')
    expect(tasks.structuredContent).toEqual({ tasks: [added.structuredContent], total: 1 })
    expect((await user.call('GET', '/api/tasks')).body).toEqual([added.structuredContent])
    // The CLI reports a tool error as one (a result with isError) and exits non-zero.
    const missing = await inspector(
      user.token,
      '--method',
      'tools/call',
      '--tool-name',
      'get_task',
      '--tool-arg',
      `task_id=${Number.MAX_SAFE_INTEGER}`,
    )
    expect(missing.code).not.toBe(0)
    expect(missing.printed[0].result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: expect.stringContaining('task_not_found') }],
    })
    // Without a token: the 401 is read as a request to sign in (by OAuth, which a run without a terminal does not start).
    const anonymous = await inspector('', '--method', 'tools/list')
    expect(anonymous.code).not.toBe(0)
    expect(anonymous.printed).toContainEqual({ error: expect.objectContaining({ code: 'auth_required' }) })
  }, 60_000)
})
