//go:build !race

package ecrpush

// raceEnabled: see race_on_test.go.
const raceEnabled = false
