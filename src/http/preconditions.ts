import { t } from 'elysia'
import type { Precondition } from '../db/ownership'

// A number past int4 was never issued (versions and counts are int4): it
// cannot match, and must not reach SQL.
const MAX_STATE_PART = 2_147_483_647
// RFC 9110 entity-tag list: [W/]"opaque" separated by commas; etagc excludes the quote.
const ENTITY_TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y
// The state after the id: integers written as etagOf writes them, dot-separated.
const STATE = /^(?:0|[1-9]\d{0,9})(?:\.(?:0|[1-9]\d{0,9}))*$/

/**
 * The strong ETag of one state of a resource: its id (or, for a resource
 * that is one per user, its name), then what the tag covers (the version; a
 * list adds its open count), dot-separated.
 */
export function etagOf(id: number | string, ...state: number[]): string {
  return `"${id}.${state.join('.')}"`
}

/**
 * If-Match → the states of resource `id` it names. Strong comparison of the
 * exact tag (RFC 9110): a weak tag, or one spelt differently from what
 * etagOf issues ("29.01", "029.1"), matches nothing, and so does a header
 * that is not a list of entity tags. `*` matches any current state.
 */
export function preconditionOf(ifMatch: string | undefined, id: number | string): Precondition | undefined {
  if (ifMatch === undefined) return undefined
  if (ifMatch.trim() === '*') return { any: true }
  const states: number[][] = []
  const prefix = `${id}.`
  ENTITY_TAG.lastIndex = 0
  while (ENTITY_TAG.lastIndex < ifMatch.length) {
    const match = ENTITY_TAG.exec(ifMatch)
    if (!match) return { states: [] }
    const [, weak, opaque = ''] = match
    if (weak || !opaque.startsWith(prefix)) continue
    const state = opaque.slice(prefix.length)
    if (!STATE.test(state)) continue
    const parts = state.split('.').map(Number)
    if (parts.every((part) => part <= MAX_STATE_PART)) states.push(parts)
  }
  return { states }
}

// Read by src/idempotency; declared here for the OpenAPI document of every write.
const idempotencyKey = {
  'idempotency-key': t.Optional(
    t.String({ description: 'A repeat of the same request with this key gets the first answer again, with Idempotent-Replayed: true' }),
  ),
}

/** The headers every write of a user's data accepts. */
export const WriteHeaders = t.Object(idempotencyKey, { additionalProperties: true })

/** The headers a write that honours If-Match accepts. */
export const PreconditionHeaders = t.Object({ 'if-match': t.Optional(t.String()), ...idempotencyKey }, { additionalProperties: true })

export const ETagHeader = { etag: t.String({ description: 'Strong ETag; send it back in If-Match' }) }

/**
 * The strong ETag of a collection of a user's data (GET /api/tasks with its
 * query, GET /api/lists): the user's change feed position, which moves on
 * every change of their lists and tasks, the request it answers, and
 * `context`: whatever else the answer depends on (the day, for due=today).
 */
export function collectionTag(position: number, userId: string, url: string, context = ''): string {
  const query = url.slice(url.indexOf('/', url.indexOf('//') + 2))
  return `"${position}-${Bun.hash(context ? `${userId} ${query} ${context}` : `${userId} ${query}`).toString(36)}"`
}

/** Whether If-None-Match names `etag` (weak comparison, RFC 9110 13.1.2), or is `*`. */
export function noneMatch(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  if (ifNoneMatch.trim() === '*') return true
  const opaque = etag.replace(/^W\//, '')
  ENTITY_TAG.lastIndex = 0
  while (ENTITY_TAG.lastIndex < ifNoneMatch.length) {
    const match = ENTITY_TAG.exec(ifNoneMatch)
    if (!match) return false
    if (`"${match[2]}"` === opaque) return true
  }
  return false
}

export const NotModifiedHeaders = t.Object({ 'if-none-match': t.Optional(t.String()) }, { additionalProperties: true })

type Settable = { status?: number | string; headers: Record<string, unknown> }

/**
 * For a GET: when If-None-Match names the answer's ETag (already set), the
 * answer becomes 304 Not Modified without a body, and this returns true.
 */
export function answeredNotModified(request: Request, set: Settable): boolean {
  const etag = set.headers.etag
  if (typeof etag !== 'string' || !noneMatch(request.headers.get('if-none-match'), etag)) return false
  set.status = 304
  return true
}

/** For a GET of a collection: 304 before reading it when If-None-Match names its current tag, read first (collectionTag). */
export async function revalidatedCollection(request: Request, set: Settable, currentTag: () => Promise<string>) {
  if (!request.headers.has('if-none-match')) return false
  set.headers.etag = await currentTag()
  return answeredNotModified(request, set)
}

/** The 304 a conditional GET can answer, for the OpenAPI document. */
export const NOT_MODIFIED = { 304: t.Void({ description: 'Not Modified: If-None-Match names the current ETag; no body' }) }
