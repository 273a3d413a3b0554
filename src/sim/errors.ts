/**
 * Typed errors of the simulation lab. `code` is what callers branch on; the
 * message is for people.
 */
export class SimError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'SimError'
    this.code = code
  }
}

/** A scenario that does not validate: names the file and the field. */
export class ScenarioError extends SimError {
  readonly field: string
  constructor (file: string, field: string, why: string) {
    super('SCENARIO_INVALID', `${file}: ${field === '' ? 'scenario' : field}: ${why}`)
    this.name = 'ScenarioError'
    this.field = field
  }
}

/** A lab network operation (ip, nft, tc) that failed. */
export class LabNetworkError extends SimError {
  constructor (message: string) {
    super('LAB_NETWORK', message)
    this.name = 'LabNetworkError'
  }
}

/** A report directory without a readable report.json. */
export class ReportError extends SimError {
  constructor (message: string) {
    super('REPORT_INVALID', message)
    this.name = 'ReportError'
  }
}
