// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"time"
)

// What the endpoint saw, for tests to assert on: every request answered, and
// every request that arrived (a hung one arrives but is never answered).

// Request records one request the endpoint answered.
type Request struct {
	Operation string
	// Region and AccessKeyID come from the signature's credential scope.
	Region      string
	AccessKeyID string
	// CallerARN is the principal the key belongs to (an assumed-role ARN
	// for credentials issued by AssumeRole).
	CallerARN string
	// Input is the decoded JSON body, with layerPartBlob replaced by its size.
	Input map[string]any
	// Output is the decoded response of a successful request.
	Output    map[string]any
	ErrorCode string
	UserAgent string
	// Received is when the request arrived.
	Received time.Time
	// Authorization is the header as received, for tests that look for its
	// signature where it must not appear.
	Authorization string
}

// Requests returns a copy of the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Arrivals counts the requests that have reached the endpoint, answered or
// not (a request held by FaultHang is counted before it is recorded).
func (s *Server) Arrivals() int64 { return s.arrivals.Load() }

// ArrivalsFor counts the requests for one operation that have reached the
// endpoint, answered or not.
func (s *Server) ArrivalsFor(operation string) int {
	s.arrivalsMu.Lock()
	defer s.arrivalsMu.Unlock()
	return s.arrivedFor[operation]
}

func (s *Server) arrive(operation string) {
	s.arrivals.Add(1)
	s.arrivalsMu.Lock()
	defer s.arrivalsMu.Unlock()
	if s.arrivedFor == nil {
		s.arrivedFor = map[string]int{}
	}
	s.arrivedFor[operation]++
}

// RequestsFor returns the requests answered so far for one operation.
func (s *Server) RequestsFor(operation string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Operation == operation {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) record(rec Request, result any) {
	if rec.Operation != "" {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}
	s.logRequest(rec, result)
}

func redactBlob(input map[string]any) map[string]any {
	out := make(map[string]any, len(input))
	for k, v := range input {
		if k == "layerPartBlob" {
			switch blob := v.(type) {
			case string:
				n, _ := decodedBlobLen(blob)
				v = fmt.Sprintf("<%d bytes>", n)
			case blobText:
				n, _ := decodedBlobLen(blob)
				v = fmt.Sprintf("<%d bytes>", n)
			case decodedBlob:
				v = fmt.Sprintf("<%d bytes>", len(blob))
			}
		}
		out[k] = v
	}
	return out
}

func (s *Server) logRequest(rec Request, result any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	outcome := "ok"
	if rec.ErrorCode != "" {
		outcome = rec.ErrorCode
	} else if m, ok := result.(map[string]any); ok && rec.Operation == "InitiateLayerUpload" {
		outcome = fmt.Sprintf("ok uploadId=%v partSize=%v", m["uploadId"], m["partSize"])
	} else if ok && rec.Operation == "CompleteLayerUpload" {
		outcome = fmt.Sprintf("ok uploadId=%v layerDigest=%v", m["uploadId"], m["layerDigest"])
	} else if image, _ := m["image"].(map[string]any); ok && rec.Operation == "PutImage" && image != nil {
		id, _ := image["imageId"].(map[string]any)
		outcome = fmt.Sprintf("ok imageDigest=%v imageTag=%v", id["imageDigest"], id["imageTag"])
	}
	if isSTS(rec.Operation) {
		fmt.Fprintf(s.opts.Log, "ecr-local: %s region=%s role=%v: %s\n", rec.Operation, rec.Region, rec.Input["RoleArn"], outcome)
		return
	}
	fmt.Fprintf(s.opts.Log, "ecr-local: %s region=%s repository=%v: %s\n", rec.Operation, rec.Region, rec.Input["repositoryName"], outcome)
}

// logWriter writes to Options.Log (or nowhere), one write at a time.
type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	if w.s.opts.Log == nil {
		return len(p), nil
	}
	w.s.logMu.Lock()
	defer w.s.logMu.Unlock()
	return w.s.opts.Log.Write(p)
}
