//go:build race

package main

// raceEnabled: the race detector slows heavy measurements tenfold.
const raceEnabled = true
