/**
 * `GET /v1/keys` (the keyring's status) and `POST /v1/keys/rotate` (a new
 * active key, online: new records use it at once, older records keep
 * opening with the retired keys). Both need the admin role.
 */
import { errorResponse } from '../api/schemas.js'
import type { ApiRoutes } from '../api/index.js'
import type { Keyring } from './keyring.js'

const status = {
  type: 'object',
  required: ['enabled'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', description: 'false: storage.encryption.enabled is off, data is stored in clear' },
    provider: { type: 'string', description: 'identity | passphrase | transit' },
    active: { type: 'string', description: 'the key id new records are sealed with' },
    keys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'created', 'state'],
        additionalProperties: false,
        properties: { id: { type: 'string' }, created: { type: 'string' }, state: { type: 'string', enum: ['active', 'retired'] } }
      }
    },
    legacyClear: {
      type: 'object',
      required: ['since', 'raftFiles'],
      additionalProperties: false,
      description: 'present while an upgraded data dir may still hold records written in clear (docs/security.md)',
      properties: { since: { type: 'string', description: 'when the keyring was created' }, raftFiles: { type: 'integer', description: 'legacy Raft WAL segments and snapshots listed (until compacted away)' } }
    }
  }
} as const

export class EncryptionDisabledError extends Error {
  static readonly code = 'ENCRYPTION_DISABLED'
  readonly code = EncryptionDisabledError.code
  constructor () {
    super('encryption at rest is off on this peer (storage.encryption.enabled: false): there is no keyring to rotate')
    this.name = 'EncryptionDisabledError'
  }
}

export function keyRoutes (keyring: () => Keyring | undefined): ApiRoutes {
  const view = (): Record<string, unknown> => {
    const k = keyring()
    if (k === undefined) return { enabled: false }
    const s = k.status()
    return { enabled: true, provider: s.provider, active: s.active, keys: s.keys, ...(s.legacyClear !== undefined ? { legacyClear: s.legacyClear } : {}) }
  }
  return {
    name: 'keys',
    description: 'Encryption at rest: the keyring and its rotation',
    errors: { EncryptionDisabledError: 409 },
    register (app) {
      app.get('/v1/keys', {
        config: { authenticate: true, role: 'admin' },
        schema: {
          summary: 'The keyring: provider, active key, retired keys (admin)',
          operationId: 'getKeys',
          response: { 200: { description: 'keyring status', ...status } }
        }
      }, async () => view())

      app.post('/v1/keys/rotate', {
        config: { role: 'admin' },
        bodyLimit: 1024,
        schema: {
          summary: 'Rotate: a fresh data key becomes active (durable before the answer); retired keys keep opening older records (admin)',
          operationId: 'rotateKeys',
          response: { 200: { description: 'the keyring after the rotation', ...status }, 409: errorResponse('encryption at rest is off (code ENCRYPTION_DISABLED)') }
        }
      }, async () => {
        const k = keyring()
        if (k === undefined) throw new EncryptionDisabledError()
        await k.rotate()
        return view()
      })
    }
  }
}
