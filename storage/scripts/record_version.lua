-- Fragment: the compare-and-set version of a stored user record.
-- A record is JSON whose first member is the version, {"v":7,... (storage/records.py): read
-- from that fixed place. A record of an earlier version of the bot, with "v" further in, is
-- decoded whole (until its next save writes it the current way); no record is version 0.
local function record_version(raw)
  if not raw then return 0 end
  local version = string.match(raw, '^{"v":(%d+)')
  if version then return tonumber(version) end
  return tonumber(cjson.decode(raw)['v']) or 0
end
