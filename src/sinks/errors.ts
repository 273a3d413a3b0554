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

export const SINK_ERROR_STATUS: Readonly<Record<string, number>> = {
  SinkNotFoundError: 404,
  RegionConsentError: 422,
  SinkRecordError: 400
}
