// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// Benchmarks of the push engine. Run them with, for example:
//
//	go test ./internal/ecrpush -run '^$' -bench 'Push' -benchtime 3x
//
// BenchmarkPushThroughput pushes 256 MiB (PUSH_BENCH_MIB to change it)
// through the engine and reports MB/s (wall time) and, in CPU time, which a
// machine shared with other work does not distort: MB/cpu-s, and
// cpu-x-sha256, the CPU time as a multiple of hashing the same bytes once
// with crypto/sha256 (the floor: the engine must hash every byte). The CPU
// time is the whole process's: with the endpoint in process, its work too.
// Targets:
//   - endpoint: the local ECR endpoint in process (it checks SigV4, decodes
//     the base64 and hashes each part, and writes it to disk, all on the same
//     cores as the engine);
//   - sink: an in-process transport that reads each request and keeps
//     nothing, so the figure is the client's own work (engine, SDK, SigV4);
//   - sink-sdk-serializer: the same with the SDK's serializer instead of the
//     engine's streamed part bodies, for comparison.
//
// BenchmarkPushMemory pushes 64 MiB and 512 MiB (PUSH_MEM_MIB=64,512,4096
// for others) and reports the peak Go heap in use (sampled every 5 ms) and,
// on Linux, the process's peak RSS during the push: flat in the blob's size.
// With the endpoint in process, its own memory (a pooled request body, what
// its garbage adds before each GC) is in the figures too.

func benchMiB(def int) int {
	if v, err := strconv.Atoi(os.Getenv("PUSH_BENCH_MIB")); err == nil && v > 0 {
		return v
	}
	return def
}

// sdkSerializer drops the engine's streamParts option from every call, so
// that the SDK serializes parts itself.
type sdkSerializer struct{ PushAPI }

func (s sdkSerializer) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	kept := opts[:0:0]
	for _, o := range opts {
		probe := ecr.Options{Protocol: partProtocol{}}
		o(&probe)
		if p, ok := probe.Protocol.(partProtocol); ok && p.ClientProtocol != nil {
			continue // it wrapped the protocol: streamPart
		}
		kept = append(kept, o)
	}
	return s.PushAPI.UploadLayerPart(ctx, in, kept...)
}

// sha256Floor is the CPU time crypto/sha256 takes over content, best of
// three.
func sha256Floor(content []byte) time.Duration {
	best := time.Duration(1 << 62)
	for range 3 {
		start := cpuTime()
		sha256.Sum256(content)
		best = min(best, cpuTime()-start)
	}
	return best
}

// wireFloor is the CPU time of what ECR's API makes any client do to send
// content: base64 it (the JSON body) and sha256 the base64 text (SigV4's
// payload hash), part by part at ECR's part size; best of three.
func wireFloor(content []byte) time.Duration {
	best := time.Duration(1 << 62)
	encoded := make([]byte, base64.StdEncoding.EncodedLen(ecrDefaultPart))
	for range 3 {
		start := cpuTime()
		for off := 0; off < len(content); off += ecrDefaultPart {
			part := content[off:min(off+ecrDefaultPart, len(content))]
			n := base64.StdEncoding.EncodedLen(len(part))
			base64.StdEncoding.Encode(encoded[:n], part)
			sha256.Sum256(encoded[:n])
		}
		best = min(best, cpuTime()-start)
	}
	return best
}

func BenchmarkPushThroughput(b *testing.B) {
	size := benchMiB(256) * mib
	blob, content := randomBlob(size, 256)
	floor := sha256Floor(content)
	wire := wireFloor(content)
	b.Logf("sha256 of %d MiB: %v of CPU (%.0f MB/cpu-s); base64 + sha256 of the base64: %v (%.2f s/GiB)",
		size/mib, floor, float64(size)/floor.Seconds()/1e6, wire, wire.Seconds()*float64(1<<30)/float64(size))

	run := func(b *testing.B, api PushAPI, after func()) {
		p := &Pusher{API: api}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		var total time.Duration
		for b.Loop() {
			start := cpuTime()
			res, err := p.PushBlob(context.Background(), pushTarget, blob, nil)
			total += cpuTime() - start
			if err != nil || res.BytesSent != int64(size) {
				b.Fatalf("%+v %v", res, err)
			}
			after()
		}
		b.ReportMetric(float64(total)/float64(b.N)/float64(floor), "cpu-x-sha256")
		b.ReportMetric(float64(total)/float64(b.N)/float64(wire), "cpu-x-wire-floor")
		b.ReportMetric((float64(total)/float64(b.N))/1e9*float64(1<<30)/float64(size), "cpu-s/GiB")
		b.ReportMetric(float64(size)/(float64(total)/float64(b.N))*1e3, "MB/cpu-s")
	}
	b.Run("endpoint", func(b *testing.B) {
		srv := pushEndpoint(b, ecrDefaultPart)
		run(b, client(srv, 1), func() {
			b.StopTimer()
			srv.DeleteLayer(region, "", pushTarget.Repository, blob.Digest)
			b.StartTimer()
		})
	})
	for _, name := range []string{"sink", "sink-sdk-serializer"} {
		b.Run(name, func(b *testing.B) {
			s := &sink{partSize: ecrDefaultPart}
			var api PushAPI = s.client()
			if name == "sink-sdk-serializer" {
				api = sdkSerializer{api}
			}
			run(b, api, func() {})
		})
	}
}

// ecrDefaultPart is the part size ECR answers today.
const ecrDefaultPart = 10 * mib

// memorySampler records the peak Go heap in use while it runs.
type memorySampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak atomic.Uint64
}

func sampleMemory() *memorySampler {
	m := &memorySampler{stop: make(chan struct{})}
	debug.FreeOSMemory() // so that the peak RSS starts from what is live
	resetPeakRSS()
	m.done.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.peak.Load() {
				m.peak.Store(ms.HeapInuse)
			}
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	})
	return m
}

func (m *memorySampler) end() (peakHeap uint64, peakRSS uint64) {
	close(m.stop)
	m.done.Wait()
	return m.peak.Load(), readPeakRSS()
}

// resetPeakRSS starts the kernel's peak RSS (VmHWM) over, where Linux
// allows it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readPeakRSS is VmHWM in bytes, or 0 where there is none.
func readPeakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// zeroBlob is a blob of n zero bytes that takes no memory, with its digest.
func zeroBlob(b *testing.B, n int64) Blob {
	d, err := HashBlob(context.Background(), zeros{}, n, nil)
	if err != nil {
		b.Fatal(err)
	}
	return Blob{Digest: d, Size: n, Content: zeros{}}
}

func BenchmarkPushMemory(b *testing.B) {
	sizes := []int64{64 * mib, 512 * mib}
	if v := os.Getenv("PUSH_MEM_MIB"); v != "" { // e.g. 64,512,4096
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.ParseInt(f, 10, 64); err == nil && n > 0 {
				sizes = append(sizes, n*mib)
			}
		}
	}
	for _, target := range []string{"endpoint", "sink"} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%dMiB", target, n/mib), func(b *testing.B) {
				blob := zeroBlob(b, n)
				var api PushAPI
				after := func() {}
				if target == "endpoint" {
					srv := pushEndpoint(b, ecrDefaultPart)
					api = client(srv, 1)
					after = func() { srv.DeleteLayer(region, "", pushTarget.Repository, blob.Digest) }
				} else {
					api = (&sink{partSize: ecrDefaultPart}).client()
				}
				p := &Pusher{API: api}
				b.SetBytes(n)
				var heap, rss uint64
				for b.Loop() {
					m := sampleMemory()
					if _, err := p.PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
						b.Fatal(err)
					}
					h, r := m.end()
					heap, rss = max(heap, h), max(rss, r)
					b.StopTimer()
					after()
					b.StartTimer()
				}
				b.ReportMetric(float64(heap)/mib, "peak-heap-MiB")
				if rss > 0 {
					b.ReportMetric(float64(rss)/mib, "peak-RSS-MiB")
				}
			})
		}
	}
}

// BenchmarkPushParallel pushes 8 blobs of 32 MiB to the sink, 1 and 4 at
// a time: what parallelism buys when each blob's parts go one by one.
func BenchmarkPushParallel(b *testing.B) {
	var blobs []Blob
	var total int64
	for i := range 8 {
		blob, _ := randomBlob(32*mib+i, uint64(i))
		blobs = append(blobs, blob)
		total += blob.Size
	}
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprint(par), func(b *testing.B) {
			slow := &latency{PushAPI: (&sink{partSize: ecrDefaultPart}).client(), delay: 20 * time.Millisecond}
			p := &Pusher{API: slow, Parallelism: par}
			b.SetBytes(total)
			for b.Loop() {
				if _, err := p.Push(context.Background(), pushTarget, blobs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// latency adds a round trip's wait to each part, as a network would.
type latency struct {
	PushAPI
	delay time.Duration
}

func (l *latency) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	time.Sleep(l.delay)
	return l.PushAPI.UploadLayerPart(ctx, in, opts...)
}

var _ io.ReaderAt = zeros{}

// BenchmarkWireFloor reports the wire floor alone (see wireFloor) in CPU
// seconds per GiB, for scripts/bench-push.sh to set the provider's figure
// against.
func BenchmarkWireFloor(b *testing.B) {
	size := benchMiB(256) * mib
	_, content := randomBlob(size, 256)
	b.SetBytes(int64(size))
	var best time.Duration
	for b.Loop() {
		best = wireFloor(content)
	}
	b.ReportMetric(best.Seconds()*float64(1<<30)/float64(size), "cpu-s/GiB")
}
