// start a mesh and keep it up; prints api urls + pids; stops on SIGTERM
import { allReady, registriesComplete, startMesh, until } from './_mesh.js'
const n = Number(process.argv[2] ?? 5)
const b = await startMesh(n)
await until('ready', async () => allReady(b.mesh), 120000, 250)
await until('reg', async () => (await registriesComplete(b.mesh)) === n, 120000, 500)
console.log(JSON.stringify(b.mesh.peers.map(p => ({ api: p.apiUrl, pid: p.process?.pid }))))
process.on('SIGTERM', () => { b.close().then(() => process.exit(0)).catch(() => process.exit(1)) })
setInterval(() => {}, 1 << 30)
