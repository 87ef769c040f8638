package etcdops

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retry calls f, each time with a context bounded by AttemptTimeout, until
// it succeeds, fails with an error that is not Transient, ctx ends or
// timeout has passed since the first call. It returns f's last answer as
// f gave it, so that callers can test the etcd error it carries.
func Retry[T any](ctx context.Context, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	return retry(ctx, timeout, Transient, func(ctx context.Context) (T, error) {
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		defer cancel()
		return f(actx)
	})
}

// retry calls f with ctx until it succeeds, fails with an error again does
// not accept, ctx ends or timeout has passed.
func retry[T any](ctx context.Context, timeout time.Duration, again func(error) bool, f func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := f(ctx)
		if err == nil || !again(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		if Sleep(ctx, RetryPause) != nil {
			return v, err
		}
	}
}
