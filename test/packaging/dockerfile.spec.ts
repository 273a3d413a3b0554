import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { parseStartArgs } from './cli-flags.js'
import { dockerignoreIncludes, parseDockerfile, runCommands } from './dockerfile.js'
import { runNodeScript } from './node-script.js'
import { startHarness } from '../api/fixtures.js'
import type { Instruction, Stage } from './dockerfile.js'

const read = async (path: string): Promise<string> => readFile(new URL(`../../${path}`, import.meta.url), 'utf8')

function only (stage: Stage, keyword: string): Instruction {
  const found = stage.instructions.filter(i => i.keyword === keyword)
  assert.equal(found.length, 1, `exactly one ${keyword} in stage ${stage.name ?? stage.base}`)
  return found[0]
}

describe('packaging: Dockerfile', () => {
  let stages: Stage[]
  let build: Stage
  let runtime: Stage
  let pkg: { bin: Record<string, string>, overrides?: Record<string, string> }

  before(async () => {
    stages = parseDockerfile(await read('Dockerfile')).stages
    pkg = JSON.parse(await read('package.json'))
    build = stages[0]
    runtime = stages[stages.length - 1]
  })

  it('is a multi-stage build on node:24-slim (the default of the BASE_IMAGE build argument)', async () => {
    assert.ok(stages.length >= 2, 'at least a build and a runtime stage')
    const { args } = parseDockerfile(await read('Dockerfile'))
    const base = args.find(a => a.rest.startsWith('BASE_IMAGE='))
    assert.equal(base?.rest, 'BASE_IMAGE=node:24-slim', 'ARG BASE_IMAGE=node:24-slim before the first FROM')
    for (const s of stages) assert.equal(s.base, '${BASE_IMAGE}')
    assert.equal(build.name, 'build')
  })

  it('build stage: npm ci, then npm run build, with the override folder copied before npm ci', () => {
    const runs = build.instructions.filter(i => i.keyword === 'RUN').flatMap(runCommands)
    const ci = runs.findIndex(c => /^npm ci\b/.test(c))
    const b = runs.findIndex(c => c === 'npm run build')
    assert.ok(ci >= 0, 'npm ci in the build stage')
    assert.ok(b > ci, 'npm run build after npm ci')
    assert.doesNotMatch(runs[ci], /--omit=dev/)
  })

  it('every stage that runs npm ci has package.json, the lock file and every file: override copied first', () => {
    const overrides = Object.values(pkg.overrides ?? {}).filter(v => v.startsWith('file:')).map(v => v.slice('file:'.length).replace(/^\.\//, ''))
    assert.ok(overrides.length > 0, 'package.json has a file: override (the helia-libp2p shim)')
    for (const stage of stages) {
      const ciAt = stage.instructions.findIndex(i => i.keyword === 'RUN' && runCommands(i).some(c => /^npm ci\b/.test(c)))
      if (ciAt < 0) continue
      const copied = stage.instructions.slice(0, ciAt)
        .filter(i => i.keyword === 'COPY' && i.flags.from == null)
        .flatMap(i => i.rest.split(/\s+/).slice(0, -1).map(p => p.replace(/\/+$/, '')))
      for (const need of ['package.json', 'package-lock.json', ...overrides]) {
        assert.ok(copied.includes(need.replace(/\/+$/, '')), `stage ${stage.name ?? stage.base} copies ${need} before npm ci`)
        assert.ok(existsSync(new URL(`../../${need}`, import.meta.url)), `${need} exists in the repo`)
      }
    }
  })

  it('runtime stage: production dependencies only, dist from the build stage, not root', () => {
    const runs = runtime.instructions.filter(i => i.keyword === 'RUN').flatMap(runCommands)
    assert.ok(runs.some(c => /^npm ci\b.*--omit=dev/.test(c)), 'npm ci --omit=dev')
    assert.ok(runs.every(c => c !== 'npm run build'), 'no build in the runtime stage')
    const fromBuild = runtime.instructions.filter(i => i.keyword === 'COPY' && i.flags.from === build.name)
    assert.ok(fromBuild.some(i => /^\/app\/dist\/?\s/.test(i.rest)), 'dist/ copied from the build stage')
    const user = only(runtime, 'USER').rest
    assert.ok(user !== 'root' && user !== '0' && user.length > 0, `runs as a non-root user (${user})`)
    // the npm scripts' prepare hook would rebuild (and fail without dev deps): every npm ci skips scripts
    for (const stage of stages) {
      for (const c of stage.instructions.filter(i => i.keyword === 'RUN').flatMap(runCommands)) {
        if (/^npm ci\b/.test(c)) assert.match(c, /--ignore-scripts/, `${c} skips install scripts`)
      }
    }
  })

  it('declares the data volume, DCIS_DATA_DIR, and the two ports', () => {
    assert.deepEqual(only(runtime, 'VOLUME').rest.split(/\s+/), ['/data'])
    const env = runtime.instructions.filter(i => i.keyword === 'ENV').map(i => i.rest).join(' ')
    assert.match(env, /(^|\s)DCIS_DATA_DIR=\/data(\s|$)/)
    assert.deepEqual(only(runtime, 'EXPOSE').rest.split(/\s+/).sort(), ['4001', '8080'])
  })

  it('ENTRYPOINT runs the dcis bin and CMD is a valid `dcis start` matching the exposed ports', () => {
    const entry = only(runtime, 'ENTRYPOINT').exec
    assert.deepEqual(entry, ['node', pkg.bin.dcis])
    const cmd = only(runtime, 'CMD').exec
    assert.ok(cmd != null, 'CMD in exec form')
    const opts = parseStartArgs(cmd)
    assert.deepEqual(opts.listen, ['/ip4/0.0.0.0/tcp/4001'])
    assert.equal(opts.api, '0.0.0.0:8080')
  })

  it('the HEALTHCHECK is node fetching /healthz on the CMD\'s API port, and it really works', async function () {
    const hc = only(runtime, 'HEALTHCHECK')
    assert.ok(hc.rest.startsWith('CMD '), 'HEALTHCHECK CMD ...')
    const exec = JSON.parse(hc.rest.slice(4)) as string[]
    assert.equal(exec[0], 'node')
    assert.equal(exec[1], '-e')
    const script = exec[2]
    assert.match(script, /fetch\('http:\/\/127\.0\.0\.1:8080\/healthz'\)/)
    for (const flag of ['interval', 'timeout', 'start-period', 'retries']) {
      assert.ok(hc.flags[flag] != null, `HEALTHCHECK --${flag}`)
    }

    // run the same script against a live API (on a free port) and against a closed port
    const h = await startHarness()
    const port = h.server.port
    try {
      assert.equal(await runNodeScript(script.replace('127.0.0.1:8080', `127.0.0.1:${port}`)), 0, 'healthy API -> exit 0')
    } finally {
      await h.server.stop()
    }
    assert.equal(await runNodeScript(script.replace('127.0.0.1:8080', `127.0.0.1:${port}`)), 1, 'no API -> exit 1')
  })

  it('.dockerignore sends every COPY source and keeps node_modules, dist and .git out', async () => {
    const rules = (await read('.dockerignore')).split('\n')
    const sources = stages.flatMap(s => s.instructions)
      .filter(i => i.keyword === 'COPY' && i.flags.from == null)
      .flatMap(i => i.rest.split(/\s+/).slice(0, -1))
    assert.ok(sources.length > 0)
    for (const src of sources) {
      assert.ok(dockerignoreIncludes(rules, src), `${src} is in the build context`)
      assert.ok(existsSync(new URL(`../../${src}`, import.meta.url)), `${src} exists`)
    }
    for (const path of ['node_modules', 'node_modules/x/index.js', 'src/storage/shims/helia-libp2p/node_modules/y', 'dist/cli/main.js', '.git/HEAD', '.dcis/key', 'test/api/routes.spec.ts']) {
      assert.equal(dockerignoreIncludes(rules, path), false, `${path} stays out of the build context`)
    }
    assert.equal(dockerignoreIncludes(rules, 'src/api/index.ts'), true)
  })
})

describe('packaging: Dockerfile reader (so the checks can fail)', () => {
  it('joins continuations, reads flags and exec form, rejects junk', () => {
    const { stages } = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  && y\nCOPY --from=b /p q\nCMD ["s", "t"]\n')
    assert.equal(stages[0].name, 'b')
    assert.deepEqual(runCommands(stages[0].instructions[0]), ['x', 'y'])
    assert.equal(stages[0].instructions[1].flags.from, 'b')
    assert.deepEqual(stages[0].instructions[2].exec, ['s', 't'])
    assert.throws(() => parseDockerfile('FROM a\nBOGUS x\n'), /unknown instruction/)
    assert.throws(() => parseDockerfile('RUN x\n'), /before FROM/)
    assert.throws(() => parseDockerfile('FROM a\nRUN x \\'), /continuation/)
  })

  it('parseStartArgs rejects unknown flags, operands and missing values', () => {
    assert.throws(() => parseStartArgs(['start', '--bogus', 'x']), /unknown/)
    assert.throws(() => parseStartArgs(['start', 'extra']), /operand/)
    assert.throws(() => parseStartArgs(['start', '--region']))
    assert.throws(() => parseStartArgs(['up']), /not a dcis start/)
  })

  it('dockerignoreIncludes follows last-match-wins and parent directories', () => {
    const rules = ['*', '!src/', '**/node_modules', '!keep/node_modules']
    assert.equal(dockerignoreIncludes(rules, 'src/a.ts'), true)
    assert.equal(dockerignoreIncludes(rules, 'other'), false)
    assert.equal(dockerignoreIncludes(rules, 'src/x/node_modules/y'), false)
    assert.equal(dockerignoreIncludes(rules, 'src/xnode_modules'), true)
  })
})
