import { ErrorCode, ValidationFailed } from '../errors'
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from './errors'
import { isStorableText, MALFORMED_TEXT } from './text'

export const MAX_BODY_BYTES = 64 * 1024

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/i

/**
 * Bun's own body limit (`serve.maxRequestBodySize`), the guard under this
 * parser: whatever reads a body, nothing gets more than this. Above the
 * contract's 64 KiB because Bun answers its own 413 with an empty body, not
 * JSON: between the two, this parser answers first (a declared length at
 * once, a chunked body as soon as its count passes 64 KiB). Bun hands a body
 * over in reads of up to 64 KiB; with the guard one read above the limit, a
 * fast client sometimes met Bun's bare 413 first, so it leaves several.
 * Only a declared length above this meets Bun's 413, before any code runs.
 */
export const SERVER_BODY_LIMIT = 4 * MAX_BODY_BYTES

/**
 * The length a request declares, when it declares one plainly: digits, or
 * the same digits repeated (Bun joins a repeated header as "N, N", and itself
 * refuses repeats that differ). Anything else is counted while read instead.
 */
function declaredLength(request: Request): number | undefined {
  const header = request.headers.get('content-length')
  if (header === null || request.headers.has('transfer-encoding')) return undefined
  const values = header.split(',').map((value) => value.trim())
  if (!/^\d+$/.test(values[0]!) || values.some((value) => value !== values[0])) return undefined
  return Number(values[0])
}

function tooLarge(set: { headers: Record<string, unknown> }): never {
  // The client may still be sending: closing stops it, where Bun would
  // otherwise keep reading (and discarding) the rest of the body.
  set.headers.connection = 'close'
  throw new PayloadTooLarge(MAX_BODY_BYTES)
}

async function readCapped(request: Request, body: ReadableStream<Uint8Array>, set: { headers: Record<string, unknown> }): Promise<string> {
  const declared = declaredLength(request)
  if (declared !== undefined && declared > MAX_BODY_BYTES) tooLarge(set)
  let bytes: Uint8Array
  if (declared !== undefined) {
    // Bun frames the body by that length, already checked: read it in one
    // go, which costs less CPU than iterating the stream.
    bytes = await request.bytes()
  } else {
    // Chunked or oddly declared: count while reading and stop past the limit.
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of body) {
      size += chunk.byteLength
      if (size > MAX_BODY_BYTES) tooLarge(set)
      chunks.push(chunk)
    }
    bytes = Buffer.concat(chunks)
  }
  if (bytes.byteLength > MAX_BODY_BYTES) tooLarge(set)
  try {
    return strictUtf8.decode(bytes)
  } catch {
    // Replacing bad bytes with U+FFFD would store text the client never sent.
    throw new BadRequest('Request body is not valid UTF-8', ErrorCode.INVALID_JSON)
  }
}

// No body of this API nests deeper than an object holding an array of
// strings. A deeper one is refused before validation, whose error reporting
// costs time and memory that grow with the square of the depth.
const MAX_DEPTH = 8

// Checked in every string, known field or not: stored, either would be a 500
// or silently altered data. The common case, nothing wrong, allocates nothing;
// only then is the body walked again to name the field.
function storable(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return isStorableText(value)
  if (typeof value !== 'object' || value === null) return true
  if (depth > MAX_DEPTH) return false
  if (Array.isArray(value)) {
    for (const item of value) if (!storable(item, depth + 1)) return false
    return true
  }
  for (const key in value) if (!storable((value as Record<string, unknown>)[key], depth + 1)) return false
  return true
}

function checkStrings(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (!isStorableText(value)) throw new ValidationFailed([{ field: path || 'body', message: MALFORMED_TEXT }])
    return
  }
  if (typeof value !== 'object' || value === null) return
  if (depth > MAX_DEPTH) throw new ValidationFailed([{ field: path || 'body', message: `nests deeper than ${MAX_DEPTH} levels` }])
  for (const [key, item] of Object.entries(value))
    checkStrings(item, Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key, depth + 1)
}

/**
 * The body parser of every route that reads a body: 413 past 64 KiB however
 * the body is framed, never reading further; 415 for a body that is not JSON;
 * 422 for a body that is not an object or holds text PostgreSQL cannot store.
 * A missing or empty body is null (never undefined, so no parser after it runs).
 *
 * Routes name it in their `parse` option, or a group registers it with
 * `onParse` after `.guard({ auth: true })`: the token is checked first, and
 * the body of a request with a missing or invalid token is never read.
 */
export async function parseJsonBody({
  request,
  contentType,
  set,
}: {
  request: Request
  contentType: string
  set: { headers: Record<string, unknown> }
}): Promise<object | null> {
  if (!request.body) return null
  const text = await readCapped(request, request.body, set)
  if (text === '') return null
  if (!JSON_TYPE.test(contentType)) throw new UnsupportedMediaType(contentType)
  const body: unknown = JSON.parse(text)
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationFailed([{ field: 'body', message: 'must be a JSON object' }])
  if (!storable(body, 1)) checkStrings(body, '', 1)
  return body
}
