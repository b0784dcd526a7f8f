-- Cycle through a pool of pre-signed SigV4 requests (bench/sigv4_pool.py writes the pool file).
-- Arguments: pool file (one "<x-amz-date>\t<authorization>" line per request), X-Amz-Target,
-- body file. Every request is built once in init; request() hands them out in turn, so
-- consecutive requests carry different dates and signatures.
local pool = {}
local next_index = 1

init = function(args)
  local f = assert(io.open(args[3], "rb"))
  local body = f:read("*a")
  f:close()
  for line in io.lines(args[1]) do
    local date, authorization = line:match("^([^\t]+)\t(.+)$")
    if date then
      local headers = {
        ["Content-Type"] = "application/x-amz-json-1.1",
        ["X-Amz-Target"] = args[2],
        ["X-Amz-Date"] = date,
        ["Authorization"] = authorization,
      }
      pool[#pool + 1] = wrk.format("POST", "/", headers, body)
    end
  end
  assert(#pool > 0, "empty request pool " .. args[1])
  -- Each wrk thread starts at a different place in the pool.
  next_index = math.random(1, #pool)
end

request = function()
  local req = pool[next_index]
  next_index = next_index % #pool + 1
  return req
end
