package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// socketConn is one Socket Mode connection an app opened.
type socketConn struct {
	conn *websocket.Conn
	mu   sync.Mutex // one writer at a time
}

func (c *socketConn) send(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.WriteJSON(v)
}

// connectionsOpen answers apps.connections.open with a WebSocket URL.
func (s *Server) connectionsOpen(*request) (map[string]any, *apiError) {
	u := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket?ticket=fake"
	return map[string]any{"url": u}, nil
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// serveSocket accepts a Socket Mode connection, says hello as Slack does,
// and routes the app's acknowledgements to the envelopes waiting for them.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &socketConn{conn: conn}
	s.mu.Lock()
	s.sockets = append(s.sockets, c)
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for i, x := range s.sockets {
			if x == c {
				s.sockets = append(s.sockets[:i], s.sockets[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		conn.Close()
	}()
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0KEYLEAK"}, "debug_info": map[string]any{"host": "slackfake"}}
	if err := c.send(hello); err != nil {
		return
	}
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		s.mu.Lock()
		ch, ok := s.acks[ack.EnvelopeID]
		delete(s.acks, ack.EnvelopeID)
		s.mu.Unlock()
		if ok {
			ch <- ack.Payload
		}
	}
}

// SocketConnected reports whether an app holds a Socket Mode connection.
func (s *Server) SocketConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets) > 0
}

// SendSocketSlashCommand delivers a slash command over Socket Mode, as
// Slack does for apps without a public URL, and returns the payload the
// app acknowledged it with. form is completed by SlashCommandForm.
func (s *Server) SendSocketSlashCommand(ctx context.Context, form url.Values) (json.RawMessage, error) {
	form = s.SlashCommandForm(form)
	payload := map[string]string{}
	for k := range form {
		payload[k] = form.Get(k)
	}
	s.mu.Lock()
	if len(s.sockets) == 0 {
		s.mu.Unlock()
		return nil, errors.New("no app is connected over Socket Mode")
	}
	c := s.sockets[len(s.sockets)-1]
	s.nextID++
	id := fmt.Sprintf("env-%08d", s.nextID)
	ch := make(chan json.RawMessage, 1)
	s.acks[id] = ch
	s.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": "slash_commands", "payload": payload, "accepts_response_payload": true}
	if err := c.send(env); err != nil {
		return nil, fmt.Errorf("send envelope: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, SlashCommandTimeout)
	defer cancel()
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
		return nil, fmt.Errorf("no acknowledgement of %s: %w", id, ctx.Err())
	}
}
