-- wrk script of scripts/loadtest.py: send each prepared request exactly once.
--
--   wrk -t T -c C -d 600s --timeout 60s -s appends.lua URL -- REQUESTS OUT T
--
-- REQUESTS holds one request a line: "path<TAB>token<TAB>idempotency key<TAB>body" (a
-- token or key may be empty; the body is JSON on one line). Thread i of T sends lines
-- i, i+T, i+2T, ... round robin over its connections, never one twice; a connection with
-- nothing left to send waits (delay) instead of sending anything else. When every
-- request of a thread has its answer, the thread writes OUT.<i> and stops:
--
--   T <first send> <last answer>     (CLOCK_MONOTONIC, nanoseconds)
--   A <status> <seq> <leaf>          an acknowledged append (2xx with a receipt)
--   O <status>                       another 2xx (the empty endpoint's answers)
--   F <status> <first 200 bytes>     anything else: a failure
--
-- and renames it into place, so the driver sees only complete files. done() prints
-- wrk's latency percentiles and error counts as one JSON line.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } insutrace_timespec;
  int clock_gettime(int clk_id, insutrace_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("insutrace_timespec")

local function now_ns()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000000 + tonumber(ts.tv_nsec)
end

local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

local requests = {}
local reserved, sent, answered = 0, 0, 0
local first, last = nil, nil
local lines = {}
local out = nil

function init(args)
  local path, count = args[1], tonumber(args[3])
  out = args[2] .. "." .. index
  local n = 0
  for line in io.lines(path) do
    if n % count == tonumber(index) then
      local target, token, key, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["Content-Type"] = "application/json" }
      if token ~= "" then headers["Authorization"] = "Bearer " .. token end
      if key ~= "" then headers["Idempotency-Key"] = key end
      table.insert(requests, wrk.format("POST", target, headers, body))
    end
    n = n + 1
  end
end

function delay()
  if reserved < #requests then
    reserved = reserved + 1
    return 0
  end
  return 3600000 -- nothing left for this connection: it idles until the thread stops
end

-- wrk also calls request() once before the run to check the request's form, and again
-- without delay() after a socket error: only a reserved call takes the next request.
function request()
  if reserved <= sent then return requests[math.max(sent, 1)] end
  sent = sent + 1
  if first == nil then first = now_ns() end
  return requests[sent]
end

local function finish()
  local file = io.open(out .. ".part", "w")
  file:write(string.format("T %d %d\n", first or 0, last or 0))
  file:write(table.concat(lines, "\n"))
  file:write("\n")
  file:close()
  os.rename(out .. ".part", out)
  wrk.thread:stop()
end

function response(status, headers, body)
  answered = answered + 1
  last = now_ns()
  if status >= 200 and status < 300 then
    local seq = body:match('"seq":(%d+)')
    local leaf = body:match('"leaf":"(%x+)"')
    if seq and leaf then
      lines[#lines + 1] = string.format("A %d %s %s", status, seq, leaf)
    else
      lines[#lines + 1] = string.format("O %d", status)
    end
  else
    local text = body:sub(1, 200):gsub("[\r\n\t]", " ")
    lines[#lines + 1] = string.format("F %d %s", status, text)
  end
  if answered >= #requests then finish() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"p50_us": %d, "p99_us": %d, "max_us": %d, "requests": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    latency:percentile(50), latency:percentile(99), latency.max, summary.requests,
    e.connect, e.read, e.write, e.status, e.timeout))
end
