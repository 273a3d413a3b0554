/** Paths of the shared public test data (see ../shared/data/SOURCES.md); tests skip when absent. */
import { fileURLToPath } from 'node:url'

/** 99 Seattle hosts, directional RTTs in ms (NetLatency-Data, MIT). */
export const SEATTLE = fileURLToPath(new URL('../../../shared/data/latency/seattle.json', import.meta.url))
