-- Take the lease on a batch that holds asks never confirmed sent, to resend it.
--
-- KEYS[1] the batch's body, KEYS[2] its lease, KEYS[3] its sent mark.
-- ARGV[1] lease ms, ARGV[2] this process's token, ARGV[3] a holder the caller found dead
--   (its heartbeat gone; '' : none).
-- Guarantees: one process resends a batch at a time: a lease held by a live process (this
--   one included: its send is under way) is left alone; one held by the dead one is not.
-- Returns: {'sent', ''} LINE took it, {'gone', ''} it expired, {'held', ms left} another
--   sender holds it, or {'taken', the body} this process holds it now.
if redis.call('EXISTS', KEYS[3]) == 1 then return {'sent', ''} end
local body = redis.call('GET', KEYS[1])
if not body then return {'gone', ''} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then
  return {'held', tostring(math.max(1, redis.call('PTTL', KEYS[2])))}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return {'taken', body}
