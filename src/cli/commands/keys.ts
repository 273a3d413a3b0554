import type { Command } from 'commander'

export interface TokenOptions { dataDir: string, role?: string, ttl: string, audience?: string, json?: boolean, service?: string[], function?: string[], allocation?: string[] }
export interface KeysOptions { api?: string, token?: string, json?: boolean }
export interface CredentialIssueOptions { key: string, subject: string, trust: string, region?: string, federation: string, ttl: string, json?: boolean }
export interface CredentialRevokeOptions { key: string, federation: string, jti: string[], api?: string, json?: boolean }

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function registerKeys (program: Command): void {
  const token = program.command('token').description('API tokens (JWTs signed with a peer key)')
  token.command('issue')
    .description('print a short-lived JWT signed with the key in --data-dir, for that peer\'s API (aud = its DID)')
    .option('--data-dir <dir>', 'data directory holding identity.key', '.dcis')
    .option('--role <role>', 'narrow the token to one role: read|deploy|allocate|services|admin')
    .option('--service <name>', 'scope the token to this service (repeatable; least privilege)', collect)
    .option('--function <name>', 'scope the token to this function name or CID (repeatable)', collect)
    .option('--allocation <id>', 'scope the token to this allocation (repeatable)', collect)
    .option('--ttl <duration>', 'lifetime, e.g. 90s, 5m, 1h (at most 1h)', '5m')
    .option('--audience <did>', 'the DID of the peer the token is for (default: the key\'s own DID)')
    .option('--json', 'print {"token", "did", "exp"}')
    .action(async (opts: TokenOptions) => {
      const { runTokenIssue } = await import('./keys-run.js')
      await runTokenIssue(opts)
    })

  const keys = program.command('keys').description('encryption at rest: the keyring of a running peer (admin)')
  keys.command('status')
    .description('print the keyring: provider, active key, retired keys (GET /v1/keys)')
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN; not needed with --trust-loopback peers)')
    .option('--json', 'print JSON')
    .action(async (opts: KeysOptions) => {
      const { runKeys } = await import('./keys-run.js')
      await runKeys('status', opts)
    })
  keys.command('rotate')
    .description('make a fresh data key active, online; retired keys keep opening older records (POST /v1/keys/rotate)')
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN; not needed with --trust-loopback peers)')
    .option('--json', 'print JSON')
    .action(async (opts: KeysOptions) => {
      const { runKeys } = await import('./keys-run.js')
      await runKeys('rotate', opts)
    })

  const cred = program.command('credential').description('federation credentials issued by a trust anchor')
  cred.command('issue')
    .description('print a FederationCredential (VC-JWT) for a peer DID, signed by the anchor key')
    .requiredOption('--key <file|dir>', 'the trust anchor\'s key: an identity.key file or a data dir holding one')
    .requiredOption('--subject <did>', 'the peer\'s did:key (GET /v1/node -> did)')
    .requiredOption('--trust <n>', 'trust level 0..10')
    .option('--region <region>', 'region the anchor attests')
    .option('--federation <name>', 'federation', 'local')
    .option('--ttl <duration>', 'lifetime, e.g. 30d, 12h', '30d')
    .option('--json', 'print {"credential", "jti", "exp"}')
    .action(async (opts: CredentialIssueOptions) => {
      const { runCredentialIssue } = await import('./keys-run.js')
      await runCredentialIssue(opts)
    })
  cred.command('revoke')
    .description('print (or with --api, submit) a signed revocation list of credential ids (jti)')
    .requiredOption('--key <file|dir>', 'the trust anchor\'s key')
    .requiredOption('--jti <id>', 'credential id to revoke (repeatable)', collect)
    .option('--federation <name>', 'federation', 'local')
    .option('--api <url>', 'submit the list to this peer, which gossips it')
    .option('--json', 'print JSON')
    .action(async (opts: CredentialRevokeOptions) => {
      const { runCredentialRevoke } = await import('./keys-run.js')
      await runCredentialRevoke(opts)
    })
}
