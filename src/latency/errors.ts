/** A latency matrix file or object is malformed; `field` names the offending part. */
export class LatencyMatrixError extends Error {
  static readonly code = 'LATENCY_MATRIX_INVALID'
  readonly code = LatencyMatrixError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'LatencyMatrixError'
    this.field = field
  }
}

/** An RTT sample is not a finite number > 0. */
export class InvalidRttError extends Error {
  static readonly code = 'LATENCY_INVALID_RTT'
  readonly code = InvalidRttError.code
  readonly rttMs: number
  constructor (rttMs: number, maxRttMs: number) {
    super(`rtt must be a finite number > 0 ms (samples above ${maxRttMs} ms are clamped), got ${rttMs}`)
    this.name = 'InvalidRttError'
    this.rttMs = rttMs
  }
}

/** Options given to a latency factory or evaluation are out of range. */
export class LatencyConfigError extends Error {
  static readonly code = 'LATENCY_CONFIG_INVALID'
  readonly code = LatencyConfigError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'LatencyConfigError'
    this.field = field
  }
}
