// Package pipelinetest holds the tests of the whole pipeline, from commands to
// views: end to end on the local servers (command handler, events table, its
// DynamoDB stream, the fan-out, Kinesis, the projector, the query tables,
// wired by template.yaml's event sources), and properties in memory that
// deliver the public envelopes to the projector as badly as the design
// allows (duplicates, reordering, records lost for good) and still demand
// views equal to the domain's own fold of each stream.
//
// It has no code of its own beyond this comment: everything is in its tests.
package pipelinetest
