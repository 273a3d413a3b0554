import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ConfigError } from '../../src/config/index.js'

export async function tempDir (): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'dcis-config-'))
}

export interface ExpectedError {
  field: string
  source?: string | RegExp
  reason?: RegExp
  code?: string
}

/** Asserts a ConfigError with a one-line message naming the field (and source). */
export async function rejectsConfig (p: Promise<unknown>, expected: ExpectedError): Promise<ConfigError> {
  let caught: unknown
  try {
    await p
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`)
  const err = caught
  assert.equal(err.name, 'ConfigError')
  assert.ok(!/[\r\n]/.test(err.message), `message must be one line: ${JSON.stringify(err.message)}`)
  assert.ok(err.message.startsWith('config: '), err.message)
  assert.equal(err.field, expected.field, err.message)
  if (expected.field !== '') assert.ok(err.message.includes(`${expected.field}: `), err.message)
  if (expected.source instanceof RegExp) assert.match(err.source, expected.source, err.message)
  else if (expected.source != null) assert.equal(err.source, expected.source, err.message)
  assert.ok(err.message.endsWith(`[from ${err.source}]`), err.message)
  if (expected.reason != null) assert.match(err.reason, expected.reason, err.message)
  if (expected.code != null) assert.equal(err.code, expected.code, err.message)
  return err
}
