package deps
import (
 _ "github.com/VictoriaMetrics/metrics"
 _ "github.com/nxadm/tail"
 _ "github.com/miekg/dns"
 _ "github.com/mattn/go-sqlite3"
 _ "github.com/gorilla/websocket"
 _ "go.yaml.in/yaml/v3"
 _ "golang.org/x/crypto/bcrypt"
 _ "github.com/klauspost/compress/zstd"
 _ "golang.org/x/term"
)
