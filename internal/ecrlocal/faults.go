// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FaultKind is how a fault shows itself to the client.
type FaultKind int

const (
	// FaultError answers an AWS error (Code, Message, Extra) with its status.
	FaultError FaultKind = iota
	// FaultDropConnection reads the request, then closes the connection
	// without answering.
	FaultDropConnection
	// FaultResetMidBody resets the connection (TCP RST) before the request
	// body has been read in full.
	FaultResetMidBody
	// FaultLatency waits Delay (or until the client gives up), then serves
	// the request normally.
	FaultLatency
	// FaultHang accepts the request and never answers, until the client
	// closes the connection.
	FaultHang
	// FaultTruncatedResponse serves the request but cuts the response body
	// short of its Content-Length and closes the connection.
	FaultTruncatedResponse
	// FaultGarbageResponse answers 200 with a body that is not JSON.
	FaultGarbageResponse
)

var faultNames = map[FaultKind]string{
	FaultError: "error", FaultDropConnection: "drop-connection", FaultResetMidBody: "reset-mid-body",
	FaultLatency: "latency", FaultHang: "hang", FaultTruncatedResponse: "truncated-response",
	FaultGarbageResponse: "garbage-response",
}

func (k FaultKind) String() string { return faultNames[k] }

// Fault is what the endpoint does instead of (or before) serving an
// operation normally.
type Fault struct {
	Kind    FaultKind
	Code    string
	Message string
	// Times is how many calls the fault affects before it is used up.
	Times int
	// After is how many calls of the operation go through untouched before
	// the fault starts: After 3 on UploadLayerPart cuts a push short at its
	// fourth part.
	After int
	// Extra members of the error shape (kmsError, lastValidByteReceived, ...).
	Extra map[string]any
	// Delay is FaultLatency's wait.
	Delay time.Duration
}

// InjectFault makes the next f.Times calls of operation (after f.After
// untouched ones) meet f: an AWS error, or a transport fault (a hang, a
// reset, a dropped connection, latency, a cut-short or garbage response).
// Faults for one operation are used in the order they were injected. STS
// operations are named "sts:AssumeRole", "sts:GetCallerIdentity", ...
func (s *Server) InjectFault(operation string, f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Kind == FaultError && f.Message == "" {
		f.Message = fmt.Sprintf("injected %s", f.Code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[operation] = append(s.faults[operation], &f)
}

// ExpireUpload forgets an upload, as ECR does when an upload expires: later
// calls with its ID get UploadNotFoundException.
func (s *Server) ExpireUpload(uploadID string) {
	s.mu.Lock()
	u := s.uploads[uploadID]
	delete(s.uploads, uploadID)
	s.mu.Unlock()
	if u != nil {
		forgetUploads([]*upload{u})
	}
}

func (s *Server) takeFault(operation string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue := s.faults[operation]
	if len(queue) == 0 {
		return nil
	}
	f := queue[0]
	if f.After > 0 {
		f.After--
		return nil
	}
	f.Times--
	if f.Times == 0 {
		s.faults[operation] = queue[1:]
	}
	copied := *f
	return &copied
}

func (f *Fault) apply() *apiError {
	e := newError(f.Code, f.Message)
	for k, v := range f.Extra {
		e = e.with(k, v)
	}
	return e
}

// transportFault acts out a fault below the AWS protocol. It reports whether
// the request has been dealt with.
func (s *Server) transportFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch f.Kind {
	case FaultLatency:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
		}
		return false
	case FaultHang:
		// The server notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return true
	case FaultResetMidBody:
		_, _ = io.CopyN(io.Discard, r.Body, 1)
		resetConnection(w)
		return true
	case FaultDropConnection:
		_, _ = io.Copy(io.Discard, r.Body)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return true
	case FaultGarbageResponse:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", jsonContentType)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return true
	}
	return false
}

// resetConnection closes the client's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// truncatingWriter sends a response's headers with the full Content-Length
// but only half its body, then drops the connection.
type truncatingWriter struct {
	http.ResponseWriter
}

func (t truncatingWriter) Write(b []byte) (int, error) {
	t.Header().Set("Content-Length", strconv.Itoa(len(b)))
	t.WriteHeader(http.StatusOK)
	n, _ := t.ResponseWriter.Write(b[:len(b)/2])
	_ = http.NewResponseController(t.ResponseWriter).Flush()
	if conn, _, err := http.NewResponseController(t.ResponseWriter).Hijack(); err == nil {
		_ = conn.Close()
	}
	return n, nil
}
