import type { Helia } from '@helia/interface'
import type { Libp2p } from '@libp2p/interface'

export type HeliaWithLibp2p<T extends Libp2p = Libp2p> = Helia & { libp2p: T }
export declare function withLibp2p (...args: unknown[]): never
export declare function withLibp2pLight (...args: unknown[]): never
export declare function libp2pDefaults (...args: unknown[]): never
export declare function libp2pRouting (...args: unknown[]): never
