-- POST /v1/ingest batches as the SDK's events.ingest sends them: `batch` events a request,
-- each for a random customer of a list, each with a new idempotency key (every event is new).
-- Arguments (after --): API key, file of customer ids (one a line), events per request,
-- event name, and a prefix that makes the idempotency keys unique to this run.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local customers, headers, batch, name, prefix = {}, nil, 500, nil, nil
local sent = 0

function init(args)
  for line in io.lines(args[2]) do
    if line ~= "" then customers[#customers + 1] = line end
  end
  headers = {["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json"}
  batch = tonumber(args[3])
  name = args[4]
  prefix = string.format("%s-%d-", args[5], thread_number)
  math.randomseed(thread_number * 7919 + os.time())
end

function request()
  sent = sent + 1
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S")
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format(
      '{"idempotency_key":"%s%d-%d","event_name":"%s","timestamp":"%s",' ..
      '"customer_id":"%s","properties":{"n":1}}',
      prefix, sent, i, name, stamp, customers[math.random(#customers)])
  end
  local body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/v1/ingest", headers, body)
end
