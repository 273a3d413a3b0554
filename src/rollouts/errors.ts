/** Typed errors of rollouts (codes ROLLOUT_*); routes.ts maps them to HTTP statuses. */

/** A rollout spec (manifest, flags, HTTP fields) that is not valid (400). */
export class InvalidRolloutError extends Error {
  static readonly code = 'ROLLOUT_INVALID'
  readonly code = InvalidRolloutError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'InvalidRolloutError'
    this.field = field
  }
}

/** No rollout for that function (404). */
export class RolloutNotFoundError extends Error {
  static readonly code = 'ROLLOUT_NOT_FOUND'
  readonly code = RolloutNotFoundError.code
  constructor (name: string) {
    super(`function ${JSON.stringify(name)} has no rollout`)
    this.name = 'RolloutNotFoundError'
  }
}

/** A rollout of the function is still running (409): promote or abort it first. */
export class RolloutInProgressError extends Error {
  static readonly code = 'ROLLOUT_IN_PROGRESS'
  readonly code = RolloutInProgressError.code
  constructor (name: string, state: string) {
    super(`a rollout of ${name} is ${state}: promote or abort it first`)
    this.name = 'RolloutInProgressError'
  }
}

/** The rollout is finished: promote/abort no longer apply (409). */
export class RolloutFinishedError extends Error {
  static readonly code = 'ROLLOUT_FINISHED'
  readonly code = RolloutFinishedError.code
  constructor (name: string, state: string) {
    super(`the rollout of ${name} is already ${state}`)
    this.name = 'RolloutFinishedError'
  }
}

/** The version to roll out is already the current one (409). */
export class RolloutNothingToDoError extends Error {
  static readonly code = 'ROLLOUT_NOTHING_TO_DO'
  readonly code = RolloutNothingToDoError.code
  constructor (name: string) {
    super(`that version of ${name} is already current`)
    this.name = 'RolloutNothingToDoError'
  }
}

export const ROLLOUT_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  InvalidRolloutError: 400,
  RolloutNotFoundError: 404,
  RolloutInProgressError: 409,
  RolloutFinishedError: 409,
  RolloutNothingToDoError: 409,
  RolloutConflictError: 409
})
