import { Elysia } from 'elysia'
import { PayloadTooLarge, UnsupportedMediaType, ValidationFailed } from './errors'

export const MAX_BODY_BYTES = 64 * 1024

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/i

async function readCapped(request: Request): Promise<string> {
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  // Chunked bodies carry no Content-Length: count while reading and stop early.
  for await (const chunk of request.body) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) throw new PayloadTooLarge(MAX_BODY_BYTES)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

// PostgreSQL refuses NUL in text (SQLSTATE 22021) and UTF-8 cannot carry a
// lone surrogate, so either would be a 500 or silently altered data.
function findMalformedString(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') || !value.isWellFormed() ? path : undefined
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = findMalformedString(item, Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * Replaces Elysia's body parsing: 413 past 64 KiB before anything is parsed,
 * 415 for a body that is not JSON, 422 for a body that is not an object or
 * holds text PostgreSQL cannot store. A missing body is left undefined.
 */
export const jsonBody = new Elysia({ name: 'json-body' })
  .onRequest(({ request }) => {
    const declared = Number(request.headers.get('content-length'))
    if (declared > MAX_BODY_BYTES) throw new PayloadTooLarge(MAX_BODY_BYTES)
  })
  .onParse({ as: 'global' }, async ({ request, contentType }) => {
    const text = await readCapped(request)
    if (text === '') return undefined
    if (!JSON_TYPE.test(contentType)) throw new UnsupportedMediaType(contentType)
    const body: unknown = JSON.parse(text)
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ValidationFailed([{ field: 'body', message: 'must be a JSON object' }])
    const malformed = findMalformedString(body, '')
    if (malformed !== undefined)
      throw new ValidationFailed([{ field: malformed || 'body', message: 'must not contain NUL characters or unpaired surrogates' }])
    return body
  })
