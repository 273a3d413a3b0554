/** gossip topic of catalogue deltas */
export const CATALOGUE_TOPIC = 'dcis/catalogue/1'
/** anti-entropy protocol of the catalogue */
export const CATALOGUE_PROTOCOL = '/dcis/catalogue/1.0.0'
/** the object name in sync frames */
export const CATALOGUE_OBJECT = 'catalogue'
