-- wrk script: POSTs the signed Stripe events of $BODIES (lines "<signature>\t<body>"),
-- each wrk thread taking its own share so no event is sent twice while they last.
local threads = tonumber(os.getenv("WRK_THREADS") or "2")
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  thread:set("threads", threads)
  next_id = next_id + 1
end

local signatures, bodies, position = {}, {}, 0

function init(args)
  local index = 0
  for line in io.lines(os.getenv("BODIES")) do
    if index % threads == id then
      local tab = line:find("\t", 1, true)
      signatures[#signatures + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    index = index + 1
  end
end

function request()
  position = position % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Stripe-Signature"] = signatures[position]},
                    bodies[position])
end
