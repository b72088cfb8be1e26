package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

func TestMemManyFiles(t *testing.T) {
	if os.Getenv("WP_MEM") == "" {
		t.Skip()
	}
	dir := t.TempDir()
	for d := 0; d < 50; d++ {
		os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%02d", d)), 0o755)
		for f := 0; f < 20; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%02d/app%02d.log", d, f)), []byte(fmt.Sprintf("many d%02d f%02d first line\n", d, f)), 0o644)
		}
	}
	sink := &discardSink{}
	r, _ := NewRunner(Config{Files: []FileConfig{{Path: filepath.Join(dir, "d*/app*.log")}}, StateDir: t.TempDir()}, sink, time.Now, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { r.Run(ctx); close(done) }()
	for r.shipped.Get() < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("1000 lines in %v", time.Since(start))
	time.Sleep(2 * time.Second)
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for s := 0; s < 5; s++ {
		for d := 0; d < 50; d++ {
			for f := 0; f < 20; f++ {
				fh, _ := os.OpenFile(filepath.Join(dir, fmt.Sprintf("d%02d/app%02d.log", d, f)), os.O_APPEND|os.O_WRONLY, 0)
				fmt.Fprintf(fh, "many d%02d f%02d second %d\n", d, f, s)
				fh.Close()
			}
		}
		time.Sleep(time.Second)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("before GC: heap in use %d kB, sys %d kB, allocated during the 5 s %d kB, %d GCs", ms.HeapInuse>>10, ms.Sys>>10, (ms.TotalAlloc-ms0.TotalAlloc)>>10, ms.NumGC-ms0.NumGC)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("after GC: heap in use %d kB, live %d kB", ms.HeapInuse>>10, ms.HeapAlloc>>10)
	if p := os.Getenv("WP_HEAP"); p != "" {
		f, _ := os.Create(p)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	cancel()
	<-done
}
