package ecrlocal

import "fmt"

// Fault is an error the endpoint answers instead of serving an operation.
type Fault struct {
	Code    string
	Message string
	// Times is how many calls the fault answers before it is used up.
	Times int
	// Extra members of the error shape (kmsError, lastValidByteReceived, ...).
	Extra map[string]any
}

// InjectError makes the next f.Times calls of operation fail with f. Faults
// for one operation are used in the order they were injected.
func (s *Server) InjectError(operation string, f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Message == "" {
		f.Message = fmt.Sprintf("injected %s", f.Code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[operation] = append(s.faults[operation], &f)
}

func (s *Server) takeFault(operation string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue := s.faults[operation]
	if len(queue) == 0 {
		return nil
	}
	f := queue[0]
	f.Times--
	if f.Times == 0 {
		s.faults[operation] = queue[1:]
	}
	return f
}

func (f *Fault) apply() *apiError {
	e := newError(f.Code, f.Message)
	for k, v := range f.Extra {
		e = e.with(k, v)
	}
	return e
}
