-- bench/results.lua - wrk script for results day (tools/bench_serve.sh).
--
-- Every request is one family reading its own published result:
-- GET /api/applications/{receipt}/result with that family's session cookie
-- and that family's receipt (so the server does the whole lookup: the
-- session, the application and the check that it is the family's own, the
-- published result row, the seat as it stands, the waitlists, the moves
-- and the appeals).  The families come from the file in env PAIRS, one
-- "token receipt" pair a line, one line per application of the intake
-- (bench/results_day.py writes it).  wrk has no hook per connection, so a
-- connection does not keep one family: each thread walks its own share of
-- the families in turn, and over a run every family of the intake reads
-- its result many times, never one URL over and over.
--
-- An answer counts only when it is 200 and a published result
-- ("published":true); anything else is an error (the first three are
-- shown).  The summary line (done) gives lookups per second (good answers
-- only), p50/p99 latency, errors and the mean size of an answer.
--
-- Arguments after "--": the number of wrk threads (to split the families).

local pairs_ = {}
for line in io.lines(os.getenv("PAIRS")) do
  local tok, receipt = line:match("^(%x+) (%S+)$")
  if tok then pairs_[#pairs_ + 1] = {tok, "/api/applications/" .. receipt .. "/result"} end
end

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(args[1]) or 1
  -- this thread's share: families first .. first + count - 1
  count = math.floor(#pairs_ / total)
  first = (tid - 1) * count
  if tid == total then count = #pairs_ - first end
  counter = 0
  ok, failed, bytes = 0, 0, 0
end

function request()
  local p = pairs_[first + counter % count + 1]
  counter = counter + 1
  return wrk.format("GET", p[2], {["Cookie"] = "rx_session=" .. p[1]})
end

function response(status, headers, body)
  if status == 200 and body:find('"published":true', 1, true) then
    ok = ok + 1
    bytes = bytes + #body
  else
    failed = failed + 1
    if failed <= 3 then io.stderr:write("results: status ", status, ": ", body:sub(1, 200), "\n") end
  end
end

function done(summary, latency, requests)
  local o, f, b = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
    b = b + t:get("bytes")
  end
  local secs = summary.duration / 1e6
  local errs = f + summary.errors.connect + summary.errors.read + summary.errors.write +
               summary.errors.timeout
  io.write(string.format("RESULTS ok=%d failed=%d errors=%d seconds=%.1f rate=%.0f p50_ms=%.1f p99_ms=%.1f bytes=%.0f\n",
    o, f, errs, secs, o / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    o > 0 and b / o or 0))
end
