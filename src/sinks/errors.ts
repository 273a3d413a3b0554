/** Typed errors of sinks; the HTTP layer maps names to statuses (SINK_ERROR_STATUS). */

export class SinkNotFoundError extends Error {
  static readonly code = 'SINK_NOT_FOUND'
  readonly code = SinkNotFoundError.code
  constructor (name: string) {
    super(`no sink named ${name}`)
    this.name = 'SinkNotFoundError'
  }
}

/** The sink would take data out of the regions it lives in without `consent.crossRegion`. */
export class RegionConsentError extends Error {
  static readonly code = 'REGION_CONSENT_REQUIRED'
  readonly code = RegionConsentError.code
  constructor (message: string) {
    super(message)
    this.name = 'RegionConsentError'
  }
}

/** A record does not fit (too large, not UTF-8 JSON-safe). */
export class SinkRecordError extends Error {
  static readonly code = 'INVALID_ARGUMENT'
  readonly code = SinkRecordError.code
  constructor (message: string) {
    super(message)
    this.name = 'SinkRecordError'
  }
}

/** A sink mark in the service's kv is malformed (it is ignored: the entries it covered ship again under their keys). */
export class SinkMarkError extends Error {
  static readonly code = 'SINK_MARK_INVALID'
  readonly code = SinkMarkError.code
  constructor (message: string) {
    super(message)
    this.name = 'SinkMarkError'
  }
}

export const SINK_ERROR_STATUS: Readonly<Record<string, number>> = {
  SinkNotFoundError: 404,
  RegionConsentError: 422,
  SinkRecordError: 400,
  SinkMarkError: 500
}
