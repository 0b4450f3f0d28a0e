-- Claim one ask (attempt ARGV[4] of rounds starting at ARGV[5]) for a new batch, for each
-- user whose record is still the version the caller decided on.
--
-- KEYS[1] the batch's body, KEYS[2] the batch's lease, then per user i (3 each): the record,
--   the claim of this user's ask, the user's webhook events not handled yet (a sorted set
--   by when each was taken in).
-- ARGV[1] the claim's value naming this batch ("b:<batch id>"), ARGV[2] lease ms,
--   ARGV[3] seconds to keep the claims and the body, ARGV[4] attempt, ARGV[5] the round's
--   start (epoch s), ARGV[6] this process's token, ARGV[7] the doses' name ('' : none),
--   ARGV[8] the earliest take-in of a user's event that holds their ask back (epoch s: one
--   taken in before it, and still not handled, is left behind and holds nothing); then per
--   user (3 each): the user id, the version read, and for a first ask the record
--   with its round started ('' otherwise).
-- Guarantees: an ask is claimed by one batch only (the claim is kept as long as the body);
--   the batch's body (recipients, attempt, round, name) and this process's lease on it are
--   written with its claims, so whoever finds a claim can resend exactly that request with
--   the same retry key (the batch id), and LINE answers 409 if it took it before. A first
--   ask's claim writes the record with the round started: from then on an answer finds the
--   round open.
-- Returns: per user {'won', ''}, {'conflict', ''} (the record changed: nothing written),
--   {'unhandled', ''} (a message of theirs is still to be handled: it may answer this
--   round, so nothing is claimed yet) or {'claimed', the value of the claim that holds the ask
--   ("b:<batch id>")}.
--! include record_version.lua
local recipients, answers = {}, {}
for i = 1, (#KEYS - 2) / 3 do
  local record_key, claim_key, unhandled_key = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  local a = 6 + 3 * i
  if record_version(redis.call('GET', record_key)) ~= tonumber(ARGV[a + 1]) then
    answers[i] = {'conflict', ''}
  elseif redis.call('ZCOUNT', unhandled_key, ARGV[8], '+inf') > 0 then
    answers[i] = {'unhandled', ''}
  else
    local holder = redis.call('GET', claim_key)
    if holder then
      answers[i] = {'claimed', holder}
    else
      if ARGV[a + 2] ~= '' then redis.call('SET', record_key, ARGV[a + 2]) end
      redis.call('SET', claim_key, ARGV[1], 'EX', ARGV[3])
      recipients[#recipients + 1] = ARGV[a]
      answers[i] = {'won', ''}
    end
  end
end
if #recipients > 0 then
  local name = nil
  if ARGV[7] ~= '' then name = ARGV[7] end
  local body = cjson.encode({to = recipients, attempt = tonumber(ARGV[4]),
                             round = tonumber(ARGV[5]), name = name})
  redis.call('SET', KEYS[1], body, 'EX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[2])
end
return answers
