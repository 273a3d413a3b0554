import { createServer } from 'node:net'

async function canBind (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => {
      server.close(() => { resolve(true) })
    })
  })
}

/**
 * A base port P such that P..P+n-1 and P+100..P+100+n-1 are free on loopback
 * (the `dcis up` port layout). Candidates are spread by pid so parallel runs
 * rarely collide.
 */
export async function freePortBlock (n: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + ((process.pid * 7919 + attempt * 211) % 20_000)
    const ports = [...Array(n).keys()].flatMap(i => [base + i, base + 100 + i])
    let ok = true
    for (const p of ports) {
      if (!(await canBind(p))) { ok = false; break }
    }
    if (ok) return base
  }
  throw new Error('no free block of ports found')
}
