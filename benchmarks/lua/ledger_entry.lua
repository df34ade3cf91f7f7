-- POST ledger entries as the SDK sends them: each to a random customer of a list, each with
-- a new Idempotency-Key (so every request is a new write, never a replay).
-- Arguments (after --): API key, file of customer ids (one a line), entry_type, amount,
-- and a prefix that makes the idempotency keys unique to this run.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local customers, headers, body, prefix = {}, nil, nil, nil
local sent = 0

function init(args)
  for line in io.lines(args[2]) do
    if line ~= "" then customers[#customers + 1] = line end
  end
  headers = {["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json"}
  body = string.format('{"entry_type":"%s","amount":%s}', args[3], args[4])
  prefix = string.format("%s-%d-", args[5], thread_number)
  math.randomseed(thread_number * 7919 + os.time())
end

function request()
  sent = sent + 1
  headers["Idempotency-Key"] = prefix .. sent
  local customer = customers[math.random(#customers)]
  return wrk.format("POST", "/v1/customers/" .. customer .. "/credits/ledger_entry", headers, body)
end
