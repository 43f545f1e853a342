package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyleak/keyleak/state"
)

// runOutbox is "keyleak outbox dead [--incident ID]" and "keyleak outbox
// requeue ID…": the messages keyleak gave up delivering, and sending them
// again once what failed is fixed.
func runOutbox(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "dead" && args[0] != "requeue") {
		return fmt.Errorf("%w: outbox needs dead or requeue", errUsage)
	}
	fs := flag.NewFlagSet("outbox "+args[0], flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	incident := fs.String("incident", "", "only this incident's dead letters")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	if args[0] == "dead" {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: outbox dead takes only --incident", errUsage)
		}
		id := strings.ToUpper(*incident)
		dead, err := fromDatabaseOrServer(ctx, cfg, "/outbox/dead?incident="+id,
			func(s *state.Store) (d []state.Message, err error) {
				err = s.View(func(tx *state.Tx) (err error) { d, err = tx.DeadLetters(id); return err })
				return d, err
			}, decodeJSON[[]state.Message])
		if err != nil {
			return err
		}
		printDeadLetters(stdout, dead)
		return nil
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: outbox requeue needs the IDs of dead letters (outbox dead lists them)", errUsage)
	}
	var ids []uint64
	for _, a := range fs.Args() {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %q is not the number of a dead letter", errUsage, a)
		}
		ids = append(ids, id)
	}
	requeued, err := requeueDeadLetters(ctx, cfg, ids)
	for _, m := range requeued {
		fmt.Fprintf(stdout, "requeued %d (%s %s of %s)\n", m.ID, m.Channel, m.Kind, dash(m.Incident))
	}
	return err
}

func printDeadLetters(w io.Writer, dead []state.Message) {
	if len(dead) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINCIDENT\tCHANNEL\tKIND\tATTEMPTS\tDEAD AT\tLAST ERROR")
	for _, m := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, dash(m.Incident), m.Channel, m.Kind, m.Attempts, m.DeadAt.UTC().Format(time.RFC3339), m.LastError)
	}
	tw.Flush()
}

// requeue moves dead letters back to the outbox, due now, and returns
// those it moved; it stops at the first it cannot move.
func requeue(s *state.Store, ids []uint64, now time.Time) ([]state.Message, error) {
	var out []state.Message
	err := s.Update(func(tx *state.Tx) error {
		for _, id := range ids {
			m, err := tx.Requeue(id, now)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// requeueDeadLetters requeues in the database, or through the running
// server's admin API when it holds the database.
func requeueDeadLetters(ctx context.Context, cfg Config, ids []uint64) ([]state.Message, error) {
	var out []state.Message
	err := withDatabase(cfg, func(s *state.Store) (err error) { out, err = requeue(s, ids, time.Now()); return err })
	if !errors.Is(err, state.ErrLocked) {
		return out, err
	}
	body, _ := json.Marshal(ids) // a list of numbers always marshals
	resp, err := adminDo(ctx, cfg, http.MethodPost, "/outbox/requeue", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return decodeJSON[[]state.Message](resp.Body)
}

// outboxHandlers serve the dead letters on the admin API.
func (a *App) outboxHandlers(api *http.ServeMux) {
	api.HandleFunc("GET /outbox/dead", func(w http.ResponseWriter, r *http.Request) {
		var dead []state.Message
		id := r.URL.Query().Get("incident")
		if err := a.store.View(func(tx *state.Tx) (err error) { dead, err = tx.DeadLetters(id); return err }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, dead)
	})
	api.HandleFunc("POST /outbox/requeue", func(w http.ResponseWriter, r *http.Request) {
		var ids []uint64
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&ids); err != nil {
			http.Error(w, "send a JSON list of dead-letter IDs", http.StatusBadRequest)
			return
		}
		out, err := requeue(a.store, ids, a.now())
		switch {
		case errors.Is(err, state.ErrNotFound), errors.Is(err, state.ErrUndecodable):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a.worker.Wake()
		a.log.InfoContext(r.Context(), "dead letters requeued by an operator", "ids", ids)
		writeJSON(w, out)
	})
}
