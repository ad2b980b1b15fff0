import { t } from 'elysia'
import { text } from '../http/text'

// Control characters, zero-width and bidi-override characters (and the other
// invisible format characters) make two addresses look the same; \uDB40 starts
// the invisible tag and variation-selector characters of plane 14.
const INVISIBLE =
  '\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u180E\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u206F\\uFEFF\\uFFF9-\\uFFFB\\uDB40'
const part = `[^\\s@${INVISIBLE}]+`

// Trimmed and lower-cased before it is checked (see routes.ts); any Unicode
// local part or domain is accepted, spaces, invisible characters and a second @ are not.
const email = t.String({
  maxLength: 254,
  pattern: `^${part}@${part}\\.${part}$`,
  error: 'must be an email address such as ada@example.com',
})

const password = text({ minLength: 8, maxLength: 128, error: 'must be 8 to 128 characters' })

const user = t.Object({
  id: t.String(),
  email: t.String(),
  name: t.Union([t.String(), t.Null()]),
  created_at: t.String({ format: 'date-time' }),
})

export const AuthModel = {
  signup: t.Object({
    email,
    password,
    name: t.Optional(
      t.Union([text({ minLength: 1, maxLength: 100, error: 'must be 1 to 100 characters' }), t.Null()], {
        error: 'must be 1 to 100 characters, or null',
      }),
    ),
  }),
  // Sign-in checks only the shape: a wrong password must not be told apart from an unknown email.
  signin: t.Object({
    email: t.String({ maxLength: 254, error: 'must be a string' }),
    password: t.String({ maxLength: 1024, error: 'must be a string' }),
  }),
  session: t.Object({
    token: t.String(),
    token_type: t.Literal('bearer'),
    expires_at: t.String({ format: 'date-time' }),
    user,
  }),
  user,
  none: t.Void(),
  me: t.Object({
    id: t.String(),
    email: t.Optional(t.String()),
    name: t.Optional(t.Union([t.String(), t.Null()])),
    created_at: t.Optional(t.String({ format: 'date-time' })),
  }),
} as const
