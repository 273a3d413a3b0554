// dcis-mesh never builds helia through withLibp2p(): src/storage/helia.ts
// creates helia with createHeliaLight() on the node's own libp2p instance and
// adds its own libp2p router. These exports exist only so that ESM linking of
// `helia` succeeds; calling them is a programming error.
function unsupported (name) {
  return () => {
    throw new Error(`@helia/libp2p.${name} is not available in dcis-mesh: build helia on the node's libp2p instance (src/storage/helia.ts)`)
  }
}

export const withLibp2p = unsupported('withLibp2p')
export const withLibp2pLight = unsupported('withLibp2pLight')
export const libp2pDefaults = unsupported('libp2pDefaults')
export const libp2pRouting = unsupported('libp2pRouting')
