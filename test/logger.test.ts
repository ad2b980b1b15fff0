// The log line's shape: what log collectors parse.
import { describe, expect, test } from 'bun:test'
import { createLogger } from '../src/http/logger'

function captured(level: 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: string[] = []
  return { lines, logger: createLogger(level, (line) => void lines.push(line)) }
}

describe('log lines', () => {
  test('one JSON object a line: time, level, message, then the fields in order', () => {
    const { lines, logger } = captured()
    const before = Date.now()
    logger.info('request', { request_id: 'r-1', method: 'POST', route: '/api/tasks', status: 201, duration_ms: 1.25, skipped: undefined })
    logger.warn('say "when"\n', {})
    logger.debug('bare')
    expect(lines.map((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toEqual([true, true, true])
    const [request, warning, bare] = lines.map((line) => JSON.parse(line))
    expect(Object.keys(request)).toEqual(['time', 'level', 'message', 'request_id', 'method', 'route', 'status', 'duration_ms'])
    expect(request).toMatchObject({ level: 'info', message: 'request', request_id: 'r-1', status: 201, duration_ms: 1.25 })
    expect(Date.parse(request.time)).toBeGreaterThanOrEqual(before - 1)
    expect(Date.parse(request.time)).toBeLessThanOrEqual(Date.now())
    expect(request.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    expect(warning).toEqual({ time: warning.time, level: 'warn', message: 'say "when"\n' })
    expect(bare).toEqual({ time: bare.time, level: 'debug', message: 'bare' })
  })

  test('below the level nothing is written', () => {
    const { lines, logger } = captured('info')
    logger.debug('hidden')
    logger.info('a')
    logger.warn('b')
    logger.error('c')
    expect(lines.map((line) => [JSON.parse(line).level, JSON.parse(line).message])).toEqual([
      ['info', 'a'],
      ['warn', 'b'],
      ['error', 'c'],
    ])
    expect(logger.enabled('debug')).toBe(false)
    expect(logger.enabled('warn')).toBe(true)
  })
})
