// Sync cursors: where in a user's change feed a client has read to. Opaque to
// clients and signed, so a cursor cannot be made up or carried into another
// user's feed: the MAC covers the user id.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { ValidationFailed } from '../errors'

/** The kinds of change in feed order at one position: lists, then tasks; `end` is past both. */
export type CursorKind = 'list' | 'task' | 'end'

export type Cursor = {
  /** Deletions at or below this position are of no interest (a snapshot started there). */
  floor: number
  /** The change read last: its position, kind and id. */
  position: number
  kind: CursorKind
  id: number
}

const KIND_CODES: Record<CursorKind, string> = { list: 'l', task: 't', end: 'z' }
const KIND_OF_CODE = Object.fromEntries(Object.entries(KIND_CODES).map(([kind, code]) => [code, kind])) as Record<string, CursorKind>
const MAC_BYTES = 16
const SHAPE = /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})\.([ltz])\.(0|[1-9]\d{0,15})$/

const malformed = (field: string) => new ValidationFailed([{ field, message: 'is not a cursor this service gave you' }])

/** Signs and reads cursors with a key derived from the service's secret. */
export function cursorCodec(secret: string) {
  const key = createHmac('sha256', secret).update('todo-api sync cursor').digest()
  const macOf = (userId: string, text: string) => createHmac('sha256', key).update(`${userId}\n${text}`).digest().subarray(0, MAC_BYTES)

  return {
    encode(userId: string, cursor: Cursor): string {
      const text = `${cursor.floor}.${cursor.position}.${KIND_CODES[cursor.kind]}.${cursor.id}`
      return `${Buffer.from(text).toString('base64url')}.${macOf(userId, text).toString('base64url')}`
    },
    /** The cursor, or 422 naming `field` when it is not one this service signed for this user. */
    decode(userId: string, encoded: string, field = 'cursor'): Cursor {
      const [body, mac, extra] = encoded.split('.')
      if (body === undefined || mac === undefined || extra !== undefined) throw malformed(field)
      const text = Buffer.from(body, 'base64url').toString()
      const given = Buffer.from(mac, 'base64url')
      const match = SHAPE.exec(text)
      if (!match || given.length !== MAC_BYTES || !timingSafeEqual(given, macOf(userId, text))) throw malformed(field)
      const [, floor, position, kind, id] = match
      return { floor: Number(floor), position: Number(position), kind: KIND_OF_CODE[kind!]!, id: Number(id) }
    },
  }
}

export type CursorCodec = ReturnType<typeof cursorCodec>
