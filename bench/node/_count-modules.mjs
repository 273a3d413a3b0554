// Preloaded (`--import`) by bench/node/start.ts in its module-count runs:
// records every module the process loads (ES modules and require()d
// CommonJS, through module.registerHooks) and writes the list to
// $DCIS_BENCH_MODULES_OUT on SIGUSR2, so the bench reads what a peer loaded
// up to /readyz 200. Timing runs do not use it (the hook itself costs time).
import { writeFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import process from 'node:process'

const out = process.env.DCIS_BENCH_MODULES_OUT
const urls = new Set()
registerHooks({
  load (url, context, nextLoad) {
    urls.add(url)
    return nextLoad(url, context)
  }
})
if (out != null && out !== '') {
  process.on('SIGUSR2', () => { writeFileSync(out, JSON.stringify([...urls])) })
}
