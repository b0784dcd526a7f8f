-- One fixed request, its body read from the file named by the first script argument.
-- Method and headers come from wrk's command line (-H) and the defaults below.
local req

init = function(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  wrk.method = args[2] or "POST"
  wrk.headers["Content-Type"] = args[3] or "application/json"
  req = wrk.format(nil, nil, nil, body)
end

request = function()
  return req
end
