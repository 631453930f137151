-- bench/surge.lua - wrk script for the opening-day surge (tools/bench_serve.sh).
--
-- Every request is one family submitting an application for a new child:
-- POST /api/applications with the family's session cookie, its CSRF token,
-- a fresh Idempotency-Key and a valid 18-digit ID number never used before
-- in the run.  Families (sessions) come from the file in env SESSIONS, one
-- "token csrf" pair a line.  Each thread counts the answers by status; the
-- summary line (done) gives submissions per second, p50/p99 latency, errors
-- and the acknowledged count (201s) for the lost-receipt check.

local sessions = {}
for line in io.lines(os.getenv("SESSIONS")) do
  local tok, csrf = line:match("^(%x+) (%x+)$")
  if tok then sessions[#sessions + 1] = {tok, csrf} end
end

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"

-- The n-th distinct child of this thread: region, birth date and sequence vary.
local function id_number(n)
  -- 12 months x 28 days x 1000 sequence numbers per region: all distinct
  local region = 110101 + (tid - 1) * 100 + math.floor(n / 336000) % 100
  local day = math.floor(n / 1000) % 336
  local month, mday = 1 + math.floor(day / 28), 1 + day % 28
  local seq = n % 1000
  local d = string.format("%06d2020%02d%02d%03d", region, month, mday, seq)
  local sum = 0
  for i = 1, 17 do sum = sum + (d:byte(i) - 48) * weights[i] end
  local k = sum % 11 + 1
  return d .. checks:sub(k, k)
end

function init(args)
  counter = 0
  created, replayed, failed = 0, 0, 0
end

function request()
  counter = counter + 1
  local s = sessions[(tid * 7919 + counter) % #sessions + 1]
  local body = string.format(
    '{"id_number":"%s","claims":{},"private_choices":[],"catchment_order":[],"submit":true}',
    id_number(counter))
  return wrk.format("POST", "/api/applications", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "rx_session=" .. s[1],
    ["X-CSRF-Token"] = s[2],
    ["Idempotency-Key"] = string.format("bench-%d-%d", tid, counter),
  }, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then replayed = replayed + 1
  else
    failed = failed + 1
    if failed <= 3 then io.stderr:write("surge: status ", status, ": ", body:sub(1, 200), "\n") end
  end
end

function done(summary, latency, requests)
  local c, r, f = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    r = r + t:get("replayed")
    f = f + t:get("failed")
  end
  local secs = summary.duration / 1e6
  local errs = f + summary.errors.connect + summary.errors.read + summary.errors.write +
               summary.errors.timeout
  io.write(string.format("SURGE created=%d replayed=%d failed=%d errors=%d seconds=%.1f rate=%.0f p50_ms=%.1f p99_ms=%.1f\n",
    c, r, f, errs, secs, c / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
