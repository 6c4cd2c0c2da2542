package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts behind every atomic operation. Each touches only the keys
// it is given, and every key of one call shares a hash tag, so each runs on
// one Cluster node. Times arrive as Unix milliseconds by the store's clock
// (ARGV "now"), never read from Redis. Numbers that go back into Redis are
// passed as the strings Go formatted, so Lua's 14-digit number formatting
// never touches them.
//
// A record is a string, "X A N\nJSON" (see envelope): its expiry X, its
// absolute expiry A (0: none), a number N whose meaning depends on the
// kind (a grant's rotation time, a code's used flag), and the record as
// JSON. The scripts compare X, A and N without decoding the JSON, and
// decode it (cjson) only to change a field Go cannot change beforehand.

// recordLua is the prelude of the scripts that read records: load parses
// one into (x as a number, a, n, json, x as written), or nil if it is
// missing; put writes one back, for ttl ms or, with ttl nil, keeping its
// TTL.
const recordLua = `
local function load(k)
  local v = redis.call('GET', k)
  if not v then return nil end
  local x, a, n, r = string.match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)\n(.*)$')
  return tonumber(x), a, n, r, x
end
local function put(k, x, a, n, r, ttl)
  local v = x .. ' ' .. a .. ' ' .. n .. '\n' .. r
  if ttl then redis.call('SET', k, v, 'PX', ttl) else redis.call('SET', k, v, 'KEEPTTL') end
end
`

// createScript stores a record unless a live one holds the key.
//
//	KEYS[1] the record; KEYS[2] (optional) its token set, replaced
//	ARGV[1] now; ARGV[2] ttl ms; ARGV[3] the record; ARGV[4..] the tokens
//
// Returns 1, or 0 if a live record holds the key.
var createScript = redis.NewScript(recordLua + `
local x = load(KEYS[1])
if x and x > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
if KEYS[2] then
  redis.call('DEL', KEYS[2])
  if #ARGV > 3 then
    redis.call('SADD', KEYS[2], unpack(ARGV, 4))
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return 1
`)

// replaceScript overwrites a live record.
//
//	KEYS[1] the record; ARGV[1] now; ARGV[2] ttl ms; ARGV[3] the record
//
// Returns 1, or 0 if the record is gone or expired.
var replaceScript = redis.NewScript(recordLua + `
local x = load(KEYS[1])
if not x or x <= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
`)

// takeScript deletes a record and returns its JSON if it was live.
//
//	KEYS[1] the record; ARGV[1] now
var takeScript = redis.NewScript(recordLua + `
local x, a, n, r = load(KEYS[1])
if not x then return false end
redis.call('DEL', KEYS[1])
if x <= tonumber(ARGV[1]) then return false end
return r
`)

// redeemScript marks a live code used (N = 1).
//
//	KEYS[1] the code; ARGV[1] now
//
// Returns {0, json} for the first redemption, {1, json} for a later one,
// nil if the code is gone or expired.
var redeemScript = redis.NewScript(recordLua + `
local x, a, n, r, xs = load(KEYS[1])
if not x or x <= tonumber(ARGV[1]) then return false end
if n == '1' then return {1, r} end
put(KEYS[1], xs, a, '1', r, nil)
return {0, r}
`)

// claimDeviceScript is the token endpoint's poll of a device request.
//
//	KEYS[1] the request; ARGV[1] now; ARGV[2] the approved status
//
// Returns {2, json} if it claimed the request now, {0, json} for a pending
// or denied one (unchanged), {1, json} if it was claimed before, nil if it
// is gone or expired.
var claimDeviceScript = redis.NewScript(recordLua + `
local x, a, n, r, xs = load(KEYS[1])
if not x or x <= tonumber(ARGV[1]) then return false end
local d = cjson.decode(r)
if d.claimed then return {1, r} end
if d.status ~= ARGV[2] then return {0, r} end
d.claimed = true
r = cjson.encode(d)
put(KEYS[1], xs, a, n, r, nil)
return {2, r}
`)

// touchScript moves a live session's idle expiry.
//
//	KEYS[1] the session
//	ARGV[1] now; ARGV[2] now as JSON time; ARGV[3] now+idle;
//	ARGV[4] now+idle as JSON time; ARGV[5] slack ms
//
// Returns the updated JSON, or nil if the session is gone or expired.
var touchScript = redis.NewScript(recordLua + `
local now = tonumber(ARGV[1])
local x, a, n, r = load(KEYS[1])
if not x or x <= now then return false end
local s = cjson.decode(r)
local nx, xs = ARGV[3], ARGV[4]
if tonumber(a) ~= 0 and tonumber(a) < tonumber(nx) then nx, xs = a, s.absolute_expires_at end
s.last_seen_at = ARGV[2]
s.expires_at = xs
r = cjson.encode(s)
put(KEYS[1], nx, a, n, r, math.max(tonumber(nx) - now, 0) + tonumber(ARGV[5]))
return r
`)

// rotateScript rotates a refresh token, see storage.Grants. A grant's N
// is the time of its last rotation.
//
//	KEYS[1] the grant; KEYS[2] its token set
//	ARGV[1] now; ARGV[2] now as JSON time; ARGV[3] the presented hash;
//	ARGV[4] the client; ARGV[5] the successor's hash; ARGV[6] the sealed
//	successor, base64; ARGV[7] grace ms; ARGV[8] now+idle; ARGV[9]
//	now+idle as JSON time; ARGV[10] new claims JSON or ''; ARGV[11] '1'
//	to replace the connector data with ARGV[12] (base64); ARGV[13] slack ms
//
// Returns {outcome, json}: outcome is rotated, grace, reuse or revoked;
// {notfound} or {conflict} carry no grant.
var rotateScript = redis.NewScript(recordLua + `
local now = tonumber(ARGV[1])
local x, a, ra, r, xs = load(KEYS[1])
if not x or x <= now then return {'notfound'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then return {'notfound'} end
local g = cjson.decode(r)
if (g.client_id or '') ~= ARGV[4] then return {'notfound'} end
if g.revoked then return {'revoked', r} end
if ARGV[3] == (g.token_hash or '') then
  if ARGV[5] == '' or redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then return {'conflict'} end
  g.previous_hash = g.token_hash
  g.token_hash = ARGV[5]
  g.rotated_at = ARGV[2]
  if ARGV[6] ~= '' then g.successor_sealed = ARGV[6] else g.successor_sealed = nil end
  local nx, xs = ARGV[8], ARGV[9]
  if tonumber(a) ~= 0 and tonumber(a) < tonumber(nx) then nx, xs = a, g.absolute_expires_at end
  g.expires_at = xs
  if not g.login then g.login = {} end
  if ARGV[10] ~= '' then g.login.claims = cjson.decode(ARGV[10]) end
  if ARGV[11] == '1' then
    if ARGV[12] ~= '' then g.login.connector_data = ARGV[12] else g.login.connector_data = nil end
  end
  r = cjson.encode(g)
  local ttl = math.max(tonumber(nx) - now, 0) + tonumber(ARGV[13])
  put(KEYS[1], nx, a, ARGV[1], r, ttl)
  redis.call('SADD', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {'rotated', r}
end
if ARGV[3] == (g.previous_hash or '') and now < tonumber(ra) + tonumber(ARGV[7]) then
  return {'grace', r}
end
g.revoked = true
g.revoked_at = ARGV[2]
r = cjson.encode(g)
put(KEYS[1], xs, a, ra, r, nil)
return {'reuse', r}
`)

// revokeScript revokes a live grant.
//
//	KEYS[1] the grant
//	ARGV[1] now; ARGV[2] now as JSON time; ARGV[3] '' to revoke any
//	grant, or '1' to revoke it only if it is not offline and belongs to
//	the session ARGV[4]
//
// Returns 1 if it revoked the grant now, 0 if it was revoked before or
// does not match, -1 if it is gone or expired.
var revokeScript = redis.NewScript(recordLua + `
local x, a, n, r, xs = load(KEYS[1])
if not x or x <= tonumber(ARGV[1]) then return -1 end
local g = cjson.decode(r)
if g.revoked then return 0 end
local sid = (g.login and g.login.session_id) or ''
if ARGV[3] == '1' and (g.offline or sid ~= ARGV[4]) then return 0 end
g.revoked = true
g.revoked_at = ARGV[2]
put(KEYS[1], xs, a, n, cjson.encode(g), nil)
return 1
`)

// claimScript makes a unique key point at a new owner if it still points
// at the expected one (empty for none).
//
//	KEYS[1] the unique key; ARGV[1] expected; ARGV[2] new owner; ARGV[3] ttl ms
//
// Returns 1, or 0 if the key moved meanwhile.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// releaseScript deletes a unique key if it points at ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// indexScript adds ARGV[1] to the set KEYS[1] and makes the set live at
// least ARGV[2] ms more.
var indexScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// rememberScript stores a replay-cache key unless it is remembered and not
// expired.
//
//	KEYS[1] the key; ARGV[1] now; ARGV[2] its expiry; ARGV[3] ttl ms
//
// Returns 1, or 0 if the key is remembered.
var rememberScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// hitScript counts one hit in a window's counter, which Redis drops ARGV[1]
// ms later.
var hitScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`)

// swapKeySetScript stores a key set if the stored version is the expected
// one.
//
//	KEYS[1] the key set; ARGV[1] expected version; ARGV[2] next version;
//	ARGV[3] the key set JSON
//
// Returns -1 on success, else the stored version.
var swapKeySetScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= tonumber(ARGV[1]) then return cur end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3])
return -1
`)

// acquireLeaseScript takes or renews a lease.
//
//	KEYS[1] the lease; ARGV[1] now; ARGV[2] holder; ARGV[3] until; ARGV[4] ttl ms
//
// Returns 1, or 0 if another holder has it.
var acquireLeaseScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'h', 'x')
if v[1] and v[1] ~= ARGV[2] and tonumber(v[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'x', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// releaseLeaseScript frees a lease if ARGV[1] holds it.
var releaseLeaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)
