import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScript } from './interaction.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata')
const rewrite = process.env.REWRITE === '1'

describe('raft interaction scripts', () => {
  for (const f of readdirSync(dir).filter(f => f.endsWith('.txt')).sort()) {
    it(f, () => {
      const blocks = runScript(join(dir, f), rewrite)
      for (const b of blocks) {
        assert.equal(b.actual, b.expected, `${f}:${b.line}: ${b.command}`)
      }
    })
  }
})
