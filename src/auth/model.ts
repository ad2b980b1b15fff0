import { t } from 'elysia'
import { text } from '../http/text'

// Trimmed and lower-cased before it is checked (see routes.ts); any Unicode
// local part or domain is accepted, spaces and a second @ are not.
const email = t.String({
  maxLength: 254,
  pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$',
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
