package store

// SweepAll exposes sweepAll to the external tests.
var SweepAll = sweepAll
