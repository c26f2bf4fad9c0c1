// Package heldmetrics holds the Prometheus collectors that packages
// register with prometheus.DefaultRegisterer while the program initialises,
// until a registry that is served takes them.
//
// The embedded etcd server's packages register about a hundred metrics in
// their init functions, and each registration starts a goroutine. While
// the program initialises, its main goroutine is locked to the main
// thread, so every such goroutine costs two hand-overs between threads:
// together as much as a third of the start of every micro command,
// `micro env` included, though only `micro server` runs etcd. Held here,
// they cost an append each, and `micro server` registers them with the
// registry it serves.
//
// The package's import path sorts before go.etcd.io, so its init runs
// before etcd's: Go initialises packages in import-path order wherever
// their imports allow (a rule of the language since Go 1.21). A test
// checks that it does.
package heldmetrics

import (
	"errors"
	"reflect"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// holder is the default registerer from this package's init on. It keeps
// every collector registered with it; RegisterWith registers them with a
// registry, which then also takes every later one. The collectors of the
// embedded etcd are package variables, shared by every etcd the process
// starts, so a second `micro server` in one process (as in tests) gets
// them all again.
type holder struct {
	mu  sync.Mutex
	all []prometheus.Collector
	to  prometheus.Registerer // nil until RegisterWith
}

var defaultHolder = &holder{}

func init() { prometheus.DefaultRegisterer = defaultHolder }

// RegisterWith registers every collector registered with the default
// registerer so far with reg, and sends later ones to reg too. A collector
// reg already has is skipped; any other refusal is returned, and the rest
// are registered all the same.
func RegisterWith(reg prometheus.Registerer) error {
	return defaultHolder.registerWith(reg)
}

func (h *holder) registerWith(reg prometheus.Registerer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, c := range h.all {
		if err := reg.Register(c); err != nil && !hasAlready(err, c) {
			errs = append(errs, err)
		}
	}
	h.to = reg
	return errors.Join(errs...)
}

// Register implements prometheus.Registerer.
func (h *holder) Register(c prometheus.Collector) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.to != nil {
		if err := h.to.Register(c); err != nil {
			return err
		}
	}
	h.all = append(h.all, c)
	return nil
}

// MustRegister implements prometheus.Registerer.
func (h *holder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := h.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister implements prometheus.Registerer.
func (h *holder) Unregister(c prometheus.Collector) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.all, func(held prometheus.Collector) bool { return same(held, c) })
	if i >= 0 {
		h.all = slices.Delete(h.all, i, i+1)
	}
	if h.to != nil {
		return h.to.Unregister(c)
	}
	return i >= 0
}

// same reports whether a and b are one collector. Collectors are nearly
// always pointers; == would panic on two values of one uncomparable type.
func same(a, b prometheus.Collector) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// hasAlready reports whether err says that the registry already has c
// itself.
func hasAlready(err error, c prometheus.Collector) bool {
	var are prometheus.AlreadyRegisteredError
	return errors.As(err, &are) && same(are.ExistingCollector, c)
}
