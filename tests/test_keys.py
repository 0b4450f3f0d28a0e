from storage import keys


def test_key_shapes_are_literal():
    assert keys.user("U1") == "usa:user:U1"
    assert keys.ask_claim("U1", 1795734000.0, 3) == "usa:ask:U1:1795734000:3"
    assert keys.history("U1") == "usa:log:U1"
    assert keys.batch("b1") == "usa:batch:b1"
    assert keys.batch_lease("b1") == "usa:batch:b1:lease"
    assert keys.batch_sent("b1") == "usa:batch:b1:sent"
    assert keys.webhook_event("01HX") == "usa:event:01HX"
    assert keys.USER_PATTERN == "usa:user:*"
    assert keys.watching("U1") == "usa:watch:watching:U1"
    assert keys.watching_since("U1") == "usa:watch:since:U1"
