-- Step 2 of redeeming a watch code (storage/watches.py), in the owner's slot: use the code and
-- add the sender to the owner's watchers. Step 1 (watch_intent.lua) has already put the owner
-- in the sender's watching set, so a link that exists here is never missing its way back.
--
-- KEYS[1] the code, KEYS[2] the owner's watchers, KEYS[3] the owner's current-code key.
-- ARGV[1] the sender, ARGV[2] watchers allowed, ARGV[3] the code's owner as the caller read it.
-- Guarantees: a code is used once (two senders at once: one wins); an owner has at most
--   ARGV[2] watchers; a code sent by someone who already watches its owner is left as it
--   was, still usable.
-- Returns: 'started', 'already' (nothing written), 'full' (nothing written) or 'changed'
--   (the code's owner is not the one read: nothing written, the caller reads again).
local sender, owner = ARGV[1], ARGV[3]
if (redis.call('GET', KEYS[1]) or '') ~= owner then return 'changed' end
if redis.call('SISMEMBER', KEYS[2], sender) == 1 then return 'already' end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'full' end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SADD', KEYS[2], sender)
return 'started'
