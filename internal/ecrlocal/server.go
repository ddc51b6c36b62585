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
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	credMu sync.RWMutex
	creds  map[string]*Credentials // by access key ID
	issued []Credentials

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
}

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
	return s
}

// Start serves the endpoint on addr ("127.0.0.1:0" picks a free port).
func Start(addr string, opts Options) (*Server, error) {
	s := Handler(opts)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(l) }()
	return s, nil
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

func (s *Server) now() time.Time { return s.opts.Now() }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	operation := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	stsReq := readSTSRequest(r)
	if stsReq != nil {
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

func (s *Server) record(rec Request, result any) {
	if rec.Operation != "" {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}
	s.logRequest(rec, result)
}

func (s *Server) serve(r *http.Request, rec *Request, fault *Fault) (any, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, newError("UnknownOperationException", "Only POST / is served.")
	}
	body, tooLarge, release, err := readBody(r, maxRequestBytes)
	defer release()
	if err != nil {
		return nil, newError("SerializationException", "The request body could not be read: "+err.Error())
	}
	if tooLarge {
		return nil, &apiError{Code: "RequestEntityTooLargeException", Message: "Request body is too large.", Status: http.StatusRequestEntityTooLarge}
	}
	sig, apiErr := s.verifySignature(r, body)
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
	handler, ok := s.handlers()[rec.Operation]
	if !ok {
		return nil, newError("UnknownOperationException", "Unknown operation "+r.Header.Get("X-Amz-Target")+".")
	}
	if fault != nil {
		return nil, fault.apply()
	}
	if limiter := s.quotas[rec.Operation]; limiter != nil && !limiter.Allow() {
		return nil, newError("ThrottlingException", "Rate exceeded")
	}
	input, apiErr := decodeBody(body)
	if apiErr != nil {
		return nil, apiErr
	}
	rec.Input = redactBlob(input)
	if apiErr := validateInput(rec.Operation, input); apiErr != nil {
		return nil, apiErr
	}
	return handler(&call{region: sig.Region, account: sig.Caller.AccountID, input: input})
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
			}
		}
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, result any, apiErr *apiError) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if apiErr != nil {
		w.Header().Set("X-Amzn-ErrorType", apiErr.Code)
		w.WriteHeader(apiErr.Status)
		_, _ = w.Write(apiErr.body())
		return
	}
	b, err := json.Marshal(result)
	if err != nil {
		writeJSON(w, nil, newError("ServerException", "encoding the response: "+err.Error()))
		return
	}
	_, _ = w.Write(b)
}

// newUUID returns a random version 4 UUID, the form ECR's upload IDs take.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.New("crypto/rand failed: " + err.Error()))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
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
	}
	if isSTS(rec.Operation) {
		fmt.Fprintf(s.opts.Log, "ecr-local: %s region=%s role=%v: %s\n", rec.Operation, rec.Region, rec.Input["RoleArn"], outcome)
		return
	}
	fmt.Fprintf(s.opts.Log, "ecr-local: %s region=%s repository=%v: %s\n", rec.Operation, rec.Region, rec.Input["repositoryName"], outcome)
}
