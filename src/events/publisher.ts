import { Elysia } from 'elysia'
import type { Notifier } from './notifier'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

// Requests whose route tells the notifier itself, and only when it wrote:
// a POST to /mcp is most often a read (tools/list, list_tasks).
const toldByTheirRoute = new WeakSet<Request>()

/** This request's writes, if any, are told to the notifier by its route: the method says nothing. */
export function notifiesItself(request: Request): void {
  toldByTheirRoute.add(request)
}

/**
 * After a write by a signed-in user has been answered (committed), their
 * feed may have moved: tell the notifier. A write that changed nothing costs
 * each of the user's streams one read of the feed that finds nothing.
 */
export function changePublisher(notifier: Notifier) {
  return new Elysia({ name: 'change-publisher' }).onAfterHandle({ as: 'global' }, (context) => {
    const { userId } = context as unknown as { userId?: string }
    if (userId !== undefined && WRITES.has(context.request.method) && !toldByTheirRoute.has(context.request)) notifier.changed(userId)
  })
}
