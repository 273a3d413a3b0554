/** The gossip topic of latency states (DESIGN.md, "Names"). */
export const LATENCY_TOPIC = 'dcis/latency/1'
