"""The Lua scripts of the Redis store: each is one atomic step on the server's clock.

Times are the server's (``TIME``), in milliseconds, so hosts with drifting clocks agree; the
scripts answer durations (``until - now``), never instants, and each process adds them to its
own monotonic clock. Large numbers are formatted with ``%.0f``: ``tostring`` would write
``1.7e+12``. Every key written gets a TTL.
"""

from __future__ import annotations

__all__ = [
    "BREAKER_PROBE",
    "BREAKER_SYNC",
    "BUDGET_CHARGE",
    "FLEET_LOG_CAP",
    "GCRA",
    "GCRA_RELEASE",
]

#: Breakers the fleet's change log remembers: a process further behind re-reads all of its own.
FLEET_LOG_CAP = 1024

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Breaker state hash KEYS[1]: st (0 closed, 1 open), ver, until (ms), opens, ok.
# Window hash KEYS[2]: time window: '<bucket>:c|f|s'; count window: c, f, s (totals).
# Probe counter KEYS[3] (expires after the probe timeout). Count window batches: list KEYS[4].
# Store-wide, so an idle process reads one key per round instead of every breaker: KEYS[5] the
# fleet hash (ver: bumped by every transition of any breaker; floor: the highest version the
# log has dropped), KEYS[6] the change log (sorted set: breaker name -> its last transition's
# fleet version, at most FLEET_LOG_CAP names). ARGV[16]: this breaker's name.
_OPEN = (
    """
local function bump()
  local v = redis.call('HINCRBY', KEYS[5], 'ver', 1)
  redis.call('ZADD', KEYS[6], v, ARGV[16])
  local over = redis.call('ZCARD', KEYS[6]) - CAP
  if over > 0 then
    local cut = redis.call('ZRANGE', KEYS[6], over - 1, over - 1, 'WITHSCORES')
    redis.call('HSET', KEYS[5], 'floor', cut[2])
    redis.call('ZREMRANGEBYRANK', KEYS[6], 0, over - 1)
  end
  redis.call('PEXPIRE', KEYS[5], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
end
""".replace("CAP", str(FLEET_LOG_CAP))
    + """
local function open_it()
  opens = opens + 1
  local b = brk * math.pow(mult, opens - 1)
  if maxb > 0 and b > maxb then b = maxb end
  st, ver, untl = 1, ver + 1, now + math.floor(b)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[1], 'st', 1, 'ver', ver, 'until', string.format('%.0f', untl),
             'opens', opens, 'ok', 0)
  bump()
end
local function close_it()
  st, ver, opens = 0, ver + 1, 0
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[1], 'st', 0, 'ver', ver, 'until', 0, 'opens', 0, 'ok', 0)
  bump()
end
"""
)

_LOAD = """
local h = redis.call('HMGET', KEYS[1], 'st', 'ver', 'until', 'opens', 'ok')
local st, ver = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local untl, opens, ok = tonumber(h[3]) or 0, tonumber(h[4]) or 0, tonumber(h[5]) or 0
"""

#: Flush outcome counts, apply a local decision, trip on the fleet's counts; answer the state.
#: ARGV: calls fails slows width_ms(0: count window) size min_calls ratio slow_ratio(-1: none)
#:       break_ms mult max_break_ms(0: none) want(''|open|probe_ok) base_ver probes ttl_ms name
BREAKER_SYNC = (
    _NOW
    + _LOAD
    + """
local dc, df, ds = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local width, size, minc = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ratio, sratio = tonumber(ARGV[7]), tonumber(ARGV[8])
local brk, mult, maxb = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local want, base, probes, ttl = ARGV[12], tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
"""
    + _OPEN
    + """
local c, f, s = 0, 0, 0
if st == 0 and dc > 0 then
  if width > 0 then
    local idx = math.floor(now / width)
    redis.call('HINCRBY', KEYS[2], idx .. ':c', dc)
    if df > 0 then redis.call('HINCRBY', KEYS[2], idx .. ':f', df) end
    if ds > 0 then redis.call('HINCRBY', KEYS[2], idx .. ':s', ds) end
    local all = redis.call('HGETALL', KEYS[2])
    for i = 1, #all, 2 do
      local field = all[i]
      local b = tonumber(string.sub(field, 1, -3))
      if b <= idx - size then
        redis.call('HDEL', KEYS[2], field)
      else
        local kind, v = string.sub(field, -1), tonumber(all[i + 1])
        if kind == 'c' then c = c + v elseif kind == 'f' then f = f + v else s = s + v end
      end
    end
  else
    -- The last `size` calls: KEYS[4] lists the flushed batches 'calls:fails:slows', oldest
    -- first; the oldest leave whole, the last of them in part (its failures in proportion).
    local w = redis.call('HMGET', KEYS[2], 'c', 'f', 's')
    c = (tonumber(w[1]) or 0) + dc
    f = (tonumber(w[2]) or 0) + df
    s = (tonumber(w[3]) or 0) + ds
    redis.call('RPUSH', KEYS[4], dc .. ':' .. df .. ':' .. ds)
    while c > size do
      local hc, hf, hs = string.match(redis.call('LINDEX', KEYS[4], 0), '([^:]+):([^:]+):([^:]+)')
      hc, hf, hs = tonumber(hc), tonumber(hf), tonumber(hs)
      local over = c - size
      if hc <= over then
        redis.call('LPOP', KEYS[4])
        c, f, s = c - hc, f - hf, s - hs
      else
        local rf, rs = hf * over / hc, hs * over / hc
        redis.call('LSET', KEYS[4], 0, string.format('%d:%.6f:%.6f', hc - over, hf - rf, hs - rs))
        c, f, s = size, f - rf, s - rs
      end
    end
    redis.call('HSET', KEYS[2], 'c', c, 'f', string.format('%.6f', f),
               's', string.format('%.6f', s))
    redis.call('PEXPIRE', KEYS[4], ttl)
  end
  redis.call('PEXPIRE', KEYS[2], ttl)
end
-- ver 0: no fleet state (never written, or expired while every process was idle): a process
-- still holding an older version may open it.
if want == 'open' and (base == ver or ver == 0) then
  open_it()
elseif want == 'probe_ok' and base == ver and st == 1 then
  ok = redis.call('HINCRBY', KEYS[1], 'ok', 1)
  if ok >= probes then close_it() end
elseif st == 0 and c >= minc and c > 0 and
    (f >= ratio * c - 1e-9 or (sratio >= 0 and s >= sratio * c - 1e-9)) then
  open_it()
end
if ver > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return {st, ver, string.format('%.0f', untl - now), opens}
"""
)

#: Take a fleet-wide half-open probe slot. ARGV: ver limit probe_timeout_ms.
#: Answers 1 (probe), 0 (no slot / still open), 2 (the fleet is closed), -1 (stale version).
BREAKER_PROBE = (
    _NOW
    + _LOAD
    + """
if st == 0 then return 2 end
if tonumber(ARGV[1]) ~= ver then return -1 end
if now < untl then return 0 end
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3])) end
if n <= tonumber(ARGV[2]) then return 1 end
return 0
"""
)

#: GCRA: take ARGV[4] permits at one per ARGV[1] microseconds, bursts of ARGV[2], waiting at
#: most ARGV[3] microseconds. Answers {wait (>= 0, reserved) or -retry_after-1 (refused), the
#: TAT written (as stored), the microseconds it added} (the last two for GCRA_RELEASE).
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local maxw, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new = tat + n * step
local wait = new - burst * step - now
if wait < 0 then wait = 0 end
if wait > maxw then return {-wait - 1, '', ''} end
local stored = string.format('%.0f', new)
redis.call('SET', KEYS[1], stored, 'PX', math.floor((new - now) / 1000) + 1000)
return {wait, stored, string.format('%.3f', n * step)}
"""

#: Give back a GCRA reservation: move the TAT back by ARGV[2] microseconds if it is still
#: ARGV[1], the one that grant wrote (nobody admitted since). Answers 1 given back, 0 not.
GCRA_RELEASE = """
local tat = redis.call('GET', KEYS[1])
if tat ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local new = tonumber(tat) - tonumber(ARGV[2])
if new <= now then
  redis.call('DEL', KEYS[1])  -- a TAT in the past is a full bucket
else
  local px = math.floor((new - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', px)
end
return 1
"""

#: Token retry budget in thousandths: add ARGV[3] successes x ARGV[2], charge ARGV[4] tokens
#: (0: only add), clamp to [0, ARGV[1]]. Answers the tokens left. ARGV[5]: ttl_ms.
BUDGET_CHARGE = """
local maxm, ratio = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
tokens = math.min(tokens + tonumber(ARGV[3]) * ratio, maxm)
tokens = math.max(tokens - tonumber(ARGV[4]) * 1000, 0)
redis.call('SET', KEYS[1], tokens, 'PX', tonumber(ARGV[5]))
return tokens
"""
