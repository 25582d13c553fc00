package commandapi

// Fingerprint lets tests prepare an idempotency record by hand.
var Fingerprint = fingerprint
