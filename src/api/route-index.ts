/**
 * The set of registered (method, url pattern) pairs, so that an unmatched
 * request can be told apart: unknown path (404) or known path with another
 * method (405 + Allow). Fastify's router does not expose this, so patterns are
 * compiled here: `:param` and `:param(regex)` match one segment, `*` the rest.
 */
export class RouteIndex {
  private readonly routes: Array<{ pattern: RegExp, methods: Set<string> }> = []
  private readonly byUrl = new Map<string, Set<string>>()

  add (methods: string | string[], url: string): void {
    let set = this.byUrl.get(url)
    if (set == null) {
      set = new Set()
      this.byUrl.set(url, set)
      this.routes.push({ pattern: compilePattern(url), methods: set })
    }
    for (const m of Array.isArray(methods) ? methods : [methods]) {
      set.add(m.toUpperCase())
    }
  }

  /** methods registered for any pattern matching `path` (sorted, empty if none) */
  allowedMethods (path: string): string[] {
    const allowed = new Set<string>()
    for (const route of this.routes) {
      if (route.pattern.test(path)) {
        for (const m of route.methods) allowed.add(m)
      }
    }
    return [...allowed].sort()
  }
}

export function compilePattern (url: string): RegExp {
  let out = ''
  let i = 0
  while (i < url.length) {
    const ch = url[i]
    if (ch === ':' && url[i + 1] !== ':') {
      // skip the parameter name and an optional (regex)
      i++
      while (i < url.length && /[\w$-]/.test(url[i])) i++
      if (url[i] === '(') {
        let depth = 0
        for (; i < url.length; i++) {
          if (url[i] === '(') depth++
          else if (url[i] === ')' && --depth === 0) { i++; break }
        }
      }
      out += '[^/]+'
      continue
    }
    if (ch === ':' && url[i + 1] === ':') {
      out += ':'
      i += 2
      continue
    }
    if (ch === '*') {
      out += '.*'
      i++
      continue
    }
    out += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    i++
  }
  return new RegExp(`^${out}$`)
}
