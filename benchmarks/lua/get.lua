-- GET the URL given to wrk with an API key: ping, ledger pages, filters, credits.
-- Arguments (after --): the API key.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

function init(args)
  -- wrk builds the request once, after init, from the wrk table.
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end
