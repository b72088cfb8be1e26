package checker

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// TestS3Arrival: a file check with an s3:// target lists the objects under
// a prefix of a real S3-compatible server (gofakes3, built from its pinned
// module as a test tool): count, the newest object's age and size, and its
// size against the one before.
func TestS3Arrival(t *testing.T) {
	bin := peers.BuildGo(t, "github.com/johannesboyne/gofakes3", "v1.2.0", "cmd/gofakes3")
	addr := peers.Addr(peers.FreePort(t))
	p := peers.Start(t, filepath.Join(bin, "gofakes3"), "-backend", "memory", "-initialbucket", "backups", "-host", addr, "-quiet")
	p.WaitTCP(addr, 30*time.Second)

	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("key", "secret", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(key string, size int) {
		t.Helper()
		if _, err := mc.PutObject(ctx, "backups", key, bytes.NewReader(make([]byte, size)), int64(size), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("nightly/db-2026-11-24.sql.gz", 1000)
	put("other/ignore.me", 5)
	time.Sleep(1100 * time.Millisecond) // object times have a second's resolution
	put("nightly/db-2026-11-25.sql.gz", 550)

	check := func(target string, conds, warns []string) Result {
		t.Helper()
		pr, err := Compile(config.Check{Name: "offsite", Type: "file", Target: target, Conditions: conds, WarnConditions: warns,
			S3Endpoint: "http://" + addr, S3Region: "us-east-1", S3AccessKey: "key", S3SecretKey: "secret"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return pr.Run(ctx)
	}
	r := check("s3://backups/nightly/", []string{"count == 2", "newest_age < 1h", "newest_size == 550"}, []string{"size_change_pct > -40"})
	if !r.Success || !r.Degraded {
		t.Fatalf("want up but degraded (45%% smaller than the night before): %+v", r)
	}
	if r := check("s3://backups/weekly/", nil, nil); r.Success {
		t.Fatalf("an empty prefix passed: %+v", r)
	}
	if r := check("s3://nosuchbucket/x", nil, nil); r.Success || !strings.Contains(r.Error, "nosuchbucket") {
		t.Fatalf("a missing bucket: %+v", r)
	}
	if _, err := Compile(config.Check{Name: "b", Type: "file", Target: "s3://backups/x"}, Options{}); err == nil {
		t.Error("an s3:// target without s3_endpoint compiled")
	}
}
