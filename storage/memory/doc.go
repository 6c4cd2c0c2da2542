// Package memory is an in-memory storage backend: it implements both
// storage.Directory and storage.State in one type, Store, guarded by a single
// mutex. It is meant for tests and throwaway demos; nothing survives the
// process.
//
// Expiry is judged against an injectable clock (WithClock), so tests can move
// time without sleeping. Expired records read as storage.ErrNotFound at once;
// Sweep only reclaims their memory.
//
// Every slice and byte slice is copied on the way in and on the way out, so
// callers can never alias stored data.
//
// This package imports only storage and the standard library; it must not
// import the gateway, connectors, identity or keys.
package memory
