// gen: writes a large, realistic Go heap profile for bench/pprof/run.sh (see bench/pprof.md).
//
//	go run gen.go -paths 100000 -out heap.pb.gz
//
// Every allocation is sampled (runtime.MemProfileRate = 1). The program allocates from
// -paths distinct call paths: each path is a chain of 6 to 24 calls through 16 functions
// (f0..f15, chosen by a seeded PRNG), so stacks share prefixes and suffixes the way a
// service's do, and each leaf allocates 1 to 3 objects of one of 12 sizes (16 B to 8 KiB).
// One path in four keeps its objects (they are in use when the profile is written), the
// rest become garbage (alloc_* only). The profile holds about one sample per (path, size):
// -paths 100000 gives ~100,000 samples, ~1,900 locations, a ~6 MB profile.proto.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

var _ = setRate()

func setRate() int {
	runtime.MemProfileRate = 1
	return 1
}

var (
	kept  [][]byte
	sizes = []int{16, 24, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096, 8192}
	state uint64
)

// next is SplitMix64: deterministic paths for a given -seed.
func next() uint64 {
	state += 0x9E3779B97F4A7C15
	z := state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

type path struct {
	steps []uint8
	size  int
	count int
	keep  bool
}

// step calls the function the path names at this depth, or allocates at the end.
//
//go:noinline
func step(p *path, depth int) {
	if depth == len(p.steps) {
		leaf(p)
		return
	}
	switch p.steps[depth] {
	case 0:
		f0(p, depth+1)
	case 1:
		f1(p, depth+1)
	case 2:
		f2(p, depth+1)
	case 3:
		f3(p, depth+1)
	case 4:
		f4(p, depth+1)
	case 5:
		f5(p, depth+1)
	case 6:
		f6(p, depth+1)
	case 7:
		f7(p, depth+1)
	case 8:
		f8(p, depth+1)
	case 9:
		f9(p, depth+1)
	case 10:
		f10(p, depth+1)
	case 11:
		f11(p, depth+1)
	case 12:
		f12(p, depth+1)
	case 13:
		f13(p, depth+1)
	case 14:
		f14(p, depth+1)
	default:
		f15(p, depth+1)
	}
}

//go:noinline
func leaf(p *path) {
	for i := 0; i < p.count; i++ {
		b := make([]byte, p.size)
		if p.keep {
			kept = append(kept, b)
		}
	}
}

//go:noinline
func f0(p *path, d int) { step(p, d) }

//go:noinline
func f1(p *path, d int) { step(p, d) }

//go:noinline
func f2(p *path, d int) { step(p, d) }

//go:noinline
func f3(p *path, d int) { step(p, d) }

//go:noinline
func f4(p *path, d int) { step(p, d) }

//go:noinline
func f5(p *path, d int) { step(p, d) }

//go:noinline
func f6(p *path, d int) { step(p, d) }

//go:noinline
func f7(p *path, d int) { step(p, d) }

//go:noinline
func f8(p *path, d int) { step(p, d) }

//go:noinline
func f9(p *path, d int) { step(p, d) }

//go:noinline
func f10(p *path, d int) { step(p, d) }

//go:noinline
func f11(p *path, d int) { step(p, d) }

//go:noinline
func f12(p *path, d int) { step(p, d) }

//go:noinline
func f13(p *path, d int) { step(p, d) }

//go:noinline
func f14(p *path, d int) { step(p, d) }

//go:noinline
func f15(p *path, d int) { step(p, d) }

func main() {
	paths := flag.Int("paths", 100000, "distinct call paths to allocate from")
	seed := flag.Uint64("seed", 1234567, "PRNG seed")
	out := flag.String("out", "heap.pb.gz", "where to write the heap profile")
	flag.Parse()
	state = *seed
	// Go records at most 32 frames per stack (1.19): 24 calls + step/leaf/main frames fit.
	p := &path{steps: make([]uint8, 0, 24)}
	for i := 0; i < *paths; i++ {
		n := 6 + int(next()%19)
		p.steps = p.steps[:0]
		for j := 0; j < n; j++ {
			p.steps = append(p.steps, uint8(next()%16))
		}
		p.size = sizes[next()%uint64(len(sizes))]
		p.count = 1 + int(next()%3)
		p.keep = next()%4 == 0
		step(p, 0)
	}
	runtime.GC()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d paths, %d objects kept\n", *paths, len(kept))
	runtime.KeepAlive(kept)
}
