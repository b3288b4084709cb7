//go:build unix

package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stintdev/stint/pkg/fault"
)

// InUseError says that another process holds the data directory.
type InUseError struct {
	Data string
	PID  int
}

func (e *InUseError) Error() string {
	holder := "another stint process"
	if e.PID > 0 {
		holder = fmt.Sprintf("stint (pid %d)", e.PID)
	}
	return fmt.Sprintf("the data directory %s is in use by %s: one process owns a data directory (its ledger, queue and sandbox tenant); stop it first, or pass another --data", e.Data, holder)
}

// FaultCode classifies it as a conflict.
func (e *InUseError) FaultCode() fault.Code { return fault.Conflict }

// Lock takes the data directory for this process: an exclusive advisory
// lock (flock) on <data>/lock, which the kernel releases when the process
// ends, however it ends. The file holds the owner's pid, for the message
// a second process gets.
func Lock(data string) (release func() error, err error) {
	path := filepath.Join(data, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stint: lock the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Data: data, PID: pid}
		}
		return nil, fmt.Errorf("stint: lock the data directory %s: %w", data, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f.Close, nil // closing the file releases the lock
}
