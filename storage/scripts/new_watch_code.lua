-- A new watch code for a person, replacing their unused one.
--
-- KEYS[1] the person's current-code key, KEYS[2] the key of the code it held when the caller
--   read it (any key when it held none), then KEYS[3..] the candidate codes' keys.
-- ARGV[1] the person, ARGV[2] seconds a code lives, ARGV[3] the code the caller read ('' :
--   none), then ARGV[4..] the candidate codes, in the order of their keys.
-- Guarantees: a code belongs to one person at a time; a person has one live code.
-- Returns: the new code, or false when every candidate was in use or the person's code
--   changed since it was read (the caller tries again).
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[3] then return false end
if ARGV[3] ~= '' then redis.call('DEL', KEYS[2]) end
for i = 3, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[2]) then
    redis.call('SET', KEYS[1], ARGV[i + 1], 'EX', ARGV[2])
    return ARGV[i + 1]
  end
end
return false
