import { describe, expect, test } from 'bun:test'
import { generateKeyPair } from 'jose'
import { createApp } from '../src/app'
import { Unauthenticated } from '../src/auth/errors'
import { createTokens } from '../src/auth/tokens'
import {
  base64urlJson,
  call,
  database,
  errorBody,
  expectUnauthenticated,
  logger,
  nowSeconds,
  secret,
  signedInUser,
  signJwt,
  testConfig,
  tokenFor,
  userId,
  validClaims,
} from './support'

describe('bearer verification: rejected', () => {
  const otherSecret = 'another-secret-of-at-least-32-characters!'
  const cases: { name: string; authorization: () => Promise<string | undefined>; code: string | string[]; detail: RegExp }[] = [
    { name: 'no Authorization header', authorization: async () => undefined, code: 'token_missing', detail: /missing/i },
    {
      name: 'Basic credentials',
      authorization: async () => `Basic ${btoa('user:password')}`,
      code: ['token_invalid', 'token_missing'],
      detail: /bearer/i,
    },
    {
      name: '"Bearer" with no token',
      authorization: async () => 'Bearer',
      code: ['token_invalid', 'token_missing'],
      detail: /bearer|missing/i,
    },
    {
      name: '"Bearer " with only spaces',
      authorization: async () => 'Bearer    ',
      code: ['token_invalid', 'token_missing'],
      detail: /bearer|missing/i,
    },
    {
      name: 'a garbage token',
      authorization: async () => 'Bearer not-a-jwt-at-all-1234567890',
      code: 'token_invalid',
      detail: /malformed/i,
    },
    {
      name: 'three garbage segments',
      authorization: async () => 'Bearer aaaaaaaaaa.bbbbbbbbbb.cccccccccc',
      code: 'token_invalid',
      detail: /malformed/i,
    },
    {
      name: 'a token signed with another secret',
      authorization: async () => `Bearer ${await tokenFor(userId(), {}, otherSecret)}`,
      code: 'token_invalid',
      detail: /signature/i,
    },
    {
      name: 'a tampered payload',
      authorization: async () => {
        const [h, , s] = (await tokenFor(userId())).split('.')
        return `Bearer ${h}.${base64urlJson(validClaims())}.${s}`
      },
      code: 'token_invalid',
      detail: /signature/i,
    },
    {
      name: 'HS384 with the same secret',
      authorization: async () => `Bearer ${await tokenFor(userId(), {}, secret, 'HS384')}`,
      code: 'token_invalid',
      detail: /algorithm/i,
    },
    {
      name: 'HS512 with the same secret',
      authorization: async () => `Bearer ${await tokenFor(userId(), {}, secret, 'HS512')}`,
      code: 'token_invalid',
      detail: /algorithm/i,
    },
    {
      name: 'alg none, unsigned',
      authorization: async () => `Bearer ${base64urlJson({ alg: 'none', typ: 'JWT' })}.${base64urlJson(validClaims())}.`,
      code: 'token_invalid',
      detail: /algorithm|malformed/i,
    },
    {
      name: 'alg none with the HS256 signature kept',
      authorization: async () => {
        const [, p, s] = (await tokenFor(userId())).split('.')
        return `Bearer ${base64urlJson({ alg: 'none', typ: 'JWT' })}.${p}.${s}`
      },
      code: 'token_invalid',
      detail: /algorithm|malformed/i,
    },
    {
      name: 'expired beyond the 30 s skew',
      authorization: async () => `Bearer ${await signJwt(validClaims({ iat: nowSeconds() - 7200, exp: nowSeconds() - 120 }))}`,
      code: 'token_expired',
      detail: /expired/i,
    },
    {
      name: 'nbf 5 minutes ahead',
      authorization: async () => `Bearer ${await signJwt(validClaims({ nbf: nowSeconds() + 300 }))}`,
      code: 'token_invalid',
      detail: /not (yet )?valid|not valid yet|nbf/i,
    },
    {
      name: 'iat 5 minutes ahead',
      authorization: async () => `Bearer ${await signJwt(validClaims({ iat: nowSeconds() + 300 }))}`,
      code: 'token_invalid',
      detail: /not (yet )?valid|not valid yet|iat/i,
    },
    {
      name: 'no sub',
      authorization: async () => `Bearer ${await signJwt({ iat: nowSeconds(), exp: nowSeconds() + 3600 })}`,
      code: 'token_invalid',
      detail: /\bsub\b/,
    },
    {
      name: 'an empty sub',
      authorization: async () => `Bearer ${await signJwt(validClaims({ sub: '' }))}`,
      code: 'token_invalid',
      detail: /\bsub\b/,
    },
    {
      name: 'a numeric sub',
      authorization: async () => `Bearer ${await signJwt(validClaims({ sub: 42 }))}`,
      code: 'token_invalid',
      detail: /\bsub\b/,
    },
    {
      name: 'no exp',
      authorization: async () => `Bearer ${await signJwt({ sub: userId(), iat: nowSeconds() })}`,
      code: 'token_invalid',
      detail: /\bexp\b/,
    },
    {
      name: 'a Better Auth session_data cookie token',
      authorization: async () => {
        const id = `Xk2jf9${crypto.randomUUID().slice(0, 8)}`
        const session = { id: 'sess1', userId: id, token: 'opaque-session-token', expiresAt: new Date(Date.now() + 3600e3).toISOString() }
        return `Bearer ${await signJwt({ session, user: { id, email: 'a@example.com', name: 'A' }, iat: nowSeconds(), exp: nowSeconds() + 300 })}`
      },
      code: 'token_invalid',
      detail: /\bsub\b/,
    },
  ]

  for (const { name, authorization, code, detail } of cases) {
    test(`${name} is 401`, async () => {
      const header = await authorization()
      const reply = await call('GET', '/api/tasks', { headers: header === undefined ? {} : { authorization: header } })
      expectUnauthenticated(reply, code, detail, header?.replace(/^\S+\s*/, ''))
    })
  }

  test('a valid token in the query string is not read', async () => {
    const user = await signedInUser()
    for (const parameter of ['token', 'access_token']) {
      const reply = await call('GET', `/api/tasks?${parameter}=${user.token}`)
      expectUnauthenticated(reply, 'token_missing', /missing/i, user.token)
    }
  })

  // Auth comes first: an anonymous caller learns nothing about ids, queries or bodies.
  const anonymous = [
    ['POST', '/api/tasks'],
    ['GET', '/api/tasks/1'],
    ['PATCH', '/api/tasks/1'],
    ['DELETE', '/api/tasks/1'],
    ['PATCH', '/api/tasks/1/complete'],
    ['GET', `/api/${userId()}/tasks`],
    ['GET', '/api/tasks?limit=5000'],
    ['GET', '/api/tasks/abc'],
    ['PUT', '/api/tasks/abc'],
    ['GET', '/api/tasks?limit=0x10'],
    ['GET', '/api/tasks?offset=-1'],
  ] as const
  for (const [method, path] of anonymous) {
    test(`anonymous ${method} ${path} is 401 before validation`, async () => {
      const reply = await call(method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : { nonsense: true } })
      expectUnauthenticated(reply, 'token_missing', /missing/i)
    })
  }
})

describe('anonymous requests learn only that they must authenticate', () => {
  test('a malformed, non-JSON or invalid body without a token is 401, not 400/415/422', async () => {
    for (const [method, path, raw, type] of [
      ['POST', '/api/tasks', '{"title":', 'application/json'],
      ['POST', '/api/tasks', 'title=x', 'text/plain'],
      ['POST', '/api/tasks', '[1]', 'application/json'],
      ['PATCH', '/api/tasks/1', 'x', 'text/plain'],
      ['PUT', '/api/tasks/abc', '{}', 'application/json'],
    ] as const) {
      const reply = await call(method, path, { raw, headers: { 'content-type': type } })
      expect({ method, path, raw, status: reply.status, code: reply.body?.code }).toEqual({
        method,
        path,
        raw,
        status: 401,
        code: 'token_missing',
      })
    }
  })

  test('the WWW-Authenticate challenge stays a valid quoted string', async () => {
    const reply = await call('GET', '/api/tasks', { headers: { authorization: 'Basic abc' } })
    expect(reply.status).toBe(401)
    const challenge = reply.headers.get('www-authenticate')!
    const description = challenge.match(/error_description="((?:[^"\\]|\\.)*)"$/)
    expect(description?.[1]).toBe('Authorization header must be \\"Bearer <token>\\"')
  })
})

describe('bearer verification: accepted', () => {
  const cases: { name: string; payload: () => Record<string, unknown> }[] = [
    { name: 'exp 10 s in the past (within the skew)', payload: () => validClaims({ iat: nowSeconds() - 3600, exp: nowSeconds() - 10 }) },
    { name: 'iat 10 s ahead (within the skew)', payload: () => validClaims({ iat: nowSeconds() + 10 }) },
    { name: 'nbf 10 s ahead (within the skew)', payload: () => validClaims({ nbf: nowSeconds() + 10 }) },
    { name: 'no iat at all', payload: () => ({ sub: userId(), exp: nowSeconds() + 3600 }) },
    { name: 'iss/aud present but not configured', payload: () => validClaims({ iss: 'https://anyone.example', aud: 'whatever' }) },
  ]
  for (const { name, payload } of cases) {
    test(`${name}: 200`, async () => {
      const token = await signJwt(payload())
      const reply = await call('GET', '/api/tasks', { token })
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual([])
      expect(reply.headers.get('www-authenticate')).toBeNull()
    })
  }

  test('the scheme is case-insensitive', async () => {
    const user = await signedInUser()
    const reply = await call('GET', '/api/tasks', { headers: { authorization: `bearer ${user.token}` } })
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual([])
  })

  test('a non-UUID sub (Better Auth style) owns its tasks', async () => {
    const sub = `Xk2jf9${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`
    const token = await tokenFor(sub, { email: 'x@example.com', name: 'X' })
    const created = await call('POST', '/api/tasks', { token, body: { title: 'Better Auth user' } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ title: 'Better Auth user', completed: false })
    expect(created.body.user_id).toBeUndefined()
    const list = await call('GET', '/api/tasks', { token })
    expect(list.status).toBe(200)
    expect(list.body).toEqual([created.body])
    const alias = await call('GET', `/api/${sub}/tasks`, { token })
    expect(alias.status).toBe(200)
    expect(alias.body).toEqual([created.body])
    const other = await call('GET', '/api/tasks', { token: await tokenFor('Xk2jf9') })
    expect(other.body).not.toContainEqual(created.body)
  })
})

describe('with JWT_ISSUER and JWT_AUDIENCE configured', () => {
  const issuer = 'https://issuer.example'
  const audience = 'todo-api'
  const strict = createApp({ database, config: testConfig({ JWT_ISSUER: issuer, JWT_AUDIENCE: audience }), logger })

  const rejected: { name: string; claims: Record<string, unknown>; detail: RegExp }[] = [
    { name: 'no iss', claims: { aud: audience }, detail: /\biss\b/ },
    { name: 'a wrong iss', claims: { iss: 'https://evil.example', aud: audience }, detail: /\biss\b/ },
    { name: 'no aud', claims: { iss: issuer }, detail: /\baud\b/ },
    { name: 'a wrong aud', claims: { iss: issuer, aud: 'someone-else' }, detail: /\baud\b/ },
    { name: 'a wrong aud in a list', claims: { iss: issuer, aud: ['a', 'b'] }, detail: /\baud\b/ },
  ]
  for (const { name, claims, detail } of rejected) {
    test(`${name} is 401`, async () => {
      const token = await signJwt(validClaims(claims))
      const reply = await call('GET', '/api/tasks', { token, on: await strict })
      expectUnauthenticated(reply, 'token_invalid', detail, token)
    })
  }

  test('the right iss and aud (aud alone or in a list) are 200', async () => {
    for (const aud of [audience, ['other', audience]]) {
      const token = await signJwt(validClaims({ iss: issuer, aud }))
      const reply = await call('GET', '/api/tasks', { token, on: await strict })
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual([])
    }
  })

  test('the checks still come after the signature: right claims, wrong secret is 401', async () => {
    const token = await signJwt(validClaims({ iss: issuer, aud: audience }), 'another-secret-of-at-least-32-characters!')
    const reply = await call('GET', '/api/tasks', { token, on: await strict })
    expectUnauthenticated(reply, 'token_invalid', /signature/i, token)
  })
})

describe('a key set that answers but not with keys', () => {
  test('a JWKS endpoint answering 503 makes an asymmetric token 503 auth_unavailable, not 401', async () => {
    const broken = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('down', { status: 503 }) })
    try {
      const baseUrl = `http://127.0.0.1:${broken.port}`
      const withKeySet = await createApp({ database, config: testConfig({ BETTER_AUTH_URL: baseUrl }), logger })
      const { privateKey } = await generateKeyPair('EdDSA')
      const token = await signJwt(
        { sub: userId('ba'), iss: baseUrl, aud: baseUrl, iat: nowSeconds(), exp: nowSeconds() + 300 },
        privateKey,
        { alg: 'EdDSA', kid: 'some-key' },
      )
      const reply = await call('GET', '/api/tasks', { token, on: withKeySet })
      expect(reply.status).toBe(503)
      expect(reply.body).toEqual(errorBody('auth_unavailable'))
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0)
    } finally {
      broken.stop(true)
    }
  })
})

describe('the verified-token cache', () => {
  // A cache hit is answered without a promise; a miss verifies (a promise).
  test('a repeated header is answered from the cache; padded spellings are verified every time, never kept', async () => {
    const tokens = await createTokens({ secret })
    const token = await signJwt(validClaims())
    const identity = { userId: expect.any(String), email: undefined, name: undefined }
    for (const header of [`Bearer ${token}`, `bearer ${token}`]) {
      const first = tokens.verifyBearer(header)
      expect(first).toBeInstanceOf(Promise)
      expect(await first).toEqual(identity)
      const repeat = tokens.verifyBearer(header)
      expect(repeat).not.toBeInstanceOf(Promise)
      expect(repeat).toEqual(identity)
    }
    for (const padded of [`Bearer  ${token}`, `Bearer ${token} `, `Bearer ${' '.repeat(5000)}${token}`]) {
      for (let round = 0; round < 2; round++) {
        const answer = tokens.verifyBearer(padded)
        expect(answer).toBeInstanceOf(Promise)
        expect(await answer).toEqual(identity)
      }
    }
    for (const wrong of [`Bearer ${token} extra`, `Basic ${token}`, `Bearer ${token}x`, `Bearer${token}`]) {
      let refused: unknown
      try {
        await tokens.verifyBearer(wrong)
      } catch (error) {
        refused = error
      }
      expect(refused).toBeInstanceOf(Unauthenticated)
    }
  })
})
