package choreo_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/08-transactions/choreo"
	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/lockwait"
	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/outbox"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// settleBound bounds every wait for the saga to settle. A flow takes well under a second here (four hops,
// each a relay poll of 10 ms and a local transaction); a restarted consumer rejoins its group in about a
// second. 60 s is for a loaded two-core machine running other tests.
const settleBound = 60 * time.Second

// stuckAfter is how many failures in a row of one event make settle give up at once.
const stuckAfter = 300

var services = []string{"order", "inventory", "payment", "shipping"}

// world is the four services, each with its own database, and the one topic they talk over.
type world struct {
	t       *testing.T
	brokers []string
	topic   string
	group   string // prefix of the consumer groups, one per service
	dsn     map[string]string
	db      map[string]*sql.DB // the test's own handles, to seed and inspect
	admin   *kadm.Client

	mu    sync.Mutex
	procs map[string]*proc
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ep := infra.Kafka(t)
	w := &world{t: t, brokers: ep.Brokers, topic: ep.TopicPrefix + "checkout", group: ep.TopicPrefix + "g-",
		dsn: map[string]string{}, db: map[string]*sql.DB{}, procs: map[string]*proc{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	w.admin = kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Three partitions: the events of one order share one (their key is the order id), different orders spread.
	if resp, err := w.admin.CreateTopic(ctx, 3, 1, nil, w.topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", w.topic, err, resp.Err)
	}
	for _, name := range services {
		w.dsn[name] = infra.MySQL(t) // a database per service: nobody else writes its tables
		db, err := sql.Open("mysql", w.dsn[name])
		if err != nil {
			t.Fatalf("open %s database: %v", name, err)
		}
		t.Cleanup(func() { db.Close() })
		w.db[name] = db
		if err := handler(name, db, w.topic).(migrator).Migrate(ctx); err != nil {
			t.Fatalf("migrate %s: %v", name, err)
		}
	}
	for _, name := range services {
		w.start(name, 0)
	}
	t.Cleanup(func() {
		for _, name := range services {
			w.proc(name).stop()
		}
	})
	return w
}

type migrator interface {
	Migrate(ctx context.Context) error
}

// handler is service name over db.
func handler(name string, db *sql.DB, topic string) choreo.Handler {
	s := choreo.Service{Name: name, DB: db, Topic: topic}
	switch name {
	case "order":
		return &choreo.OrderService{Service: s}
	case "inventory":
		return &choreo.Inventory{Service: s}
	case "payment":
		return &choreo.Payment{Service: s}
	case "shipping":
		return &choreo.Shipping{Service: s}
	}
	panic("unknown service " + name)
}

var errCrashed = errors.New("the process has crashed")

// errInjected is the database failing one statement of a process that lives on: a lost connection, a
// deadlock victim, a failover. A retry of the whole event can succeed.
var errInjected = errors.New("injected database failure: the statement failed, the process lives on")

// proc is one running process of a service: its consumer (group w.group+name) and its outbox relay, on
// database handles of its own. It can crash right after its handler's k-th commit: from then on every
// statement of the process fails, its context is cancelled, and it commits no offset, so the event it was
// handling is delivered again to the next process (the consumer-side at-least-once reality). A write that
// the handler runs outside a transaction commits on its own, so it counts as a commit too. Apart from
// crashes, one statement of the handler can fail while the process lives on (failAt).
type proc struct {
	name       string
	dead       atomic.Bool
	commits    atomic.Int64 // commits of the handler: its transactions, and its writes outside one
	crashAt    atomic.Int64 // crash right after this commit (0: never)
	statements atomic.Int64 // statements the handler ran, or tried to
	failAt     atomic.Int64 // this statement fails with errInjected (0: none)
	injected   atomic.Bool  // a statement failed with errInjected
	stopped    atomic.Bool  // stopped on purpose: the service is down, its events wait in the topic
	fails      atomic.Int64 // Handle calls that failed in a row (one event, retried)
	cancel     context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	lastErr    error
}

func (p *proc) die() {
	p.dead.Store(true)
	p.cancel()
}

// committed counts one commit of the handler, and kills the process right after it when it is the one
// crashAt names.
func (p *proc) committed() {
	if n := p.commits.Add(1); n == p.crashAt.Load() {
		p.die() // committed, and the process is gone before it can do anything else
	}
}

func (p *proc) stop() {
	p.stopped.Store(true)
	p.cancel()
	<-p.done
}

func (p *proc) setErr(err error) {
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

func (p *proc) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

func (w *world) proc(name string) *proc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs[name]
}

// start starts a process of service name that crashes right after its handler's crashAt-th commit (0: never).
func (w *world) start(name string, crashAt int64) *proc {
	t := w.t
	p := &proc{name: name, done: make(chan struct{})}
	p.crashAt.Store(crashAt)
	var ctx context.Context
	ctx, p.cancel = context.WithCancel(context.Background())
	handlerDB := openCrashable(t, w.dsn[name], p, true)
	relayDB := openCrashable(t, w.dsn[name], p, false)
	producer, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	if err != nil {
		t.Fatalf("producer for %s: %v", name, err)
	}
	h := handler(name, handlerDB, w.topic)
	relay := &outbox.Relay{DB: relayDB, Producer: producer, Service: name, Batch: 100}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		relay.Run(ctx, 10*time.Millisecond, nil)
	}()
	go func() {
		defer wg.Done()
		err := outbox.Consume(ctx, outbox.ConsumerConfig{
			Brokers: w.brokers, Group: w.group + name, Topic: w.topic, Backoff: 10 * time.Millisecond,
			OnError: p.setErr,
		}, func(ctx context.Context, r *kgo.Record) error {
			if p.dead.Load() {
				return errCrashed
			}
			ev, err := choreo.Decode(r.Value)
			if err != nil {
				return err
			}
			err = h.Handle(ctx, header(r, outbox.MessageIDHeader), ev)
			if p.dead.Load() {
				return errCrashed // the process died in this call: it never got to commit the offset
			}
			if err != nil {
				p.fails.Add(1)
			} else {
				p.fails.Store(0)
			}
			return err
		})
		if err != nil {
			p.setErr(err)
		}
	}()
	go func() {
		wg.Wait()
		producer.Close()
		close(p.done)
	}()
	w.mu.Lock()
	w.procs[name] = p
	w.mu.Unlock()
	return p
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// restart replaces a crashed (or running) process of service name by a new one that does not crash.
func (w *world) restart(name string) {
	w.proc(name).stop()
	w.start(name, 0)
}

// quiet reports whether nothing is left to do: every process alive, every outbox published, and every
// consumer group committed up to the end of the topic, with no record published meanwhile. A service that is
// down on purpose is not waited for: its events stay in the topic.
func (w *world) quiet(ctx context.Context) (bool, string) {
	for _, name := range services {
		if p := w.proc(name); p.dead.Load() && !p.stopped.Load() {
			return false, name + " crashed"
		}
	}
	ends, err := w.admin.ListEndOffsets(ctx, w.topic)
	if err != nil {
		return false, err.Error()
	}
	for _, name := range services {
		var offs kadm.OffsetResponses
		down := w.proc(name).stopped.Load() // down: its events wait in the topic, nothing to wait for
		if !down {
			if offs, err = w.admin.FetchOffsets(ctx, w.group+name); err != nil {
				return false, fmt.Sprintf("%s's consumer group: %v", name, err)
			}
		}
		behind := ""
		ends.Each(func(e kadm.ListedOffset) {
			if e.Offset == 0 || down {
				return
			}
			o, ok := offs.Lookup(w.topic, e.Partition)
			if !ok || o.At != e.Offset {
				behind = fmt.Sprintf("%s has not handled partition %d up to its end %d", name, e.Partition, e.Offset)
			}
		})
		if behind != "" {
			return false, behind
		}
		var n int
		if err := w.db[name].QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			return false, err.Error()
		}
		if n > 0 {
			return false, fmt.Sprintf("%s has %d unpublished outbox rows", name, n)
		}
	}
	again, err := w.admin.ListEndOffsets(ctx, w.topic)
	if err != nil {
		return false, err.Error()
	}
	same := true
	ends.Each(func(e kadm.ListedOffset) {
		if o, ok := again.Lookup(w.topic, e.Partition); !ok || o.Offset != e.Offset {
			same = false
		}
	})
	if !same {
		return false, "records were published meanwhile"
	}
	return true, ""
}

// settle waits until the system is quiet (everything published and handled), or a process crashed. It fails
// the test, with the state of the given orders, when neither happens within settleBound, or at once when a
// handler is not written yet.
func (w *world) settle(orders ...choreo.Order) {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settleBound)
	defer cancel()
	why := ""
	for {
		for _, name := range services {
			p := w.proc(name)
			if err := p.err(); err != nil && strings.Contains(err.Error(), "TODO(08-choreo)") {
				t.Fatalf("%s's Handle: %v: write it", name, err)
			}
			// 10 ms apart, that is seconds of one event failing: no transient failure of a local database
			// lasts that long here, a handler that answers a business failure with an error does.
			if n := p.fails.Load(); n >= stuckAfter && !p.dead.Load() {
				t.Fatalf("%s's Handle failed %d times in a row on one event, last: %v%s.\nOrders now:\n%s"+
					"An error means \"deliver this again\", so the event is retried for ever and the saga stalls. A "+
					"business failure (out of stock, declined, not deliverable) is an answer: commit it and emit the "+
					"failure event", name, n, p.err(), lockwait.Explain(p.err()), w.describe(orders...))
			}
		}
		ok, now := w.quiet(ctx)
		if ok {
			return
		}
		if ctx.Err() == nil {
			why = now // the last reason before the deadline, not the deadline itself
		}
		for _, name := range services {
			if p := w.proc(name); p.dead.Load() && !p.stopped.Load() {
				return
			}
		}
		select {
		case <-ctx.Done():
			var errs []string
			for _, name := range services {
				if err := w.proc(name).err(); err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v%s", name, err, lockwait.Explain(err)))
				}
			}
			t.Fatalf("the saga did not settle within %v (%s). Last handler errors: %v. Orders now:\n%s\n"+
				"A handler that keeps failing gets its event again and again: a business failure (out of stock, "+
				"declined, not deliverable) must commit and emit its failure event, not return an error",
				settleBound, why, errs, w.describe(orders...))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// state is where one order ended, across the four databases.
type state struct {
	Order       string // orders.state
	Balance     int64  // the customer's wallet
	Payment     string // payments.state, or "none"
	Stock       int64  // stock of the order's SKU
	Reservation string // reservations.state, or "none"
	Shipped     bool
}

func (s state) String() string {
	return fmt.Sprintf("order %s, balance %d, payment %s, stock %d, reservation %s, shipped %v",
		s.Order, s.Balance, s.Payment, s.Stock, s.Reservation, s.Shipped)
}

func (w *world) state(o choreo.Order) state {
	w.t.Helper()
	ctx := context.Background()
	s := state{Payment: "none", Reservation: "none"}
	one := func(db, q string, dst any, args ...any) {
		err := w.db[db].QueryRowContext(ctx, q, args...).Scan(dst)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			w.t.Fatalf("read %s: %s: %v", db, q, err)
		}
	}
	one("order", `SELECT state FROM orders WHERE id = ?`, &s.Order, o.ID)
	one("payment", `SELECT balance FROM wallets WHERE user_id = ?`, &s.Balance, o.UserID)
	one("payment", `SELECT state FROM payments WHERE order_id = ?`, &s.Payment, o.ID)
	one("inventory", `SELECT qty FROM stock WHERE sku = ?`, &s.Stock, o.SKU)
	one("inventory", `SELECT state FROM reservations WHERE order_id = ?`, &s.Reservation, o.ID)
	var n int
	one("shipping", `SELECT COUNT(*) FROM shipments WHERE order_id = ?`, &n, o.ID)
	s.Shipped = n > 0
	return s
}

func (w *world) describe(orders ...choreo.Order) string {
	var b strings.Builder
	for _, o := range orders {
		fmt.Fprintf(&b, "  %s: %s; events %v\n", o.ID, w.state(o), w.events(o.ID))
	}
	return b.String()
}

// events lists the types of the order's events on the topic, in log order, a republished duplicate once.
func (w *world) events(orderID string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range w.records() {
		if string(r.Key) != orderID || seen[header(r, outbox.MessageIDHeader)] {
			continue
		}
		seen[header(r, outbox.MessageIDHeader)] = true
		ev, err := choreo.Decode(r.Value)
		if err != nil {
			out = append(out, "?")
			continue
		}
		out = append(out, ev.Type)
	}
	return out
}

// records reads the whole topic, partition by partition, in offset order.
func (w *world) records() []*kgo.Record {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := w.admin.ListEndOffsets(ctx, w.topic)
	if err != nil {
		w.t.Fatalf("end offsets: %v", err)
	}
	total := int64(0)
	ends.Each(func(e kadm.ListedOffset) { total += e.Offset })
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(w.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		w.t.Fatalf("reader: %v", err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			w.t.Fatalf("read %s: got %d records of %d", w.topic, len(out), total)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

const (
	startBalance = 1000 // cents in every customer's wallet
	startStock   = 10   // items of every SKU
	price        = 100
)

var nextUser atomic.Int64

// newOrder seeds a customer and a SKU of the order's own, so that each order's money and stock can be
// checked alone. kind picks how it ends: "ok", "out-of-stock", "declined" or "undeliverable".
func (w *world) newOrder(id, kind string) choreo.Order {
	w.t.Helper()
	o := choreo.Order{ID: id, UserID: nextUser.Add(1), SKU: "sku-" + id, Qty: 1, Amount: price, Address: "1 Main St"}
	switch kind {
	case "out-of-stock":
		o.Qty = startStock + 1
	case "declined":
		o.Amount = startBalance + 1
	case "undeliverable":
		o.Address = "nowhere 7"
	}
	ctx := context.Background()
	if err := (&choreo.Inventory{Service: choreo.Service{Name: "inventory", DB: w.db["inventory"]}}).AddStock(ctx, o.SKU, startStock); err != nil {
		w.t.Fatalf("seed stock: %v", err)
	}
	if err := (&choreo.Payment{Service: choreo.Service{Name: "payment", DB: w.db["payment"]}}).Deposit(ctx, o.UserID, startBalance); err != nil {
		w.t.Fatalf("seed wallet: %v", err)
	}
	return o
}

// place starts the saga of o: the order service stores it and emits OrderPlaced (given code, not a handler).
func (w *world) place(o choreo.Order) {
	w.t.Helper()
	s := &choreo.OrderService{Service: choreo.Service{Name: "order", DB: w.db["order"], Topic: w.topic}}
	if err := s.PlaceOrder(context.Background(), o); err != nil {
		w.t.Fatalf("PlaceOrder(%s): %v", o.ID, err)
	}
}

var injectedIDs atomic.Int64

// inject publishes events on the topic as a service would (keyed by the order id), each with a message id
// that no outbox ever gave out.
func (w *world) inject(evs ...choreo.Event) {
	w.t.Helper()
	var recs []*kgo.Record
	for _, ev := range evs {
		payload, err := json.Marshal(ev)
		if err != nil {
			w.t.Fatalf("encode %s: %v", ev.Type, err)
		}
		id := fmt.Appendf(nil, "replay-%d", injectedIDs.Add(1))
		recs = append(recs, &kgo.Record{Topic: w.topic, Key: []byte(ev.Order.ID), Value: payload,
			Headers: []kgo.RecordHeader{{Key: outbox.MessageIDHeader, Value: id}}})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	if err != nil {
		w.t.Fatalf("producer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatalf("publish %d events: %v", len(recs), err)
	}
}

// want is the end state of an order of each kind: the same ends as the orchestrated saga of 08-saga.
func want(kind string) state {
	switch kind {
	case "ok":
		return state{Order: choreo.OrderCompleted, Balance: startBalance - price, Payment: choreo.Charged,
			Stock: startStock - 1, Reservation: choreo.Reserved, Shipped: true}
	case "out-of-stock":
		return state{Order: choreo.OrderCancelled, Balance: startBalance, Payment: "none",
			Stock: startStock, Reservation: "none"}
	case "declined":
		return state{Order: choreo.OrderCancelled, Balance: startBalance, Payment: "none",
			Stock: startStock, Reservation: choreo.Released}
	case "undeliverable":
		return state{Order: choreo.OrderCancelled, Balance: startBalance, Payment: choreo.Refunded,
			Stock: startStock, Reservation: choreo.Released}
	}
	panic(kind)
}

var why = map[string]string{
	"ok": "every step succeeded: the order is completed, the money charged once, one item reserved and shipped",
	"out-of-stock": "the first step failed: nothing was done, so nothing is undone; the order is cancelled " +
		"(and nothing may be charged or shipped after a failed step)",
	"declined": "the payment failed: the stock reserved before it must be released (PaymentDeclined undoes " +
		"the inventory's step), nothing charged, nothing shipped, the order cancelled",
	"undeliverable": "shipping failed: every earlier step is undone, the money refunded exactly once " +
		"(payment refunded, balance back to the start) and the stock released; the order cancelled",
}

// check compares where o ended with the end its kind must reach.
func (w *world) check(o choreo.Order, kind, context string) {
	w.t.Helper()
	got := w.state(o)
	if got != want(kind) {
		w.t.Errorf("%s: order %s (%s) ended as\n    %s\nwant\n    %s\n%s. Its events on the topic: %v",
			context, o.ID, kind, got, want(kind), why[kind], w.events(o.ID))
	}
}

// openCrashable opens a handle of process p on dsn: every statement fails once p is dead. When counting (the
// handler's handle, not the relay's), a committed transaction or a write outside a transaction counts as a
// commit, and the commit that reaches p.crashAt kills p right after it succeeded; and the statement that
// reaches p.failAt fails with errInjected before it runs.
func openCrashable(t *testing.T, dsn string, p *proc, counting bool) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	base, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("connector: %v", err)
	}
	db := sql.OpenDB(crashConnector{base: base, p: p, counting: counting})
	t.Cleanup(func() { db.Close() })
	return db
}

type crashConnector struct {
	base     driver.Connector
	p        *proc
	counting bool
}

func (c crashConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.p.dead.Load() {
		return nil, errCrashed
	}
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &crashConn{Conn: conn, c: c}, nil
}

func (c crashConnector) Driver() driver.Driver { return c.base.Driver() }

type crashConn struct {
	driver.Conn
	c    crashConnector
	inTx bool // a transaction is open (database/sql uses a connection in one goroutine at a time)
}

func (c *crashConn) dead() error {
	if c.c.p.dead.Load() {
		return errCrashed
	}
	return nil
}

// before is called before each statement runs: it fails when the process is dead, or when this is the
// statement that p.failAt names.
func (c *crashConn) before() error {
	if err := c.dead(); err != nil {
		return err
	}
	if p := c.c.p; c.c.counting && p.statements.Add(1) == p.failAt.Load() {
		p.injected.Store(true)
		return errInjected
	}
	return nil
}

// wrote is called after a write succeeded: outside a transaction (autocommit) it was a commit of its own.
func (c *crashConn) wrote() {
	if c.c.counting && !c.inTx {
		c.c.p.committed()
	}
}

func (c *crashConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if err := c.dead(); err != nil {
		return nil, err
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &crashStmt{Stmt: st, c: c}, nil
}

func (c *crashConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.dead(); err != nil {
		return nil, err
	}
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &crashTx{Tx: tx, c: c}, nil
}

// ExecContext and QueryContext run only statements without arguments; those with arguments go through
// PrepareContext (driver.ErrSkip), so that every statement is counted once, in one place, before it runs.
func (c *crashConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip
	}
	if err := c.before(); err != nil {
		return nil, err
	}
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	if err == nil {
		c.wrote()
	}
	return res, err
}

func (c *crashConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip
	}
	if err := c.before(); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *crashConn) IsValid() bool { return c.dead() == nil }

type crashStmt struct {
	driver.Stmt
	c *crashConn
}

func (s *crashStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.c.before(); err != nil {
		return nil, err
	}
	res, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if err == nil {
		s.c.wrote()
	}
	return res, err
}

func (s *crashStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.c.before(); err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

type crashTx struct {
	driver.Tx
	c *crashConn
}

func (t *crashTx) Commit() error {
	t.c.inTx = false
	if err := t.c.dead(); err != nil {
		_ = t.Tx.Rollback()
		return err
	}
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	if t.c.c.counting {
		t.c.c.p.committed()
	}
	return nil
}

func (t *crashTx) Rollback() error {
	t.c.inTx = false
	return t.Tx.Rollback()
}
