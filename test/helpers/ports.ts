import { createServer } from 'node:net'

/** the start of Linux's default ephemeral port range */
const EPHEMERAL_FROM = 32_768

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
 * rarely collide, and the block lies below Linux's ephemeral range
 * (32768-60999): a port free when checked was otherwise taken by some
 * outgoing connection's local port before a peer started late (the 50-peer
 * bench starts its peers 1 s apart; 2 of 50 failed with EADDRINUSE).
 */
export async function freePortBlock (n: number): Promise<number> {
  const span = EPHEMERAL_FROM - 20_000 - 100 - n
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + ((process.pid * 7919 + attempt * 211) % span)
    const ports = [...Array(n).keys()].flatMap(i => [base + i, base + 100 + i])
    let ok = true
    for (const p of ports) {
      if (!(await canBind(p))) { ok = false; break }
    }
    if (ok) return base
  }
  throw new Error('no free block of ports found')
}
