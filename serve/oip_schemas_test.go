package serve

// oipSchemas: filled in with the /v2 routes.
const oipSchemas = `{"$defs": {}}`
