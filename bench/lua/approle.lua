-- AppRole login followed by one read with the token it returned, as an app starting up does.
-- Requests alternate as tokens come back: a login when no fresh token is waiting, else a read.
-- Arguments: login path, role_id, secret_id, read path.
local login_path, login_body, read_path
local tokens = {}

init = function(args)
  login_path = args[1]
  login_body = string.format('{"role_id":"%s","secret_id":"%s"}', args[2], args[3])
  read_path = args[4]
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  local token = table.remove(tokens)
  if token then
    return wrk.format("GET", read_path, {["X-Vault-Token"] = token})
  end
  return wrk.format("POST", login_path, nil, login_body)
end

response = function(status, headers, body)
  local token = string.match(body, '"client_token":"([^"]+)"')
  if token then
    table.insert(tokens, token)
  end
end
