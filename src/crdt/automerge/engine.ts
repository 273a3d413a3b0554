/** what lazy.ts loads on first use: the automerge-backed modules */
export * as amDoc from './doc.js'
export { AutomergeReplica } from './replica.js'
