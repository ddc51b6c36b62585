// Package cranecheck reads images back from the local ECR endpoint with
// go-containerregistry (the library behind crane), to show that what was
// pushed through ECR's API is served byte for byte by its registry API.
// Run it with: cd internal/ecrlocal/cranecheck && go test ./...
package cranecheck
