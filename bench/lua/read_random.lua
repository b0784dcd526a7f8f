-- GET <prefix><n> for a uniformly random n in [0, count), zero-padded to 6 digits.
-- Arguments: prefix (a /v1/... path ending where the number starts), count.
local prefix, count

init = function(args)
  prefix = args[1]
  count = tonumber(args[2])
  math.randomseed(os.time())
end

request = function()
  return wrk.format("GET", string.format("%s%06d", prefix, math.random(0, count - 1)))
end
