package grpcserver

// StreamWorkers is how many workers a server keeps, for tests.
var StreamWorkers = streamWorkers
