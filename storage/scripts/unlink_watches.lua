-- End links from one side: a person's watchers, or the people a watcher watches.
--
-- KEYS[1] the user's set of the other side's ids, then KEYS[2..] each other id's set on the
--   way back (in the order of ARGV[2..]).
-- ARGV[1] the user, then ARGV[2..] the other ids the caller read from KEYS[1].
-- Guarantees: both directions of each link read end together; a link made since the read
--   is left whole.
for i = 2, #ARGV do
  redis.call('SREM', KEYS[1], ARGV[i])
  redis.call('SREM', KEYS[i], ARGV[1])
end
return #ARGV - 1
