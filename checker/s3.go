//go:build !agent

package checker

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/watchpost/watchpost/config"
)

// s3Bucket is a file check's object storage: the backups are the objects
// under a prefix of an S3-compatible bucket, listed with minio-go (a
// well-kept client that speaks to B2, Wasabi, MinIO and AWS alike).
type s3Bucket struct {
	client *minio.Client
	name   string
	prefix string
}

// compileS3 reads s3://bucket/prefix with the check's s3_* keys.
func compileS3(p *Probe, c config.Check) error {
	u, err := url.Parse(c.Target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("file target %q: want s3://bucket/prefix", c.Target)
	}
	if c.S3Endpoint == "" {
		return fmt.Errorf("file target %q: an s3:// target needs s3_endpoint", c.Target)
	}
	endpoint, secure := c.S3Endpoint, true
	if strings.Contains(endpoint, "://") {
		e, err := url.Parse(endpoint)
		if err != nil || e.Host == "" || (e.Scheme != "http" && e.Scheme != "https") {
			return fmt.Errorf("s3_endpoint %q: want host[:port] or http(s)://host[:port]", c.S3Endpoint)
		}
		endpoint, secure = e.Host, e.Scheme == "https"
	}
	host, _, _ := strings.Cut(endpoint, ":")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = p.tlsConfig(host)
	client, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(c.S3AccessKey, string(c.S3SecretKey), ""),
		Secure:    secure,
		Region:    c.S3Region,
		Transport: tr,
	})
	if err != nil {
		return fmt.Errorf("s3_endpoint %q: %w", c.S3Endpoint, err)
	}
	p.bucket = &s3Bucket{client: client, name: u.Host, prefix: strings.TrimPrefix(u.Path, "/")}
	p.addr = endpoint
	return nil
}

// list returns every object under the prefix (folders' markers left out).
func (b *s3Bucket) list(ctx context.Context) ([]arrival, error) {
	var out []arrival
	for obj := range b.client.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", b.name, b.prefix, obj.Err)
		}
		if strings.HasSuffix(obj.Key, "/") {
			continue
		}
		out = append(out, arrival{mod: obj.LastModified, size: obj.Size})
	}
	return out, nil
}
