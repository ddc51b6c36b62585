// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package ecrlocal is a local Amazon ECR endpoint for tests and demos.
//
// It speaks ECR's wire protocol (JSON 1.1 over HTTP, SigV4-signed requests,
// AWS error shapes and status codes), validates every request against the
// official API model, and implements the repository and layer-upload
// operations with the service's semantics, plus the STS calls a provider
// makes (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity). Layer
// bytes go to a temporary directory, never to memory, so tests can read back
// what was pushed byte for byte. Tests can choose the part size it answers,
// inject faults and read back the requests it received.
package ecrlocal

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

const (
	jsonContentType = "application/x-amz-json-1.1"
	targetPrefix    = "AmazonEC2ContainerRegistry_V20150921."

	// DefaultPartSize is the part size ECR answers to InitiateLayerUpload today.
	DefaultPartSize = 10 * 1024 * 1024
	// DefaultAccountID is the account that owns the endpoint's default registry.
	DefaultAccountID = "123456789012"

	// A 20 MiB part is 28 MiB in base64; anything past this is not a request
	// ECR would accept.
	maxRequestBytes = 32 << 20
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	// AccessKeyID and SecretAccessKey are the credentials the endpoint
	// accepts (with ExtraCredentials, and what it issues through STS);
	// SessionToken, when set, must accompany them.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// ExtraCredentials are more key pairs accepted, for tests that use
	// several principals (a profile's key next to the environment's).
	ExtraCredentials []Credentials
	// Roles, when set, are the only roles AssumeRole and
	// AssumeRoleWithWebIdentity grant; when empty any well-formed role ARN
	// can be assumed.
	Roles []Role
	// AccountID owns the default registry (DefaultAccountID when empty).
	AccountID string
	// PartSize is answered by InitiateLayerUpload (DefaultPartSize when zero).
	PartSize int64
	// Now is the server's clock, for signature expiry (time.Now when nil).
	Now func() time.Time
	// Log, when set, gets a line for each request answered.
	Log io.Writer
	// Quotas, when set, are enforced as ECR enforces its request quotas:
	// an operation called faster than its rate (requests per second, with a
	// bucket of Slack seconds' worth) is answered ThrottlingException.
	Quotas map[string]float64
	// Slack is the enforcement bucket's size in seconds of rate (1 when zero).
	Slack float64
	// Dir is where the endpoint makes its temporary directory for layer
	// bytes (os.TempDir when empty). The directory goes when Close is called.
	Dir string
}

// Server is a running local ECR endpoint.
type Server struct {
	opts     Options
	listener net.Listener
	http     *http.Server
	url      string

	credMu         sync.RWMutex
	creds          map[string]*Credentials // by access key ID
	issued         []Credentials
	registryTokens map[string]AuthorizationToken // by password

	logMu sync.Mutex // Options.Log need not be safe for concurrent use

	storeMu     sync.Mutex
	storeDir    string // made on first use, removed by Close
	storeClosed bool

	received receivedBytes

	arrivals   atomic.Int64
	arrivalsMu sync.Mutex
	arrivedFor map[string]int

	mu       sync.Mutex
	repos    map[repoKey]*repository
	uploads  map[string]*upload
	requests []Request
	owners   map[string]UploadOwner // every upload ID ever issued
	repoSeq  int64
	faults   map[string][]*Fault
	partSize int64
	quotas   map[string]*rate.Limiter

	operations map[string]handlerFunc // the ECR operations served, by name
}

// Handler returns a Server that is not listening, for use with httptest or a
// caller's own listener.
func Handler(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Slack == 0 {
		opts.Slack = 1
	}
	quotas := map[string]*rate.Limiter{}
	for op, perSecond := range opts.Quotas {
		quotas[op] = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond*opts.Slack)))
	}
	s := &Server{
		opts:     opts,
		repos:    map[repoKey]*repository{},
		uploads:  map[string]*upload{},
		owners:   map[string]UploadOwner{},
		faults:   map[string][]*Fault{},
		partSize: opts.PartSize,
		quotas:   quotas,
	}
	s.registerCredentials()
	s.operations = map[string]handlerFunc{
		"CreateRepository":            s.createRepository,
		"DescribeRepositories":        s.describeRepositories,
		"DeleteRepository":            s.deleteRepository,
		"InitiateLayerUpload":         s.initiateLayerUpload,
		"UploadLayerPart":             s.uploadLayerPart,
		"CompleteLayerUpload":         s.completeLayerUpload,
		"BatchCheckLayerAvailability": s.batchCheckLayerAvailability,
		"PutImage":                    s.putImage,
		"BatchGetImage":               s.batchGetImage,
		"BatchDeleteImage":            s.batchDeleteImage,
		"DescribeImages":              s.describeImages,
		"ListImageReferrers":          s.listImageReferrers,
		"PutImageTagMutability":       s.putImageTagMutability,
		"GetAuthorizationToken":       s.getAuthorizationToken,
	}
	return s
}

// Start serves the endpoint over HTTP on addr ("127.0.0.1:0" picks a free
// port).
func Start(addr string, opts Options) (*Server, error) {
	s := Handler(opts)
	if err := s.listen(addr, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// StartTLS serves the endpoint over HTTPS on addr with a certificate for
// 127.0.0.1 and localhost, signed by a CA made for this server alone. It
// returns the CA certificate in PEM, for clients that should trust it.
func StartTLS(addr string, opts Options) (*Server, []byte, error) {
	caPEM, cert, err := newCertificates()
	if err != nil {
		return nil, nil, err
	}
	s := Handler(opts)
	if err := s.listen(addr, &cert); err != nil {
		return nil, nil, err
	}
	return s, caPEM, nil
}

// listen is the one listener set-up, for HTTP (cert nil) and HTTPS.
func (s *Server) listen(addr string, cert *tls.Certificate) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.listener = l
	// The HTTP server's own complaints (TLS handshakes, bad requests) go to
	// Options.Log, not to the test's stderr.
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(logWriter{s}, "ecr-local: ", 0)}
	if cert == nil {
		s.url = "http://" + l.Addr().String()
		go func() { _ = s.http.Serve(l) }()
		return nil
	}
	s.url = "https://" + l.Addr().String()
	s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	go func() { _ = s.http.ServeTLS(l, "", "") }()
	return nil
}

// URL is the endpoint's base URL, for endpoints { ecr = ... }.
func (s *Server) URL() string { return s.url }

// Close stops the endpoint and removes everything it stored.
func (s *Server) Close() error {
	var err error
	if s.http != nil {
		err = s.http.Close()
	}
	return errors.Join(err, s.removeStorage())
}

// SetPartSize changes the part size InitiateLayerUpload answers from now on.
func (s *Server) SetPartSize(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partSize = n
}

func (s *Server) now() time.Time { return s.opts.Now() }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Three protocols share the endpoint: ECR's JSON 1.1 API (named by
	// X-Amz-Target), STS's Query API (named by the form's Action) and the
	// registry API under /v2/.
	operation := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	registry := isRegistryPath(r.URL.Path)
	var stsReq *stsRequest
	if registry {
		operation = parseRegistryPath(r.URL.Path).operation
	} else if stsReq = readSTSRequest(r); stsReq != nil {
		operation = stsReq.operation
	}
	s.arrive(operation)
	rec := Request{Operation: operation, UserAgent: r.UserAgent(), Authorization: r.Header.Get("Authorization"), Received: s.now()}
	fault := s.takeFault(operation)
	if fault != nil && fault.Kind != FaultError {
		if s.transportFault(w, r, fault) {
			rec.ErrorCode = "fault:" + fault.Kind.String()
			s.record(rec, nil)
			return
		}
		if fault.Kind == FaultTruncatedResponse {
			w = truncatingWriter{w}
		}
		fault = nil
	}
	if registry {
		s.serveRegistry(w, r, &rec, fault)
		s.record(rec, nil)
		return
	}
	var result any
	var apiErr *apiError
	if stsReq != nil {
		result, apiErr = s.serveSTS(r, &rec, stsReq, fault)
	} else {
		result, apiErr = s.serve(r, &rec, fault)
	}
	if apiErr != nil {
		rec.ErrorCode = apiErr.Code
	}
	if out, ok := result.(map[string]any); ok {
		rec.Output = out
	}
	s.record(rec, result)
	if stsReq != nil {
		writeSTS(w, result, apiErr)
		return
	}
	writeJSON(w, result, apiErr)
}

func (s *Server) serve(r *http.Request, rec *Request, fault *Fault) (any, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, newError("UnknownOperationException", "Only POST / is served.")
	}
	body, payloadHash, tooLarge, release, err := readBody(r, maxRequestBytes)
	defer release()
	if err != nil {
		return nil, newError("SerializationException", "The request body could not be read: "+err.Error())
	}
	if tooLarge {
		return nil, &apiError{Code: "RequestEntityTooLargeException", Message: "Request body is too large.", Status: http.StatusRequestEntityTooLarge}
	}
	sig, apiErr := s.verifyPayloadSignature(r, len(body.bytes()), payloadHash)
	rec.Region, rec.AccessKeyID, rec.CallerARN = sig.Region, sig.AccessKeyID, sig.Caller.ARN
	if apiErr != nil {
		return nil, apiErr
	}
	if sig.Service != "ecr" {
		return nil, newError("InvalidSignatureException", "Credential should be scoped to correct service: 'ecr'.")
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), jsonContentType) {
		return nil, newError("SerializationException", "Content-Type must be "+jsonContentType+".")
	}
	handler, ok := s.operations[rec.Operation]
	if !ok {
		return nil, newError("UnknownOperationException", "Unknown operation "+r.Header.Get("X-Amz-Target")+".")
	}
	if fault != nil {
		return nil, fault.apply()
	}
	if limiter := s.quotas[rec.Operation]; limiter != nil && !limiter.Allow() {
		return nil, newError("ThrottlingException", "Rate exceeded")
	}
	input, apiErr := decodeRequest(body)
	if apiErr != nil {
		return nil, apiErr
	}
	rec.Input = redactBlob(input)
	if apiErr := validateInput(rec.Operation, input); apiErr != nil {
		return nil, apiErr
	}
	return handler(&call{region: sig.Region, account: sig.Caller.AccountID, input: input})
}
