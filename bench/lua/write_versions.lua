-- POST a new version of one of a few keys in turn: <prefix><i mod keys>.
-- Arguments: prefix, keys.
local prefix, keys
local i = 0

init = function(args)
  prefix = args[1]
  keys = tonumber(args[2])
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  i = i + 1
  local body = string.format(
    '{"data":{"user":"app","password":"pw-%012d","rotated_by":"bench"}}', i)
  return wrk.format("POST", string.format("%s%d", prefix, i % keys), nil, body)
end
