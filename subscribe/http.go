package subscribe

import (
	"bytes"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Handler serves the public side: POST /subscribe (the status page's
// form), GET and POST /subscribe/confirm?t= and /unsubscribe?t=. A GET
// only shows a button: mail scanners that open every link must not
// confirm or unsubscribe anyone; the POST does it (and a mail client's
// one-click unsubscribe, RFC 8058, posts too).
type Handler struct {
	Store *Store
	Title string
	// Components lists the public components one may subscribe to.
	Components func() []string
	Now        func() time.Time
	Logger     *slog.Logger

	limit, links limiter
}

// Requests a client address may make in a window: enough for a person,
// too few to flood.
const (
	perClient    = 6
	clientWindow = 10 * time.Minute
	maxClients   = 10000
)

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /subscribe", h.subscribe)
	mux.HandleFunc("GET /subscribe/confirm", h.confirmForm)
	mux.HandleFunc("POST /subscribe/confirm", h.confirm)
	mux.HandleFunc("GET /unsubscribe", h.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe", h.unsubscribe)
}

var page = template.Must(template.New("p").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Heading}} · {{.Title}}</title>
<link rel="stylesheet" href="/admin/static/style.css"></head>
<body><main class="public subscribe"><h1>{{.Heading}}</h1>
<p>{{.Text}}</p>
{{if .Action}}<form method="post" action="{{.Action}}"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">{{.Button}}</button></form>{{end}}
<p class="hint"><a href="/">Back to the {{.Title}} page</a></p>
</main></body></html>
`))

type pageData struct {
	Title, Heading, Text, Action, Token, Button string
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	d.Title = h.Title
	if d.Title == "" {
		d.Title = "Status"
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// allowed applies a client's limit: the form, which sends mail, allows
// few; the links, which send none, more.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, l *limiter, n int) bool {
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	if !l.allow(ip, h.Now(), n) {
		w.Header().Set("Retry-After", "600")
		h.render(w, http.StatusTooManyRequests, pageData{Heading: "Too many requests", Text: "Please try again in a few minutes."})
		return false
	}
	return true
}

func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(w, r, &h.limit, perClient) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, pageData{Heading: "Not subscribed", Text: "The form could not be read."})
		return
	}
	var comps []string
	known := h.Components()
	for _, c := range r.PostForm["component"] {
		if !slices.Contains(known, c) {
			h.render(w, http.StatusBadRequest, pageData{Heading: "Not subscribed", Text: "No such component: " + c})
			return
		}
		comps = append(comps, c)
	}
	err := h.Store.Subscribe(r.Context(), r.PostForm.Get("email"), comps, h.Now())
	switch {
	case err == ErrAddress:
		h.render(w, http.StatusBadRequest, pageData{Heading: "Not subscribed", Text: "That is not an email address we can write to (give a bare address such as ana@example.org)."})
		return
	case err != nil:
		h.Logger.Error("subscribe", "err", err)
		h.render(w, http.StatusServiceUnavailable, pageData{Heading: "Not subscribed", Text: "The subscription could not be stored; please try again later."})
		return
	}
	// The same answer whether the address was new, waiting or confirmed:
	// the page must not tell who subscribes.
	h.render(w, http.StatusOK, pageData{Heading: "Check your mailbox",
		Text: "If the address can be subscribed, a message with a confirmation link is on its way. Nothing else is sent until you confirm."})
}

func (h *Handler) confirmForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, pageData{Heading: "Confirm your subscription", Text: "Press the button to start getting status updates by email.",
		Action: "/subscribe/confirm", Token: r.URL.Query().Get("t"), Button: "Confirm"})
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(w, r, &h.links, 10*perClient) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ok, err := h.Store.Confirm(r.Context(), tokenOf(r), h.Now())
	switch {
	case err != nil:
		h.Logger.Error("confirm subscription", "err", err)
		h.render(w, http.StatusServiceUnavailable, pageData{Heading: "Not confirmed", Text: "Please try again later."})
	case !ok:
		h.render(w, http.StatusNotFound, pageData{Heading: "Not confirmed", Text: "This link is not valid (any more). Subscribe again on the status page."})
	default:
		h.render(w, http.StatusOK, pageData{Heading: "Subscribed", Text: "You will get an email when an incident opens, on each update, when it is resolved, and about planned maintenance. Every message has a link to unsubscribe."})
	}
}

func tokenOf(r *http.Request) string {
	if t := r.URL.Query().Get("t"); t != "" {
		return t
	}
	return r.PostFormValue("t")
}

func (h *Handler) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, pageData{Heading: "Unsubscribe", Text: "Press the button to stop status updates by email and delete your address.",
		Action: "/unsubscribe", Token: r.URL.Query().Get("t"), Button: "Unsubscribe"})
}

func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(w, r, &h.links, 10*perClient) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ok, err := h.Store.Unsubscribe(r.Context(), tokenOf(r))
	switch {
	case err != nil:
		h.Logger.Error("unsubscribe", "err", err)
		h.render(w, http.StatusServiceUnavailable, pageData{Heading: "Not unsubscribed", Text: "Please try again later."})
	case !ok:
		// Already gone, or a bad link: either way nothing more is sent
		// to whoever the link was for.
		h.render(w, http.StatusOK, pageData{Heading: "Unsubscribed", Text: "This address gets no status updates."})
	default:
		h.render(w, http.StatusOK, pageData{Heading: "Unsubscribed", Text: "Your address is deleted; you get no more status updates."})
	}
}

// limiter counts requests per client address in fixed windows, keeping
// at most maxClients addresses (the oldest windows go first).
type limiter struct {
	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func (l *limiter) allow(key string, now time.Time, per int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*window{}
	}
	w, ok := l.m[key]
	if !ok || now.Sub(w.start) >= clientWindow {
		if !ok && len(l.m) >= maxClients {
			for k, v := range l.m {
				if now.Sub(v.start) >= clientWindow {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxClients {
				return false // under a flood, new clients wait
			}
		}
		w = &window{start: now}
		l.m[key] = w
	}
	w.n++
	return w.n <= per
}
