package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Silence mutes the alerts whose labels match all its matchers between
// Starts and Ends. A muted alert is kept on its outbox row as
// "suppressed: silenced by #ID", never sent.
type Silence struct {
	ID       int64     `json:"id"`
	Matchers []Matcher `json:"matchers"`
	Starts   time.Time `json:"starts"`
	Ends     time.Time `json:"ends"`
	Author   string    `json:"author"`
	Comment  string    `json:"comment"`
	Created  time.Time `json:"created"`
	Active   bool      `json:"active"`
}

// ErrSilence is a silence that cannot be created as given.
var ErrSilence = errors.New("bad silence")

// CreateSilence validates and stores a silence; a zero Starts is now.
func CreateSilence(ctx context.Context, db *sql.DB, s Silence, now time.Time) (Silence, error) {
	if len(s.Matchers) == 0 {
		return s, fmt.Errorf("%w: give at least one matcher", ErrSilence)
	}
	ms, err := compileMatchers(s.Matchers)
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrSilence, err)
	}
	s.Matchers = ms
	if strings.TrimSpace(s.Author) == "" || strings.TrimSpace(s.Comment) == "" {
		return s, fmt.Errorf("%w: author and comment are required (say who and why)", ErrSilence)
	}
	if len(s.Author) > 200 || len(s.Comment) > 2000 {
		return s, fmt.Errorf("%w: author or comment too long", ErrSilence)
	}
	if s.Starts.IsZero() {
		s.Starts = now
	}
	if !s.Ends.After(s.Starts) || !s.Ends.After(now) {
		return s, fmt.Errorf("%w: ends must be after starts and in the future", ErrSilence)
	}
	s.Created = now
	mj, _ := json.Marshal(s.Matchers)
	res, err := db.ExecContext(ctx, `INSERT INTO silences(matchers, starts, ends, author, comment, created) VALUES(?,?,?,?,?,?)`,
		string(mj), s.Starts.UnixNano(), s.Ends.UnixNano(), s.Author, s.Comment, now.UnixNano())
	if err != nil {
		return s, fmt.Errorf("store silence: %w", err)
	}
	s.ID, _ = res.LastInsertId()
	s.Active = !s.Starts.After(now)
	return s, nil
}

// ListSilences returns the silences not yet over (all, with expired
// ones of the last week, when all is set), newest first.
func ListSilences(ctx context.Context, db *sql.DB, now time.Time, all bool) ([]Silence, error) {
	q := `SELECT id, matchers, starts, ends, author, comment, created FROM silences WHERE ends > ? AND starts <= ? ORDER BY id DESC`
	args := []any{now.UnixNano(), now.UnixNano()}
	if all {
		q = `SELECT id, matchers, starts, ends, author, comment, created FROM silences WHERE ends > ? ORDER BY id DESC`
		args = []any{now.Add(-7 * 24 * time.Hour).UnixNano()}
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	defer rows.Close()
	out := []Silence{}
	for rows.Next() {
		var s Silence
		var mj string
		var starts, ends, created int64
		if err := rows.Scan(&s.ID, &mj, &starts, &ends, &s.Author, &s.Comment, &created); err != nil {
			return nil, fmt.Errorf("read silences: %w", err)
		}
		var ms []Matcher
		if json.Unmarshal([]byte(mj), &ms) != nil {
			continue
		}
		if s.Matchers, err = compileMatchers(ms); err != nil {
			continue
		}
		s.Starts, s.Ends, s.Created = time.Unix(0, starts).UTC(), time.Unix(0, ends).UTC(), time.Unix(0, created).UTC()
		s.Active = !s.Starts.After(now) && s.Ends.After(now)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ExpireSilence ends a silence now; false when there is no such silence
// still running.
func ExpireSilence(ctx context.Context, db *sql.DB, id int64, now time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE silences SET ends = ? WHERE id = ? AND ends > ?`, now.UnixNano(), id, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("expire silence: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SilencesHandler serves GET, POST and DELETE on /api/v1/silences (the
// lead mounts it behind admin authentication): GET lists (?all=1 adds
// expired and future ones), POST creates from
// {"matchers":[{"name","op","value"}] or "match":["service=~db.*"],
// "starts","ends" or "duration","author","comment"}, DELETE
// /api/v1/silences/{id} (or ?id=) expires. Errors are {"error": "..."}.
func SilencesHandler(db *sql.DB, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			all := r.URL.Query().Get("all") != ""
			ss, err := ListSilences(r.Context(), db, now(), all)
			if err != nil {
				jsonError(w, http.StatusInternalServerError, "reading silences failed")
				return
			}
			writeJSON(w, http.StatusOK, ss)
		case http.MethodPost:
			var in struct {
				Silence
				Match    []string `json:"match"`
				Duration string   `json:"duration"`
			}
			dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				jsonError(w, http.StatusBadRequest, "want a JSON silence: "+err.Error())
				return
			}
			s := in.Silence
			for _, m := range in.Match {
				pm, err := ParseMatcher(m)
				if err != nil {
					jsonError(w, http.StatusBadRequest, err.Error())
					return
				}
				s.Matchers = append(s.Matchers, pm)
			}
			t := now()
			if in.Duration != "" {
				dur, err := time.ParseDuration(in.Duration)
				if err != nil || dur <= 0 {
					jsonError(w, http.StatusBadRequest, "duration: want e.g. 2h")
					return
				}
				if s.Starts.IsZero() {
					s.Starts = t
				}
				s.Ends = s.Starts.Add(dur)
			}
			s, err := CreateSilence(r.Context(), db, s, t)
			if errors.Is(err, ErrSilence) {
				jsonError(w, http.StatusBadRequest, err.Error())
				return
			} else if err != nil {
				jsonError(w, http.StatusInternalServerError, "storing the silence failed")
				return
			}
			writeJSON(w, http.StatusCreated, s)
		case http.MethodDelete:
			idStr := r.URL.Query().Get("id")
			if idStr == "" {
				idStr = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
			}
			id, err := strconv.ParseInt(idStr, 10, 64)
			if err != nil || id <= 0 {
				jsonError(w, http.StatusBadRequest, "want a silence id: DELETE /api/v1/silences/{id}")
				return
			}
			ok, err := ExpireSilence(r.Context(), db, id, now())
			if err != nil {
				jsonError(w, http.StatusInternalServerError, "expiring the silence failed")
				return
			}
			if !ok {
				jsonError(w, http.StatusNotFound, fmt.Sprintf("no running silence #%d", id))
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"id": id, "expired": true})
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			jsonError(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
