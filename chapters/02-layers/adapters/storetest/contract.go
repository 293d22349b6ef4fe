// Package storetest is the contract of the app's repositories: one suite that every implementation
// must pass unchanged. It runs against the in-memory fake, MySQL and PostgreSQL, which is what makes
// the fake trustworthy enough for the service tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// Store is everything the contract exercises.
type Store interface {
	app.UserRepository
	app.ProductRepository
	app.OrderRepository
}

// RunContract runs the suite; newStore must return an empty store of its own for each call.
func RunContract(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("create and get", func(t *testing.T) { createAndGet(t, newStore(t)) })
	t.Run("get missing", func(t *testing.T) { getMissing(t, newStore(t)) })
	t.Run("create takes stock or nothing", func(t *testing.T) { createTakesStockOrNothing(t, newStore(t)) })
	t.Run("create is idempotent per key", func(t *testing.T) { createIdempotent(t, newStore(t)) })
	t.Run("update commits", func(t *testing.T) { updateCommits(t, newStore(t)) })
	t.Run("update rolls back when fn fails", func(t *testing.T) { updateRollsBack(t, newStore(t)) })
	t.Run("update missing", func(t *testing.T) { updateMissing(t, newStore(t)) })
	t.Run("update after fn panicked", func(t *testing.T) { updateAfterPanic(t, newStore(t)) })
	t.Run("update changes only its own order", func(t *testing.T) { updateOnlyItsOrder(t, newStore(t)) })
	t.Run("update with a cancelled context", func(t *testing.T) { updateCancelled(t, newStore(t)) })
	t.Run("concurrent updates do not lose one another", func(t *testing.T) { concurrentUpdates(t, newStore(t)) })
}

type fixture struct {
	user  user.User
	pen   product.Product // 1999 cents, 5 in stock
	paper product.Product // 5 cents, 1 in stock
}

func setup(t *testing.T, s Store) fixture {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, user.User{Name: "ada", Email: "ada@example.com"})
	require.NoError(t, err, "CreateUser")
	pen, err := s.CreateProduct(ctx, product.Product{Name: "pen", PriceCents: 1999, Stock: 5})
	require.NoError(t, err, "CreateProduct(pen)")
	paper, err := s.CreateProduct(ctx, product.Product{Name: "paper", PriceCents: 5, Stock: 1})
	require.NoError(t, err, "CreateProduct(paper)")
	return fixture{user: u, pen: pen, paper: paper}
}

func newOrder(t *testing.T, userID int64, lines ...order.Line) *order.Order {
	t.Helper()
	o, err := order.New(userID, lines)
	require.NoError(t, err, "order.New(%d, %v)", userID, lines)
	return o
}

func stock(t *testing.T, s Store, id int64) int {
	t.Helper()
	p, err := s.GetProduct(context.Background(), id)
	require.NoError(t, err, "GetProduct(%d)", id)
	return p.Stock
}

// placed creates a pending order for two pens and returns it as stored.
func placed(t *testing.T, s Store, f fixture) *order.Order {
	t.Helper()
	o, created, err := s.CreateOrder(context.Background(), newOrder(t, f.user.ID, order.Line{ProductID: f.pen.ID, Quantity: 2, PriceCents: 1999}), "")
	require.NoError(t, err, "CreateOrder(2 pens)")
	require.True(t, created, "CreateOrder without a key: created")
	return o
}

func createAndGet(t *testing.T, s Store) {
	f := setup(t, s)
	in := newOrder(t, f.user.ID,
		order.Line{ProductID: f.pen.ID, Quantity: 2, PriceCents: 1999},
		order.Line{ProductID: f.paper.ID, Quantity: 1, PriceCents: 5})
	stored, created, err := s.CreateOrder(context.Background(), in, "")
	require.NoError(t, err, "CreateOrder")
	require.True(t, created, "CreateOrder: created")
	require.NotZero(t, stored.ID(), "CreateOrder assigned no id")

	want := in.Snapshot()
	want.ID = stored.ID()
	require.Equal(t, want, stored.Snapshot(), "CreateOrder returned")
	got, err := s.GetOrder(context.Background(), stored.ID())
	require.NoError(t, err, "GetOrder(%d)", stored.ID())
	require.Equal(t, want, got.Snapshot(), "GetOrder(%d)", stored.ID())
	require.Equal(t, 3, stock(t, s, f.pen.ID), "pen stock after ordering 2 of 5")
	require.Equal(t, 0, stock(t, s, f.paper.ID), "paper stock after ordering 1 of 1")
}

func getMissing(t *testing.T, s Store) {
	_, err := s.GetOrder(context.Background(), 424242)
	require.ErrorIs(t, err, domain.ErrNotFound, "GetOrder(missing)")
}

func createTakesStockOrNothing(t *testing.T, s Store) {
	f := setup(t, s)
	ctx := context.Background()
	tooMuch := newOrder(t, f.user.ID,
		order.Line{ProductID: f.pen.ID, Quantity: 2, PriceCents: 1999},
		order.Line{ProductID: f.paper.ID, Quantity: 2, PriceCents: 5})
	_, _, err := s.CreateOrder(ctx, tooMuch, "")
	require.ErrorIs(t, err, product.ErrOutOfStock, "CreateOrder(2 of 1 paper)")
	require.Equal(t, 5, stock(t, s, f.pen.ID), "pen stock after a failed order: nothing may be taken")

	missing := newOrder(t, f.user.ID,
		order.Line{ProductID: f.pen.ID, Quantity: 1, PriceCents: 1999},
		order.Line{ProductID: 987654, Quantity: 1, PriceCents: 5})
	_, _, err = s.CreateOrder(ctx, missing, "")
	require.ErrorIs(t, err, domain.ErrNotFound, "CreateOrder(unknown product)")
	require.Equal(t, 5, stock(t, s, f.pen.ID), "pen stock after a failed order: nothing may be taken")
}

func createIdempotent(t *testing.T, s Store) {
	f := setup(t, s)
	ctx := context.Background()
	line := order.Line{ProductID: f.pen.ID, Quantity: 1, PriceCents: 1999}
	first, created, err := s.CreateOrder(ctx, newOrder(t, f.user.ID, line), "k1")
	require.NoError(t, err, "CreateOrder with key k1")
	require.True(t, created, "first CreateOrder with key k1: created")
	again, created, err := s.CreateOrder(ctx, newOrder(t, f.user.ID, line), "k1")
	require.NoError(t, err, "CreateOrder repeating key k1 = %v, want the order stored with k1 and no error: a repeated key is a replay (the client retried), so read the first order back; on PostgreSQL, outside the transaction the duplicate aborted", err)
	require.False(t, created, "CreateOrder repeating key k1: created, want a replay")
	require.Equal(t, first.Snapshot(), again.Snapshot(), "CreateOrder repeating key k1 = a different order")
	require.Equal(t, 4, stock(t, s, f.pen.ID), "pen stock after an order and its replay")
}

// opTimeout bounds every UpdateOrder of the suite. A correct one takes milliseconds; one that waits for
// a row lock that is never released would otherwise hang the suite (MySQL waits 50 s by default).
const opTimeout = 10 * time.Second

// errLockWait marks an update that waited for a row lock until its deadline.
var errLockWait = errors.New("it waited for a row lock that nobody released; every path out of UpdateOrder must end its transaction (commit or roll back)")

// boundedUpdate runs s.UpdateOrder with a deadline and explains a lock wait, so that a lock that is
// never released fails in seconds with a message instead of a timeout.
func boundedUpdate(s Store, id int64, fn func(*order.Order) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := s.UpdateOrder(ctx, id, fn)
	if errors.Is(err, context.DeadlineExceeded) || isLockWaitTimeout(err) {
		return fmt.Errorf("UpdateOrder(%d) = %v: %w", id, err, errLockWait)
	}
	return err
}

// update is boundedUpdate for the test goroutine: a lock wait ends the test at once.
func update(t *testing.T, s Store, id int64, fn func(*order.Order) error) error {
	t.Helper()
	err := boundedUpdate(s, id, fn)
	if errors.Is(err, errLockWait) {
		t.Fatal(err)
	}
	return err
}

// isLockWaitTimeout recognises MySQL's "Lock wait timeout exceeded" (error 1205) and PostgreSQL's
// "canceling statement due to lock timeout" (SQLSTATE 55P03) by their text, so that the contract does
// not import a driver.
func isLockWaitTimeout(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "Lock wait timeout") || strings.Contains(err.Error(), "due to lock timeout"))
}

func updateCommits(t *testing.T, s Store) {
	f := setup(t, s)
	o := placed(t, s, f)
	require.NoError(t, update(t, s, o.ID(), func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(cancel)")
	got, err := s.GetOrder(context.Background(), o.ID())
	require.NoError(t, err, "GetOrder after UpdateOrder")
	require.Equal(t, order.StatusCancelled, got.Status(), "GetOrder after UpdateOrder(cancel): status")

	o2 := placed(t, s, f)
	require.NoError(t, update(t, s, o2.ID(), func(o *order.Order) error { return o.Pay(o.TotalCents(), "pay-1") }), "UpdateOrder(pay)")
	got, err = s.GetOrder(context.Background(), o2.ID())
	require.NoError(t, err, "GetOrder after UpdateOrder(pay)")
	require.Equal(t, order.StatusPaid, got.Status(), "status after UpdateOrder(pay)")
	require.Equal(t, "pay-1", got.PaymentID(), "payment id after UpdateOrder(pay)")
}

func updateRollsBack(t *testing.T, s Store) {
	f := setup(t, s)
	o := placed(t, s, f)
	boom := errors.New("boom")
	// t.Context() lives until the test ends: nothing but UpdateOrder itself may end its transaction
	// (database/sql would roll back a transaction whose ctx is cancelled, and hide a leak).
	err := s.UpdateOrder(t.Context(), o.ID(), func(o *order.Order) error {
		if err := o.Pay(o.TotalCents(), "pay-1"); err != nil {
			return err
		}
		return boom // the rule changed the order, then something failed
	})
	require.ErrorIs(t, err, boom, "UpdateOrder whose fn failed = %v, want fn's error (wrapped with %%w at most): the caller decides by errors.Is", err)
	got, gerr := s.GetOrder(context.Background(), o.ID())
	require.NoError(t, gerr, "GetOrder after a failed UpdateOrder")
	require.Equal(t, order.StatusPending, got.Status(), "status after UpdateOrder whose fn failed: nothing may be stored")
	require.Empty(t, got.PaymentID(), "payment id after UpdateOrder whose fn failed: nothing may be stored")

	// A domain refusal is returned as the domain made it, and the order stays usable: the failed
	// update let go of the order, so the next one goes through at once.
	err = update(t, s, o.ID(), func(o *order.Order) error { return o.Pay(1, "pay-2") })
	require.ErrorIs(t, err, order.ErrAmountMismatch, "UpdateOrder(pay the wrong amount) = %v, want fn's error", err)
	require.NoError(t, update(t, s, o.ID(), func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(cancel) after two failed updates of the same order")
	got, gerr = s.GetOrder(context.Background(), o.ID())
	require.NoError(t, gerr, "GetOrder")
	require.Equal(t, order.StatusCancelled, got.Status(), "status after a failed update and then UpdateOrder(cancel)")
}

// updateAfterPanic: a panic in fn (a nil map, an index out of range in the rule) unwinds through
// UpdateOrder. Whether UpdateOrder lets it go on or turns it into an error, it must end its transaction
// on the way out: a transaction that nobody ends keeps the row locked and its connection busy, and
// every later update of that order waits until the database gives up.
func updateAfterPanic(t *testing.T, s Store) {
	f := setup(t, s)
	o := placed(t, s, f)
	func() {
		defer func() { _ = recover() }() // the panic may come back up; that is allowed
		// t.Context(): only UpdateOrder itself may end its transaction (see updateRollsBack).
		_ = s.UpdateOrder(t.Context(), o.ID(), func(o *order.Order) error {
			if err := o.Pay(o.TotalCents(), "pay-1"); err != nil {
				return err
			}
			var rules map[string]int
			rules["pay"]++ // a bug in the rule: assignment to entry in nil map
			return nil
		})
	}()
	got, err := s.GetOrder(context.Background(), o.ID())
	require.NoError(t, err, "GetOrder after an UpdateOrder whose fn panicked")
	require.Equal(t, order.StatusPending, got.Status(), "status after an UpdateOrder whose fn panicked: nothing may be stored")

	err = boundedUpdate(s, o.ID(), func(o *order.Order) error { return o.Cancel() })
	require.NoError(t, err, "UpdateOrder(cancel) after an UpdateOrder whose fn panicked = %v, want nil: a panic is a path out of UpdateOrder too; end the transaction with defer tx.Rollback(), not only on the error returns", err)
}

// updateOnlyItsOrder uses two orders: an update must change the order it was given and no other.
func updateOnlyItsOrder(t *testing.T, s Store) {
	f := setup(t, s)
	a, b := placed(t, s, f), placed(t, s, f)
	require.NoError(t, update(t, s, a.ID(), func(o *order.Order) error { return o.Pay(o.TotalCents(), "pay-a") }), "UpdateOrder(%d, pay)", a.ID())
	gotB, err := s.GetOrder(context.Background(), b.ID())
	require.NoError(t, err, "GetOrder(%d)", b.ID())
	require.Equal(t, b.Snapshot(), gotB.Snapshot(), "order %d after paying order %d: an update must change only the order it was given (WHERE id = ?)", b.ID(), a.ID())

	require.NoError(t, update(t, s, b.ID(), func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(%d, cancel)", b.ID())
	gotA, err := s.GetOrder(context.Background(), a.ID())
	require.NoError(t, err, "GetOrder(%d)", a.ID())
	require.Equal(t, order.StatusPaid, gotA.Status(), "order %d after cancelling order %d: status", a.ID(), b.ID())
	require.Equal(t, "pay-a", gotA.PaymentID(), "order %d after cancelling order %d: payment id", a.ID(), b.ID())
}

// updateCancelled: a caller that has given up (client gone, deadline passed) must not have its rule
// run: fn may charge a card.
func updateCancelled(t *testing.T, s Store) {
	f := setup(t, s)
	o := placed(t, s, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.UpdateOrder(ctx, o.ID(), func(o *order.Order) error { called = true; return o.Cancel() })
	require.ErrorIs(t, err, context.Canceled, "UpdateOrder with a cancelled ctx = %v, want an error wrapping context.Canceled: pass ctx to every call", err)
	require.False(t, called, "UpdateOrder with a cancelled ctx called fn: fn may have side effects (a charge) that the caller no longer wants")
	got, gerr := s.GetOrder(context.Background(), o.ID())
	require.NoError(t, gerr, "GetOrder")
	require.Equal(t, order.StatusPending, got.Status(), "status after UpdateOrder with a cancelled ctx")
}

func updateMissing(t *testing.T, s Store) {
	called := false
	err := s.UpdateOrder(context.Background(), 424242, func(*order.Order) error { called = true; return nil })
	require.ErrorIs(t, err, domain.ErrNotFound, "UpdateOrder(missing)")
	require.False(t, called, "UpdateOrder(missing) called fn")
}

// overlapWait is how long fn waits for a second fn to run alongside it. With the order held during
// fn (a row lock, a mutex), a second fn cannot start, so the first waits this long and goes on: the
// suite pays this once. Without it, a second fn is in within milliseconds and both see "pending",
// whatever the scheduler does. 2 s is generous for a goroutine to begin a transaction and read a row
// on a loaded machine.
const overlapWait = 2 * time.Second

func concurrentUpdates(t *testing.T, s Store) {
	f := setup(t, s)
	o := placed(t, s, f)
	const n = 10
	var inside atomic.Int32
	two := make(chan struct{}) // closed when a second fn runs while the first has not returned
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- boundedUpdate(s, o.ID(), func(o *order.Order) error {
				if inside.Add(1) == 2 {
					close(two)
				}
				select {
				case <-two:
				case <-time.After(overlapWait):
				}
				return o.Pay(o.TotalCents(), fmt.Sprintf("pay-%d", i))
			})
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	paid := 0
	for err := range errs {
		switch {
		case err == nil:
			paid++
		case errors.Is(err, order.ErrIllegalTransition):
		default:
			t.Errorf("concurrent UpdateOrder(pay) error = %v, want nil or order.ErrIllegalTransition", err)
		}
	}
	require.Equal(t, 1, paid, "%d concurrent UpdateOrder(pay) on one order: %d succeeded, want exactly 1: hold the order (SELECT ... FOR UPDATE in the transaction) while fn runs, so a second update reads the first one's result", n, paid)
}

// RunUserContract checks how CreateUser reports a taken email: as user.ErrEmailTaken (a
// domain.ErrConflict), whatever the database calls a duplicate, and nothing else as a conflict. It is
// apart from RunContract because on MySQL that translation is exercise 02-architecture's.
func RunUserContract(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("a taken email is a conflict", func(t *testing.T) { emailTaken(t, newStore(t)) })
	t.Run("other failures are no conflict", func(t *testing.T) { otherFailuresNoConflict(t, newStore(t)) })
}

func emailTaken(t *testing.T, s Store) {
	ctx := context.Background()
	ada, err := s.CreateUser(ctx, user.User{Name: "ada", Email: "ada@example.com"})
	require.NoError(t, err, "CreateUser(ada@example.com)")
	require.NotZero(t, ada.ID, "CreateUser(ada@example.com) assigned no id")
	_, err = s.CreateUser(ctx, user.User{Name: "copy", Email: "ada@example.com"})
	require.ErrorIs(t, err, user.ErrEmailTaken, "CreateUser with a taken email = %v, want an error wrapping user.ErrEmailTaken (a domain.ErrConflict, HTTP 409): translate the database's duplicate-key error in the adapter", err)

	// A failed insert changes nothing, and the next one gets an id of its own.
	bob, err := s.CreateUser(ctx, user.User{Name: "bob", Email: "bob@example.com"})
	require.NoError(t, err, "CreateUser(bob@example.com) after a refused duplicate")
	require.NotEqual(t, ada.ID, bob.ID, "CreateUser(bob) returned ada's id %d: every user gets the id its own insert generated", ada.ID)
	for _, want := range []user.User{ada, bob} {
		got, err := s.GetUser(ctx, want.ID)
		require.NoError(t, err, "GetUser(%d)", want.ID)
		require.Equal(t, want, got, "GetUser(%d) = %+v, want what CreateUser returned", want.ID, got)
	}
}

func otherFailuresNoConflict(t *testing.T, s Store) {
	ctx := context.Background()
	// A name longer than the column: a database refuses it (MySQL 1406, PostgreSQL 22001), the fake
	// stores it. Either way it is not a taken email.
	_, err := s.CreateUser(ctx, user.User{Name: strings.Repeat("x", 101), Email: "long@example.com"})
	require.NotErrorIs(t, err, domain.ErrConflict, "CreateUser with a 101-character name = %v: that is no conflict; only a unique violation of the email is a taken email (a 409 would tell the client to pick another email)", err)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.CreateUser(cancelled, user.User{Name: "bob", Email: "bob@example.com"})
	require.ErrorIs(t, err, context.Canceled, "CreateUser with a cancelled ctx = %v, want context.Canceled", err)
	require.NotErrorIs(t, err, domain.ErrConflict, "CreateUser with a cancelled ctx = %v: that is no conflict", err)
}
