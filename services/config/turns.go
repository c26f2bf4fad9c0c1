package config

import (
	"context"
	"sync"
)

// turns lets the changes of one namespace take turns within this replica.
// Every change rewrites the namespace's one document under compare-and-set:
// changes let loose together would all read the same version, and all but
// one would lose, back off and read again. Across replicas the
// compare-and-set still decides.
type turns struct {
	mu    sync.Mutex
	queue map[string]*turn
}

// turn is one namespace's token, and how many changes hold or wait for it.
type turn struct {
	token chan struct{}
	refs  int
}

// take waits for ns's turn, or for ctx to end; done gives the turn up.
func (q *turns) take(ctx context.Context, ns string) (done func(), err error) {
	t := q.join(ns)
	select {
	case t.token <- struct{}{}:
		return func() { <-t.token; q.leave(ns, t) }, nil
	case <-ctx.Done():
		q.leave(ns, t)
		return nil, ctx.Err()
	}
}

// join counts one more change of ns, making its turn when it has none.
func (q *turns) join(ns string) *turn {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queue == nil {
		q.queue = map[string]*turn{}
	}
	t := q.queue[ns]
	if t == nil {
		t = &turn{token: make(chan struct{}, 1)}
		q.queue[ns] = t
	}
	t.refs++
	return t
}

// leave counts one change of ns fewer, forgetting the turn when none is
// left.
func (q *turns) leave(ns string, t *turn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.refs--; t.refs == 0 {
		delete(q.queue, ns)
	}
}
