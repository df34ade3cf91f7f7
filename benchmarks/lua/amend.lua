-- PUT /v1/events/{event_id} as the SDK's events.update sends it: each request amends a random
-- event of a list (deducted usage) to a random quantity, so the ledger is corrected by the
-- difference (a further decrement or a refund) in the same transaction.
-- Arguments (after --): API key, file of "event_id customer_id timestamp" lines, event name.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local events, headers, name = {}, nil, nil

function init(args)
  for line in io.lines(args[2]) do
    local key, customer, stamp = line:match("^(%S+) (%S+) (%S+)$")
    if key then events[#events + 1] = {key, customer, stamp} end
  end
  headers = {["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json"}
  name = args[3]
  math.randomseed(thread_number * 7919 + os.time())
end

function request()
  local event = events[math.random(#events)]
  local body = string.format(
    '{"event_name":"%s","timestamp":"%s","customer_id":"%s","properties":{"n":%d}}',
    name, event[3], event[2], math.random(1, 9))
  return wrk.format("PUT", "/v1/events/" .. event[1], headers, body)
end
