package fscache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInstallIsAtomic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "entry")
	boom := errors.New("killed half way")
	err := Install(dir, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want build error, got %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("failed build left %s behind (stat err %v)", dir, err)
	}
	left, _ := os.ReadDir(parent)
	if len(left) != 0 {
		t.Fatalf("failed build left temporary files: %v", left)
	}
	if err := Install(dir, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "whole"), []byte("x"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "whole")); err != nil {
		t.Fatalf("installed entry lacks its file: %v", err)
	}
}

func TestLockSerialisesBuilders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.lock")
	var inside, maxInside, builds int32
	var wg sync.WaitGroup
	dir := filepath.Join(t.TempDir(), "entry")
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := Lock(context.Background(), path)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			n := atomic.AddInt32(&inside, 1)
			for {
				m := atomic.LoadInt32(&maxInside)
				if n <= m || atomic.CompareAndSwapInt32(&maxInside, m, n) {
					break
				}
			}
			_ = Install(dir, func(tmp string) error {
				atomic.AddInt32(&builds, 1)
				time.Sleep(5 * time.Millisecond)
				return nil
			})
			atomic.AddInt32(&inside, -1)
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders inside the lock at once", maxInside)
	}
	if builds != 1 {
		t.Fatalf("entry built %d times, want once", builds)
	}
}

func TestLockHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); err == nil {
		t.Fatal("second lock acquired while the first is held")
	}
}

func TestLockAnyIsASemaphore(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.lock"), filepath.Join(dir, "b.lock")}
	ctx := context.Background()

	un1, i1, err := LockAny(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	un2, i2, err := LockAny(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	if i1 == i2 {
		t.Fatalf("two holders of slot %d", i1)
	}

	// A third waits until a slot is freed, then takes that one.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := LockAny(short, paths); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third holder with both slots taken: %v, want the context's deadline", err)
	}
	got := make(chan int, 1)
	go func() {
		un3, i3, err := LockAny(ctx, paths)
		if err != nil {
			got <- -1
			return
		}
		defer un3()
		got <- i3
	}()
	time.Sleep(150 * time.Millisecond)
	un1()
	select {
	case i3 := <-got:
		if i3 != i1 {
			t.Fatalf("waiter took slot %d, want the freed slot %d", i3, i1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not take the freed slot")
	}
	un2()

	if _, _, err := LockAny(ctx, nil); err == nil {
		t.Fatal("LockAny with no paths: no error")
	}
}
