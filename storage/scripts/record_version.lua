-- Fragment: the compare-and-set version of a stored user record.
-- A record is stored as "<version>\n<json>" (storage/records.py). A record without that
-- header was written before it existed and counts as version 0, as the reader takes it; no
-- record at all is version 0 too (a new user).
local function record_version(raw)
  if not raw then return 0 end
  return tonumber(string.match(raw, '^(%d+)\n')) or 0
end
