/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to
 * tell whether /metrics is well formed: HELP/TYPE comments, samples with
 * optional labels, float values (NaN, +Inf, -Inf) and optional timestamps.
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type?: string
  help?: string
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*'
const HELP_RE = new RegExp(`^# HELP (${NAME}) (.*)$`)
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(.*)\\})? (\\S+)( -?\\d+)?$`)
const LABEL_RE = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`)
// Go's ParseFloat: NaN and Inf are case-insensitive
const VALUE_RE = /^(nan|[+-]?inf(inity)?|[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)$/i

const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count']
}

export function parsePrometheusText (text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (f == null) { f = { name, samples: [] }; families.set(name, f) }
    return f
  }
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`
    if (line === '') return
    if (line.startsWith('#')) {
      const help = HELP_RE.exec(line)
      if (help != null) { family(help[1]).help = help[2]; return }
      const type = TYPE_RE.exec(line)
      if (type != null) {
        const f = family(type[1])
        if (f.type != null) throw new Error(`${where}: second TYPE for ${type[1]}`)
        if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples of ${type[1]}`)
        f.type = type[2]
        return
      }
      if (line.startsWith('# HELP') || line.startsWith('# TYPE')) throw new Error(`${where}: malformed HELP/TYPE`)
      return // other comments are allowed
    }
    const m = SAMPLE_RE.exec(line)
    if (m == null) throw new Error(`${where}: not a sample`)
    const [, name, , labelText, valueText] = m
    if (!VALUE_RE.test(valueText)) throw new Error(`${where}: bad value ${valueText}`)
    const labels: Record<string, string> = {}
    let rest = labelText ?? ''
    while (rest.length > 0) {
      const l = LABEL_RE.exec(rest)
      if (l == null) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`)
      if (labels[l[1]] != null) throw new Error(`${where}: duplicate label ${l[1]}`)
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
      rest = rest.slice(l[0].length)
      if (rest.startsWith(',')) rest = rest.slice(1)
      else if (rest.length > 0) throw new Error(`${where}: expected , between labels`)
    }
    const lower = valueText.toLowerCase()
    const value = lower.endsWith('inf') || lower.endsWith('infinity') ? (lower.startsWith('-') ? -Infinity : Infinity) : lower === 'nan' ? NaN : Number(valueText)
    // a sample belongs to the family whose TYPE covers its name (with histogram/summary suffixes)
    let owner: Family | undefined = families.get(name)
    if (owner?.type == null || SUFFIXES[owner.type] != null) {
      for (const [base, f] of families) {
        const suffixes = SUFFIXES[f.type ?? ''] ?? []
        if (suffixes.some(s => base + s === name)) { owner = f; break }
      }
    }
    if (owner?.type == null) throw new Error(`${where}: sample ${name} has no TYPE before it`)
    owner.samples.push({ name, labels, value })
  })
  return families
}
