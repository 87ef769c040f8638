package etcdops

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// etcdError returns the etcd server error in err's chain, whether it came
// as rpctypes' client error or as the gRPC status the server sent.
func etcdError(err error) (rpctypes.EtcdError, bool) {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee, true
	}
	if s, ok := grpcStatus(err); ok && s.Code() != codes.OK {
		if ee, ok := rpctypes.Error(s.Err()).(rpctypes.EtcdError); ok {
			return ee, true
		}
	}
	return rpctypes.EtcdError{}, false
}

// grpcStatus returns the gRPC status in err's chain as it was sent (where
// status.FromError would fold the text of the wrapping errors into it).
func grpcStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus(), true
	}
	return nil, false
}

// Is reports whether err carries the etcd server error target (one of
// rpctypes' Err values, such as rpctypes.ErrTooManyLearners).
func Is(err, target error) bool {
	if err == nil {
		return false
	}
	ee, ok := etcdError(err)
	if !ok {
		return errors.Is(err, target)
	}
	if t, ok := etcdError(target); ok {
		return ee == t
	}
	return false
}

// passing are the etcd errors that clear by themselves within seconds: an
// election, a member restarting, a request that timed out inside raft.
var passing = []error{
	rpctypes.ErrNoLeader,
	rpctypes.ErrNotLeader,
	rpctypes.ErrLeaderChanged,
	rpctypes.ErrStopped,
	rpctypes.ErrTimeout,
	rpctypes.ErrTimeoutDueToLeaderFail,
	rpctypes.ErrTimeoutDueToConnectionLost,
	rpctypes.ErrTimeoutWaitAppliedIndex,
	rpctypes.ErrUnhealthy,
	rpctypes.ErrTooManyRequests,
}

// lasting are the etcd errors that no wait clears: the cluster refused the
// change for what it is.
var lasting = []error{
	rpctypes.ErrTooManyLearners,
	rpctypes.ErrPeerURLExist,
	rpctypes.ErrMemberExist,
	rpctypes.ErrMemberNotFound,
	rpctypes.ErrMemberBadURLs,
	rpctypes.ErrMemberNotLearner,
	rpctypes.ErrClusterIDMismatch,
	rpctypes.ErrNotCapable,
	rpctypes.ErrCorrupt,
	rpctypes.ErrRequestTooLarge,
	rpctypes.ErrPermissionDenied,
	rpctypes.ErrAuthFailed,
	rpctypes.ErrInvalidAuthToken,
}

// Transient reports whether err clears by itself within seconds, so that
// the same request is worth sending again: one of etcd's leader, timeout
// and overload errors, or a connection that is down (gRPC Unavailable or
// DeadlineExceeded, a request's own deadline).
func Transient(err error) bool {
	if err == nil || Permanent(err) {
		return false
	}
	for _, t := range passing {
		if Is(err, t) {
			return true
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if _, ok := etcdError(err); ok {
		return false // an etcd error not listed as passing
	}
	if s, ok := grpcStatus(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return true
		}
	}
	return false
}

// Permanent reports whether err never clears by waiting: the cluster
// refused the request for what it asks (too many learners, a peer URL or
// member that exists already, a member that does not), the request was
// malformed or not allowed, or the caller gave up (context.Canceled).
// Errors that are neither Transient nor Permanent (a learner not yet in
// sync, not enough started members for a change) may clear once the
// cluster moves on.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	for _, t := range lasting {
		if Is(err, t) {
			return true
		}
	}
	if errors.Is(err, context.Canceled) {
		return true
	}
	if _, ok := etcdError(err); ok {
		return false
	}
	if s, ok := grpcStatus(err); ok {
		switch s.Code() {
		case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented, codes.Canceled:
			return true
		}
	}
	return false
}

// shortErrLen is how much of an error a log line quotes.
const shortErrLen = 200

// ShortErr is err's text cut to a length fit for one log line.
func ShortErr(err error) string {
	s := err.Error()
	if len(s) > shortErrLen {
		s = s[:shortErrLen] + "…"
	}
	return s
}
