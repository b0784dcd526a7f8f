-- Seeding, not measuring: POST <prefix><n> for n in [first, first+count) once each, then stop.
-- Once every seed write is issued, further requests GET <noop> (answered 404, so their responses
-- are told apart from the writes'); it stops when every write has been answered.
-- Run it with one wrk thread. Arguments: prefix, first, count, noop path. Prints one BENCH_SEED line with the number of writes
-- answered and how many failed (anything but 2xx).
local prefix, first, count, noop
local issued, answered, failed = 0, 0, 0
local verified = false

init = function(args)
  prefix = args[1]
  first = tonumber(args[2])
  count = tonumber(args[3])
  noop = args[4]
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  -- wrk calls request() once to check the script and discards what it returns: give it a noop.
  if not verified then
    verified = true
    return wrk.format("GET", noop)
  end
  if issued < count then
    local n = first + issued
    issued = issued + 1
    local body = string.format(
      '{"data":{"user":"svc-%06d","password":"seeded-secret-value-%06d"}}', n, n)
    return wrk.format("POST", string.format("%s%06d", prefix, n), nil, body)
  end
  return wrk.format("GET", noop)
end

response = function(status, headers, body)
  if status ~= 404 then
    answered = answered + 1
    if status >= 300 then
      failed = failed + 1
    end
    if answered == count then
      -- wrk's main thread sleeps out the whole -d duration whatever the threads do, so the
      -- runner watches for this line and interrupts wrk (SIGINT) once it appears.
      io.write(string.format('BENCH_SEED {"answered":%d,"failed":%d}\n', answered, failed))
      io.flush()
      wrk.thread:stop()
    end
  end
end
