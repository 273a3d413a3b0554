/**
 * A small Dockerfile reader for the packaging tests: joins `\` continuations,
 * drops comments and the parser directive, splits into stages, and decodes
 * exec-form (JSON array) arguments. Enough for the instructions our
 * Dockerfile uses; it throws on anything it does not understand.
 */
export interface Instruction {
  keyword: string
  /** the raw argument text (flags included) */
  args: string
  /** `--name=value` flags before the arguments (COPY --from, HEALTHCHECK --interval) */
  flags: Record<string, string>
  /** argument text after the flags */
  rest: string
  /** exec form, when the rest is a JSON array of strings */
  exec?: string[]
  line: number
}

export interface Stage {
  base: string
  name?: string
  instructions: Instruction[]
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'MAINTAINER'])

export function parseDockerfile (text: string): { stages: Stage[], args: Instruction[] } {
  const logical: Array<{ text: string, line: number }> = []
  let current: { text: string, line: number } | null = null
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim()
    if (current == null && (trimmed === '' || trimmed.startsWith('#'))) return
    if (current != null && trimmed.startsWith('#')) return // comment lines inside a continuation
    const continued = /\\\s*$/.test(raw)
    const piece = continued ? raw.replace(/\\\s*$/, '') : raw
    if (current == null) current = { text: piece.trim(), line: i + 1 }
    else current.text += ' ' + piece.trim()
    if (!continued) { logical.push(current); current = null }
  })
  if (current != null) throw new Error('Dockerfile ends inside a line continuation')

  const stages: Stage[] = []
  const globalArgs: Instruction[] = []
  for (const { text: lineText, line } of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(lineText)
    if (m == null) continue
    const keyword = m[1].toUpperCase()
    if (!KEYWORDS.has(keyword)) throw new Error(`line ${line}: unknown instruction ${m[1]}`)
    const args = m[2]
    const flags: Record<string, string> = {}
    let rest = args
    for (;;) {
      const f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
      if (f == null) break
      flags[f[1]] = f[2] ?? 'true'
      rest = rest.slice(f[0].length)
    }
    const instruction: Instruction = { keyword, args, flags, rest, line }
    if (rest.startsWith('[')) {
      const parsed = JSON.parse(rest) as unknown
      if (!Array.isArray(parsed) || !parsed.every(x => typeof x === 'string')) throw new Error(`line ${line}: exec form must be a JSON array of strings`)
      instruction.exec = parsed
    }
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)
      if (from == null) throw new Error(`line ${line}: bad FROM`)
      stages.push({ base: from[1], name: from[2], instructions: [] })
      continue
    }
    if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`line ${line}: ${keyword} before FROM`)
      globalArgs.push(instruction)
      continue
    }
    stages[stages.length - 1].instructions.push(instruction)
  }
  return { stages, args: globalArgs }
}

/** Splits a shell-form RUN into its `&&`-joined commands (quotes are not expected there). */
export function runCommands (instruction: Instruction): string[] {
  return instruction.rest.split('&&').map(c => c.trim().replace(/\s+/g, ' ')).filter(c => c.length > 0)
}

/** Minimal POSIX-ish word splitting for documented command lines (single/double quotes, backslash-newline). */
export function shellWords (line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | '\'' | null = null
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quote != null) {
      if (ch === quote) quote = null
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]
      else word += ch
      continue
    }
    if (ch === '"' || ch === '\'') { quote = ch; inWord = true; continue }
    if (ch === '\\' && line[i + 1] === '\n') { i++; continue }
    if (ch === '\\' && i + 1 < line.length) { word += line[++i]; inWord = true; continue }
    if (/\s/.test(ch)) {
      if (inWord) { words.push(word); word = ''; inWord = false }
      continue
    }
    word += ch
    inWord = true
  }
  if (quote != null) throw new Error(`unterminated quote in ${line}`)
  if (inWord) words.push(word)
  return words
}

/**
 * Is `path` (relative to the context root) sent to the builder, given the
 * .dockerignore lines? Last matching rule wins; a rule matching a parent
 * directory applies to everything below it.
 */
export function dockerignoreIncludes (rules: string[], path: string): boolean {
  const parsed = rules
    .map(r => r.trim())
    .filter(r => r !== '' && !r.startsWith('#'))
    .map(r => {
      const negate = r.startsWith('!')
      const pattern = (negate ? r.slice(1) : r).replace(/^\/+/, '').replace(/\/+$/, '')
      return { negate, regex: globToRegex(pattern) }
    })
  const clean = path.replace(/^\.\//, '').replace(/\/+$/, '')
  const parts = clean.split('/')
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let included = true
  for (const rule of parsed) {
    if (prefixes.some(p => rule.regex.test(p))) included = rule.negate
  }
  return included
}

function globToRegex (glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]
    if (ch === '*' && glob[i + 1] === '*') {
      i++
      if (glob[i + 1] === '/') { out += '(?:.*/)?'; i++ } else out += '.*'
    } else if (ch === '*') out += '[^/]*'
    else if (ch === '?') out += '[^/]'
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${out}$`)
}
