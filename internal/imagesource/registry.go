// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// KindRegistry is a Source read from a registry.
const KindRegistry Kind = "registry"

// Login is one way to read a registry.
type Login struct {
	Username, Password string
	// Endpoint, when not empty, is "http://host:port" or
	// "https://host[:port]": the registry is read there instead of at the
	// reference's host (ECR's GetAuthorizationToken answers a proxyEndpoint;
	// the provider sets this only for its custom test endpoint). Plain HTTP
	// only to this machine, as for references.
	Endpoint string
	// Source says where the credential came from, for error messages
	// ("source_username and source_password_wo"). Never the secret.
	Source string
}

// RemoteOptions says how to read an image from a registry.
type RemoteOptions struct {
	// Platform is as Options.Platform ("os/arch[/variant]"): from an index,
	// only that platform's image.
	Platform string
	// Login is asked first for the registry (as name.Registry.RegistryStr
	// gives it: "index.docker.io", "ghcr.io", "127.0.0.1:5000"). ok=false,
	// or a nil Login: the Docker config (authn.DefaultKeychain), then
	// anonymous access.
	Login func(ctx context.Context, registry string) (login Login, ok bool, err error)
	// Transport is the base HTTP transport; nil: a clone of
	// http.DefaultTransport (system roots, proxy from the environment).
	Transport http.RoundTripper
	// RetryBudget is the longest total wait for 429 Retry-After answers
	// before giving up; 0: one minute.
	RetryBudget time.Duration
	// Referrers chooses which of the repository's referrers of the
	// manifests pushed (OCI referrers API, else the sha256-<hex> tag
	// scheme) travel with the image; OpenRemote alone lists them.
	Referrers ReferrerFilter

	// now and sleep are the clock of the 429 waits, for tests.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// manifestTypes are the manifests a registry is asked for. Schema 1 is
// asked for too, to name it when that is all a registry has.
var manifestTypes = strings.Join([]string{
	string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList),
	string(types.DockerManifestSchema1), string(types.DockerManifestSchema1Signed),
}, ",")

// parseRemote reads a reference as Docker and crane do.
func parseRemote(ref string) (name.Reference, error) {
	if ref == "" || strings.TrimSpace(ref) != ref {
		return nil, &ReferenceError{Ref: ref, Why: "it is empty or has spaces around it"}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, &ReferenceError{Ref: ref, Why: strings.TrimPrefix(err.Error(), "could not parse reference: ")}
	}
	if d, ok := r.(name.Digest); ok && !strings.HasPrefix(d.DigestStr(), "sha256:") {
		return nil, &ReferenceError{Ref: ref, Why: "only sha256 digests are pushed to ECR"}
	}
	return r, nil
}

// ParseRemoteReference checks a reference as Docker and crane read it
// (Docker Hub by default, library/ prefix, tag, @sha256 digest, tag@digest)
// and returns a *ReferenceError when it is not one.
func ParseRemoteReference(ref string) error {
	_, err := parseRemote(ref)
	return err
}

// Resolved is what a plan needs from a registry: the top-level manifest's
// digest, media type and size (what a referrer's subject descriptor holds).
type Resolved struct {
	Digest, MediaType, Platform string
	Size                        int64
}

// ResolveRemote finds the digest that will land. For a tag it makes one
// manifest request: a HEAD, or a GET where HEAD is refused. A digest
// reference is checked to exist, never resolved again through its tag.
// With opts.Platform it chooses the image as OpenRemote does and returns
// that image's digest.
func ResolveRemote(ctx context.Context, ref string, opts RemoteOptions) (Resolved, error) {
	s, err := newRemoteSession(ctx, ref, opts)
	if err != nil {
		return Resolved{}, err
	}
	defer s.release()
	id := s.parsed.Identifier()
	d, ok, err := s.head(ctx, id)
	if err != nil {
		return Resolved{}, err
	}
	if !ok {
		want := ""
		if strings.HasPrefix(id, "sha256:") {
			want = id
		}
		raw, ct, err := s.get(ctx, id, want)
		if err != nil {
			return Resolved{}, err
		}
		d = v1.Descriptor{Digest: sha256Hash(raw), Size: int64(len(raw)), MediaType: types.MediaType(ct)}
	}
	if d.MediaType.IsSchema1() {
		return Resolved{}, s.schema1(d.Digest.String())
	}
	if opts.Platform == "" {
		return Resolved{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size}, nil
	}
	p, err := s.plan(ctx, d.Digest.String(), opts)
	if err != nil {
		return Resolved{}, err
	}
	top := p.manifests[len(p.manifests)-1]
	return Resolved{Digest: top.Digest, MediaType: top.MediaType, Platform: top.Platform, Size: int64(len(top.Raw))}, nil
}

// OpenRemote reads the manifests to push for ref, pinned to digest (what
// ResolveRemote gave at plan; "" resolves now), and returns the push plan,
// as Open does for files: manifests byte for byte, each checked against its
// digest, children before index, and every distinct config and layer as a
// Blob to read with Open, and the referrers opts.Referrers chooses (see
// Source.Referrers). It reads manifests and the image's config, no layer.
// Close the Source to release its idle connections.
func OpenRemote(ctx context.Context, ref, digest string, opts RemoteOptions) (*Source, error) {
	s, err := newRemoteSession(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	if digest == "" {
		if d, ok := s.parsed.(name.Digest); ok {
			digest = d.DigestStr()
		} else {
			// One GET by tag gives the bytes and, hashed, the digest.
			raw, _, err := s.get(ctx, s.parsed.Identifier(), "")
			if err != nil {
				s.release()
				return nil, err
			}
			digest = sha256Hash(raw).String()
		}
	} else if h, err := v1.NewHash(digest); err != nil || h.Algorithm != "sha256" {
		s.release()
		return nil, &ReferenceError{Ref: digest, Why: "the pinned digest is not sha256:<64 hex digits>"}
	}
	p, err := s.plan(ctx, digest, opts)
	if err == nil {
		err = p.takeReferrers(func(subject string) ([]v1.Descriptor, error) {
			return s.referrers(ctx, subject, opts.Referrers)
		})
	}
	if err != nil {
		s.release()
		return nil, err
	}
	return &Source{path: ref, kind: KindRegistry, manifests: p.manifests, referrers: p.referrers, blobs: p.blobs,
		release: s.release}, nil
}

// remoteSession is one reference's repository, with the client that reads
// it: go-containerregistry's transport (ping, auth challenge, token) over
// baseTransport.
type remoteSession struct {
	ref        string
	parsed     name.Reference
	registry   string // the reference's, as errors and blob names give it
	repo       string
	host       string // where requests go: the registry, or a Login's Endpoint
	scheme     string
	credential string
	client     *http.Client
	release    func()

	mu         sync.Mutex
	fetched    map[string][]byte // manifests by digest, read once
	smallBlobs map[string][]byte // configs read to plan, by digest: sent from memory

	// noReferrersAPI is set, while planning, once the registry has shown
	// it lacks the referrers API: the tag scheme is read instead.
	noReferrersAPI bool
}

func newRemoteSession(ctx context.Context, ref string, opts RemoteOptions) (*remoteSession, error) {
	parsed, err := parseRemote(ref)
	if err != nil {
		return nil, err
	}
	reg := parsed.Context().Registry
	creds, err := resolveCredentials(ctx, reg, opts)
	if err != nil {
		return nil, err
	}
	base, release := baseTransport(opts)
	s := &remoteSession{ref: ref, parsed: parsed, registry: reg.RegistryStr(), repo: parsed.Context().RepositoryStr(),
		host: creds.target.RegistryStr(), scheme: creds.target.Scheme(), credential: creds.source,
		release: release, fetched: map[string][]byte{}, smallBlobs: map[string][]byte{}}
	scope := creds.target.Repo(s.repo).Scope(transport.PullScope)
	tr, err := transport.NewWithContext(ctx, creds.target, creds.auth, base, []string{scope})
	if err != nil {
		release()
		return nil, s.remoteError(err, "manifest")
	}
	s.client = &http.Client{Transport: tr}
	return s, nil
}

// url is the address of a manifest or blob; the transport sets the scheme
// the registry answered its ping on.
func (s *remoteSession) url(kind, id string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", s.scheme, s.host, s.repo, kind, id)
}

// blobName names a manifest or blob of the repository in messages.
func (s *remoteSession) blobName(digest string) string {
	return s.registry + "/" + s.repo + "@" + digest
}

func (s *remoteSession) schema1(digest string) error {
	return &UnsupportedError{Path: s.ref, What: fmt.Sprintf("the manifest %s is Docker schema 1, which ECR no longer takes", digest)}
}

// head asks for a manifest's descriptor; ok is false when the registry
// does not answer HEAD usefully (405, or no Docker-Content-Digest) and a
// GET must do.
func (s *remoteSession) head(ctx context.Context, id string) (v1.Descriptor, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.url("manifests", id), nil)
	if err != nil {
		return v1.Descriptor{}, false, err
	}
	req.Header.Set("Accept", manifestTypes)
	resp, err := s.client.Do(req)
	if err != nil {
		return v1.Descriptor{}, false, s.remoteError(err, "manifest")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented {
		return v1.Descriptor{}, false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return v1.Descriptor{}, false, s.remoteError(err, "manifest")
	}
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil || h.Algorithm != "sha256" {
		return v1.Descriptor{}, false, nil
	}
	if strings.HasPrefix(id, "sha256:") && h.String() != id {
		return v1.Descriptor{}, false, &DigestMismatchError{Name: s.blobName(id), Want: id, Got: h.String(), Size: resp.ContentLength}
	}
	return v1.Descriptor{Digest: h, Size: resp.ContentLength, MediaType: types.MediaType(resp.Header.Get("Content-Type"))}, true, nil
}

// get reads a manifest by tag or digest, at most maxManifestSize bytes, and
// checks it against want unless want is "". It keeps it for manifest.
func (s *remoteSession) get(ctx context.Context, id, want string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("manifests", id), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", manifestTypes)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", s.remoteError(err, "manifest")
	}
	defer func() { _ = resp.Body.Close() }()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", s.remoteError(err, "manifest")
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, "", s.remoteError(err, "manifest")
	}
	if len(raw) > maxManifestSize {
		return nil, "", &UnsupportedError{Path: s.ref, What: fmt.Sprintf("the manifest %s is more than ECR's limit of %d bytes", id, maxManifestSize)}
	}
	got := sha256Hash(raw).String()
	if want != "" && got != want {
		return nil, "", &DigestMismatchError{Name: s.blobName(want), Want: want, Got: got, Size: int64(len(raw))}
	}
	s.mu.Lock()
	s.fetched[got] = raw
	s.mu.Unlock()
	return raw, resp.Header.Get("Content-Type"), nil
}

// manifest returns the manifest d describes, checked against its digest:
// what the planner reads where a layout has blobs/sha256/<hex>.
func (s *remoteSession) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	s.mu.Lock()
	raw, ok := s.fetched[d.Digest.String()]
	s.mu.Unlock()
	if ok {
		return raw, nil
	}
	raw, _, err := s.get(ctx, d.Digest.String(), d.Digest.String())
	return raw, err
}

// plan plans the push of the manifest of digest, with the planner Open uses
// for layouts: the same choice of platform, nesting bound and checks.
func (s *remoteSession) plan(ctx context.Context, digest string, opts RemoteOptions) (*planner, error) {
	p := &planner{path: s.ref, kind: KindRegistry, opts: Options{Platform: opts.Platform, Referrers: opts.Referrers}, remote: s, ctx: ctx,
		seenManifests: map[string]bool{}, seenBlobs: map[string]bool{}}
	if opts.Platform != "" {
		want, err := parsePlatform(opts.Platform)
		if err != nil {
			return nil, err
		}
		p.want = want
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, &ReferenceError{Ref: s.ref, Why: err.Error()}
	}
	raw, err := s.manifest(ctx, v1.Descriptor{Digest: h})
	if err != nil {
		return nil, err
	}
	root := v1.Descriptor{Digest: h, Size: int64(len(raw))}
	return p, p.planRoot(root)
}

// addRemoteBlob adds a blob of the registry to the plan; nothing is read
// until its Open is called.
func (p *planner) addRemoteBlob(b v1.Descriptor) {
	d := b.Digest.String()
	if p.seenBlobs[d] {
		return
	}
	p.seenBlobs[d] = true
	p.blobs = append(p.blobs, Blob{Name: p.remote.blobName(d), Digest: d, Size: b.Size, MediaType: string(b.MediaType),
		Open: p.remote.blobOpener(d, b.Size)})
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
