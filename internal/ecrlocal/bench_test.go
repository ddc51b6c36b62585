// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// BenchmarkEndpointCPUPerGiB measures the endpoint's own CPU time per GiB of
// layer bytes received through UploadLayerPart (SigV4 payload hash, base64
// check and decode, digest, write to its temporary directory): the goal is
// at most 3 s, so that benchmarks against it measure the client. Run it with
//
//	go test ./internal/ecrlocal -run '^$' -bench EndpointCPUPerGiB -benchtime 3x
//
// The endpoint runs in a process of its own (this test binary again, as
// TestEndpointProcess) so that the AWS SDK client sending the parts is not
// counted; it reports its getrusage figures over HTTP. Each push is 256 MiB
// (ECRLOCAL_BENCH_MIB to change it) in 10 MiB parts to a new repository.
// ECRLOCAL_BENCH_CPUPROFILE=/abs/path.pprof has the endpoint's process write
// a CPU profile there.
//
// It reports cpu-s/GiB (user and system), and the two apart: user-s/GiB and
// sys-s/GiB.
func BenchmarkEndpointCPUPerGiB(b *testing.B) {
	if u, s := cpuTime(); u+s == 0 {
		b.Skip("no getrusage here")
	}
	size := 256 << 20
	if v, err := strconv.Atoi(os.Getenv("ECRLOCAL_BENCH_MIB")); err == nil && v > 0 {
		size = v << 20
	}
	const partSize = DefaultPartSize
	content := randomBytes(size, 1)
	digest := digestOf(content)

	ep := startEndpointProcess(b)
	client := ecr.New(ecr.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(ep.url),
		Credentials:      credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()

	b.SetBytes(int64(size))
	var user, system time.Duration
	for i := 0; b.Loop(); i++ {
		repo := aws.String(fmt.Sprintf("bench/cpu-%d", i))
		if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
			b.Fatal(err)
		}
		u0, s0 := ep.cpuTime(b)
		started, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
		if err != nil {
			b.Fatal(err)
		}
		for first := 0; first < size; first += partSize {
			last := min(first+partSize, size) - 1
			if _, err := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: started.UploadId,
				LayerPartBlob: content[first : last+1], PartFirstByte: aws.Int64(int64(first)), PartLastByte: aws.Int64(int64(last))}); err != nil {
				b.Fatal(err)
			}
		}
		done, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: repo,
			UploadId: started.UploadId, LayerDigests: []string{digest}})
		if err != nil || aws.ToString(done.LayerDigest) != digest {
			b.Fatalf("completing: %v %v", done, err)
		}
		u1, s1 := ep.cpuTime(b)
		user, system = user+u1-u0, system+s1-s0
		if _, err := client.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: repo, Force: true}); err != nil {
			b.Fatal(err)
		}
	}
	gib := float64(size) * float64(b.N) / (1 << 30)
	b.ReportMetric((user+system).Seconds()/gib, "cpu-s/GiB")
	b.ReportMetric(user.Seconds()/gib, "user-s/GiB")
	b.ReportMetric(system.Seconds()/gib, "sys-s/GiB")
}

// endpointProcessEnv tells this test binary, run again, to be the
// benchmark's endpoint.
const endpointProcessEnv = "ECRLOCAL_ENDPOINT_PROCESS"

type endpointProcess struct {
	url  string
	http *http.Client
}

// startEndpointProcess runs TestEndpointProcess in a process of its own and
// stops it when the benchmark ends.
func startEndpointProcess(b *testing.B) endpointProcess {
	b.Helper()
	args := []string{"-test.run=^TestEndpointProcess$", "-test.count=1"}
	if profile := os.Getenv("ECRLOCAL_BENCH_CPUPROFILE"); profile != "" {
		args = append(args, "-test.cpuprofile="+profile)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), endpointProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // the process ends when its stdin does
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "endpoint "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return endpointProcess{url: url, http: &http.Client{}}
		}
	}
	b.Fatalf("the endpoint process did not start: %v", lines.Err())
	return endpointProcess{}
}

// cpuTime is the endpoint process's CPU time so far.
func (e endpointProcess) cpuTime(b *testing.B) (user, system time.Duration) {
	b.Helper()
	resp, err := e.http.Get(e.url + cpuTimePath)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var u, s int64
	if _, err := fmt.Fscan(resp.Body, &u, &s); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u), time.Duration(s)
}

const cpuTimePath = "/_bench/cputime"

// TestEndpointProcess is BenchmarkEndpointCPUPerGiB's endpoint, in a process
// of its own; run any other way, it skips. It serves until its stdin ends,
// and answers cpuTimePath with its user and system CPU time in nanoseconds.
func TestEndpointProcess(t *testing.T) {
	if os.Getenv(endpointProcessEnv) == "" {
		t.Skip("BenchmarkEndpointCPUPerGiB's endpoint process")
	}
	srv := Handler(Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Dir: t.TempDir()})
	defer func() { _ = srv.Close() }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == cpuTimePath {
			u, s := cpuTime()
			_, _ = fmt.Fprintf(w, "%d %d\n", u, s)
			return
		}
		srv.ServeHTTP(w, r)
	})}
	go func() { _ = hs.Serve(l) }()
	defer func() { _ = hs.Close() }()
	fmt.Printf("endpoint http://%s\n", l.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}
