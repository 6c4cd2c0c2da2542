// Package local is the password connector for Foyer's own local users: the
// static users of the config file (written to the store at start-up) and
// users created in the store. Passwords are argon2id (bcrypt accepted for
// imported users), checked in constant time, and an unknown user costs the
// same time as a wrong password.
//
// It imports connectors, identity and storage; never gateway.
package local
