package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts behind every atomic operation. Each touches only the keys
// it is given, and every key of one call shares a hash tag, so each runs on
// one Cluster node. Times arrive as Unix milliseconds by the store's clock
// (ARGV "now"), never read from Redis. Numbers that go back into Redis are
// passed as the strings Go formatted, so Lua's 14-digit number formatting
// never touches them. A record hash holds at least x (expiry, ms) and r (the
// record as JSON); see doc.go.

// createScript stores a record unless a live one holds the key.
//
//	KEYS[1] the record; KEYS[2] (optional) its token set, replaced
//	ARGV[1] now; ARGV[2] ttl ms; ARGV[3] n, the token count;
//	ARGV[4..3+n] the tokens; the rest are field, value pairs
//
// Returns 1, or 0 if a live record holds the key.
var createScript = redis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
if x and tonumber(x) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local n = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 4 + n))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[2] then
  redis.call('DEL', KEYS[2])
  if n > 0 then
    redis.call('SADD', KEYS[2], unpack(ARGV, 4, 3 + n))
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return 1
`)

// replaceScript overwrites fields of a live record.
//
//	KEYS[1] the record
//	ARGV[1] now; ARGV[2] ttl ms; the rest are field, value pairs
//
// Returns 1, or 0 if the record is gone or expired.
var replaceScript = redis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
if not x or tonumber(x) <= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// takeScript deletes a record and returns its JSON if it was live.
//
//	KEYS[1] the record; ARGV[1] now
var takeScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'x', 'r')
if not v[1] then return false end
redis.call('DEL', KEYS[1])
if tonumber(v[1]) <= tonumber(ARGV[1]) then return false end
return v[2]
`)

// redeemScript marks a live code used.
//
//	KEYS[1] the code; ARGV[1] now
//
// Returns {0, json} for the first redemption, {1, json} for a later one,
// nil if the code is gone or expired.
var redeemScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'x', 'r', 'u')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[1]) then return false end
if v[3] then return {1, v[2]} end
redis.call('HSET', KEYS[1], 'u', '1')
return {0, v[2]}
`)

// claimDeviceScript is the token endpoint's poll of a device request.
//
//	KEYS[1] the request; ARGV[1] now; ARGV[2] the approved status
//
// Returns {2, json} if it claimed the request now, {0, json} for a pending
// or denied one (unchanged), {1, json} if it was claimed before, nil if it
// is gone or expired.
var claimDeviceScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'x', 'r')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[1]) then return false end
local d = cjson.decode(v[2])
if d.claimed then return {1, v[2]} end
if d.status ~= ARGV[2] then return {0, v[2]} end
d.claimed = true
local r = cjson.encode(d)
redis.call('HSET', KEYS[1], 'r', r)
return {2, r}
`)

// touchScript moves a live session's idle expiry.
//
//	KEYS[1] the session
//	ARGV[1] now; ARGV[2] now as JSON time; ARGV[3] now+idle;
//	ARGV[4] now+idle as JSON time; ARGV[5] slack ms
//
// Returns the updated JSON, or nil if the session is gone or expired.
var touchScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'x', 'a', 'r')
if not v[1] or tonumber(v[1]) <= now then return false end
local s = cjson.decode(v[3])
local x, xs = ARGV[3], ARGV[4]
local a = tonumber(v[2] or '0')
if a ~= 0 and a < tonumber(x) then x, xs = v[2], s.absolute_expires_at end
s.last_seen_at = ARGV[2]
s.expires_at = xs
local r = cjson.encode(s)
redis.call('HSET', KEYS[1], 'x', x, 'r', r)
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(x) - now, 0) + tonumber(ARGV[5]))
return r
`)

// rotateScript rotates a refresh token, see storage.Grants.
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
var rotateScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'x', 'a', 'ra', 'r')
if not v[1] or tonumber(v[1]) <= now then return {'notfound'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then return {'notfound'} end
local g = cjson.decode(v[4])
if (g.client_id or '') ~= ARGV[4] then return {'notfound'} end
if g.revoked then return {'revoked', v[4]} end
if ARGV[3] == (g.token_hash or '') then
  if ARGV[5] == '' or redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then return {'conflict'} end
  g.previous_hash = g.token_hash
  g.token_hash = ARGV[5]
  g.rotated_at = ARGV[2]
  if ARGV[6] ~= '' then g.successor_sealed = ARGV[6] else g.successor_sealed = nil end
  local x, xs = ARGV[8], ARGV[9]
  local a = tonumber(v[2] or '0')
  if a ~= 0 and a < tonumber(x) then x, xs = v[2], g.absolute_expires_at end
  g.expires_at = xs
  if not g.login then g.login = {} end
  if ARGV[10] ~= '' then g.login.claims = cjson.decode(ARGV[10]) end
  if ARGV[11] == '1' then
    if ARGV[12] ~= '' then g.login.connector_data = ARGV[12] else g.login.connector_data = nil end
  end
  local r = cjson.encode(g)
  redis.call('HSET', KEYS[1], 'x', x, 'ra', ARGV[1], 'r', r)
  redis.call('SADD', KEYS[2], ARGV[5])
  local ttl = math.max(tonumber(x) - now, 0) + tonumber(ARGV[13])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {'rotated', r}
end
if ARGV[3] == (g.previous_hash or '') and now < tonumber(v[3] or '0') + tonumber(ARGV[7]) then
  return {'grace', v[4]}
end
g.revoked = true
g.revoked_at = ARGV[2]
local r = cjson.encode(g)
redis.call('HSET', KEYS[1], 'r', r)
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
var revokeScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'x', 'r')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[1]) then return -1 end
local g = cjson.decode(v[2])
if g.revoked then return 0 end
local sid = (g.login and g.login.session_id) or ''
if ARGV[3] == '1' and (g.offline or sid ~= ARGV[4]) then return 0 end
g.revoked = true
g.revoked_at = ARGV[2]
redis.call('HSET', KEYS[1], 'r', cjson.encode(g))
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
