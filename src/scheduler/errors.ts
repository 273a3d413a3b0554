/**
 * Scheduler errors. Each has a `name` (the HTTP layer maps names to status
 * codes, see `SCHEDULER_ERROR_STATUS`) and an UPPER_SNAKE `code`.
 */
import type { PlacementExplanation } from './placement.js'

/** A constraint or allocation field is malformed; `field` names it (e.g. `constraints.memory`). */
export class InvalidConstraintsError extends Error {
  static readonly code = 'INVALID_CONSTRAINTS'
  readonly code = InvalidConstraintsError.code
  readonly field: string
  constructor (field: string, reason: string) {
    super(`${field}: ${reason}`)
    this.name = 'InvalidConstraintsError'
    this.field = field
  }
}

/** No set of peers satisfies the constraints; `explanation` says what removed the candidates. */
export class NoPlacementError extends Error {
  static readonly code = 'NO_PLACEMENT'
  readonly code = NoPlacementError.code
  readonly explanation: PlacementExplanation
  constructor (explanation: PlacementExplanation, summary: string) {
    super(`no placement: ${summary}; explanation ${JSON.stringify(explanation)}`)
    this.name = 'NoPlacementError'
    this.explanation = explanation
  }
}

/** An allocation id that is not `<ownerPeerId>.<suffix>`. */
export class InvalidAllocationIdError extends Error {
  static readonly code = 'INVALID_ALLOCATION_ID'
  readonly code = InvalidAllocationIdError.code
  constructor (id: string) {
    super(`not an allocation id: ${JSON.stringify(id.slice(0, 200))} (expected <ownerPeerId>.<suffix>)`)
    this.name = 'InvalidAllocationIdError'
  }
}

/** The owning peer has no such allocation (never made, released, or its lease expired). */
export class AllocationNotFoundError extends Error {
  static readonly code = 'ALLOCATION_NOT_FOUND'
  readonly code = AllocationNotFoundError.code
  constructor (id: string) {
    super(`no allocation ${id}`)
    this.name = 'AllocationNotFoundError'
  }
}

/** The owning peer could not be reached or answered with something invalid. */
export class AllocationPeerError extends Error {
  static readonly code = 'ALLOCATION_PEER_UNAVAILABLE'
  readonly code = AllocationPeerError.code
  readonly peerId: string
  constructor (peerId: string, reason: string) {
    super(`peer ${peerId}: ${reason}`)
    this.name = 'AllocationPeerError'
    this.peerId = peerId
  }
}

/** A frame on /dcis/alloc/1.0.0 failed validation; `field` names what was wrong. */
export class InvalidAllocFrameError extends Error {
  static readonly code = 'INVALID_ALLOC_FRAME'
  readonly code = InvalidAllocFrameError.code
  readonly field: string
  constructor (field: string, reason: string) {
    super(`alloc frame ${field}: ${reason}`)
    this.name = 'InvalidAllocFrameError'
    this.field = field
  }
}

/** The service was used before start() or after stop(). */
export class SchedulerNotStartedError extends Error {
  static readonly code = 'NOT_STARTED'
  readonly code = SchedulerNotStartedError.code
  constructor () {
    super('the allocation service is not started')
    this.name = 'SchedulerNotStartedError'
  }
}

/** The peer holding the allocation refused the caller's token (re-authorised there; docs/security.md). */
export class AllocationForbiddenError extends Error {
  static readonly code = 'FORBIDDEN'
  readonly code = AllocationForbiddenError.code
  constructor (readonly peerId: string, message: string) {
    super(`peer ${peerId} refused: ${message}`)
    this.name = 'AllocationForbiddenError'
  }
}

/** Error name -> HTTP status for the allocation routes. */
export const SCHEDULER_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  InvalidConstraintsError: 400,
  InvalidAllocationIdError: 400,
  NoPlacementError: 409,
  AllocationNotFoundError: 404,
  AllocationPeerError: 502,
  AllocationForbiddenError: 403,
  SchedulerNotStartedError: 503
})
