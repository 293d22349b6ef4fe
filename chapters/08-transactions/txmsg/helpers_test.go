package txmsg_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/crashdb"
	"github.com/gomicrolab/microlab/chapters/08-transactions/txmsg"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// kafkaWait bounds every Kafka call: records on loopback take milliseconds; the bound is for a loaded machine.
const kafkaWait = 20 * time.Second

// env is one business service (a process that can crash) and one message server publishing to its own topic.
type env struct {
	t        *testing.T
	bizDSN   string
	observer *sql.DB          // the business database, seen from outside the process under test
	proc     *crashdb.Process // the business process that runs DoAndSubmit
	svc      *txmsg.Service   // that process's service, talking to the server through msgs
	msgs     *hookedServer
	srv      *txmsg.Server
	topic    string
	brokers  []string

	mu      sync.Mutex
	answers map[string][]txmsg.Outcome // gid -> what the back-check answered the checker, in order
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, bizDSN: infra.MySQL(t), answers: map[string][]txmsg.Outcome{}}
	var err error
	e.observer, err = sql.Open("mysql", e.bizDSN)
	require.NoError(t, err)
	t.Cleanup(func() { e.observer.Close() })
	require.NoError(t, txmsg.Migrate(ctx, e.observer), "Migrate")

	srvDB, err := sql.Open("mysql", infra.MySQL(t)) // the message server has a database of its own
	require.NoError(t, err)
	t.Cleanup(func() { srvDB.Close() })
	require.NoError(t, txmsg.MigrateServer(ctx, srvDB), "MigrateServer")

	ep := infra.Kafka(t)
	e.brokers = ep.Brokers
	e.topic = ep.TopicPrefix + "orders"
	cl, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	cctx, cancel := context.WithTimeout(ctx, kafkaWait)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(cctx, 1, 1, nil, e.topic)
	if err == nil {
		err = resp.Err
	}
	require.NoError(t, err, "create topic %s", e.topic)

	// Back-checks are answered by another instance of the business service: any live instance can answer.
	checker := &txmsg.Service{DB: e.observer}
	e.srv = &txmsg.Server{DB: srvDB, Producer: cl, BackCheck: func(ctx context.Context, gid string) (txmsg.Outcome, error) {
		o, err := checker.QueryPrepared(ctx, gid)
		if err == nil {
			e.mu.Lock()
			e.answers[gid] = append(e.answers[gid], o)
			e.mu.Unlock()
		}
		return o, err
	}}
	e.proc = crashdb.New(e.bizDSN)
	e.msgs = &hookedServer{real: e.srv, proc: e.proc}
	e.svc = &txmsg.Service{DB: e.proc.Open(t, e.bizDSN), Msgs: e.msgs}
	return e
}

// msgKey is the Kafka key of every message of msg: one user's events share a partition key, and a key is not
// a message's identity (its gid is).
const msgKey = "user-7"

// msg returns a message on the env's topic.
func (e *env) msg(gid string) txmsg.Msg {
	return txmsg.Msg{Gid: gid, Topic: e.topic, Key: msgKey, Payload: []byte(`{"gid":"` + gid + `"}`)}
}

// insertOrder is a business step: it inserts order id in tx.
func insertOrder(ctx context.Context, id string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO orders (id, user_id, total) VALUES (?, 1, 100)`, id)
		return err
	}
}

// orderExists says whether order id is committed, read from outside the business process.
func (e *env) orderExists(id string) bool {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.observer.QueryRow(`SELECT COUNT(*) FROM orders WHERE id = ?`, id).Scan(&n))
	return n == 1
}

// published returns how many records the topic holds. Publishing is synchronous, so this is exact at once.
func (e *env) published() int64 {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	require.NoError(e.t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, e.topic)
	require.NoError(e.t, err, "end offsets of %s", e.topic)
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// records reads the topic's n records from its start.
func (e *env) records(n int) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(e.t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	require.Len(e.t, out, n, "records read back from %s", e.topic)
	return out
}

// state returns gid's state on the message server.
func (e *env) state(gid string) txmsg.State {
	e.t.Helper()
	st, err := e.srv.State(context.Background(), gid)
	require.NoError(e.t, err, "State(%s)", gid)
	return st
}

// check runs the message server's checker once over every prepared message, as its timer would.
func (e *env) check() {
	e.t.Helper()
	if _, err := e.srv.CheckOnce(context.Background(), 0); err != nil {
		e.t.Fatalf("CheckOnce = %v, want nil: the back-check must answer Committed or RolledBack for a "+
			"transaction that is not running", err)
	}
}

func (e *env) backCheckAnswers(gid string) []txmsg.Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]txmsg.Outcome(nil), e.answers[gid]...)
}

// hookedServer is the business's connection to the message server. Hooks run around the real calls: a
// before-hook's error is returned without calling the server (the request was lost); an after-hook's error
// is returned after the server did the work (the answer was lost).
type hookedServer struct {
	real          *txmsg.Server
	proc          *crashdb.Process // a crashed process makes no more calls
	beforePrepare func(m txmsg.Msg) error
	afterPrepare  func(m txmsg.Msg) error
	beforeSubmit  func(gid string) error
	afterSubmit   func(gid string) error
	beforeAbort   func(gid string) error

	mu    sync.Mutex
	calls []string
	busy  int // calls that have started and not yet returned
}

// snapshot returns the calls made so far, and how many of them have not yet returned.
func (h *hookedServer) snapshot() (calls []string, inFlight int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...), h.busy
}

func (h *hookedServer) begin() func() {
	h.mu.Lock()
	h.busy++
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.busy--
		h.mu.Unlock()
	}
}

func (h *hookedServer) record(call string) error {
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
	if h.proc.Dead() {
		return crashdb.ErrCrashed
	}
	return nil
}

func (h *hookedServer) Prepare(ctx context.Context, m txmsg.Msg) error {
	defer h.begin()()
	if err := h.record("Prepare " + m.Gid); err != nil {
		return err
	}
	if h.beforePrepare != nil {
		if err := h.beforePrepare(m); err != nil {
			return err
		}
	}
	if err := h.real.Prepare(ctx, m); err != nil {
		return err
	}
	if h.afterPrepare != nil {
		return h.afterPrepare(m)
	}
	return nil
}

func (h *hookedServer) Submit(ctx context.Context, gid string) error {
	defer h.begin()()
	if err := h.record("Submit " + gid); err != nil {
		return err
	}
	if h.beforeSubmit != nil {
		if err := h.beforeSubmit(gid); err != nil {
			return err
		}
	}
	if err := h.real.Submit(ctx, gid); err != nil {
		return err
	}
	if h.afterSubmit != nil {
		return h.afterSubmit(gid)
	}
	return nil
}

func (h *hookedServer) Abort(ctx context.Context, gid string) error {
	defer h.begin()()
	if err := h.record("Abort " + gid); err != nil {
		return err
	}
	if h.beforeAbort != nil {
		if err := h.beforeAbort(gid); err != nil {
			return err
		}
	}
	return h.real.Abort(ctx, gid)
}

var (
	errBusiness = errors.New("out of stock (a business failure)")
	errLost     = errors.New("connection reset by peer (the call to the message server was lost)")
)

// logCapture records what the code under test logs through log/slog's default logger until the test ends
// (slog.SetDefault also routes the log package there, so log.Printf counts too). The tests never run in
// parallel, so swapping the process-wide default is safe.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func captureLog(t *testing.T) *logCapture {
	c := &logCapture{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return c
}
