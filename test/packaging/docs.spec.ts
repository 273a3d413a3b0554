import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { parseDockerfile, runCommands, shellWords } from './dockerfile.js'

const read = async (path: string): Promise<string> => readFile(new URL(`../../${path}`, import.meta.url), 'utf8')

/** Lines of ```sh / ```bash / ```shell blocks, with `\` continuations joined. */
function shellLines (markdown: string): string[] {
  const lines: string[] = []
  for (const block of markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    lines.push(...block[1].replace(/\\\n\s*/g, '').split('\n').map(l => l.trim()).filter(l => l.length > 0))
  }
  return lines
}

/** The text of the `## Docker` section (up to the next `## ` heading), or null. */
function dockerSection (markdown: string): string | null {
  const start = markdown.search(/^## Docker\s*$/m)
  if (start < 0) return null
  const rest = markdown.slice(start + 1)
  const next = rest.search(/^## /m)
  return next < 0 ? markdown.slice(start) : markdown.slice(start, start + 1 + next)
}

interface Documented {
  build: string
  run: string
}

async function fromDockerfile (): Promise<{ cmd: string[], npmCi: string[], entrypoint: string[] }> {
  const { stages } = parseDockerfile(await read('Dockerfile'))
  const runtime = stages[stages.length - 1]
  const cmd = runtime.instructions.find(i => i.keyword === 'CMD')?.exec
  const entrypoint = runtime.instructions.find(i => i.keyword === 'ENTRYPOINT')?.exec
  assert.ok(cmd != null && entrypoint != null)
  const npmCi = stages.flatMap(s => s.instructions).filter(i => i.keyword === 'RUN').flatMap(runCommands).filter(c => /^npm ci\b/.test(c))
  return { cmd, npmCi, entrypoint }
}

/** The documented build line and the first run line of docs/docker.md. */
function documented (doc: string): Documented {
  const lines = shellLines(doc)
  const builds = lines.filter(l => l.startsWith('docker build '))
  const runs = lines.filter(l => l.startsWith('docker run '))
  assert.equal(builds.length, 1, 'one docker build line')
  assert.ok(runs.length >= 1, 'a docker run line')
  return { build: builds[0], run: runs[0] }
}

/** Arguments after the image in a `docker run` line (docker run's own flags all take a value here or are -d/--rm/-it). */
function argsAfterImage (runLine: string, image: string): string[] {
  const words = shellWords(runLine)
  const at = words.indexOf(image)
  assert.ok(at > 1, `the run line names the image ${image}`)
  return words.slice(at + 1)
}

async function checkReadme (readme: string, doc: string): Promise<void> {
  const section = dockerSection(readme)
  assert.ok(section != null, 'README.md has a "## Docker" section (paste docs/docker.md)')
  const { build, run } = documented(doc)
  const lines = shellLines(section)
  assert.ok(lines.includes(build), `README ## Docker has: ${build}`)
  assert.ok(lines.includes(run), `README ## Docker has: ${run}`)
  const { cmd, npmCi } = await fromDockerfile()
  const flat = section.replace(/\s+/g, ' ')
  for (const c of npmCi) assert.ok(flat.includes(c), `README ## Docker mentions ${c}`)
  const readmeRun = lines.find(l => l.startsWith('docker run '))
  assert.ok(readmeRun != null)
  const buildWords = shellWords(build)
  const tag = buildWords[buildWords.indexOf('-t') + 1]
  assert.deepEqual(argsAfterImage(readmeRun, tag), cmd, 'README\'s first run line runs the Dockerfile CMD')
}

describe('packaging: documented docker commands', () => {
  let doc: string

  before(async () => {
    doc = await read('docs/docker.md')
  })

  it('docs/docker.md: the run line\'s arguments are the Dockerfile CMD, on the image the build line tags', async () => {
    const { cmd, entrypoint } = await fromDockerfile()
    const { build, run } = documented(doc)
    const buildWords = shellWords(build)
    const tag = buildWords[buildWords.indexOf('-t') + 1]
    assert.ok(tag != null && tag.length > 0, 'the build line tags the image')
    assert.equal(buildWords.at(-1), '.', 'built from the repo root')
    assert.deepEqual(argsAfterImage(run, tag), cmd)
    assert.match(run, /-v \S+:\/data\b/, 'the run line mounts a data volume')
    assert.match(run, /-p 4001:4001\b/)
    assert.match(run, /-p 127\.0\.0\.1:8080:8080\b/)
    assert.ok(doc.includes(`\`${entrypoint.join(' ')}\``), 'the entrypoint is documented')
  })

  it('docs/docker.md names the exact npm ci commands the Dockerfile runs', async () => {
    const { npmCi } = await fromDockerfile()
    assert.ok(npmCi.length >= 2)
    const flat = doc.replace(/\s+/g, ' ')
    for (const c of npmCi) {
      assert.ok(flat.includes(`\`${c}\``), `docs/docker.md mentions \`${c}\``)
    }
  })

  it('every other documented run line is a valid dcis command on the same image', async () => {
    const { parseStartArgs } = await import('./cli-flags.js')
    const { build } = documented(doc)
    const buildWords = shellWords(build)
    const tag = buildWords[buildWords.indexOf('-t') + 1]
    for (const line of shellLines(doc).filter(l => l.startsWith('docker run '))) {
      const args = argsAfterImage(line, tag)
      if (args.length > 0) parseStartArgs(args)
    }
  })

  // Fails until README.md has the `## Docker` section (the text of docs/docker.md).
  it('README.md\'s "## Docker" section has the same build and run lines and npm ci commands', async () => {
    await checkReadme(await read('README.md'), doc)
  })

  it('the README check passes once docs/docker.md is pasted as the section, and not with a drifted CMD', async () => {
    const readme = await read('README.md')
    const without = readme.replace(/^## Docker\s*$[\s\S]*?(?=^## |(?![\s\S]))/m, '')
    await checkReadme(`${without}\n${doc}`, doc)
    const drifted = doc.replace('--api 0.0.0.0:8080\n', '--api 0.0.0.0:9090\n')
    assert.notEqual(drifted, doc)
    await assert.rejects(checkReadme(`${without}\n${drifted}`, doc))
  })

  it('the helpers find what they should (so the checks can fail)', () => {
    assert.deepEqual(shellWords('a "b c" \'d e\' f\\ g'), ['a', 'b c', 'd e', 'f g'])
    assert.deepEqual(shellLines('x\n```sh\ndocker run \\\n  img start\n```\n'), ['docker run img start'])
    assert.equal(dockerSection('# t\n## A\nx\n'), null)
    assert.equal(dockerSection('## Docker\nx\n## Next\ny\n'), '## Docker\nx\n')
    assert.throws(() => { argsAfterImage('docker run other start', 'dcis-mesh:latest') })
  })
})
