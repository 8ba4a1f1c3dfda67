-- wrk script for the signed-webhook throughput figure (tests/bench/run).
-- Every request is a distinct, correctly signed Twilio webhook (its own
-- MessageSid), prepared by tests/bench/run: signing in Lua would put a
-- SHA-1 written in Lua on the client's share of the two cores.  Usage:
--   wrk -t T -c C -d D -s signed.lua URL -- PREFIX
-- Thread k reads PREFIX.k: raw HTTP requests, each followed by a 0x1e
-- byte.  If a thread runs out it starts over (replays, which the daemon
-- answers without a new commit); done() reports how often that happened
-- so the caller can refuse to count such a run.
local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1] .. "." .. tid, "rb"))
   local data = f:read("*a")
   f:close()
   reqs = {}
   for r in string.gmatch(data, "([^\30]+)\30") do
      reqs[#reqs + 1] = r
   end
   idx = 0
   wrapped = 0
end

function request()
   idx = idx + 1
   if idx > #reqs then
      idx = 1
      wrapped = wrapped + 1
   end
   return reqs[idx]
end

function done(summary, latency, requests)
   local w = 0
   for _, t in ipairs(threads) do
      w = w + t:get("wrapped")
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d status=%d connect=%d read=%d " ..
      "write=%d timeout=%d wrapped=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect, e.read,
      e.write, e.timeout, w, latency:percentile(50),
      latency:percentile(99), latency.max))
end
