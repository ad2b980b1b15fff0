import { Elysia } from 'elysia'
import { ErrorCode, ValidationFailed } from '../errors'
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from './errors'
import { isStorableText, MALFORMED_TEXT } from './text'

export const MAX_BODY_BYTES = 64 * 1024

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/i

async function readCapped(request: Request): Promise<string> {
  if (!request.body) return ''
  let bytes: Uint8Array
  if (request.headers.has('content-length') && !request.headers.has('transfer-encoding')) {
    // The server reads exactly Content-Length bytes, already checked against
    // the cap: read them in one go (iterating the stream costs ~100 us more).
    bytes = await request.bytes()
  } else {
    // Chunked bodies carry no Content-Length: count while reading and stop early.
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of request.body) {
      size += chunk.byteLength
      if (size > MAX_BODY_BYTES) throw new PayloadTooLarge(MAX_BODY_BYTES)
      chunks.push(chunk)
    }
    bytes = Buffer.concat(chunks)
  }
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
 * Replaces Elysia's body parsing: 413 past 64 KiB before anything is parsed,
 * 415 for a body that is not JSON, 422 for a body that is not an object or
 * holds text PostgreSQL cannot store. A missing or empty body is null.
 *
 * Elysia parses before the auth check runs, so a request without credentials
 * has its body ignored (null) except on `anonymousPaths` (sign-up, sign-in):
 * the caller then learns it must authenticate (401), not what is wrong with
 * its body.
 */
export function jsonBody(anonymousPaths: readonly string[]) {
  return (
    new Elysia({ name: 'json-body' })
      .onRequest(({ request }) => {
        const declared = Number(request.headers.get('content-length'))
        if (declared > MAX_BODY_BYTES) throw new PayloadTooLarge(MAX_BODY_BYTES)
      })
      // null, not undefined, for no body: on undefined Elysia tries its own
      // request.json(), which throws (and is caught) on every body-less
      // request; in an A/B a toggle cost 9 % less CPU without that.
      .onParse({ as: 'global' }, ({ request, contentType, path }) =>
        !request.body || (!request.headers.has('authorization') && !anonymousPaths.includes(path)) ? null : parseJson(request, contentType),
      )
  )
}

async function parseJson(request: Request, contentType: string): Promise<object | null> {
  const text = await readCapped(request)
  if (text === '') return null
  if (!JSON_TYPE.test(contentType)) throw new UnsupportedMediaType(contentType)
  const body: unknown = JSON.parse(text)
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationFailed([{ field: 'body', message: 'must be a JSON object' }])
  if (!storable(body, 1)) checkStrings(body, '', 1)
  return body
}
