package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// incidentDetail is one incident with everything recorded about it, as
// the admin endpoint serves it and the terminal prints it.
type incidentDetail struct {
	Incident state.Incident  `json:"incident"`
	Actions  []state.Action  `json:"actions"`
	Timeline []state.Event   `json:"timeline"`
	Pending  []state.Message `json:"pending"`
	Dead     []state.Message `json:"dead"`
}

func loadDetail(tx *state.Tx, id string) (incidentDetail, error) {
	var d incidentDetail
	var err error
	if d.Incident, err = tx.Incident(id); err != nil {
		return d, err
	}
	if d.Actions, err = tx.Actions(id); err != nil {
		return d, err
	}
	if d.Timeline, err = tx.Timeline(id); err != nil {
		return d, err
	}
	if d.Pending, err = tx.Pending(id); err != nil {
		return d, err
	}
	d.Dead, err = tx.DeadLetters(id)
	return d, err
}

// adminHandler serves the loopback-only admin API the terminal commands
// use while keyleak serve holds the database. Every request must name a
// loopback host (so that a web page cannot reach it through DNS
// rebinding) and, but for the probes, carry the bearer token serve wrote
// next to the database.
func (a *App) adminHandler() http.Handler {
	mux := http.NewServeMux()
	a.probes(mux)
	api := http.NewServeMux()
	mux.Handle("/", a.requireAdminToken(api))
	api.HandleFunc("GET /backup", a.serveBackup)
	a.outboxHandlers(api)
	api.HandleFunc("GET /incidents", func(w http.ResponseWriter, r *http.Request) {
		f := state.IncidentFilter{Status: state.IncidentOpen}
		if r.URL.Query().Get("all") == "1" {
			f.Status = ""
		}
		var incs []state.Incident
		if err := a.store.View(func(tx *state.Tx) (err error) { incs, err = tx.Incidents(f); return err }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, incs)
	})
	api.HandleFunc("GET /incidents/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		md, err := a.reports.Render(r.Context(), r.PathValue("id"))
		if errors.Is(err, state.ErrNotFound) {
			http.Error(w, "no such incident", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		io.WriteString(w, md)
	})
	api.HandleFunc("GET /incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		var d incidentDetail
		err := a.store.View(func(tx *state.Tx) (err error) { d, err = loadDetail(tx, r.PathValue("id")); return err })
		if errors.Is(err, state.ErrNotFound) {
			http.Error(w, "no such incident", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, d)
	})
	return loopbackOnly(mux)
}

// serveBackup copies the database to a temporary file, which holds a read
// transaction only as long as the disk takes, and then serves the file: a
// client that reads slowly, or stops, holds no transaction and so never
// holds back the writes of the response.
func (a *App) serveBackup(w http.ResponseWriter, r *http.Request) {
	dir, err := os.MkdirTemp(filepath.Dir(a.store.Path()), ".keyleak-backup-")
	if err != nil {
		a.log.ErrorContext(r.Context(), "backup", "err", err)
		http.Error(w, "backup failed; see keyleak's log", http.StatusInternalServerError)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keyleak.db")
	if _, err := a.store.BackupFile(path); err != nil {
		a.log.ErrorContext(r.Context(), "backup", "err", err)
		http.Error(w, "backup failed; see keyleak's log", http.StatusInternalServerError)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		a.log.ErrorContext(r.Context(), "backup", "err", err)
		http.Error(w, "backup failed; see keyleak's log", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "keyleak.db", time.Time{}, f)
}

// loopbackOnly refuses requests whose Host is not a loopback name or
// address: a browser tricked into calling the admin port through a
// rebound DNS name sends that name.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			http.Error(w, "the admin API answers only to a loopback host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdminToken refuses requests without the admin token.
func (a *App) requireAdminToken(next http.Handler) http.Handler {
	want := []byte("Bearer " + a.adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "the admin API needs the token keyleak serve wrote to "+adminTokenPath(a.cfg), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminTokenPath is where serve writes the admin API's token: next to the
// database, readable only by keyleak's user, as the database is.
func adminTokenPath(cfg Config) string { return cfg.Database + ".admin-token" }

// writeAdminToken makes a new token and writes it, mode 0600, through a
// temporary file renamed into place.
func writeAdminToken(cfg Config) (string, error) {
	token := randomSecret()
	path := adminTokenPath(cfg)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the admin token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write the admin token: %w", err)
	}
	return token, nil
}

// readAdminToken reads the token a running serve wrote.
func readAdminToken(cfg Config) (string, error) {
	b, err := os.ReadFile(adminTokenPath(cfg))
	if err != nil {
		return "", fmt.Errorf("the database is in use; to ask the running keyleak serve, keyleak needs its admin token: %w "+
			"(run this as the user keyleak serve runs as, with the same database setting)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// withDatabase opens the database directly when no keyleak serve holds
// it; otherwise it returns ErrLocked and the caller asks the server.
func withDatabase(cfg Config, fn func(*state.Store) error) error {
	s, err := state.Open(cfg.Database, state.Options{LockTimeout: 300 * time.Millisecond})
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// adminGet fetches path from the running server's admin listener.
func adminGet(ctx context.Context, cfg Config, path string) (*http.Response, error) {
	return adminDo(ctx, cfg, http.MethodGet, path, nil)
}

// adminDo asks the running server's admin listener, with its token.
func adminDo(ctx context.Context, cfg Config, method, path string, body io.Reader) (*http.Response, error) {
	token, err := readAdminToken(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+cfg.AdminListen+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req) // gives up on a server that stops answering
	if err != nil {
		return nil, fmt.Errorf("the database is in use and keyleak serve's admin address %s does not answer: %w", cfg.AdminListen, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, state.ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("keyleak serve answered %s for %s: %s", resp.Status, path, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// fromDatabaseOrServer reads with read when no keyleak serve holds the
// database, and otherwise asks the running server's admin API at path,
// decoding its answer with decode.
func fromDatabaseOrServer[T any](ctx context.Context, cfg Config, path string, read func(*state.Store) (T, error), decode func(io.Reader) (T, error)) (T, error) {
	var v T
	err := withDatabase(cfg, func(s *state.Store) (err error) { v, err = read(s); return err })
	if !errors.Is(err, state.ErrLocked) {
		return v, err
	}
	resp, err := adminGet(ctx, cfg, path)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return decode(resp.Body)
}

func decodeJSON[T any](r io.Reader) (T, error) {
	var v T
	err := json.NewDecoder(r).Decode(&v)
	return v, err
}

func runIncidents(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: incidents needs list or show ID", errUsage)
	}
	fs := flag.NewFlagSet("incidents "+args[0], flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	all := fs.Bool("all", false, "include closed incidents")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: incidents list takes no arguments", errUsage)
		}
		f := state.IncidentFilter{Status: state.IncidentOpen}
		path := "/incidents"
		if *all {
			f.Status, path = "", "/incidents?all=1"
		}
		incs, err := fromDatabaseOrServer(ctx, cfg, path, func(s *state.Store) (incs []state.Incident, err error) {
			err = s.View(func(tx *state.Tx) (err error) { incs, err = tx.Incidents(f); return err })
			return incs, err
		}, decodeJSON[[]state.Incident])
		if err != nil {
			return err
		}
		printIncidents(stdout, incs)
		return nil
	case "show":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: incidents show takes one incident ID", errUsage)
		}
		id := strings.ToUpper(fs.Arg(0))
		d, err := fromDatabaseOrServer(ctx, cfg, "/incidents/"+id, func(s *state.Store) (d incidentDetail, err error) {
			err = s.View(func(tx *state.Tx) (err error) { d, err = loadDetail(tx, id); return err })
			return d, err
		}, decodeJSON[incidentDetail])
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("there is no incident %s", id)
		}
		if err != nil {
			return err
		}
		printDetail(stdout, d)
		return nil
	case "report":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: incidents report takes one incident ID", errUsage)
		}
		id := strings.ToUpper(fs.Arg(0))
		md, err := fromDatabaseOrServer(ctx, cfg, "/incidents/"+id+"/report", func(s *state.Store) (string, error) {
			return (&commands.Reports{Store: s, Now: time.Now}).Render(ctx, id)
		}, func(r io.Reader) (string, error) {
			var b strings.Builder
			_, err := io.Copy(&b, r)
			return b.String(), err
		})
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("there is no incident %s", id)
		}
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, md)
		return nil
	default:
		return fmt.Errorf("%w: incidents %s: use list, show or report", errUsage, args[0])
	}
}

func printIncidents(w io.Writer, incs []state.Incident) {
	if len(incs) == 0 {
		fmt.Fprintln(w, "No incidents.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tSTATUS\tSEVERITY\tOWNER\tOPENED\tREPORTER")
	for _, in := range incs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.AccessKeyID, in.Status, in.Severity, dash(commands.OwnerText(in.Owner)), in.OpenedAt.UTC().Format(time.RFC3339), in.Reporter)
	}
	tw.Flush()
}

func printDetail(w io.Writer, d incidentDetail) {
	fmt.Fprintf(w, "%s  %s\n", d.Incident.ID, strings.ToUpper(string(d.Incident.Severity)))
	for _, f := range commands.IncidentFields(d.Incident) {
		fmt.Fprintf(w, "  %-12s %s\n", f.Label+":", f.Value)
	}
	if len(d.Actions) > 0 {
		fmt.Fprintln(w, "\nActions:")
		for _, a := range d.Actions {
			who := "-"
			if a.Approver != nil {
				who = a.Approver.String()
			}
			fmt.Fprintf(w, "  %s %-16s %-10s requested by %s, decided by %s\n", a.ID, a.Name, a.Status, a.Requester, who)
			if len(a.RequestIDs) > 0 {
				fmt.Fprintf(w, "      AWS request IDs: %s\n", strings.Join(a.RequestIDs, ", "))
			}
		}
	}
	if len(d.Dead) > 0 {
		fmt.Fprintln(w, "\nNot delivered:")
		for _, m := range d.Dead {
			fmt.Fprintf(w, "  %s via %s after %d attempts: %s\n", m.Kind, m.Channel, m.Attempts, m.LastError)
		}
	}
	if len(d.Pending) > 0 {
		fmt.Fprintf(w, "\n%d message(s) waiting for delivery.\n", len(d.Pending))
	}
	fmt.Fprintln(w, "\nTimeline:")
	for _, e := range d.Timeline {
		fmt.Fprintf(w, "  %s %s %s  [%s]\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Actor, e.Text, e.Kind)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runBackup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: backup takes the file to write", errUsage)
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	dst := fs.Arg(0)
	if abs, err := filepath.Abs(dst); err == nil {
		if db, err := filepath.Abs(cfg.Database); err == nil && abs == db {
			return fmt.Errorf("backup %s: that is the database itself", dst)
		}
	}
	var n int64
	err = withDatabase(cfg, func(s *state.Store) (err error) { n, err = s.BackupFile(dst); return err })
	if errors.Is(err, state.ErrLocked) {
		n, err = backupFromServer(ctx, cfg, dst)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", dst, n)
	return nil
}

// backupFromServer streams the running server's hot copy into dst through
// a temporary file, then checks that the copy opens as a database.
func backupFromServer(ctx context.Context, cfg Config, dst string) (int64, error) {
	resp, err := adminGet(ctx, cfg, "/backup")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var s *state.Store
		if s, err = state.Open(tmp, state.Options{LockTimeout: time.Second}); err == nil {
			err = s.Close()
		}
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("backup to %s: %w", dst, err)
	}
	return n, nil
}
