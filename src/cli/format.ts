/** Renders rows as an aligned text table (first row = header). */
export function table (rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  }
  return rows.map(row => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join('  ')).join('\n')
}

export function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

export function ms (v: number | null | undefined): string {
  if (v == null) return '-'
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`
}
